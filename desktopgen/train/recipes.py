"""What differs per model: how to build it and its loss on a batch of uint8 images and labels."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from desktopgen import nets
from desktopgen.sampling.schedule import cosine_alpha_bar
from desktopgen.train.common import LABEL_DROPOUT, vp_noising  # noqa: F401 (LABEL_DROPOUT: API)
from desktopgen.train.common import drop_labels as _drop_labels
from desktopgen.train.decoder_recipe import TokenizerDecoderRecipe, VideoDecoderRecipe
from desktopgen.train.flow_recipes import InpaintRecipe, ShortcutRecipe
from desktopgen.train.maskgit_recipe import MaskGITRecipe
from desktopgen.train.token_recipes import TokenARRecipe, TokenizerRecipe
from desktopgen.train.video_ar_recipe import VideoARRecipe
from desktopgen.train.video_recipes import VideoDiffusionRecipe


class DiffusionRecipe:
    """v-prediction (Salimans & Ho 2022) on the cosine schedule, uniform timesteps."""

    arch = "unet"
    defaults = {"batch": 256, "lr": 2e-4, "ema": 0.9995, "weight_decay": 0.0}

    def __init__(self, device):
        self.alpha_bar = cosine_alpha_bar().float().to(device)

    def loss(self, model, images, labels, gen):
        x0 = images[:, None].float() / 127.5 - 1
        x_t, t, v = vp_noising(self.alpha_bar, x0, gen)
        y = _drop_labels(labels, nets.UNetConfig.num_classes, gen)
        return F.mse_loss(model(x_t, t, y).float(), v)


class PixelARRecipe:
    """Next-pixel cross-entropy over 256 intensities (reported in bits/dim by eval)."""

    arch = "pixel_ar"
    defaults = {"batch": 128, "lr": 6e-4, "ema": 0.999, "weight_decay": 0.05}

    def __init__(self, device):
        pass

    def loss(self, model, images, labels, gen):
        px = images.flatten(1).long()
        y = _drop_labels(labels, nets.PixelARConfig.num_classes, gen)
        logits = model(px, y).float()
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), px.reshape(-1))


class ClassifierRecipe:
    """Cross-entropy with random shifts of up to 2 pixels (the classifier is for metrics only)."""

    arch = "classifier"
    defaults = {"batch": 256, "lr": 2e-3, "ema": 0.999, "weight_decay": 0.05}

    def __init__(self, device):
        pass

    def loss(self, model, images, labels, gen):
        x = images[:, None].float() / 127.5 - 1
        x = F.pad(x, (2, 2, 2, 2), value=-1)
        dx, dy = torch.randint(0, 5, (2,), generator=gen, device=x.device).tolist()
        x = x[:, :, dy : dy + 28, dx : dx + 28]
        flip = torch.rand(len(x), device=x.device, generator=gen) < 0.5
        x = torch.where(flip[:, None, None, None], x.flip(-1), x)
        return F.cross_entropy(model(x), labels, label_smoothing=0.1)


RECIPES = {"diffusion": DiffusionRecipe, "ar": PixelARRecipe, "classifier": ClassifierRecipe,
           "flow": ShortcutRecipe, "shortcut": ShortcutRecipe, "inpaint": InpaintRecipe,
           "tokenizer": TokenizerRecipe, "token-ar": TokenARRecipe}
RECIPES["maskgit"] = MaskGITRecipe
RECIPES["tokenizer-decoder"] = TokenizerDecoderRecipe
RECIPES["video-decoder"] = VideoDecoderRecipe
RECIPES["video-ar"] = VideoARRecipe
RECIPES["video-diffusion"] = VideoDiffusionRecipe


def check_arch(model: str, overrides) -> dict:
    """Network overrides for `model` (a key of RECIPES), checked like a model folder's config:
    a JSON object of known keys with bounded values (nets/schema.py). Returns them unchanged;
    nets.ConfigError (a ValueError) with one line otherwise."""
    if model not in RECIPES:
        raise nets.ConfigError(f"unknown model {str(model)[:40]!r}; known: {', '.join(RECIPES)}")
    if overrides is None:
        return {}
    nets.check_config(RECIPES[model].arch, overrides)
    return dict(overrides)


def parse_arch(model: str, text: str | None) -> dict:
    """`train --arch TEXT`: JSON text to checked overrides; nets.ConfigError (one line, starting
    with "--arch") for text that is not JSON, not an object, or names unknown or bad values."""
    import json

    if not text:
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise nets.ConfigError(f"--arch is not JSON ({str(e)[:60]})") from None
    try:
        return check_arch(model, value)
    except nets.ConfigError as e:
        raise nets.ConfigError(f"--arch: {e}") from None

