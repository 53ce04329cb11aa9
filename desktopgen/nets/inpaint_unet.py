"""The U-Net as an inpainting diffusion model: two more input channels, the masked image and
the mask (1 = generate), so it sees the kept pixels at every step instead of having them pasted in.

It predicts v on the cosine schedule like the plain U-Net; `conditioned` binds one request's
known image and mask, which makes it callable as model(x, t, y) by the same samplers.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from desktopgen.nets.rows import check_rows, split_call
from desktopgen.nets.unet import UNet, UNetConfig


@dataclass(frozen=True)
class InpaintUNetConfig(UNetConfig):
    cond_channels: int = 2  # masked image (0 inside the hole) and the mask


def condition_input(known: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(B, 2, 28, 28): the known image in [-1, 1] with the hole zeroed, and the mask (1 = hole)."""
    known, mask = torch.broadcast_tensors(known, mask.to(known.dtype))  # one of them may be shared
    return torch.cat([known * (1 - mask), mask], dim=1)


class InpaintUNet(UNet):
    def __init__(self, config: InpaintUNetConfig):
        super().__init__(config)
        self.stem = nn.Conv2d(1 + config.cond_channels, config.channels, 3, padding=1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor,
                cond: torch.Tensor | None = None) -> torch.Tensor:
        """x, t, y as UNet; cond: (B or 1, 2, 28, 28) from `condition_input` (None = nothing
        known: an all-ones mask, plain generation). A batch doubled for guidance reuses cond."""
        if cond is None:
            cond = torch.cat([torch.zeros_like(x), torch.ones_like(x)], dim=1)
        if len(cond) != len(x):
            cond = cond.repeat(len(x) // len(cond), 1, 1, 1)
        h = torch.cat([x, cond.to(x.dtype)], dim=1).to(self.stem.weight.dtype)
        return self.trunk(self.stem(h), self.embed(t, y))

    def conditioned(self, known: torch.Tensor, mask: torch.Tensor, rows: int | None = None) -> Conditioned:
        return Conditioned(self, condition_input(known, mask), rows)


class Conditioned(nn.Module):
    """An InpaintUNet with one request's condition bound: model(x, t, y) like a plain U-Net,
    `rows` rows per call when set (nets/rows.py: the condition is split with the batch)."""

    def __init__(self, model: InpaintUNet, cond: torch.Tensor, rows: int | None = None):
        super().__init__()
        self.model, self.cond, self.rows = model, cond, check_rows(rows)
        self.config = model.config

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return split_call(self.model, x, t, y, self.cond, self.rows)
