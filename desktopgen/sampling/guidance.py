"""Classifier-free guidance (Ho & Salimans 2022), shared by the diffusion and AR samplers.

One network call serves both predictions: the batch is the asked classes stacked on the null
class, and the two halves are mixed as uncond + w * (cond - uncond). w = 1 needs only the asked
classes and w = 0 only the null class, so neither doubles the batch.
"""

from __future__ import annotations

import torch


def doubles(w: float) -> bool:
    """Whether guidance scale w needs the conditional and the unconditional prediction."""
    return w not in (0, 1)


def labels_for(labels: torch.Tensor, null_class: int, w: float) -> torch.Tensor:
    """The class labels of the network's batch: (B,), or (2B,) = asked classes, then null."""
    null = torch.full_like(labels, null_class)
    if w == 1:
        return labels
    if w == 0:
        return null
    return torch.cat([labels, null])


def combine(out: torch.Tensor, w: float) -> torch.Tensor:
    """(2B, ...) predictions for the batch of `labels_for` -> (B, ...) guided ones."""
    cond, uncond = out.chunk(2)
    return uncond + w * (cond - uncond)
