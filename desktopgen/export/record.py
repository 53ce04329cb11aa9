"""Run a sampler to its end while recording its RunTrace: the material of a process clip."""

from __future__ import annotations

from desktopgen import sampling
from desktopgen.core.trace import RunTrace

# Previews kept per run: a clip shows fps x seconds frames, so ~200 kept frames are plenty even
# for a 784-step AR run, and decoding a preview every pixel would slow the run it measures.
KEPT_FRAMES = 200


def preview_every(steps: int, kept: int = KEPT_FRAMES) -> int:
    return max(1, -(-steps // kept))


def record(model, request, device="cpu", on_event=None):
    """Run `request` (defaults filled) and return (request, RunResult, RunTrace)."""
    req = sampling.with_defaults(request)
    trace = RunTrace(req.family)
    every = preview_every(req.steps)

    def add(ev):
        trace.add(ev)
        if on_event is not None:
            on_event(ev)

    result = sampling.run_to_end(sampling.sample(model, req, device, every), add)
    return req, result, trace
