"""Per-sample random streams: sample i of a batch depends only on (seed, i)."""

from __future__ import annotations

import numpy as np
import torch


def sample_seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0])


def generators(seed: int, batch: int, first_index: int = 0) -> list[torch.Generator]:
    """One CPU generator per sample: the same numbers on every device and batch size."""
    return [torch.Generator().manual_seed(sample_seed(seed, first_index + i)) for i in range(batch)]


def randn(gens: list[torch.Generator], shape: tuple, device) -> torch.Tensor:
    return torch.stack([torch.randn(shape, generator=g) for g in gens]).to(device)


def rand(gens: list[torch.Generator], shape: tuple, device) -> torch.Tensor:
    return torch.stack([torch.rand(shape, generator=g) for g in gens]).to(device)
