"""nn.Modules and their config dataclasses only; no sampling code."""

from __future__ import annotations

from dataclasses import asdict

import torch.nn as nn

from desktopgen.nets.classifier import Classifier, ClassifierConfig
from desktopgen.nets.inpaint_unet import InpaintUNet, InpaintUNetConfig
from desktopgen.nets.maskgit import MaskGIT, MaskGITConfig
from desktopgen.nets.pixel_ar import PixelAR, PixelARConfig
from desktopgen.nets.schema import MAX_PARAMETERS, ConfigError, check_config, parameter_count
from desktopgen.nets.shortcut import ShortcutUNet, ShortcutUNetConfig
from desktopgen.nets.token_ar import TokenAR, TokenARConfig
from desktopgen.nets.tokenizer import Tokenizer, TokenizerConfig
from desktopgen.nets.unet import UNet, UNetConfig
from desktopgen.nets.video_ar import VideoAR, VideoARConfig
from desktopgen.nets.video_unet import VideoUNet, VideoUNetConfig

__all__ = ["ARCHS", "KINDS", "MAX_PARAMETERS", "Classifier", "ClassifierConfig", "ConfigError",
           "InpaintUNet", "InpaintUNetConfig", "PixelAR", "PixelARConfig", "ShortcutUNet",
           "ShortcutUNetConfig", "TokenAR", "TokenARConfig", "Tokenizer", "TokenizerConfig",
            "UNet", "UNetConfig", "arch_of",
           "build", "check_config", "kind_of", "parameter_count"]
__all__ += ["MaskGIT", "MaskGITConfig"]
__all__ += ["VideoAR", "VideoARConfig"]

ARCHS = {
    "unet": (UNet, UNetConfig),
    "pixel_ar": (PixelAR, PixelARConfig),
    "classifier": (Classifier, ClassifierConfig),
    "shortcut_unet": (ShortcutUNet, ShortcutUNetConfig),
    "inpaint_unet": (InpaintUNet, InpaintUNetConfig),
    "tokenizer": (Tokenizer, TokenizerConfig),
    "token_ar": (TokenAR, TokenARConfig),
}
ARCHS["maskgit"] = (MaskGIT, MaskGITConfig)
ARCHS["video_ar"] = (VideoAR, VideoARConfig)
# The model kind each architecture is (the sampler table's `model_kind`).
KINDS = {"unet": "diffusion-unet", "pixel_ar": "pixel-ar", "classifier": "classifier",
         "shortcut_unet": "flow", "inpaint_unet": "diffusion-inpaint", "tokenizer": "tokenizer",
         "token_ar": "token-ar"}
KINDS["maskgit"] = "maskgit"
KINDS["video_ar"] = "video-ar"
ARCHS["video_unet"] = (VideoUNet, VideoUNetConfig)
KINDS["video_unet"] = "video-diffusion"
__all__ += ["VideoUNet", "VideoUNetConfig"]


def build(arch: str, config: dict) -> nn.Module:
    """Rebuild a module from its architecture name and config dict (as stored in config.json);
    the config is checked first (keys, types, bounds, parameter count: see nets/schema.py)."""
    config = check_config(arch, config)
    module_cls, config_cls = ARCHS[arch]
    return module_cls(config_cls(**config))


def arch_of(model: nn.Module) -> tuple[str, dict]:
    for arch, (module_cls, _) in ARCHS.items():
        if type(model) is module_cls:  # exact: the shortcut and inpainting nets are UNets too
            return arch, asdict(model.config)
    raise ValueError(f"not a DesktopGen network: {type(model).__name__}")


def kind_of(model: nn.Module) -> str:
    """The model kind of a network (or of a subclass of one, e.g. a test's stand-in)."""
    for cls in type(model).__mro__:
        for arch, (module_cls, _) in ARCHS.items():
            if cls is module_cls:
                return KINDS[arch]
    raise ValueError(f"not a DesktopGen network: {type(model).__name__}")
