"""A space-time U-Net for 48x48 clips of moving garments, predicting v (joint video diffusion).

Layout: a clip is x (B, T, 48, 48), the frames in the channel slot of a grayscale image batch,
exactly like the uint8 videos (N, T, 48, 48); so the image samplers' noise, guidance and
inpainting paste work on clips unchanged. Inside, every frame goes through the same 2D U-Net
(per-frame convolutions, batch B*T), and frames meet in (2+1)D layers: a temporal convolution
after every residual block, temporal self-attention (each pixel attends over the frames) at the
`temporal_res` resolutions, and full space-time attention in the middle. Any T works.

Extension (longer clips): the stem also takes, per frame, the known frame (zero where unknown)
and a frame mask (1 = generate), like the inpainting U-Net; trained with the first k frames known.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from desktopgen.nets.attention import attention
from desktopgen.nets.rows import check_rows, split_call
from desktopgen.nets.unet import ResBlock, timestep_embedding


@dataclass(frozen=True)
class VideoUNetConfig:
    channels: int = 32  # base width (at 48 px)
    mults: tuple = (1, 2, 4)  # width multiplier per resolution: 48, 24, 12
    blocks: int = 2  # residual blocks per resolution
    temporal_res: tuple = (24, 12)  # resolutions with temporal attention (the middle has space-time)
    head_dim: int = 32  # attention head width
    num_classes: int = 10  # the null class (index num_classes) is added for guidance
    dropout: float = 0.0
    image_size: int = 48
    cond_channels: int = 2  # known frame (0 where unknown) and the frame mask (1 = generate)

    def __post_init__(self):  # JSON gives lists; keep the dataclass hashable
        object.__setattr__(self, "mults", tuple(self.mults))
        object.__setattr__(self, "temporal_res", tuple(self.temporal_res))


MAX_SEQUENCES = 1 << 15  # attention sequences per kernel launch


def _norm(ch: int) -> nn.GroupNorm:
    return nn.GroupNorm(32 if ch % 32 == 0 else 8, ch)


def _zero(layer: nn.Module) -> nn.Module:
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    return layer


class TemporalConv(nn.Module):
    """Residual 1D convolution over the frames at every pixel (kernel 3, zero-padded in time)."""

    def __init__(self, ch: int):
        super().__init__()
        self.norm = _norm(ch)
        self.conv = _zero(nn.Conv1d(ch, ch, 3, padding=1))

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        BT, C, H, W = x.shape
        h = F.silu(self.norm(x)).view(BT // frames, frames, C, H * W)
        h = h.permute(0, 3, 2, 1).reshape(-1, C, frames)  # (B*HW, C, T)
        h = self.conv(h).view(BT // frames, H * W, C, frames).permute(0, 3, 2, 1)  # (B, T, C, HW)
        return x + h.reshape(BT, C, H, W)


class FrameAttention(nn.Module):
    """Residual self-attention across frames: temporal (each pixel over the T frames) or
    space-time (every pixel of every frame). Frames know their index from a sinusoidal embedding."""

    def __init__(self, ch: int, head_dim: int, spacetime: bool):
        super().__init__()
        self.heads, self.spacetime = max(1, ch // head_dim), spacetime
        self.norm = _norm(ch)
        self.pos = nn.Linear(ch, ch)
        self.qkv = nn.Linear(ch, 3 * ch)
        self.proj = _zero(nn.Linear(ch, ch))

    def forward(self, x: torch.Tensor, frames: int) -> torch.Tensor:
        BT, C, H, W = x.shape
        B, nh = BT // frames, self.heads
        h = self.norm(x).view(B, frames, C, H * W).permute(0, 3, 1, 2)  # (B, HW, T, C)
        idx = torch.arange(frames, device=x.device)
        h = h + self.pos(timestep_embedding(idx, C).to(h.dtype))  # (T, C) broadcast
        if self.spacetime:
            h = h.reshape(B, H * W * frames, C)  # one sequence per clip
        else:
            h = h.reshape(B * H * W, frames, C)  # one sequence per pixel
        q, k, v = self.qkv(h).view(*h.shape[:2], 3, nh, C // nh).permute(2, 0, 3, 1, 4)  # (N, nh, L, d)
        # CUDA's attention kernels launch one grid row per sequence, at most 65535 (pytorch#146704):
        # a batch of temporal sequences (B * H * W of them) goes in slices
        h = torch.cat([attention(q[i : i + MAX_SEQUENCES], k[i : i + MAX_SEQUENCES], v[i : i + MAX_SEQUENCES])
                       for i in range(0, len(q), MAX_SEQUENCES)])
        h = h.transpose(1, 2).reshape(-1, H * W, frames, C)
        h = self.proj(h).permute(0, 2, 3, 1).reshape(BT, C, H, W)
        return x + h


def rowwise_linear(layer: nn.Linear, x: torch.Tensor) -> torch.Tensor:
    """layer(x) for a few rows, computed row by row: a matrix product's rows may depend on how
    many rows it has (BLAS picks kernels by shape), and sample i must not depend on the batch."""
    return (x[:, None, :] * layer.weight).sum(-1) + layer.bias


class Pointwise(nn.Conv2d):
    """A 1x1 convolution (the same weights and state_dict as nn.Conv2d(cin, cout, 1)). On a CPU it
    runs as one matrix product per frame (a batched matmul), whose rows do not depend on how many
    frames the batch holds: oneDNN's 1x1 convolution picks its blocking by the batch's size, and
    on one thread its results moved with it (clip i must depend on (seed, i) only). Elsewhere
    (CUDA: cuDNN, bf16, graphs) the convolution itself."""

    def __init__(self, cin: int, cout: int):
        super().__init__(cin, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu":
            return super().forward(x)
        N, C, H, W = x.shape
        y = torch.matmul(self.weight.view(self.out_channels, C), x.reshape(N, C, H * W))
        return (y + self.bias[:, None]).view(N, self.out_channels, H, W)


class FrameResBlock(ResBlock):
    """The U-Net's ResBlock on frames (B*T, C, H, W), its FiLM made once per clip (B rows), its
    1x1 skip a Pointwise (batch-independent on a CPU)."""

    def __init__(self, cin: int, cout: int, emb_dim: int, dropout: float):
        super().__init__(cin, cout, emb_dim, dropout)
        if cin != cout:
            self.skip = Pointwise(cin, cout)

    def forward(self, x: torch.Tensor, emb: torch.Tensor, frames: int) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        film = rowwise_linear(self.emb, F.silu(emb)).repeat_interleave(frames, dim=0)
        scale, shift = film[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.drop(F.silu(h)))
        return self.skip(x) + h


class Block(nn.Module):
    """One residual block of the U-Net: spatial ResBlock, temporal conv, maybe attention."""

    def __init__(self, cin: int, cout: int, emb_dim: int, c: VideoUNetConfig, attn: str = ""):
        super().__init__()
        self.res = FrameResBlock(cin, cout, emb_dim, c.dropout)
        self.time = TemporalConv(cout)
        self.attn = FrameAttention(cout, c.head_dim, attn == "spacetime") if attn else None

    def forward(self, h: torch.Tensor, emb: torch.Tensor, frames: int) -> torch.Tensor:
        h = self.time(self.res(h, emb, frames), frames)
        return self.attn(h, frames) if self.attn is not None else h


class VideoUNet(nn.Module):
    def __init__(self, config: VideoUNetConfig):
        super().__init__()
        self.config = c = config
        emb_dim = 4 * c.channels
        self.time_mlp = nn.Sequential(nn.Linear(c.channels, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.class_emb = nn.Embedding(c.num_classes + 1, emb_dim)  # last index = null class
        self.stem = nn.Conv2d(1 + c.cond_channels, c.channels, 3, padding=1)

        def attn(res: int) -> str:
            return "temporal" if res in c.temporal_res else ""

        self.down, self.downsample = nn.ModuleList(), nn.ModuleList()
        chans, ch, res = [c.channels], c.channels, c.image_size
        for level, mult in enumerate(c.mults):
            for _ in range(c.blocks):
                self.down.append(Block(ch, c.channels * mult, emb_dim, c, attn(res)))
                ch = c.channels * mult
                chans.append(ch)
            if level < len(c.mults) - 1:
                self.downsample.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
                chans.append(ch)
                res //= 2
        self.mid = nn.ModuleList([Block(ch, ch, emb_dim, c, "spacetime"), Block(ch, ch, emb_dim, c)])
        self.up, self.upsample = nn.ModuleList(), nn.ModuleList()
        for level, mult in reversed(list(enumerate(c.mults))):
            for _ in range(c.blocks + 1):
                self.up.append(Block(ch + chans.pop(), c.channels * mult, emb_dim, c, attn(res)))
                ch = c.channels * mult
            if level > 0:
                self.upsample.append(nn.Conv2d(ch, ch, 3, padding=1))
                res *= 2
        self.out = nn.Sequential(_norm(ch), nn.SiLU(), _zero(nn.Conv2d(ch, 1, 3, padding=1)))

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor,
                cond: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, T, 48, 48) noisy clip; t: (B,) timestep in [0, 1000); y: (B,) class, 10 = null;
        cond: (B or 1, 2, T, 48, 48) from `condition_input` (None: nothing known). -> v (B, T, 48, 48).
        A batch doubled for guidance reuses cond."""
        B, T, H, W = x.shape
        if cond is None:
            cond = torch.cat([torch.zeros_like(x)[:, None], torch.ones_like(x)[:, None]], dim=1)
        if len(cond) != B:  # one condition for the batch, or the batch's doubled for guidance
            cond = cond.repeat(B // len(cond), 1, 1, 1, 1)
        h = torch.cat([x[:, None], cond.to(x.dtype)], dim=1)  # (B, 3, T, H, W)
        h = self.stem(h.transpose(1, 2).reshape(B * T, -1, H, W))  # per frame: (B*T, ch, H, W)
        emb = self.embed(t) + self.class_emb(y)  # (B, emb_dim): one per clip, for all its frames
        skips, blocks = [h], iter(self.down)
        for level in range(len(self.config.mults)):
            for _ in range(self.config.blocks):
                h = next(blocks)(h, emb, T)
                skips.append(h)
            if level < len(self.downsample):
                h = self.downsample[level](h)
                skips.append(h)
        for block in self.mid:
            h = block(h, emb, T)
        blocks = iter(self.up)
        for level in range(len(self.config.mults)):
            for _ in range(self.config.blocks + 1):
                h = next(blocks)(torch.cat([h, skips.pop()], dim=1), emb, T)
            if level < len(self.upsample):
                h = self.upsample[level](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.out(h).view(B, T, H, W)

    def embed(self, t: torch.Tensor) -> torch.Tensor:
        """(B, 4 * channels) timestep embedding (row by row: see `rowwise_linear`)."""
        h = timestep_embedding(t, self.config.channels)
        for layer in self.time_mlp:
            h = rowwise_linear(layer, h) if isinstance(layer, nn.Linear) else layer(h)
        return h

    def conditioned(self, known: torch.Tensor | None = None, mask: torch.Tensor | None = None,
                    rows: int | None = None) -> Conditioned:
        """model(x, t, y) with one request's known frames bound (None: nothing known), called
        `rows` clips at a time when set (see `Conditioned`)."""
        return Conditioned(self, None if known is None else condition_input(known, mask), rows)


def condition_input(known: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
    """(B, 2, T, H, W): the known clip in [-1, 1] (B or 1, T, H, W) with the frames to generate
    zeroed, and the frame mask (B or 1, T), 1 = generate, broadcast over the pixels."""
    m = frame_mask.to(known.dtype)[:, :, None, None].expand(-1, -1, *known.shape[-2:])
    known, m = torch.broadcast_tensors(known, m)
    return torch.stack([known * (1 - m), m], dim=1)


class Conditioned(nn.Module):
    """A VideoUNet with one request's known frames bound: model(x, t, y) like a plain U-Net.

    `rows` (None: all at once): the network runs that many rows per call, the condition split
    with the batch (nets/rows.py says why, on CPUs). Every layer works row by row
    (`rowwise_linear`), so the output is the same up to the kernels' rounding: bit for bit at 2
    rows on 2, 4 and 16 threads (benchmarks/bench_video_rows.py), not at 1 row on 16 threads."""

    def __init__(self, model: VideoUNet, cond: torch.Tensor | None, rows: int | None = None):
        super().__init__()
        self.model, self.cond, self.rows = model, cond, check_rows(rows)
        self.config = model.config

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return split_call(self.model, x, t, y, self.cond, self.rows)


def parameter_count(c: dict) -> int:
    """Parameters of VideoUNet(VideoUNetConfig(**c)) from the numbers alone (nets/schema.py)."""
    def lin(i, o):
        return i * o + o

    def conv(i, o, k):
        return i * o * k * k + o

    ch0, emb = c["channels"], 4 * c["channels"]

    def block(i, o, attn):
        skip = conv(i, o, 1) if i != o else 0
        n = 2 * i + conv(i, o, 3) + lin(emb, 2 * o) + 2 * o + conv(o, o, 3) + skip  # ResBlock
        n += 2 * o + o * o * 3 + o  # TemporalConv
        return n + (2 * o + lin(o, o) + lin(o, 3 * o) + lin(o, o) if attn else 0)

    n = lin(ch0, emb) + lin(emb, emb) + (c["num_classes"] + 1) * emb + conv(1 + c["cond_channels"], ch0, 3)
    chans, ch, r = [ch0], ch0, c["image_size"]
    for level, mult in enumerate(c["mults"]):
        for _ in range(c["blocks"]):
            n += block(ch, ch0 * mult, r in c["temporal_res"])
            ch = ch0 * mult
            chans.append(ch)
        if level < len(c["mults"]) - 1:
            n += conv(ch, ch, 3)
            chans.append(ch)
            r //= 2
    n += block(ch, ch, True) + block(ch, ch, False)
    for level, mult in reversed(list(enumerate(c["mults"]))):
        for _ in range(c["blocks"] + 1):
            n += block(ch + chans.pop(), ch0 * mult, r in c["temporal_res"])
            ch = ch0 * mult
        if level > 0:
            n += conv(ch, ch, 3)
            r *= 2
    return n + 2 * ch + conv(ch, 1, 3)


def weights_mb(c: dict) -> float:
    """Size of the shipped float16 weights in MB."""
    return 2 * parameter_count(c) / 1e6


__all__ = ["Conditioned", "VideoUNet", "VideoUNetConfig", "condition_input", "parameter_count", "weights_mb"]
