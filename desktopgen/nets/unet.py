"""A compact class-conditional U-Net for 28x28 images (28 -> 14 -> 7), predicting v."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from desktopgen.nets.attention import attention


@dataclass(frozen=True)
class UNetConfig:
    channels: int = 64  # base width
    mults: tuple = (1, 2, 2)  # width multiplier per resolution: 28, 14, 7
    blocks: int = 2  # residual blocks per resolution
    attn_res: tuple = (7,)  # resolutions with self-attention
    num_classes: int = 10  # the null class (index num_classes) is added for guidance
    dropout: float = 0.1
    image_size: int = 28

    def __post_init__(self):  # JSON gives lists; keep the dataclass hashable
        object.__setattr__(self, "mults", tuple(self.mults))
        object.__setattr__(self, "attn_res", tuple(self.attn_res))


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of (continuous) timesteps in [0, 1000)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, device=t.device) / half)
    args = t.float()[:, None] * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb_dim: int, dropout: float):
        super().__init__()
        self.norm1 = nn.GroupNorm(32 if cin % 32 == 0 else 8, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * cout)  # scale and shift (FiLM)
        self.norm2 = nn.GroupNorm(32 if cout % 32 == 0 else 8, cout)
        self.drop = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x, emb):
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(F.silu(emb))[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.drop(F.silu(h)))
        return self.skip(x) + h


class Attention(nn.Module):
    def __init__(self, ch: int, heads: int = 4):
        super().__init__()
        self.heads = heads
        self.norm = nn.GroupNorm(32, ch)
        self.qkv = nn.Conv2d(ch, 3 * ch, 1)
        self.proj = nn.Conv2d(ch, ch, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x):
        B, C, H, W = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(B, 3, self.heads, C // self.heads, H * W).unbind(1)
        q, k, v = (t.transpose(-1, -2) for t in (q, k, v))  # (B, heads, HW, C/heads)
        h = attention(q, k, v)  # deterministic on CUDA: samples depend only on the seed
        return x + self.proj(h.transpose(-1, -2).reshape(B, C, H, W))


class UNet(nn.Module):
    def __init__(self, config: UNetConfig):
        super().__init__()
        self.config = c = config
        emb_dim = 4 * c.channels
        self.time_mlp = nn.Sequential(
            nn.Linear(c.channels, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim)
        )
        self.class_emb = nn.Embedding(c.num_classes + 1, emb_dim)  # last index = null class
        self.stem = nn.Conv2d(1, c.channels, 3, padding=1)

        self.down = nn.ModuleList()
        chans = [c.channels]
        ch, res = c.channels, c.image_size
        for level, mult in enumerate(c.mults):
            for _ in range(c.blocks):
                block = nn.ModuleList([ResBlock(ch, c.channels * mult, emb_dim, c.dropout)])
                ch = c.channels * mult
                if res in c.attn_res:
                    block.append(Attention(ch))
                self.down.append(block)
                chans.append(ch)
            if level < len(c.mults) - 1:
                self.down.append(nn.ModuleList([nn.Conv2d(ch, ch, 3, stride=2, padding=1)]))
                chans.append(ch)
                res //= 2

        self.mid = nn.ModuleList(
            [ResBlock(ch, ch, emb_dim, c.dropout), Attention(ch), ResBlock(ch, ch, emb_dim, c.dropout)]
        )

        self.up = nn.ModuleList()
        for level, mult in reversed(list(enumerate(c.mults))):
            for _ in range(c.blocks + 1):
                block = nn.ModuleList(
                    [ResBlock(ch + chans.pop(), c.channels * mult, emb_dim, c.dropout)]
                )
                ch = c.channels * mult
                if res in c.attn_res:
                    block.append(Attention(ch))
                self.up.append(block)
            if level > 0:
                self.up.append(nn.ModuleList([nn.Upsample(scale_factor=2, mode="nearest"),
                                              nn.Conv2d(ch, ch, 3, padding=1)]))
                res *= 2

        self.out = nn.Sequential(nn.GroupNorm(32, ch), nn.SiLU(), nn.Conv2d(ch, 1, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """x: (B, 1, 28, 28) noisy image; t: (B,) timestep in [0, 1000); y: (B,) class, 10 = null.
        Inputs are cast to the weights' dtype (a bf16 copy runs without autocast); the output
        has that dtype."""
        return self.trunk(self.stem(x.to(self.stem.weight.dtype)), self.embed(t, y))

    def embed(self, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(B, 4 * channels): the timestep and class embedding every block is conditioned on."""
        sinusoid = timestep_embedding(t, self.config.channels).to(self.time_mlp[0].weight.dtype)
        return self.time_mlp(sinusoid) + self.class_emb(y)

    def trunk(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        """Everything after the stem: h (B, channels, 28, 28) -> (B, 1, 28, 28)."""
        skips = [h]
        for block in self.down:
            if isinstance(block[0], ResBlock):
                h = block[0](h, emb)
                for layer in block[1:]:
                    h = layer(h)
            else:
                h = block[0](h)
            skips.append(h)
        h = self.mid[2](self.mid[1](self.mid[0](h, emb)), emb)
        for block in self.up:
            if isinstance(block[0], ResBlock):
                h = block[0](torch.cat([h, skips.pop()], dim=1), emb)
                for layer in block[1:]:
                    h = layer(h)
            else:
                h = block[1](block[0](h))
        return self.out(h)
