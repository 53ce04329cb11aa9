"""Decoder-only transformer over an image's tokenizer codes (7x7 = 49 by default), raster order.

The pixel transformer (nets/pixel_ar.py) with a larger vocabulary (the tokenizer's codebook) and
a shorter sequence: the same class token first, null class for guidance, and the same static KV
cache and `decode_step`, so sampling/ar.py's decoder and CUDA-graph capture serve it unchanged.
The config names the tokenizer model folder the codes come from (`tokenizer`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch.nn as nn

from desktopgen.nets.pixel_ar import PixelAR


@dataclass(frozen=True)
class TokenARConfig:
    n_layer: int = 8
    n_head: int = 8
    n_embd: int = 256
    dropout: float = 0.1
    num_classes: int = 10  # the null class (index num_classes) is added for guidance
    vocab: int = 1000  # the tokenizer's codebook size
    seq_len: int = 49  # tokens per image, raster order (7 x 7; 196 for a 2x tokenizer)
    tokenizer: str = "fmnist-tokenizer"  # model folder of the tokenizer that made the codes

    @property
    def grid(self) -> int:
        """Tokens per side: the sequence is a square grid."""
        return math.isqrt(self.seq_len)


class TokenAR(PixelAR):
    """PixelAR over codes. Sampling needs the tokenizer too: `attach_tokenizer` keeps it beside
    the transformer without making it a submodule (its weights stay out of this model's file,
    and `.to(bfloat16)` for the transformer leaves the tokenizer in float32)."""

    def __init__(self, config: TokenARConfig):
        super().__init__(config)

    def attach_tokenizer(self, tokenizer: nn.Module) -> TokenAR:
        object.__setattr__(self, "_tokenizer", tokenizer)  # not registered: see the class docstring
        return self

    @property
    def tokenizer(self) -> nn.Module | None:
        return self.__dict__.get("_tokenizer")
