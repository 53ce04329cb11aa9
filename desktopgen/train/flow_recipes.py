"""Recipes of issue 10: the shortcut (rectified-flow + few-step) model and the inpainting model.

Shortcut model (Frans et al. 2024): x_t = (1 - t) x0 + t eps, t = 1 is noise. Most of the batch
learns the flow-matching velocity eps - x0 at step size d = 0; a quarter learns, for d = 2^-k
(k = 0..7) and t on the d grid, to make in one step what two d/2 steps of the model itself
make (the self-consistency target, computed without gradients from the current weights).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from desktopgen import nets
from desktopgen.nets.inpaint_unet import condition_input
from desktopgen.sampling.schedule import cosine_alpha_bar
from desktopgen.train.common import drop_labels, vp_noising
from desktopgen.train.masks import training_masks

# What each shipped card says about its method (tools/gpu_issue10.sh writes it in).
METHODS = {
    "flow": "Shortcut model (Frans et al. 2024): one U-Net conditioned on the step size d (log2 d "
            "embedded, d = 0 its own vector); 3/4 of each batch flow matching (x_t = (1-t) x0 + t eps, "
            "target eps - x0, t uniform, d = 0), 1/4 self-consistency at d = 2^-k, k = 0..7, t on the "
            "d grid: target = mean of two d/2 steps of the current weights (no grad, eval mode; the "
            "paper uses the EMA), d/2 below 1/128 taken as d = 0. Label dropout 0.1 on both parts so "
            "guidance works at every step count. Samplers: flow-euler, flow-heun (d = 0), few-step "
            "(d = 1/steps). Only this method was tried (consistency distillation and progressive "
            "distillation were not).",
    "inpaint": "Inpainting diffusion: the U-Net with two more input channels (known image with the "
               "hole zeroed, and the mask), v-prediction on the cosine schedule as fmnist-diffusion; "
               "masks: 30% editor presets (halves, centre square), 30% 1-4 random rectangles, 30% "
               "1-2 brush strokes, 10% all-ones (plain generation). Samplers: the diffusion ones; the "
               "known pixels are pasted in at every step, exactly at the end.",
}
METHODS["shortcut"] = METHODS["flow"]
BOOTSTRAP_FRACTION = 0.25  # share of each batch trained on self-consistency targets
MAX_LOG2_STEPS = 7  # shortcut step sizes d = 1, 1/2, ..., 1/128
MIN_STEP = 2.0**-MAX_LOG2_STEPS


def shortcut_times(n: int, gen: torch.Generator, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(t, d), each (n,): d = 2^-k with k uniform in 0..7, t uniform on the d grid {d, 2d, .., 1}
    so that the step from t to t - d stays inside [0, 1]."""
    k = torch.randint(0, MAX_LOG2_STEPS + 1, (n,), device=device, generator=gen)
    d = torch.exp2(-k.float())
    j = (torch.rand(n, device=device, generator=gen) * torch.exp2(k.float())).floor() + 1
    return j * d, d


def shortcut_targets(u, x_t: torch.Tensor, t: torch.Tensor, d: torch.Tensor,
                     y: torch.Tensor) -> torch.Tensor:
    """The self-consistency target for a step of size d from x_t: the mean of the velocities of
    two steps of size d/2 made by `u(x, t, y, d)`. Below the smallest trained step (d/2 < 1/128)
    the half steps use d = 0, the instantaneous velocity."""
    half = d / 2
    half_in = torch.where(half >= MIN_STEP, half, torch.zeros_like(half))
    s1 = u(x_t, t, y, half_in)
    x_mid = x_t - half[:, None, None, None] * s1
    s2 = u(x_mid, t - half, y, half_in)
    return (s1 + s2) / 2


def frozen(model):
    """The network as a no-grad teacher in eval mode (no dropout): u(x, t, y, d), float32."""
    net = getattr(model, "module", model)  # past DistributedDataParallel: no gradient sync

    def u(x, t, y, d):
        was = net.training
        net.eval()
        try:
            with torch.no_grad():
                return net(x, t, y, d).float()
        finally:
            net.train(was)
    return u


class ShortcutRecipe:
    """Flow matching at d = 0 plus self-consistency at d = 2^-k, one network."""

    arch = "shortcut_unet"
    # batch 512: at 28 px the U-Net's step is launch-bound on an H200 at 256, so twice the batch
    # costs little more per step; lr 3e-4 ~ sqrt(2) x the diffusion recipe's 2e-4 at batch 256.
    defaults = {"batch": 512, "lr": 3e-4, "ema": 0.9995, "weight_decay": 0.0}

    def __init__(self, device):
        pass

    def loss(self, model, images, labels, gen):
        x0 = images[:, None].float() / 127.5 - 1
        n, dev = len(x0), x0.device
        nb = int(n * BOOTSTRAP_FRACTION)
        eps = torch.randn(x0.shape, device=dev, generator=gen)
        y = drop_labels(labels, nets.ShortcutUNetConfig.num_classes, gen)
        t_sc, d_sc = shortcut_times(nb, gen, dev)
        t = torch.cat([t_sc, torch.rand(n - nb, device=dev, generator=gen)])
        d = torch.cat([d_sc, torch.zeros(n - nb, device=dev)])
        tt = t[:, None, None, None]
        x_t = (1 - tt) * x0 + tt * eps
        target = eps - x0
        if nb:
            sc = shortcut_targets(frozen(model), x_t[:nb], t[:nb], d[:nb], y[:nb])
            target = torch.cat([sc, target[nb:]])
        return F.mse_loss(model(x_t, t, y, d).float(), target)


class InpaintRecipe:
    """The diffusion recipe (v-prediction, cosine schedule) with the masked image and the mask
    as extra inputs, random training masks (desktopgen/train/masks.py)."""

    arch = "inpaint_unet"
    defaults = {"batch": 512, "lr": 3e-4, "ema": 0.9995, "weight_decay": 0.0}  # as ShortcutRecipe

    def __init__(self, device):
        self.alpha_bar = cosine_alpha_bar().float().to(device)

    def loss(self, model, images, labels, gen):
        x0 = images[:, None].float() / 127.5 - 1
        x_t, t, v = vp_noising(self.alpha_bar, x0, gen)
        y = drop_labels(labels, nets.InpaintUNetConfig.num_classes, gen)
        cond = condition_input(x0, training_masks(len(x0), gen, x0.device))
        return F.mse_loss(model(x_t, t, y, cond).float(), v)
