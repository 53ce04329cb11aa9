"""Decoder-only transformer over the 784 pixels of a 28x28 image (256-way), class token first.

Training runs the whole sequence causally; sampling uses `decode_step` with a static,
fixed-length KV cache, so every step has the same shapes (CUDA-graph friendly) and costs one
token's projections plus attention over the cache. `decode_step_at` is the same step for a Python
int position (the CPU path): it attends to the filled slots only, with no mask, so its cost grows
with the position instead of always paying for the whole cache.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from desktopgen.nets.attention import attention


@dataclass(frozen=True)
class PixelARConfig:
    n_layer: int = 8
    n_head: int = 8
    n_embd: int = 256
    dropout: float = 0.1
    num_classes: int = 10  # the null class (index num_classes) is added for guidance
    vocab: int = 256  # pixel intensities
    seq_len: int = 784  # 28 * 28 pixels, raster order


class KVCache:
    """Preallocated keys and values of every layer: (L, B, nh, T, hs) each."""

    def __init__(self, config: PixelARConfig, batch: int, device, dtype):
        c = config
        shape = (c.n_layer, batch, c.n_head, c.seq_len, c.n_embd // c.n_head)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.positions = torch.arange(c.seq_len, device=device)


class Block(nn.Module):
    def __init__(self, c: PixelARConfig):
        super().__init__()
        self.n_head = c.n_head
        self.ln1 = nn.LayerNorm(c.n_embd)
        self.qkv = nn.Linear(c.n_embd, 3 * c.n_embd)
        self.proj = nn.Linear(c.n_embd, c.n_embd)
        self.ln2 = nn.LayerNorm(c.n_embd)
        self.mlp = nn.Sequential(
            nn.Linear(c.n_embd, 4 * c.n_embd), nn.GELU(), nn.Linear(4 * c.n_embd, c.n_embd)
        )
        self.drop = nn.Dropout(c.dropout)
        self.attn_drop = c.dropout

    def _heads(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        return [t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v)]

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self._heads(x)  # (B, nh, T, hs)
        p = self.attn_drop if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=p)
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(B, T, C)))
        return x + self.drop(self.mlp(self.ln2(x)))

    def decode(self, x, k_cache, v_cache, pos, mask):
        """x: (B, 1, C) at position `pos` (a (1,) tensor); caches (B, nh, T, hs) updated in place."""
        B, _, C = x.shape
        q, k, v = self._heads(x)  # (B, nh, 1, hs)
        k_cache.index_copy_(2, pos, k.to(k_cache.dtype))
        v_cache.index_copy_(2, pos, v.to(v_cache.dtype))
        y = attention(q, k_cache.to(q.dtype), v_cache.to(q.dtype), attn_mask=mask)  # deterministic
        x = x + self.proj(y.transpose(1, 2).reshape(B, 1, C))
        return x + self.mlp(self.ln2(x))

    def decode_at(self, x, k_cache, v_cache, p: int):
        """`decode` at the Python int position p, for x (B, C): writes slot p and attends to slots
        0..p, without a mask. Functional calls on 2-D rows: the same kernels as the modules, with
        less Python around them (on a CPU, per-op overhead is most of a step)."""
        B, C = x.shape
        h = F.layer_norm(x, (C,), self.ln1.weight, self.ln1.bias, self.ln1.eps)
        qkv = F.linear(h, self.qkv.weight, self.qkv.bias).view(B, 3, self.n_head, 1, C // self.n_head)
        k_cache[:, :, p] = qkv[:, 1, :, 0]  # (B, nh, hs)
        v_cache[:, :, p] = qkv[:, 2, :, 0]
        y = attention(qkv[:, 0], k_cache[:, :, :p + 1], v_cache[:, :, :p + 1])  # (B, nh, 1, hs)
        x = x + F.linear(y.reshape(B, C), self.proj.weight, self.proj.bias)
        fc, out = self.mlp[0], self.mlp[2]
        h = F.layer_norm(x, (C,), self.ln2.weight, self.ln2.bias, self.ln2.eps)
        return x + F.linear(F.gelu(F.linear(h, fc.weight, fc.bias)), out.weight, out.bias)


class PixelAR(nn.Module):
    def __init__(self, config: PixelARConfig):
        super().__init__()
        self.config = c = config
        self.class_emb = nn.Embedding(c.num_classes + 1, c.n_embd)  # last index = null class
        self.tok_emb = nn.Embedding(c.vocab, c.n_embd)
        self.pos_emb = nn.Embedding(c.seq_len, c.n_embd)
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(Block(c) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd)
        self.head = nn.Linear(c.n_embd, c.vocab, bias=False)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)

    def forward(self, pixels: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """pixels: (B, 784) long; y: (B,) class (10 = null). Returns logits (B, 784, 256) where
        position t predicts pixel t from the class and pixels < t."""
        B, T = pixels.shape
        tok = torch.cat([self.class_emb(y)[:, None], self.tok_emb(pixels[:, :-1])], dim=1)
        x = self.drop(tok + self.pos_emb.weight[:T])
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))

    def new_cache(self, batch: int, device, dtype=None) -> KVCache:
        return KVCache(self.config, batch, device, dtype or self.head.weight.dtype)

    def decode_step(self, token, y, pos, cache: KVCache) -> torch.Tensor:
        """One step: token (B,) = the pixel at pos-1 (ignored at pos 0, where the class goes);
        pos: (1,) long tensor. Returns logits (B, 256) for the pixel at `pos`."""
        tok = torch.where(pos == 0, self.class_emb(y), self.tok_emb(token))  # (B, C)
        x = (tok + self.pos_emb(pos))[:, None]  # (B, 1, C)
        mask = (cache.positions <= pos)[None, None, None, :]  # attend to filled slots only
        for i, block in enumerate(self.blocks):
            x = block.decode(x, cache.k[i], cache.v[i], pos, mask)
        return self.head(self.ln_f(x[:, 0]))

    def decode_step_at(self, token, y, p: int, cache: KVCache) -> torch.Tensor:
        """`decode_step` at the Python int position p (shapes change with p: not for CUDA graphs)."""
        tok = self.class_emb(y) if p == 0 else self.tok_emb(token)  # (B, C)
        x = tok + self.pos_emb.weight[p]  # (B, C)
        for i, block in enumerate(self.blocks):
            x = block.decode_at(x, cache.k[i], cache.v[i], p)
        return self.head(self.ln_f(x))
