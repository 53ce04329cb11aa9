"""Clip options shared by `desktopgen sample --clip` and `desktopgen race` (same as the GUI's)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def add_clip_args(p: argparse.ArgumentParser, align: bool = True) -> None:
    from desktopgen.cli import _positive

    if align:
        p.add_argument("--align", choices=("time", "progress"), default="time",
                       help="time: wall clock, the faster side finishes and waits; progress: same fraction")
    p.add_argument("--fps", type=_positive(int, 1, 60, "fps"), default=15)
    p.add_argument("--max-seconds", type=_positive(float, 0.5, 600, "max-seconds"), default=10.0,
                   help="cap on the clip's length; a longer run becomes a time-lapse")
    p.add_argument("--seconds", type=_positive(float, 0.5, 600, "seconds"), default=None,
                   help="exact length of the generation part (default: real time, capped)")
    p.add_argument("--hold", type=_positive(float, 0, 30, "hold"), default=1.0,
                   help="seconds the final frame stays at the end")
    p.add_argument("--size", type=_positive(int, 32, 2048, "size"), default=256,
                   help="pixels of each side's image in the clip")
    p.add_argument("--clip-sample", type=_positive(int, 0, 255, "clip-sample"), default=None,
                   help="show this sample of the batch (default: the batch grid)")
    p.add_argument("--clean", action="store_true",
                   help="diffusion: show the predicted clean image instead of the noisy sample")


def clip_options(a):
    from desktopgen.export.clips import ClipOptions

    return ClipOptions(align=getattr(a, "align", "time"), fps=a.fps, max_seconds=a.max_seconds,
                       seconds=a.seconds, hold=a.hold, size=a.size, index=a.clip_sample,
                       clean=a.clean).validate()


def check_clip_path(path: str, overwrite: bool) -> Path:
    """Refuse before any sampling what the clip could not be written to."""
    from desktopgen.cli import check_out
    from desktopgen.export.clips import CLIP_FORMATS

    return check_out(path, CLIP_FORMATS, overwrite, "--clip")


def progress_printer(what: str):
    t0 = last = time.perf_counter()

    def show(done, total):
        nonlocal last
        now = time.perf_counter()
        if done < total and now - last < 0.25:  # a line per frame would flood a log
            return
        last = now
        print(f"\r{what}: frame {min(done, total - 1)}/{total - 1}, {time.perf_counter() - t0:.1f}s",
              end="" if done < total else "\n", file=sys.stderr, flush=True)
    return show


def sample_with_trace(req, n: int, batch: int, device="auto"):
    """engine.sample_images, recording the first batch's RunTrace for the clip on the way.
    Returns (images, labels, info, trace); info["first_request"] is the first batch's request."""
    import numpy as np

    from desktopgen import sampling
    from desktopgen.core.device import device_name, pick_device
    from desktopgen.export.record import record

    dev = pick_device(device) if isinstance(device, str) else device
    model, card = sampling.load(req.family, req.model, dev, sampler=req.sampler)
    req = sampling.with_defaults(req.with_(model=card["name"], model_sha256=card["sha256"]))
    images, labels, peak, t0, trace, first = [], [], 0, time.perf_counter(), None, None
    for start in range(0, n, batch):
        chunk = req.with_(batch=min(batch, n - start), first_index=start)
        if trace is None:
            first, result, trace = record(model, chunk, dev)
        else:
            result = sampling.run_to_end(sampling.sample(model, chunk, dev, 0))
        images.append(result.images)
        labels.append(result.labels)
        peak, kind = max(peak, result.peak_memory), result.mem_kind
        done = start + chunk.batch
        print(f"\r{done}/{n} images, {time.perf_counter() - t0:.1f}s", end="" if done < n else "\n",
              file=sys.stderr, flush=True)
    info = {"elapsed": time.perf_counter() - t0, "device": device_name(dev), "peak_memory": peak,
            "mem_kind": kind, "request": req, "card": card, "first_request": first}
    return np.concatenate(images), np.concatenate(labels), info, trace
