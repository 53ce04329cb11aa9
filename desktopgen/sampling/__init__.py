"""Samplers by name, their defaults, and model loading for inference.

Every sampler is a generator function `sample(model, request, device, preview_every)` that
yields StepEvents and returns a RunResult (DESIGN.md "Contracts").
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from desktopgen.core import checkpoints
from desktopgen.core.events import RunResult, StepEvent
from desktopgen.core.requests import SampleRequest
from desktopgen.sampling import ar, diffusion

SAMPLERS = {"diffusion": diffusion.DIFFUSION_SAMPLERS, "ar": ar.AR_SAMPLERS}
# Defaults chosen from the sweep in models/*/card.json (quality per second).
DEFAULTS = {
    "diffusion": {"sampler": "dpmpp-2m", "steps": 20, "guidance": 2.0},
    "ar": {"sampler": "pixel", "steps": 784, "guidance": 1.5},
}


def with_defaults(req: SampleRequest) -> SampleRequest:
    """Fill the family's default model, sampler, steps and guidance where the request left them."""
    d = DEFAULTS[req.family]
    return req.with_(
        model=req.model or checkpoints.DEFAULT_MODELS[req.family],
        sampler=req.sampler or d["sampler"],
        steps=req.steps or d["steps"],
        guidance=d["guidance"] if req.guidance < 0 else req.guidance,
    ).validate()


def load(family: str, name: str = "", device: torch.device | str = "cpu"):
    """Load a family's model for inference: (model, card). On CUDA the AR transformer runs in
    bf16 weights (its step is launch-bound and captured as a graph); the U-Net runs under autocast."""
    model, card = checkpoints.load_model(name or checkpoints.DEFAULT_MODELS[family], device)
    arch = type(model).__name__
    expected = {"diffusion": "UNet", "ar": "PixelAR"}[family]
    if arch != expected:
        raise checkpoints.CheckpointError(f"model {card['name']!r} is a {arch}, not a {family} model")
    if family == "ar" and torch.device(device).type == "cuda":
        model = model.to(torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    return model, card


def sample(model, request: SampleRequest, device="cpu", preview_every: int = 1) -> Iterator[StepEvent]:
    req = with_defaults(request)
    if req.family == "diffusion":
        return diffusion.sample(model, req, device, preview_every)
    if req.steps != model.config.seq_len:
        raise ValueError(f"the pixel AR sampler always runs {model.config.seq_len} steps (one per pixel)")
    return ar.sample(model, req, device, preview_every)


def run_to_end(gen: Iterator[StepEvent], on_event=None) -> RunResult:
    """Drive a sampler generator to its end and return its RunResult."""
    while True:
        try:
            ev = next(gen)
        except StopIteration as stop:
            return stop.value
        if on_event is not None:
            on_event(ev)
