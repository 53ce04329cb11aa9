"""What the controls offer, known without importing torch: samplers, defaults, shipped models.

Kept in step with desktopgen.sampling by a test (tests/test_gui.py), because importing the
engine here would load torch before the window appears.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from desktopgen import CLASS_NAMES

SAMPLERS = {"diffusion": ("dpmpp-2m", "ddim", "ddpm"), "ar": ("pixel",)}
SAMPLER_LABELS = {"dpmpp-2m": "DPM-Solver++ (2M)", "ddim": "DDIM", "ddpm": "DDPM (ancestral)",
                  "pixel": "Pixel by pixel (raster)"}
DEFAULTS = {
    "diffusion": {"sampler": "dpmpp-2m", "steps": 20, "guidance": 2.0},
    "ar": {"sampler": "pixel", "steps": 784, "guidance": 1.5, "temperature": 1.0, "top_k": 0},
}
DEFAULT_MODELS = {"diffusion": "fmnist-diffusion", "ar": "fmnist-pixel-ar"}
ARCH_FAMILY = {"unet": "diffusion", "pixel_ar": "ar"}
CLASSES = ("any",) + CLASS_NAMES


def models_dir() -> Path:
    """Same rule as desktopgen.core.checkpoints.models_dir, without importing torch."""
    env = os.environ.get("DESKTOPGEN_MODELS")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "models"


def list_models(family: str) -> list[str]:
    """Model folders whose config.json names an architecture of `family`; the default first."""
    found = []
    root = models_dir()
    if root.is_dir():
        for cfg in sorted(root.glob("*/config.json")):
            try:
                arch = json.loads(cfg.read_text()).get("arch", "")
            except (OSError, ValueError):
                continue
            if ARCH_FAMILY.get(str(arch).lower()) == family:
                found.append(cfg.parent.name)
    default = DEFAULT_MODELS[family]
    if default in found:
        found.remove(default)
    return [default] + found
