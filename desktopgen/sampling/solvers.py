"""Diffusion solvers, one small function each (k-diffusion / EDM style).

A solver walks x through noise levels of a `Grid`, calling a denoiser `D(x, k)` that returns the
clean-image estimate at level k; it knows nothing of networks, classes or guidance. Each solver
is a generator yielding (level reached, x, x0) after every step and returning the final x, so a
caller can preview, cancel (close()) and wrap it (inpainting, RePaint: see diffusion.py).
Variance-preserving notation: x_k = alpha_k * x0 + sigma_k * eps, alpha_k^2 + sigma_k^2 = 1,
lambda_k = log(alpha_k / sigma_k) the half log-SNR.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import torch

from desktopgen.sampling.schedule import cosine_alpha_bar, spaced_timesteps

Denoiser = Callable[[torch.Tensor, int], torch.Tensor]  # (x at level k, k) -> x0 estimate
Noise = Callable[[], torch.Tensor]  # fresh standard normal noise shaped like x
Hook = Callable[[torch.Tensor, int], torch.Tensor]  # (x just stepped to level k, k) -> x
Steps = Iterator[tuple[int, torch.Tensor, torch.Tensor]]  # (level, x, x0) per step


@dataclass(frozen=True)
class Grid:
    """Noise levels 0..n of one run, as python floats; sigma = 0 is a clean level."""

    alpha_bar: list[float]  # signal fraction alpha^2 of each level
    alpha: list[float]
    sigma: list[float]
    lam: list[float]  # half log-SNR

    @classmethod
    def from_alpha_bar(cls, alpha_bar: Sequence[float]) -> Grid:
        ab = [float(a) for a in alpha_bar]
        alpha, sigma = [a**0.5 for a in ab], [(1 - a) ** 0.5 for a in ab]
        lam = [math.log(a / max(s, 1e-12)) for a, s in zip(alpha, sigma)]
        return cls(ab, alpha, sigma, lam)

    @property
    def n(self) -> int:
        """The number of steps from level 0 to the last level."""
        return len(self.alpha) - 1


def cosine_grid(steps: int) -> tuple[Grid, list[int]]:
    """The model's grid for `steps` steps: levels at the spaced timesteps, then clean.
    Returns the grid and the timestep of each noisy level."""
    ts = spaced_timesteps(steps)
    return Grid.from_alpha_bar(cosine_alpha_bar()[ts].tolist() + [1.0]), ts


def keep(x: torch.Tensor, k: int) -> torch.Tensor:
    """The default after-step hook: x unchanged."""
    return x


def ddim(denoise: Denoiser, x: torch.Tensor, grid: Grid, levels: Sequence[int],
         noise: Noise | None = None, eta: float = 0.0, after_step: Hook = keep) -> Steps:
    """DDIM (Song et al. 2021, eq. 12): eta = 0 is the deterministic first-order solver,
    eta = 1 is DDPM's ancestral sampling (fresh noise of the posterior's size every step)."""
    ab = grid.alpha_bar
    for a, b in zip(levels, levels[1:]):
        x0 = denoise(x, a)
        eps = (x - grid.alpha[a] * x0) / grid.sigma[a]
        # Noise added back at this step (eq. 16), at most all of sigma_b.
        s = eta * ((1 - ab[b]) / (1 - ab[a]) * (1 - ab[a] / ab[b])) ** 0.5
        x = grid.alpha[b] * x0 + max(grid.sigma[b] ** 2 - s**2, 0.0) ** 0.5 * eps
        if s > 0:
            x = x + s * noise()
        x = after_step(x, b)
        yield b, x, x0
    return x


def ddpm(denoise: Denoiser, x: torch.Tensor, grid: Grid, levels: Sequence[int],
         noise: Noise | None = None, after_step: Hook = keep) -> Steps:
    """DDPM ancestral sampling (Ho et al. 2020) on a spaced grid: DDIM with eta = 1."""
    return (yield from ddim(denoise, x, grid, levels, noise, 1.0, after_step))


def dpmpp_2m(denoise: Denoiser, x: torch.Tensor, grid: Grid, levels: Sequence[int],
             noise: Noise | None = None, after_step: Hook = keep) -> Steps:
    """DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2): multistep second order in lambda,
    first order on the first step, and the denoised image itself on a step to sigma = 0."""
    lam = grid.lam
    x0_prev = h_prev = None
    for a, b in zip(levels, levels[1:]):
        x0 = denoise(x, a)
        if grid.sigma[b] == 0:
            x = x0  # last step (lower order at the end)
        else:
            h = lam[b] - lam[a]
            if x0_prev is None:
                d = x0
            else:  # extrapolate x0 linearly in lambda to the middle of the step
                r = h_prev / h
                d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * x0_prev
            x = (grid.sigma[b] / grid.sigma[a]) * x - grid.alpha[b] * math.expm1(-h) * d
            x0_prev, h_prev = x0, h
        x = after_step(x, b)
        yield b, x, x0
    return x


SOLVERS = {"ddpm": ddpm, "ddim": ddim, "dpmpp-2m": dpmpp_2m}
