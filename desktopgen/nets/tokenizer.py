"""Image tokenizer: a conv autoencoder with a discrete bottleneck, 4x (or 2x) down-sampling.

28x28 images become 7x7 integer tokens, 48x48 video frames 12x12. Two quantisers, picked by the
config key `quantizer`:
- "fsq": finite scalar quantisation (Mentzer et al. 2023): each of a few channels is bounded and
  rounded to `levels[i]` values; the code is the mixed-radix number of those digits. A fixed
  grid, so nothing can collapse.
- "vq": a VQ-VAE codebook with the known fixes for collapse: low-dimensional l2-normalised codes
  (cosine nearest neighbour), EMA updates instead of gradients, k-means initialisation from the
  first batch, and restart of codes no batch has used for a while from random encoder outputs.
Fully convolutional with a per-pixel channel norm (no statistics over the image), so a token
depends only on its neighbourhood, not on the canvas size.

Video (`temporal_blocks` > 0): the encoder and codes stay per frame, but `decode_clips` decodes
a clip's frames together. After the decoder's first convolution (at the codes' resolution)
residual space-time blocks mix each frame with its neighbours (3x3x3 convolutions: frames t-1..t+1,
stacked to reach `temporal_blocks` frames either side), the way VideoGPT's VQ-VAE decodes a clip
rather than a frame. A moving garment is coded afresh at every position, so its neighbours' codes
carry what one frame's codes lost. Their last convolutions start at zero: a tokenizer given such
blocks decodes exactly as before until they are trained (`desktopgen train video-decoder`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

# Codes decoded per decoder call. The video AR decoded a whole 64-frame batch (256 clips: 16,384
# frames of 48x48) in one call, whose 48x48 activations (16,384 x 256 x 48 x 48 with the decoder
# of that run; 224 channels with the shipped one) pass 2**31 elements, the limit of 32-bit
# indexing in many CUDA kernels. That run on an H200 (peak 83 GB)
# scored frame 1 at 0.80 class consistency, though its first 20 clips were pixel-identical to the
# 16-frame run's (0.89); the same 256 clips made 64 at a time (4,096 frames per call) matched the
# 16-frame run in 253 of 256 clips (2026-12-01). Very likely the later clips of the big call were
# decoded wrong; chunks of 1,024 frames keep every activation under 2**31 with room to spare.
DECODE_CHUNK = 1024


@dataclass(frozen=True)
class TokenizerConfig:
    quantizer: str = "fsq"  # "fsq" | "vq"
    channels: int = 64  # base width (at full resolution; twice that after down-sampling)
    blocks: int = 2  # residual blocks per resolution, encoder and decoder each
    down: int = 4  # 4: 28x28 -> 7x7 tokens; 2: 28x28 -> 14x14
    levels: tuple = (8, 5, 5, 5)  # fsq: values per channel (product = codebook size)
    codebook_size: int = 1000  # vq: number of codes
    code_dim: int = 8  # vq: dimension of the (l2-normalised) codes
    commitment: float = 0.25  # vq: weight of ||z - sg(code)||^2
    ema_decay: float = 0.99  # vq: EMA of the codebook statistics
    dead_after: float = 0.03  # vq: restart a code whose EMA count per batch falls below this
    decoder_channels: int = 0  # the decoder's base width (0: `channels`, as the encoder)
    decoder_blocks: int = -1  # the decoder's residual blocks per resolution (-1: `blocks`)
    temporal_blocks: int = 0  # video: space-time blocks in `decode_clips` (0: frame by frame)
    temporal_channels: int = 96  # their bottleneck width

    def __post_init__(self):  # JSON gives lists; keep the dataclass hashable
        object.__setattr__(self, "levels", tuple(self.levels))


class ChannelNorm(nn.Module):
    """LayerNorm over channels at each pixel: no statistics across the image, so a 48x48 canvas
    normalises a garment exactly as a 28x28 one does."""

    def __init__(self, ch: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(ch))
        self.bias = nn.Parameter(torch.zeros(ch))

    def forward(self, x):
        x = x.permute(0, 2, 3, 1)  # (B, H, W, C)
        x = F.layer_norm(x, x.shape[-1:], self.weight, self.bias)
        return x.permute(0, 3, 1, 2)


class ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.norm1, self.conv1 = ChannelNorm(ch), nn.Conv2d(ch, ch, 3, padding=1)
        self.norm2, self.conv2 = ChannelNorm(ch), nn.Conv2d(ch, ch, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        return x + self.conv2(F.silu(self.norm2(h)))


class SpaceTimeBlock(nn.Module):
    """Residual block over (B, C, T, h, w): 1x1x1 down to `mid` channels, a 3x3x3 convolution
    (frames t-1..t+1, a 3x3 neighbourhood; zero frames past the clip's ends), 1x1x1 back up. The
    last convolution starts at zero, so a new block is the identity."""

    def __init__(self, ch: int, mid: int):
        super().__init__()
        self.norm1, self.down = ChannelNorm(ch), nn.Conv3d(ch, mid, 1)
        self.norm2, self.conv = ChannelNorm(mid), nn.Conv3d(mid, mid, 3, padding=1)
        self.norm3, self.up = ChannelNorm(mid), nn.Conv3d(mid, ch, 1)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    @staticmethod
    def _norm(norm: ChannelNorm, x):
        x = x.movedim(1, -1)
        return F.layer_norm(x, x.shape[-1:], norm.weight, norm.bias).movedim(-1, 1)

    def forward(self, x):
        h = self.down(F.silu(self._norm(self.norm1, x)))
        h = self.conv(F.silu(self._norm(self.norm2, h)))
        return x + self.up(F.silu(self._norm(self.norm3, h)))


def _stages(c: TokenizerConfig) -> int:
    return int(math.log2(c.down))


class Encoder(nn.Module):
    def __init__(self, c: TokenizerConfig, out_dim: int):
        super().__init__()
        ch = c.channels
        layers: list[nn.Module] = [nn.Conv2d(1, ch, 3, padding=1)]
        for _ in range(_stages(c)):
            layers += [ResBlock(ch) for _ in range(c.blocks)]
            layers.append(nn.Conv2d(ch, 2 * c.channels, 4, stride=2, padding=1))  # halve H, W
            ch = 2 * c.channels
        layers += [ResBlock(ch) for _ in range(c.blocks)]
        layers += [ChannelNorm(ch), nn.SiLU(), nn.Conv2d(ch, out_dim, 1)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def decoder_shape(c) -> tuple[int, int]:
    """(base width, residual blocks per resolution) of the decoder: its own, or the encoder's.
    `c`: a TokenizerConfig or its dict."""
    get = c.get if isinstance(c, dict) else lambda k, d=None: getattr(c, k, d)
    ch, blocks = get("decoder_channels", 0) or get("channels"), get("decoder_blocks", -1)
    return ch, get("blocks") if blocks is None or blocks < 0 else blocks


class Decoder(nn.Module):
    def __init__(self, c: TokenizerConfig, in_dim: int):
        super().__init__()
        base, blocks = decoder_shape(c)
        ch = 2 * base
        layers: list[nn.Module] = [nn.Conv2d(in_dim, ch, 3, padding=1)]
        for s in range(_stages(c)):
            layers += [ResBlock(ch) for _ in range(blocks)]
            out = base if s == _stages(c) - 1 else ch
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(ch, out, 3, padding=1)]
            ch = out
        layers += [ResBlock(ch) for _ in range(blocks)]
        layers += [ChannelNorm(ch), nn.SiLU(), nn.Conv2d(ch, 1, 3, padding=1)]
        self.net = nn.Sequential(*layers)

    def forward(self, z):
        return self.net(z)


class FSQ(nn.Module):
    """Finite scalar quantisation. Channel i is bounded to `levels[i]` integer values
    (even counts are shifted by a half so that 0 stays a value of odd ones), rounded with a
    straight-through gradient, and scaled to [-1, 1]."""

    def __init__(self, levels: tuple):
        super().__init__()
        lv = torch.tensor(levels, dtype=torch.float32)
        self.register_buffer("levels", lv, persistent=False)
        self.register_buffer("basis", torch.cumprod(torch.tensor((1,) + tuple(levels[:-1])), 0),
                             persistent=False)
        self.dim = len(levels)
        self.size = math.prod(levels)

    def _view(self, t):
        return t.view(1, -1, 1, 1)

    def bound(self, z: torch.Tensor) -> torch.Tensor:
        """(B, d, h, w) reals -> reals inside (-L/2, L/2), rounding to the L allowed integers
        (-L/2 .. L/2 - 1 for even L, -(L-1)/2 .. (L-1)/2 for odd L)."""
        lv = self._view(self.levels)
        half = (lv - 1) * (1 - 1e-3) / 2
        offset = torch.where(lv % 2 == 0, 0.5, 0.0)
        shift = torch.atanh(offset / half)
        return torch.tanh(z + shift) * half - offset

    def quantize(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, d, h, w) -> (values in [-1, 1] with a straight-through gradient, codes (B, h, w))."""
        b = self.bound(z.float())
        q = b + (torch.round(b) - b).detach()
        width = self._view(torch.div(self.levels, 2, rounding_mode="floor"))
        digits = (torch.round(b) + width).long()  # 0 .. L-1 per channel
        codes = (digits * self._view(self.basis)).sum(1)
        return q / width, codes

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        """codes (B, h, w) -> the quantised values (B, d, h, w) in [-1, 1]."""
        lv, basis = self._view(self.levels).long(), self._view(self.basis)
        digits = torch.div(codes[:, None], basis, rounding_mode="floor") % lv
        width = torch.div(lv, 2, rounding_mode="floor")
        return (digits - width).float() / width.float()


class VQ(nn.Module):
    """EMA codebook of l2-normalised low-dimensional codes (nearest = highest cosine)."""

    def __init__(self, c: TokenizerConfig):
        super().__init__()
        self.size, self.dim = c.codebook_size, c.code_dim
        self.decay, self.dead_after, self.commitment = c.ema_decay, c.dead_after, c.commitment
        self.register_buffer("codebook", F.normalize(torch.randn(c.codebook_size, c.code_dim), dim=1))
        self.register_buffer("counts", torch.ones(c.codebook_size))  # EMA of uses per batch
        self.register_buffer("sums", self.codebook.clone())  # EMA of the vectors assigned
        self.register_buffer("initialised", torch.zeros((), dtype=torch.bool))

    def nearest(self, z: torch.Tensor) -> torch.Tensor:
        """z (N, d), l2-normalised -> code index (N,)."""
        return (z @ self.codebook.t()).argmax(1)

    def lookup(self, codes: torch.Tensor) -> torch.Tensor:
        return self.codebook[codes].permute(0, 3, 1, 2)  # (B, d, h, w)

    @torch.no_grad()
    def _kmeans(self, z: torch.Tensor, gen, iters: int = 10) -> None:
        """Spherical k-means on the first batch (codes drawn from it; repeats if it is small)."""
        pick = torch.randint(0, len(z), (self.size,), device=z.device, generator=gen)
        book = z[pick].clone()
        for _ in range(iters):
            assign = (z @ book.t()).argmax(1)
            sums = torch.zeros_like(book).index_add_(0, assign, z)
            used = torch.bincount(assign, minlength=self.size) > 0
            book = torch.where(used[:, None], F.normalize(sums, dim=1), book)
        self.codebook.copy_(book)
        self.sums.copy_(book)
        self.counts.fill_(len(z) / self.size)
        self.initialised.fill_(True)

    @torch.no_grad()
    def _update(self, z: torch.Tensor, codes: torch.Tensor, gen) -> None:
        n = torch.bincount(codes, minlength=self.size).float()
        sums = torch.zeros_like(self.sums).index_add_(0, codes, z)
        self.counts.lerp_(n, 1 - self.decay)
        self.sums.lerp_(sums, 1 - self.decay)
        self.codebook.copy_(F.normalize(self.sums, dim=1))
        dead = self.counts < self.dead_after
        if dead.any():  # restart unused codes on random encoder outputs of this batch
            pick = torch.randint(0, len(z), (self.size,), device=z.device, generator=gen)
            fresh = z[pick]
            self.codebook.copy_(torch.where(dead[:, None], fresh, self.codebook))
            self.sums.copy_(torch.where(dead[:, None], fresh, self.sums))
            self.counts.copy_(torch.where(dead, torch.ones_like(self.counts), self.counts))

    def quantize(self, z: torch.Tensor, gen=None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, d, h, w) -> (codes with straight-through gradient, codes (B, h, w), commitment loss)."""
        B, d, h, w = z.shape
        flat = F.normalize(z.float().permute(0, 2, 3, 1).reshape(-1, d), dim=1)  # (N, d)
        if self.training and not bool(self.initialised):
            self._kmeans(flat.detach(), gen)
        codes = self.nearest(flat.detach())
        if self.training:
            self._update(flat.detach(), codes, gen)
        q = self.codebook[codes]
        loss = self.commitment * F.mse_loss(flat, q.detach(), reduction="sum") / len(flat)
        q = flat + (q - flat).detach()
        return q.view(B, h, w, d).permute(0, 3, 1, 2), codes.view(B, h, w), loss


class Tokenizer(nn.Module):
    """encode: (B, 1, H, W) in [-1, 1] -> (B, H/down, W/down) long; decode: the way back."""

    def __init__(self, config: TokenizerConfig):
        super().__init__()
        self.config = c = config
        if c.quantizer == "fsq":
            self.quantizer: nn.Module = FSQ(c.levels)
            dim = len(c.levels)
        else:
            self.quantizer = VQ(c)
            dim = c.code_dim
        self.encoder = Encoder(c, dim)
        self.decoder = Decoder(c, dim)
        self.codebook_size = self.quantizer.size
        self.down = c.down
        self.temporal = nn.Sequential(*[
            SpaceTimeBlock(2 * decoder_shape(c)[0], c.temporal_channels)
            for _ in range(c.temporal_blocks)]) if c.temporal_blocks else None

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 4 or x.shape[1] != 1 or x.shape[2] % self.down or x.shape[3] % self.down:
            raise ValueError(f"the tokenizer takes (B, 1, H, W) images with H and W multiples of "
                             f"{self.down}, not {tuple(x.shape)}")

    def quantize(self, z: torch.Tensor, gen=None):
        """Encoder output -> (decoder input, codes, auxiliary loss), in float32 even under autocast."""
        with torch.autocast(z.device.type, enabled=False):
            if isinstance(self.quantizer, FSQ):
                q, codes = self.quantizer.quantize(z.float())
                return q, codes, z.new_zeros((), dtype=torch.float32)
            return self.quantizer.quantize(z.float(), gen)

    def forward(self, x: torch.Tensor, gen: torch.Generator | None = None):
        """Training: x (B, 1, H, W) -> (reconstruction, auxiliary loss, codes)."""
        self._check(x)
        q, codes, aux = self.quantize(self.encoder(x), gen)
        return self.decoder(q), aux, codes

    @torch.no_grad()
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        with torch.autocast(x.device.type, enabled=False):
            z = self.encoder(x.float())
            if isinstance(self.quantizer, FSQ):
                return self.quantizer.quantize(z)[1]
            flat = F.normalize(z.permute(0, 2, 3, 1).reshape(-1, z.shape[1]), dim=1)
            return self.quantizer.nearest(flat).view(z.shape[0], z.shape[2], z.shape[3])

    @torch.no_grad()
    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        self._check_codes(codes, "decode", "(B, h, w)")
        with torch.autocast(codes.device.type, enabled=False):
            parts = [self.decoder(self.quantizer.lookup(part.long())).clamp(-1, 1)
                     for part in codes.split(DECODE_CHUNK)]
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def _check_codes(self, codes: torch.Tensor, name: str, shape: str) -> None:
        if codes.dim() != shape.count(",") + 1:
            raise ValueError(f"{name} takes codes {shape}, not {tuple(codes.shape)}")
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= self.codebook_size):
            raise ValueError(f"codes must lie in 0..{self.codebook_size - 1}")

    def decode_values(self, q: torch.Tensor) -> torch.Tensor:
        """Quantised values of whole clips (B, T, d, h, w) -> frames (B * T, 1, H, W), unclamped,
        with gradients (training); without temporal blocks each frame is decoded alone."""
        B, T = q.shape[:2]
        h = self.decoder.net[0](q.flatten(0, 1))
        if self.temporal is not None:
            h = self.temporal(h.unflatten(0, (B, T)).transpose(1, 2)).transpose(1, 2).flatten(0, 1)
        return self.decoder.net[1:](h)

    @torch.no_grad()
    def decode_clips(self, codes: torch.Tensor) -> torch.Tensor:
        """Codes of whole clips (B, T, h, w) -> frames (B, T, 1, H, W) in [-1, 1]: the frames of a
        clip decoded together (see the module docstring; frame by frame without temporal blocks,
        where it equals `decode` bit for bit). In chunks of clips of at most DECODE_CHUNK frames."""
        self._check_codes(codes, "decode_clips", "(B, T, h, w)")
        T = codes.shape[1]
        per = max(1, DECODE_CHUNK // max(T, 1))
        with torch.autocast(codes.device.type, enabled=False):
            parts = []
            for part in codes.split(per):
                q = self.quantizer.lookup(part.long().flatten(0, 1)).unflatten(0, (len(part), T))
                parts.append(self.decode_values(q).clamp(-1, 1).unflatten(0, (len(part), T)))
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    @torch.no_grad()
    def blank_code(self) -> int:
        """The code of an empty (black) patch: what unfilled tokens show as in previews
        (remembered once out of training: the weights no longer change)."""
        if not self.training and "_blank" in self.__dict__:
            return self.__dict__["_blank"]
        p = next(self.parameters())
        blank = -torch.ones(1, 1, 16 * self.down, 16 * self.down, device=p.device)
        code = int(self.encode(blank)[0, 8, 8])  # far from the zero padding of the borders
        if not self.training:
            self.__dict__["_blank"] = code
        return code


def codebook_usage(codes: torch.Tensor, size: int) -> dict:
    """How much of the codebook a set of codes uses: fraction of codes seen, and the perplexity
    exp(entropy) of their histogram (= size when all are equally used, 1 when one is)."""
    n = torch.bincount(codes.flatten().long().cpu(), minlength=size).double()
    p = n / n.sum().clamp(min=1)
    entropy = -(p[p > 0] * p[p > 0].log()).sum()
    return {"used": int((n > 0).sum()), "fraction_used": float((n > 0).sum()) / size,
            "perplexity": float(entropy.exp()), "codebook_size": size}


def parameter_count(c: dict) -> int:
    """Parameters of Tokenizer(TokenizerConfig(**c)), from the numbers alone (nets/schema.py)."""
    def conv(i, o, k):
        return i * o * k * k + o

    def res(ch):
        return 2 * (2 * ch + conv(ch, ch, 3))

    dim = len(c["levels"]) if c["quantizer"] == "fsq" else c["code_dim"]
    ch, wide, stages = c["channels"], 2 * c["channels"], int(math.log2(c["down"]))
    enc = conv(1, ch, 3) + c["blocks"] * res(ch) + conv(ch, wide, 4) \
        + (stages - 1) * (c["blocks"] * res(wide) + conv(wide, wide, 4)) \
        + c["blocks"] * res(wide) + 2 * wide + conv(wide, dim, 1)
    ch, blocks = decoder_shape(c)
    wide = 2 * ch
    dec = conv(dim, wide, 3) + stages * blocks * res(wide) + (stages - 1) * conv(wide, wide, 3) \
        + conv(wide, ch, 3) + blocks * res(ch) + 2 * ch + conv(ch, 1, 3)
    mid = c.get("temporal_channels", 96)
    space_time = 2 * wide + (wide * mid + mid) + 2 * mid + (27 * mid * mid + mid) + 2 * mid \
        + (mid * wide + wide)
    return enc + dec + c.get("temporal_blocks", 0) * space_time
