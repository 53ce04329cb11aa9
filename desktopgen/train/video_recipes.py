"""Issue 11's joint video diffusion recipe: moving Fashion-MNIST clips made on the fly.

Each batch of garments from the train split becomes a batch of 16-frame clips on the device
(desktopgen/data/moving.py), noised as one (v-prediction on the cosine schedule, one timestep
per clip). For extension, some clips have their first k frames given as clean condition
frames (the frame mask: 1 = generate); the loss counts the generated frames only.
"""

from __future__ import annotations

import torch

from desktopgen import nets
from desktopgen.data import moving
from desktopgen.nets.video_unet import condition_input
from desktopgen.sampling.schedule import cosine_alpha_bar
from desktopgen.train.common import drop_labels, vp_noising

METHOD = ("Joint video diffusion: a space-time U-Net (per-frame 2D residual blocks, a temporal "
          "convolution after each, temporal attention at 24 and 12 px, space-time attention in the "
          "middle), v-prediction on the cosine schedule, one timestep per clip, label dropout 0.1. "
          "Clips: 16 frames of moving Fashion-MNIST (train split) made on the GPU every step. "
          "60% of clips condition on nothing, 20% on their first 4 frames (the extension setting), "
          "20% on their first 1..15; the loss counts the generated frames only.")
FRAMES = 16
P_CONTEXT, P_EXTEND, EXTEND_KNOWN = 0.2, 0.2, 4  # shares with k uniform in 1..T-1, and k = 4


def context_masks(n: int, frames: int, gen: torch.Generator, device) -> torch.Tensor:
    """(n, frames) float frame masks, 1 = generate: the first k frames known, k = 0 for 60%,
    k = 4 for 20%, k uniform in 1..frames-1 for 20%."""
    u = torch.rand(n, device=device, generator=gen)
    k_any = torch.randint(1, max(frames, 2), (n,), device=device, generator=gen)
    k = torch.where(u < P_CONTEXT, k_any, torch.zeros_like(k_any))
    k = torch.where((u >= P_CONTEXT) & (u < P_CONTEXT + P_EXTEND), torch.full_like(k, EXTEND_KNOWN), k)
    k = k.clamp(max=frames - 1)
    return (torch.arange(frames, device=device)[None] >= k[:, None]).float()


class VideoDiffusionRecipe:
    """v-prediction on clips (B, 16, 48, 48) made from the batch's garments."""

    arch = "video_unet"
    # batch counts clips (16 frames each); EMA 0.999: a run of a few thousand steps
    defaults = {"batch": 32, "lr": 3e-4, "ema": 0.999, "weight_decay": 0.0}

    def __init__(self, device):
        self.alpha_bar = cosine_alpha_bar().float().to(device)

    def loss(self, model, images, labels, gen):
        clips = moving.random_clips_torch(images, FRAMES, moving.SIZE, gen)  # (B, T, 48, 48) uint8
        x0 = clips.float() / 127.5 - 1
        x_t, t, v = vp_noising(self.alpha_bar, x0, gen)
        y = drop_labels(labels, nets.VideoUNetConfig.num_classes, gen)
        mask = context_masks(len(x0), FRAMES, gen, x0.device)  # (B, T)
        pred = model(x_t, t, y, condition_input(x0, mask)).float()
        err = ((pred - v) ** 2).mean(dim=(2, 3))  # (B, T)
        return (err * mask).sum() / mask.sum()
