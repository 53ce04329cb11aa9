"""Switches read from the environment, torch-free (the window reads them before torch loads)."""

from __future__ import annotations

import os

COMPILE_ENV = "DESKTOPGEN_COMPILE"  # torch.compile of the U-Net call on CUDA (sampling/graphs.py)
UNET_FORM_ENV = "DESKTOPGEN_UNET_FORM"  # precision and layout of the U-Net on CUDA (graphs.UNET_FORMS)
DECODE_FORM_ENV = "DESKTOPGEN_DECODE_FORM"  # ... of the tokenizer's decoder (sampling/tokens.py)


def env_flag(name: str) -> bool:
    """True when $name says yes (1, true, yes, on; any case)."""
    return os.environ.get(name, "").lower() in ("1", "true", "yes", "on")
