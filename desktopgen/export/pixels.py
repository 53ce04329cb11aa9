"""Pixel layout shared by image export and clip frames: batch grids and crisp upscaling."""

from __future__ import annotations

import math

import numpy as np


def grid(images: np.ndarray, cols: int | None = None, pad: int = 2, pad_value: int = 0) -> np.ndarray:
    """(N, H, W) uint8 -> one (rows*(H+pad)+pad, cols*(W+pad)+pad) uint8 image."""
    n, h, w = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad), pad_value, np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        out[pad + r * (h + pad) : pad + r * (h + pad) + h, pad + c * (w + pad) : pad + c * (w + pad) + w] = im
    return out


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscale, so pixels stay crisp."""
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1) if factor > 1 else image


def scale_for(shape, size: int | None) -> int:
    """Whole-number nearest-neighbour factor so the longer side reaches about `size` pixels."""
    if not size:
        return 1
    return max(1, size // max(shape[:2]))
