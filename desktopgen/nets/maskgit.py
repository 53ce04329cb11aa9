"""Bidirectional transformer over a grid of tokenizer codes with some of them masked (MaskGIT,
Chang et al. 2022): it predicts every masked code from the class and all the visible ones.

The sequence is the class token followed by the h*w grid in raster order; a masked position holds
the extra code `codebook_size` ([MASK]). Nothing is causal: every position sees every other.
The tokenizer the codes come from is named in the config (`tokenizer`) and loaded beside it by
desktopgen.sampling.load; it is never part of this module's weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from desktopgen.nets import pixel_ar
from desktopgen.nets.attention import attention


@dataclass(frozen=True)
class MaskGITConfig:
    n_layer: int = 8
    n_head: int = 8
    n_embd: int = 256
    dropout: float = 0.1
    num_classes: int = 10  # the null class (index num_classes) is added for guidance
    codebook_size: int = 1000  # codes of the tokenizer; code `codebook_size` is [MASK]
    grid_h: int = 7  # token grid: 28x28 images / the tokenizer's 4x4 patches
    grid_w: int = 7
    tokenizer: str = "fmnist-tokenizer"  # model folder of the tokenizer the codes come from


class Block(pixel_ar.Block):
    """The pixel transformer's pre-LN block (same layers, same weight names) with full
    (bidirectional) self-attention instead of causal."""

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self._heads(x)  # (B, nh, T, hs)
        p = self.attn_drop if self.training else 0.0
        y = attention(q, k, v, dropout_p=p)  # deterministic kernels on CUDA
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(B, T, C)))
        return x + self.drop(self.mlp(self.ln2(x)))


class MaskGIT(nn.Module):
    def __init__(self, config: MaskGITConfig):
        super().__init__()
        self.config = c = config
        self.class_emb = nn.Embedding(c.num_classes + 1, c.n_embd)  # last index = null class
        self.tok_emb = nn.Embedding(c.codebook_size + 1, c.n_embd)  # last index = [MASK]
        self.pos_emb = nn.Embedding(1 + c.grid_h * c.grid_w, c.n_embd)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd)
        self.head = nn.Linear(c.n_embd, c.codebook_size)  # never predicts [MASK]
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)

    @property
    def mask_id(self) -> int:
        return self.config.codebook_size

    def forward(self, codes: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """codes: (B, h, w) long in [0, codebook_size], codebook_size = masked; y: (B,) class
        (num_classes = null). Returns logits (B, h, w, codebook_size) at every position."""
        B, h, w = codes.shape
        tok = torch.cat([self.class_emb(y)[:, None], self.tok_emb(codes.view(B, h * w))], dim=1)
        x = self.drop(tok + self.pos_emb.weight[: 1 + h * w])  # (B, 1 + hw, C)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x[:, 1:])).view(B, h, w, -1)
