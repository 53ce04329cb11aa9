"""The U-Net as a shortcut model (Frans et al. 2024, "One Step Diffusion via Shortcut Models"):
a rectified-flow velocity network also conditioned on the step size d it will be used with.

u(x_t, t, d, y) is the average velocity over the step from t to t - d (t = 1 is noise, t = 0 data),
so x_{t-d} = x_t - d * u. d = 0 is the instantaneous velocity of flow matching, with its own
learned embedding; d > 0 is embedded through log2 d, so one network serves 1 to 128 steps.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from desktopgen.nets.unet import UNet, UNetConfig, timestep_embedding

STEP_LEVEL_SCALE = 100.0  # -log2 d (0..7 in training) -> 0..700, the span the sinusoids resolve


@dataclass(frozen=True)
class ShortcutUNetConfig(UNetConfig):
    min_log2_step: int = -7  # smallest trained step size is 2 ** min_log2_step (1/128)


class ShortcutUNet(UNet):
    def __init__(self, config: ShortcutUNetConfig):
        super().__init__(config)
        emb_dim = 4 * config.channels
        self.step_mlp = nn.Sequential(
            nn.Linear(config.channels, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )
        self.flow_step = nn.Parameter(torch.zeros(emb_dim))  # d = 0: plain flow matching

    def step_embedding(self, d: torch.Tensor) -> torch.Tensor:
        """(B,) step sizes in [0, 1] -> (B, 4 * channels)."""
        level = -torch.log2(d.float().clamp(min=2.0**-30))  # 0 for d = 1, 7 for d = 1/128
        sinusoid = timestep_embedding(level * STEP_LEVEL_SCALE, self.config.channels)
        emb = self.step_mlp(sinusoid.to(self.step_mlp[0].weight.dtype))
        return torch.where((d > 0)[:, None], emb, self.flow_step.to(emb.dtype))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor,
                d: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, 1, 28, 28) at time t (B,) in [0, 1]; y: (B,) class, 10 = null; d: (B,) step
        size (None = 0). Returns the velocity u, (B, 1, 28, 28)."""
        if d is None:
            d = torch.zeros_like(t)
        emb = self.embed(t * 999.0, y) + self.step_embedding(d)
        return self.trunk(self.stem(x.to(self.stem.weight.dtype)), emb)
