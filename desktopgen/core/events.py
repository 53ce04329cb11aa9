"""Small immutable events that samplers yield and workers forward to the GUI."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class StepEvent:
    """One sampler step. Arrays are CPU uint8, never device tensors."""

    family: str  # "diffusion" | "ar"
    step: int  # steps done so far, 1..total
    total: int  # steps in the whole run
    elapsed: float  # seconds since the run started (device synchronised when a preview is made)
    preview: np.ndarray | None = None  # (B, 28, 28) uint8: current sample / pixels decoded so far
    preview_clean: np.ndarray | None = None  # (B, 28, 28) uint8: diffusion's predicted clean image
    position: int | None = None  # AR: index (0..783) of the pixel generated at this step
    mem_allocated: int = 0  # bytes: CUDA allocated, or process RSS on CPU
    mem_peak: int = 0  # bytes: CUDA peak since the run started, or process peak RSS on CPU
    mem_kind: str = "process"  # "cuda" | "process"
    # Token samplers (issue 9): the token grid so far, (B, h, w) int32, -1 = not generated yet
    # (7x7 for a 28x28 image); `position` is then a token index (0..h*w-1), not a pixel's.
    tokens: np.ndarray | None = None
    confidence: np.ndarray | None = None  # (B, h, w) float32 in [0, 1] where a sampler has one


@dataclass(frozen=True)
class RunResult:
    """What a finished (or cancelled) run returns from its generator."""

    family: str
    images: np.ndarray  # (B, 28, 28) uint8
    labels: np.ndarray  # (B,) int64: the requested class of each sample (-1: none)
    steps: int  # steps actually run
    elapsed: float  # seconds
    peak_memory: int  # bytes (see StepEvent.mem_kind)
    mem_kind: str
    device: str
    completed: bool = True
    extra: dict = field(default_factory=dict)
