"""Every sampler works at every step count the CLI and GUI accept (issue 8, bug 3)."""

import numpy as np
import pytest
import torch

from desktopgen import nets, sampling
from desktopgen.core import samplers as table
from desktopgen.core.requests import SampleRequest
from desktopgen.sampling import diffusion
from desktopgen.sampling.schedule import T, cosine_alpha_bar, spaced_timesteps


class CheapOracle(torch.nn.Module):
    """Exact v for data that is always `target`: a denoiser that costs nothing."""

    def __init__(self, target):
        super().__init__()
        self.target, self.alpha_bar = target, cosine_alpha_bar().float()
        self.config = nets.UNetConfig()

    def forward(self, x, t, y):
        ab = self.alpha_bar[t.long()][:, None, None, None]
        a, s = ab.sqrt(), (1 - ab).sqrt()
        return a * (x - a * self.target) / s - s * self.target


def test_timestep_grids_strictly_decrease_from_pure_noise_for_every_step_count():
    for n in range(1, T + 1):
        ts = spaced_timesteps(n)
        assert len(ts) == n and ts[0] == T - 1 and ts[-1] >= 0, n
        assert all(a > b for a, b in zip(ts, ts[1:])), f"duplicate timestep at {n} steps"
    assert spaced_timesteps(T) == list(range(T - 1, -1, -1))


@pytest.mark.parametrize("sampler", [s.name for s in table.samplers_for("diffusion")
                                     if s.model_kind == "diffusion-unet"])  # flow: test_flow.py
@pytest.mark.parametrize("steps", [1, 2, 999, 1000])
def test_every_diffusion_sampler_runs_at_the_extreme_step_counts(sampler, steps):
    target = torch.linspace(-0.9, 0.9, 784).reshape(1, 1, 28, 28)
    req = SampleRequest(family="diffusion", sampler=sampler, steps=steps, guidance=2.0, batch=1)
    result = sampling.run_to_end(sampling.sample(CheapOracle(target), req))
    assert result.steps == steps
    assert np.abs(result.images[0].astype(int) - diffusion.to_uint8(target)[0]).max() <= 1
