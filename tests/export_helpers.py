"""Shared helpers for the export tests: synthetic traces whose frames are known exactly."""

from __future__ import annotations

import numpy as np

from desktopgen.core.events import StepEvent
from desktopgen.core.trace import RunTrace


def fake_trace(family: str = "diffusion", steps: int = 20, seconds: float = 1.0, batch: int = 4,
               every: int = 1) -> RunTrace:
    """A trace whose preview at step s is a flat image of value 255*s/steps (sample i shifted
    by i), recorded every `every` steps, evenly spread over `seconds`."""
    tr = RunTrace(family)
    for s in range(1, steps + 1):
        want = s % every == 0 or s == steps
        prev = None
        if want:
            base = round(255 * s / steps)
            prev = np.stack([np.full((28, 28), max(0, base - 10 * i), np.uint8) for i in range(batch)])
            if family == "ar":  # AR fills pixel by pixel: the rest of the canvas stays black
                flat = prev.reshape(batch, -1)
                flat[:, round(784 * s / steps):] = 0
        tr.add(StepEvent(family, s, steps, seconds * s / steps, prev,
                         prev if family == "diffusion" else None,
                         s - 1 if family == "ar" else None, 100 * 2**20 + s * 2**20, 200 * 2**20))
    return tr
