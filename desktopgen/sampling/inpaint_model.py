"""The inpainting U-Net (desktopgen/nets/inpaint_unet.py) inside the diffusion samplers: one
request's source and mask bound to it, so every solver calls it as model(x, t, y).

The samplers' per-step paste of the re-noised known pixels stays on (it is what the model saw in
training there), and its last step pastes the clean known pixels: they come back exactly."""

from __future__ import annotations

import numpy as np
import torch

from desktopgen.nets.inpaint_unet import InpaintUNet

DEFAULT_MODEL = "fmnist-inpaint"


def bind(model: torch.nn.Module, req, device) -> torch.nn.Module:
    """`model` with the request's condition bound if it is an inpainting U-Net, else `model`.
    Without a mask it generates from nothing known (an all-ones mask, trained for)."""
    if not isinstance(model, InpaintUNet):
        return model
    if req.mask is None:
        return model.conditioned(torch.zeros((1, 1, 28, 28), device=device),
                                 torch.ones((1, 1, 28, 28), device=device))
    mask = torch.tensor(req.mask, device=device, dtype=torch.float32).view(-1, 1, 28, 28)
    source = np.asarray(req.source, np.uint8).reshape(-1, 28, 28)
    known = torch.as_tensor(source, device=device).float()[:, None] / 127.5 - 1
    return model.conditioned(known, mask)


def default_model(family: str, resample: int = 1) -> str:
    """The model `desktopgen inpaint` uses without --model: the inpainting model when it is
    present (RePaint, --resample > 1, keeps the plain diffusion model), else the family's."""
    from desktopgen.core import checkpoints

    if family == "diffusion" and resample == 1 and checkpoints.resolve(DEFAULT_MODEL).is_dir():
        return DEFAULT_MODEL
    return ""
