"""A denoiser's batch run a few rows per call, for CPUs.

On a CPU a big batch's activations spill out of the caches and every row costs more: one guided
call of the video U-Net cost 1.07 s a row at 32 rows against 0.46 s at 2, the image U-Net's batch
of 100 (200 rows) 0.63-0.70x the time at 25-50 rows per call (docs/speed.md). Every layer of
these networks works row by row, so the rows come out as from one call, up to the kernels'
rounding for the smaller shape (benchmarks/bench_video_rows.py checks the bits).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn


def split_call(fn: Callable[..., torch.Tensor], x: torch.Tensor, t: torch.Tensor, y: torch.Tensor,
               cond: torch.Tensor | None, rows: int | None) -> torch.Tensor:
    """fn(x, t, y, cond) at most `rows` rows per call (None: one call), joined. `cond` (None, or
    rows that tile the batch: one per sample of a batch doubled for guidance, or one for all) is
    repeated to the batch first, as the networks' forward does."""
    B = len(x)
    if rows is None or B <= rows:
        return fn(x, t, y, cond)
    if cond is not None and len(cond) != B:
        cond = cond.repeat(B // len(cond), *[1] * (cond.dim() - 1))
    return torch.cat([fn(x[i:i + rows], t[i:i + rows], y[i:i + rows],
                         None if cond is None else cond[i:i + rows]) for i in range(0, B, rows)])


def check_rows(rows: int | None) -> int | None:
    if rows is not None and rows < 1:
        raise ValueError(f"rows must be at least 1, not {rows}")
    return rows


class ByRows(nn.Module):
    """A plain denoiser model(x, t, y) called `rows` rows at a time."""

    def __init__(self, model: nn.Module, rows: int | None):
        super().__init__()
        self.model, self.rows = model, check_rows(rows)
        self.config = model.config

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return split_call(lambda x, t, y, _: self.model(x, t, y), x, t, y, None, self.rows)


def by_rows(model: nn.Module, rows: int | None) -> nn.Module:
    """`model` run `rows` rows per call: a bound inpainting or video model (with a `rows`
    attribute: its condition is split with the batch) takes it in place, others are wrapped."""
    if rows is None:
        return model
    if hasattr(model, "cond") and hasattr(model, "rows"):
        model.rows = check_rows(rows)
        return model
    return ByRows(model, rows)
