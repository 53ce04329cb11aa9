"""Image grids and arrays, written atomically (temp file + rename), PNGs with the recipe as JSON."""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from desktopgen import __version__

RECIPE_KEY = "desktopgen"  # PNG text chunk holding the request as JSON


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


def atomic_write(path: Path, write) -> None:
    """Call write(tmp_path), then rename over `path`; nothing half-written is ever left."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=path.suffix)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_grid_png(path, images: np.ndarray, request=None, scale: int = 2, extra: dict | None = None):
    import json

    info = PngImagePlugin.PngInfo()
    if request is not None:
        meta = {"request": request.to_dict(), "app_version": __version__, **(extra or {})}
        info.add_text(RECIPE_KEY, json.dumps(meta))
    img = Image.fromarray(upscale(grid(images), scale), mode="L")
    atomic_write(Path(path), lambda tmp: img.save(tmp, format="PNG", pnginfo=info))


def save_npz(path, **arrays) -> None:
    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    atomic_write(Path(path), write)
