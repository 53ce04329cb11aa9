"""Video samplers by family, and batched clip generation for the CLI and the benchmarks.

Each family's video sampler is a module with `load(name, device) -> (model, card)` and
`sample_video(model, request, frames, device, preview_every)` (notes/video-api.md): diffusion in
video_diffusion.py, AR in video_ar.py. They are imported only when asked for, so a build without
one still runs the other, and asking for the missing one is one clear sentence.
"""

from __future__ import annotations

import importlib
import time
from types import ModuleType

import numpy as np

from desktopgen.core.requests import FAMILIES, RequestError, SampleRequest

MODULES = {"diffusion": "desktopgen.sampling.video_diffusion", "ar": "desktopgen.sampling.video_ar"}
# Each family's shipped video model (its module's DEFAULT_MODEL; torch-free here for callers that
# only ask whether it is present, e.g. the Showdown).
DEFAULT_MODELS = {"diffusion": "mfmnist-video-diffusion", "ar": "mfmnist-video-ar"}


class VideoSamplerMissing(RequestError):
    """The family's video sampler is not part of this build."""


def module(family: str) -> ModuleType:
    """The video sampler module of a family."""
    if family not in FAMILIES:
        raise RequestError(f"family must be one of {', '.join(FAMILIES)}, not {family!r}")
    name = MODULES[family]
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:  # something the sampler imports is missing: a real error
            raise
        raise VideoSamplerMissing(f"the {family} video sampler ({name}) is not in this build") from None


def load(family: str, name: str = "", device="cpu"):
    """(model, card) of a family's video model: `name` or the family's shipped default."""
    return module(family).load(name, device)


def sample_videos(family: str, model, card: dict, req: SampleRequest, n: int, frames: int, batch: int,
                  device="cpu", on_event=None, preview_every: int = 0):
    """n clips of `frames` frames in chunks of `batch`; clip i depends only on (seed, i).
    Returns (videos (n, frames, 48, 48) uint8, labels (n,) int64, info dict: elapsed, peak_memory,
    mem_kind, device, request (with the model's name and hash and the sampler's defaults written
    in), extra (the first chunk's
    RunResult.extra), chunk_seconds)."""
    from desktopgen.sampling import run_to_end

    mod = module(family)
    req = req.with_(family=family, model=card.get("name", req.model),
                    model_sha256=card.get("sha256", req.model_sha256)).validate()
    if hasattr(mod, "with_defaults"):  # the recipe holds the settings used, not "default"
        req = mod.with_defaults(req)
    videos, labels, chunk_s, peak, kind, extra, dev = [], [], [], 0, "process", {}, str(device)
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        chunk = req.with_(batch=min(batch, n - start), first_index=start)
        result = run_to_end(mod.sample_video(model, chunk, frames, device, preview_every), on_event)
        videos.append(result.images)
        labels.append(result.labels)
        chunk_s.append(result.elapsed)
        peak, kind, dev = max(peak, result.peak_memory), result.mem_kind, result.device
        extra = extra or dict(result.extra)
    info = {"elapsed": time.perf_counter() - t0, "peak_memory": peak, "mem_kind": kind, "device": dev,
            "request": req, "extra": extra, "chunk_seconds": chunk_s}
    return np.concatenate(videos), np.concatenate(labels).astype(np.int64), info
