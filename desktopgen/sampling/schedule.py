"""Noise schedules and timestep spacings, as pure functions."""

from __future__ import annotations

import math

import torch

T = 1000  # training horizon (discrete timesteps 0..T-1)


def cosine_alpha_bar(num_steps: int = T, s: float = 0.008) -> torch.Tensor:
    """Cumulative signal fraction alpha_bar(t), t = 0..T-1, of the cosine schedule
    (Nichol & Dhariwal 2021, "Improved DDPM", eq. 17), betas clipped at 0.999. float64."""
    t = torch.arange(num_steps + 1, dtype=torch.float64) / num_steps
    f = torch.cos((t + s) / (1 + s) * math.pi / 2) ** 2
    betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
    return torch.cumprod(1 - betas, dim=0)


def spaced_timesteps(steps: int, num_steps: int = T) -> list[int]:
    """`steps` timesteps from T-1 down to 0, evenly spaced ("trailing" spacing, Lin et al. 2023,
    so the first step always starts from pure noise). Strictly decreasing: where rounding
    would repeat a timestep (more than T - 1 steps) the grid steps down by one instead, so
    at `num_steps` steps it is every timestep (a repeat makes a zero step and breaks 2M)."""
    if not 1 <= steps <= num_steps:
        raise ValueError(f"steps must be between 1 and {num_steps}, not {steps}")
    ts = torch.linspace(num_steps - 1, 0, steps + 1, dtype=torch.float64)[:-1].round().long()
    ts = ts.tolist()
    for i in range(1, steps):
        ts[i] = min(ts[i], ts[i - 1] - 1)
    return ts
