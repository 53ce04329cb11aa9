"""Recipes of the token models (issue 9): the tokenizer, and the raster token transformer.

`desktopgen train tokenizer` learns to reconstruct images through the discrete bottleneck, with
random shifts and, one step in four, garments placed anywhere on a 48x48 black canvas (the
video frames it will also tokenise). `desktopgen train token-ar` encodes the train set once with
the frozen tokenizer its config names (`--arch '{"tokenizer": "NAME"}'`, or `--tokenizer NAME`)
and learns next-token cross-entropy over those codes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from desktopgen import nets
from desktopgen.train.common import drop_labels

CANVAS = 48  # the video frames' size
CANVAS_EVERY = 4  # one step in this many trains on the big canvas
SHIFT = 4  # random shifts of up to this many pixels on 28x28 steps
L1_WEIGHT = 0.1  # a little L1 beside MSE keeps edges sharper


def place(images: torch.Tensor, size: int, gen: torch.Generator, margin: int = 0) -> torch.Tensor:
    """uint8 (B, 28, 28) -> float (B, 1, size, size) in [-1, 1]: each image at its own random
    place on a black canvas (`size` = 28 + 2 * margin: shifts of up to `margin` pixels)."""
    B, h, w = images.shape
    dev = images.device
    oy = torch.randint(0, size - h + 1, (B,), device=dev, generator=gen)
    ox = torch.randint(0, size - w + 1, (B,), device=dev, generator=gen)
    canvas = torch.full((B, size, size), -1.0, device=dev)
    rows = (oy[:, None] + torch.arange(h, device=dev))[:, :, None]  # (B, h, 1)
    cols = (ox[:, None] + torch.arange(w, device=dev))[:, None, :]  # (B, 1, w)
    canvas[torch.arange(B, device=dev)[:, None, None], rows, cols] = images.float() / 127.5 - 1
    if margin:  # crop the middle 28x28 back: a shift of -margin..margin pixels
        canvas = canvas[:, margin : size - margin, margin : size - margin]
    return canvas[:, None]


class TokenizerRecipe:
    """Reconstruction (MSE + a little L1) through the quantiser, plus VQ's commitment loss."""

    arch = "tokenizer"
    defaults = {"batch": 256, "lr": 1e-3, "ema": 0.999, "weight_decay": 0.0}

    def __init__(self, device):
        self.step = 0

    def loss(self, model, images, labels, gen):
        self.step += 1
        if self.step % CANVAS_EVERY == 0:
            x = place(images, CANVAS, gen)
        else:
            x = place(images, 28 + 2 * SHIFT, gen, margin=SHIFT)
        recon, aux, _ = model(x, gen)
        recon = recon.float()
        return F.mse_loss(recon, x) + L1_WEIGHT * F.l1_loss(recon, x) + aux


@torch.no_grad()
def encode_all(tokenizer, images: torch.Tensor, batch: int = 2000) -> torch.Tensor:
    """uint8 (N, 28, 28) on the tokenizer's device -> codes (N, h * w), raster order."""
    out = []
    for i in range(0, len(images), batch):
        x = images[i : i + batch, None].float() / 127.5 - 1
        out.append(tokenizer.encode(x).flatten(1))
    return torch.cat(out)


class TokenARRecipe:
    """Next-token cross-entropy over the tokenizer's codes (the train set encoded once)."""

    arch = "token_ar"
    defaults = {"batch": 256, "lr": 6e-4, "ema": 0.999, "weight_decay": 0.05}

    def __init__(self, device):
        self.device = device

    def prepare(self, images: torch.Tensor, labels: torch.Tensor, config: dict):
        """The loop's data, once: uint8 images -> their codes under the frozen tokenizer named by
        the (checked) network config; the vocabulary and length must be the tokenizer's."""
        from desktopgen.core import checkpoints

        tokenizer, _ = checkpoints.load_model(config["tokenizer"], self.device)
        if not isinstance(tokenizer, nets.Tokenizer):
            raise nets.ConfigError(f"tokenizer {config['tokenizer']!r} is a "
                                   f"{type(tokenizer).__name__}, not a tokenizer")
        codes = encode_all(tokenizer, images)
        if tokenizer.codebook_size != config["vocab"] or codes.shape[1] != config["seq_len"]:
            raise nets.ConfigError(
                f"tokenizer {config['tokenizer']!r} makes {codes.shape[1]} codes of "
                f"{tokenizer.codebook_size} values per image: pass --arch '{{\"vocab\": "
                f"{tokenizer.codebook_size}, \"seq_len\": {codes.shape[1]}}}'")
        return codes, labels

    def loss(self, model, codes, labels, gen):
        y = drop_labels(labels, nets.TokenARConfig.num_classes, gen)
        logits = model(codes, y).float()
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), codes.reshape(-1))
