"""MaskGIT training (Chang et al. 2022): mask a cosine-distributed share of the token grid and
predict the masked codes, cross-entropy on the masked positions only.

The train images are encoded once, up front, by the frozen tokenizer the config names
(`prepare`, called by the training loop before the network is built), so each step only indexes
the code grids; the config's codebook size and grid must be the tokenizer's (the defaults are
those of fmnist-tokenizer; another tokenizer: --arch '{"tokenizer": ..., "codebook_size": ...}').
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from desktopgen import nets
from desktopgen.train.common import drop_labels

DEFAULT_TOKENIZER = nets.MaskGITConfig.tokenizer
LABEL_SMOOTHING = 0.1  # as in the MaskGIT paper
ENCODE_BATCH = 1000


def mask_ratio(u: torch.Tensor) -> torch.Tensor:
    """The cosine schedule's share of masked tokens at progress u in [0, 1) (MaskGIT, eq. 3:
    gamma(r) = cos(pi/2 r)); with u uniform it is also the training distribution of ratios."""
    return torch.cos(math.pi / 2 * u)


def random_mask(batch: int, n: int, device, gen: torch.Generator) -> torch.Tensor:
    """(batch, n) bool, True = masked: per row ceil(n * cos(pi/2 u)) positions, u ~ U[0, 1),
    at least one, chosen uniformly at random."""
    u = torch.rand(batch, device=device, generator=gen)
    count = torch.ceil(mask_ratio(u) * n).clamp(1, n)  # (B,)
    ranks = torch.rand(batch, n, device=device, generator=gen).argsort(1).argsort(1)
    return ranks < count[:, None]


@torch.no_grad()
def encode_images(tokenizer, images: torch.Tensor, batch: int = ENCODE_BATCH) -> torch.Tensor:
    """uint8 (N, H, W) images -> long (N, H/4, W/4) codes, in chunks, in fp32."""
    out = []
    for start in range(0, len(images), batch):
        x = images[start : start + batch, None].float() / 127.5 - 1
        out.append(tokenizer.encode(x).long())
    return torch.cat(out)


def load_tokenizer(name: str, device):
    """The frozen tokenizer model folder `name` (fp32, eval mode) and its card."""
    from desktopgen.core import checkpoints

    tok, card = checkpoints.load_model(name, device)
    if not hasattr(tok, "encode") or not hasattr(tok, "codebook_size"):
        raise checkpoints.CheckpointError(name, f"is a {type(tok).__name__}, not a tokenizer")
    return tok, card


class MaskGITRecipe:
    """Cross-entropy on masked codes, cosine mask ratios, class dropout for guidance."""

    arch = "maskgit"
    defaults = {"batch": 512, "lr": 6e-4, "ema": 0.9995, "weight_decay": 0.05}

    def __init__(self, device):
        self.device = device
        self.mask_id = None
        self.card_extra: dict = {}

    def prepare(self, images: torch.Tensor, labels: torch.Tensor, config: dict, tokenizer=None):
        """The loop's data, once: uint8 images -> (codes (N, h, w) long, labels) under the frozen
        tokenizer the (checked) config names, whose codebook and grid must be the config's.
        `tokenizer`: a module to use instead of loading the named folder (tests)."""
        name = config["tokenizer"]
        card = {}
        if tokenizer is None:
            tokenizer, card = load_tokenizer(name, images.device)
        codes = encode_images(tokenizer, images)
        _, h, w = codes.shape
        size = int(tokenizer.codebook_size)
        if (size, h, w) != (config["codebook_size"], config["grid_h"], config["grid_w"]):
            raise nets.ConfigError(
                f"tokenizer {name!r} makes {h}x{w} codes of {size} values per image: pass --arch "
                f"'{{\"codebook_size\": {size}, \"grid_h\": {h}, \"grid_w\": {w}}}'")
        self.mask_id = size
        self.card_extra = {"tokenizer": name, "tokenizer_sha256": card.get("sha256", ""),
                           "train_codes_used": int(torch.unique(codes).numel()), "grid": [h, w]}
        return codes, labels

    def loss(self, model, codes, labels, gen):
        B, h, w = codes.shape
        target = codes.reshape(B, h * w)
        masked = random_mask(B, h * w, codes.device, gen)  # (B, hw)
        inp = torch.where(masked, self.mask_id, target).view(B, h, w)
        y = drop_labels(labels, nets.MaskGITConfig.num_classes, gen)
        logits = model(inp, y).float().view(B, h * w, -1)
        return F.cross_entropy(logits[masked], target[masked], label_smoothing=LABEL_SMOOTHING)
