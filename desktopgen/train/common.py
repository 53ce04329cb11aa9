"""Pieces several recipes share: label dropout for guidance, and the v-prediction noising."""

from __future__ import annotations

import torch

from desktopgen.sampling.schedule import T

LABEL_DROPOUT = 0.1  # fraction of examples trained with the null class, for guidance


def drop_labels(y: torch.Tensor, num_classes: int, gen: torch.Generator) -> torch.Tensor:
    drop = torch.rand(y.shape, device=y.device, generator=gen) < LABEL_DROPOUT
    return torch.where(drop, torch.full_like(y, num_classes), y)


def vp_noising(alpha_bar: torch.Tensor, x0: torch.Tensor, gen: torch.Generator):
    """Uniform timesteps t, x_t = sqrt(ab) x0 + sqrt(1 - ab) eps and the v target
    (Salimans & Ho 2022): returns (x_t, t as float, v)."""
    t = torch.randint(0, T, (len(x0),), device=x0.device, generator=gen)
    ab = alpha_bar[t][:, None, None, None]
    eps = torch.randn(x0.shape, device=x0.device, generator=gen)
    x_t = ab.sqrt() * x0 + (1 - ab).sqrt() * eps
    v = ab.sqrt() * eps - (1 - ab).sqrt() * x0
    return x_t, t.float(), v
