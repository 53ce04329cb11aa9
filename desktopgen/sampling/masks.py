"""Inpainting masks: the named presets, mask PNGs, sanity checks, and what raster AR can see.

A mask is a (28, 28) uint8 array: 1 = generate this pixel, 0 = keep the source pixel.
"""

from __future__ import annotations

import numpy as np

SIZE = 28
# The same names in the CLI and the GUI.
PRESETS = ("bottom-half", "top-half", "left-half", "right-half", "center-square", "random-blocks")


class MaskError(ValueError):
    """A mask that cannot be used; the message is one sentence for the user."""


def preset(name: str, seed: int = 0) -> np.ndarray:
    """The (28, 28) uint8 mask of a preset; `seed` only matters for random-blocks."""
    m = np.zeros((SIZE, SIZE), np.uint8)
    h = SIZE // 2
    if name == "bottom-half":
        m[h:] = 1
    elif name == "top-half":
        m[:h] = 1
    elif name == "left-half":
        m[:, :h] = 1
    elif name == "right-half":
        m[:, h:] = 1
    elif name == "center-square":
        q = SIZE // 4
        m[q : SIZE - q, q : SIZE - q] = 1  # 14x14, a quarter of the image
    elif name == "random-blocks":
        rng = np.random.default_rng(seed)
        for _ in range(4):  # four blocks of 5..10 px cover roughly a quarter of the image
            bh, bw = rng.integers(5, 11, size=2)
            y, x = rng.integers(0, SIZE - bh + 1), rng.integers(0, SIZE - bw + 1)
            m[y : y + bh, x : x + bw] = 1
    else:
        raise MaskError(f"unknown mask preset {name!r}; known: {', '.join(PRESETS)}")
    return m


def load_mask_png(path) -> np.ndarray:
    """A mask image (any size and mode the importer accepts): light = generate, dark = keep.
    It is fitted to 28x28 like any image but never inverted, then thresholded at half grey."""
    from desktopgen.data.images import load_image

    imported = load_image(path, invert=False, pad_value=0)
    return (imported.array >= 128).astype(np.uint8)


def check(mask) -> str | None:
    """Raise MaskError for a mask that leaves nothing to do or is not 28x28 of 0/1; return a note
    when it covers everything (the run is then plain generation), else None."""
    m = np.asarray(mask)
    if m.shape != (SIZE, SIZE):
        raise MaskError(f"a mask must be {SIZE}x{SIZE}, not {'x'.join(map(str, m.shape))}")
    if not np.isin(m, (0, 1)).all():
        raise MaskError("a mask holds only 0 (keep) and 1 (generate)")
    covered = int(m.sum())
    if covered == 0:
        raise MaskError("the mask covers no pixel: paint the area to regenerate first (nothing to inpaint)")
    if covered == SIZE * SIZE:
        return "the mask covers the whole image, so nothing of the source is kept: this is plain generation"
    return None


def ar_context(mask, position: int) -> np.ndarray:
    """(28, 28) bool: the known pixels (mask 0) that the raster-order AR model has seen when it
    generates pixel `position` (0..783) — only those before it in raster order."""
    keep = np.asarray(mask).reshape(-1) == 0
    before = np.arange(SIZE * SIZE) < position
    return (keep & before).reshape(SIZE, SIZE)


def hidden_context(mask, position: int) -> np.ndarray:
    """(28, 28) bool: known pixels the AR model cannot use yet at `position` (after it in raster
    order), which diffusion sees from its first step."""
    keep = np.asarray(mask).reshape(-1) == 0
    return (keep & (np.arange(SIZE * SIZE) > position)).reshape(SIZE, SIZE)


def as_grid(array) -> tuple:
    """A (28, 28) or (N, 28, 28) uint8 array as nested tuples, the form SampleRequest holds."""
    a = np.asarray(array, np.uint8)
    if a.ndim == 2:
        return tuple(map(tuple, a.tolist()))
    return tuple(tuple(map(tuple, im)) for im in a.tolist())
