"""Causal transformer over a clip's frame tokens (VideoGPT-style), class token first.

A clip of `frames` frames, each `grid` x `grid` codes of a frozen tokenizer (48x48 frames and a
4x tokenizer: 12 x 12), is one sequence in frame-major, raster-within-frame order: 16 frames x 144
= 2304 positions. Positions are embedded as frame index + place within the frame, so a model
trained on 16 frames can roll on past them with a sliding context (sampling/video_ar.py).
Sampling uses the pixel model's static KV cache and decode step (CUDA-graph friendly); `forward`
with a cache also fills it (the prefill of a sliding window).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from desktopgen.nets.attention import attention
from desktopgen.nets.pixel_ar import Block, KVCache, StaticStep


@dataclass(frozen=True)
class VideoARConfig:
    n_layer: int = 8
    n_head: int = 8
    n_embd: int = 256
    dropout: float = 0.0
    num_classes: int = 10  # the null class (index num_classes) is added for guidance
    vocab: int = 1000  # the tokenizer's codebook size (FSQ 8 x 5 x 5 x 5)
    frames: int = 16  # frames per training clip: the frame-index embeddings
    grid: int = 12  # codes per frame side (48-pixel frames, 4x tokenizer)
    tokenizer: str = "fmnist-tokenizer"  # model folder of the frozen tokenizer

    @property
    def frame_tokens(self) -> int:
        return self.grid * self.grid

    @property
    def seq_len(self) -> int:  # KVCache sizes itself from this
        return self.frames * self.frame_tokens


class VideoBlock(Block):
    """The pixel model's block; its full-sequence pass can also write the KV cache."""

    def forward(self, x, k_cache=None, v_cache=None):
        B, T, C = x.shape
        q, k, v = self._heads(x)  # (B, nh, T, hs)
        if k_cache is not None:
            k_cache[:, :, :T] = k.to(k_cache.dtype)
            v_cache[:, :, :T] = v.to(v_cache.dtype)
        if self.training:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, dropout_p=self.attn_drop)
        else:
            y = attention(q, k, v, is_causal=True)  # deterministic kernels on CUDA
        x = x + self.drop(self.proj(y.transpose(1, 2).reshape(B, T, C)))
        return x + self.drop(self.mlp(self.ln2(x)))


class VideoAR(nn.Module):
    def __init__(self, config: VideoARConfig):
        super().__init__()
        self.config = c = config
        self.class_emb = nn.Embedding(c.num_classes + 1, c.n_embd)  # last index = null class
        self.tok_emb = nn.Embedding(c.vocab, c.n_embd)
        self.frame_emb = nn.Embedding(c.frames, c.n_embd)  # which frame
        self.place_emb = nn.Embedding(c.frame_tokens, c.n_embd)  # where within the frame
        self.drop = nn.Dropout(c.dropout)
        self.blocks = nn.ModuleList(VideoBlock(c) for _ in range(c.n_layer))
        self.ln_f = nn.LayerNorm(c.n_embd)
        self.head = nn.Linear(c.n_embd, c.vocab, bias=False)
        self.apply(self._init)

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, std=0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)

    def pos_emb(self, pos: torch.Tensor) -> torch.Tensor:
        """Embedding of sequence positions `pos` (any shape of longs): frame + place."""
        n = self.config.frame_tokens
        return self.frame_emb(torch.div(pos, n, rounding_mode="floor")) + self.place_emb(pos % n)

    def forward(self, codes: torch.Tensor, y: torch.Tensor, cache: KVCache | None = None):
        """codes: (B, N) long, N <= seq_len, the clip's codes in order; y: (B,) class (10 = null).
        Returns logits (B, N, vocab): position p predicts code p from the class and codes < p.
        With `cache`, also writes positions 0..N-1 of every layer's keys and values."""
        B, N = codes.shape
        tok = torch.cat([self.class_emb(y)[:, None], self.tok_emb(codes[:, :-1])], dim=1)
        x = self.drop(tok + self.pos_emb(torch.arange(N, device=codes.device)))
        for i, block in enumerate(self.blocks):
            x = block(x) if cache is None else block(x, cache.k[i], cache.v[i])
        return self.head(self.ln_f(x))

    def new_cache(self, batch: int, device, dtype=None) -> KVCache:
        return KVCache(self.config, batch, device, dtype or self.head.weight.dtype)

    def decode_step(self, token, y, pos, cache: KVCache) -> torch.Tensor:
        """One step: token (B,) = the code at pos-1 (ignored at pos 0, where the class goes);
        pos: (1,) long tensor. Returns logits (B, vocab) for the code at `pos`. With `cache.lean`
        (CUDA) the step is the pixel model's StaticStep: the same maths in fewer kernels."""
        if cache.lean:
            return StaticStep.of(self, cache)(token, y, pos)
        tok = torch.where(pos == 0, self.class_emb(y), self.tok_emb(token))  # (B, C)
        x = (tok + self.pos_emb(pos))[:, None]  # (B, 1, C)
        mask = (cache.positions <= pos)[None, None, None, :]  # attend to filled slots only
        for i, block in enumerate(self.blocks):
            x = block.decode(x, cache.k[i], cache.v[i], pos, mask)
        return self.head(self.ln_f(x[:, 0]))

    def decode_step_at(self, token, y, p: int, cache: KVCache) -> torch.Tensor:
        """`decode_step` at the Python int position p (the CPU path, as the pixel model's): each
        layer attends to the filled slots 0..p only, without a mask, so a step's cost grows with
        p instead of always paying for all 2,304 slots."""
        n = self.config.frame_tokens
        tok = self.class_emb(y) if p == 0 else self.tok_emb(token)  # (B, C)
        x = tok + (self.frame_emb.weight[p // n] + self.place_emb.weight[p % n])
        for i, block in enumerate(self.blocks):
            x = block.decode_at(x, cache.k[i], cache.v[i], p)
        return self.head(self.ln_f(x))
