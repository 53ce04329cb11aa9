"""Attention for sampling that gives the same numbers every run, on every backend.

On CUDA, PyTorch's first choice for bf16 attention on Hopper is cuDNN's kernel, which is not
run-to-run deterministic: on an H200 (torch 2.11) the same seed gave different AR pixels from one
run to the next, eager or CUDA graph alike, which breaks "sample i depends only on (seed, i)".
The memory-efficient kernel (and the math fallback) are deterministic, and give the same bits
eagerly and replayed from a CUDA graph. The CPU keeps PyTorch's own choice.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

DETERMINISTIC_BACKENDS = [SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH]


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, **kwargs) -> torch.Tensor:
    """F.scaled_dot_product_attention, restricted to deterministic kernels on CUDA."""
    if q.is_cuda:
        with sdpa_kernel(DETERMINISTIC_BACKENDS):
            return F.scaled_dot_product_attention(q, k, v, **kwargs)
    return F.scaled_dot_product_attention(q, k, v, **kwargs)
