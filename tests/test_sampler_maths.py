"""The solvers' maths against known answers (issue 8, item 4).

Gaussian data N(mu, s^2) has a closed-form denoiser, and its probability-flow ODE keeps
z = (x - alpha mu) / sqrt(alpha^2 s^2 + sigma^2) constant, so every solver's error is known
exactly: DDIM's must fall like 1/n and DPM-Solver++(2M)'s like 1/n^2. A two-class mixture with
exact conditional and unconditional denoisers shows which way guidance pushes.
"""

import math

import pytest
import torch

from desktopgen import nets
from desktopgen.sampling import diffusion, solvers
from desktopgen.sampling.schedule import cosine_alpha_bar

MU, S = 0.3, 0.5  # the Gaussian data


def gaussian_denoiser(grid):
    def denoise(x, k):
        a, s = grid.alpha[k], grid.sigma[k]
        return MU + a * S**2 / (a * a * S**2 + s * s) * (x - a * MU)
    return denoise


def lambda_grid(n, lam0=-2.5, lam1=2.5):
    """n steps uniform in half log-SNR, ending at a noisy level (no final jump to sigma = 0)."""
    lams = [lam0 + (lam1 - lam0) * i / n for i in range(n + 1)]
    return solvers.Grid.from_alpha_bar([1 / (1 + math.exp(-2 * lam)) for lam in lams])


def ode_error(solver, n):
    grid = lambda_grid(n)
    x = torch.linspace(-3, 3, 13, dtype=torch.float64)
    z = (x - grid.alpha[0] * MU) / math.sqrt(grid.alpha[0] ** 2 * S**2 + grid.sigma[0] ** 2)
    exact = grid.alpha[-1] * MU + math.sqrt(grid.alpha[-1] ** 2 * S**2 + grid.sigma[-1] ** 2) * z
    steps = solver(gaussian_denoiser(grid), x, grid, list(range(n + 1)))
    *_, (_, out, _) = steps
    return (out - exact).abs().max().item()


@pytest.mark.parametrize("name, order", [("ddim", 1), ("dpmpp-2m", 2)])
def test_ode_solver_error_falls_at_its_order(name, order):
    errors = [ode_error(solvers.SOLVERS[name], n) for n in (20, 40, 80, 160)]
    rates = [math.log2(a / b) for a, b in zip(errors, errors[1:])]  # error ~ n^-rate
    assert all(abs(r - order) < 0.2 for r in rates), (errors, rates)


@pytest.mark.parametrize("name", ["ddpm", "ddim", "dpmpp-2m"])
def test_samplers_reproduce_the_data_distribution(name):
    n_samples = 20000
    grid, _ = solvers.cosine_grid(100)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n_samples, dtype=torch.float64, generator=g)
    steps = solvers.SOLVERS[name](gaussian_denoiser(grid), x, grid, list(range(grid.n + 1)),
                                  lambda: torch.randn(n_samples, dtype=torch.float64, generator=g))
    *_, (_, out, _) = steps
    se = S / math.sqrt(n_samples)  # standard error of the mean; the std's is about S / sqrt(2n)
    assert abs(out.mean().item() - MU) < 5 * se + 0.01
    assert abs(out.std().item() - S) < 5 * S / math.sqrt(2 * n_samples) + 0.01


class TwoClassOracle(torch.nn.Module):
    """Exact v of a v-predicting network for 1-pixel data: class c ~ N(MEANS[c], SD^2), and the
    null class the even mixture of both."""

    MEANS, SD = (-0.5, 0.5), 0.25

    def __init__(self):
        super().__init__()
        self.alpha_bar, self.config = cosine_alpha_bar(), nets.UNetConfig()

    def forward(self, x, t, y):
        ab = self.alpha_bar[t.long()].view(-1, 1, 1, 1).to(x.dtype)
        a, s = ab.sqrt(), (1 - ab).sqrt()
        var = a * a * self.SD**2 + s * s  # of x given the class
        x0 = [m + a * self.SD**2 / var * (x - a * m) for m in self.MEANS]
        logp = torch.stack([-((x - a * m) ** 2) / (2 * var) for m in self.MEANS])
        resp = torch.softmax(logp, dim=0)  # p(class | x)
        mix = resp[0] * x0[0] + resp[1] * x0[1]
        y = y.view(-1, 1, 1, 1)
        x0 = torch.where(y == 0, x0[0], torch.where(y == 1, x0[1], mix))
        return (a * x - x0) / s


def guided_samples(label, w, n=4000):
    grid, ts = solvers.cosine_grid(30)
    labels = torch.full((n,), label)
    denoise = diffusion.guided_denoiser(TwoClassOracle(), labels, w, grid, ts)
    x = torch.randn(n, 1, 1, 1, generator=torch.Generator().manual_seed(1))
    *_, (_, out, _) = solvers.ddim(denoise, x, grid, list(range(grid.n + 1)))
    return out.flatten()


def test_guidance_moves_samples_toward_the_asked_class():
    for label, sign in ((1, 1), (0, -1)):
        target = TwoClassOracle.MEANS[label]
        free, half, cond, pushed = (guided_samples(label, w) for w in (0.0, 0.5, 1.0, 3.0))
        assert abs(free.mean()) < 0.05  # w = 0: the null class, both classes evenly
        assert abs(cond.mean() - target) < 0.03  # w = 1: the asked class
        assert sign * (half.mean() - free.mean()) > 0.1 < sign * (cond.mean() - half.mean())
        assert sign * (pushed.mean() - cond.mean()) > 0.05  # w > 1: further toward it
        assert (sign * pushed > 0).float().mean() > (sign * cond > 0).float().mean()
