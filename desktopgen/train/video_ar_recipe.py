"""Recipe of the frame-by-frame video AR model: moving-garment clips made on the fly on the
device from the loop's batch of garments, coded by the frozen tokenizer the config names, and
next-code cross-entropy over the whole clip (class dropout for guidance)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from desktopgen.core import checkpoints
from desktopgen.data.moving import random_clips_torch
from desktopgen.nets.video_ar import VideoARConfig
from desktopgen.train.common import drop_labels


class VideoARRecipe:
    arch = "video_ar"
    defaults = {"batch": 64, "lr": 6e-4, "ema": 0.999, "weight_decay": 0.05}

    def __init__(self, device):
        self.device = torch.device(device)
        self.tokenizer = None  # loaded at the first batch: its name is in the model's config

    def prepare(self, images, labels, config: dict):
        """Called by the loop before the network is built: load and check the tokenizer now, so
        a wrong name or codebook size stops the run before it starts."""
        self.tokenizer = self._load_tokenizer(VideoARConfig(**config))
        return images, labels

    def _load_tokenizer(self, config):
        tok, _ = checkpoints.load_model(config.tokenizer, self.device)
        if tok.codebook_size != config.vocab:
            fix = f"set --arch '{{\"vocab\": {tok.codebook_size}}}'"
            raise ValueError(f"the tokenizer {config.tokenizer} has {tok.codebook_size} codes, but the "
                             f"model predicts {config.vocab} ({fix})")
        if config.grid * tok.down != 48:
            raise ValueError(f"grid {config.grid} x the tokenizer's {tok.down}x must make 48-pixel frames")
        return tok.eval().requires_grad_(False)

    def encode(self, config, images: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        """Garments (B, 28, 28) uint8 -> clip codes (B, frames * grid^2), frame-major."""
        if self.tokenizer is None:
            self.tokenizer = self._load_tokenizer(config)
        clips = random_clips_torch(images, config.frames, 48, gen)  # (B, T, 48, 48) uint8
        B, T = clips.shape[:2]
        x = clips.reshape(B * T, 1, 48, 48).float() / 127.5 - 1
        return self.tokenizer.encode(x).reshape(B, T * config.frame_tokens)  # fp32, no autocast

    def loss(self, model, images, labels, gen):
        config = getattr(model, "module", model).config  # DDP wraps the network
        codes = self.encode(config, images, gen)
        y = drop_labels(labels, config.num_classes, gen)
        logits = model(codes, y).float()
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), codes.reshape(-1))
