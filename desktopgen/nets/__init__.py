"""nn.Modules and their config dataclasses only; no sampling code."""

from __future__ import annotations

from dataclasses import asdict

import torch.nn as nn

from desktopgen.nets.classifier import Classifier, ClassifierConfig
from desktopgen.nets.pixel_ar import PixelAR, PixelARConfig
from desktopgen.nets.schema import MAX_PARAMETERS, ConfigError, check_config, parameter_count
from desktopgen.nets.unet import UNet, UNetConfig

__all__ = ["ARCHS", "MAX_PARAMETERS", "Classifier", "ClassifierConfig", "ConfigError", "PixelAR",
           "PixelARConfig", "UNet", "UNetConfig", "arch_of", "build", "check_config", "parameter_count"]

ARCHS = {
    "unet": (UNet, UNetConfig),
    "pixel_ar": (PixelAR, PixelARConfig),
    "classifier": (Classifier, ClassifierConfig),
}


def build(arch: str, config: dict) -> nn.Module:
    """Rebuild a module from its architecture name and config dict (as stored in config.json);
    the config is checked first (keys, types, bounds, parameter count: see nets/schema.py)."""
    config = check_config(arch, config)
    module_cls, config_cls = ARCHS[arch]
    return module_cls(config_cls(**config))


def arch_of(model: nn.Module) -> tuple[str, dict]:
    for arch, (module_cls, _) in ARCHS.items():
        if isinstance(model, module_cls):
            return arch, asdict(model.config)
    raise ValueError(f"not a DesktopGen network: {type(model).__name__}")
