"""Frame composition without Qt: a side's image fitted with crisp pixels, a title bar, overlay
text (step, elapsed, memory), a progress bar, and panels laid out side by side.

The CLI, the GUI and the tests all draw exported frames with this module, so what a user
exports from the window is what `desktopgen race` writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from desktopgen.export.pixels import grid, upscale

BACKGROUND = (24, 24, 28)
TEXT = (236, 236, 236)
DIM_TEXT = (150, 150, 162)
ACCENTS = {"diffusion": (86, 160, 255), "ar": (255, 146, 64)}
FAMILY_TITLES = {"diffusion": "Diffusion", "ar": "Autoregressive"}

HEADER = 30  # px above the image: the title
FOOTER = 50  # px below it: the progress bar and two overlay lines
MARGIN = 8  # px around each panel's image


@lru_cache(maxsize=8)
def font(size: int):
    """Pillow's built-in font (no file to ship, nothing downloaded); the old bitmap font where
    Pillow was built without FreeType."""
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow < 10.1 or no FreeType: fixed-size bitmap font
        return ImageFont.load_default()


def fit(image: np.ndarray, size: int) -> np.ndarray:
    """Fit a (H, W) uint8 image into a size x size square with the largest whole-number
    nearest-neighbour scale (so pixels stay square and crisp), centred on black."""
    h, w = image.shape
    factor = size // max(h, w)
    if factor >= 1:
        up = upscale(image, factor)
    else:  # larger than the square: nearest-neighbour shrink, still no blur
        s = size / max(h, w)
        up = np.asarray(Image.fromarray(image).resize((max(1, round(w * s)), max(1, round(h * s))),
                                                      Image.Resampling.NEAREST))
    out = np.zeros((size, size), np.uint8)
    top, left = (size - up.shape[0]) // 2, (size - up.shape[1]) // 2
    out[top : top + up.shape[0], left : left + up.shape[1]] = up
    return out


def batch_image(batch: np.ndarray, index: int | None) -> np.ndarray:
    """One sample of a (B, 28, 28) batch, or the whole batch as a grid (index None)."""
    if index is not None:
        return batch[min(index, len(batch) - 1)]
    return batch[0] if len(batch) == 1 else grid(batch)


@dataclass(frozen=True)
class Panel:
    """What one side shows in one frame."""

    family: str
    title: str
    image: np.ndarray  # (H, W) uint8
    lines: tuple[str, ...] = ()  # overlay text under the image (two fit)
    progress: float = 1.0  # 0..1, drawn as a bar
    done: bool = False
    subtitle: str = field(default="")


def render_panel(panel: Panel, size: int) -> np.ndarray:
    """One side: title, the image fitted to size x size, progress bar, overlay lines -> (H, W, 3)."""
    w, h = size + 2 * MARGIN, HEADER + size + FOOTER
    img = Image.new("RGB", (w, h), BACKGROUND)
    draw = ImageDraw.Draw(img)
    accent = ACCENTS.get(panel.family, TEXT)
    draw.rectangle((0, 0, w - 1, 3), fill=accent)
    draw.text((MARGIN, 8), panel.title, fill=TEXT, font=font(15))
    if panel.subtitle:
        tw = draw.textlength(panel.title, font=font(15))
        draw.text((MARGIN + tw + 8, 10), panel.subtitle, fill=DIM_TEXT, font=font(12))
    tile = fit(panel.image, size)
    img.paste(Image.fromarray(tile, mode="L").convert("RGB"), (MARGIN, HEADER))
    bar_y = HEADER + size + 5
    draw.rectangle((MARGIN, bar_y, MARGIN + size - 1, bar_y + 3), fill=(60, 60, 68))
    filled = round(max(0.0, min(1.0, panel.progress)) * size)
    if filled:
        draw.rectangle((MARGIN, bar_y, MARGIN + filled - 1, bar_y + 3), fill=accent)
    for i, line in enumerate(panel.lines[:2]):
        draw.text((MARGIN, bar_y + 8 + 17 * i), line, fill=TEXT if i == 0 else DIM_TEXT, font=font(13))
    return np.asarray(img)


def side_by_side(frames: list[np.ndarray], gap: int = 4) -> np.ndarray:
    """Lay (H, W, 3) panels out left to right with a thin gap."""
    h = max(f.shape[0] for f in frames)
    w = sum(f.shape[1] for f in frames) + gap * (len(frames) - 1)
    out = np.empty((h, w, 3), np.uint8)
    out[:] = (50, 50, 56)
    x = 0
    for f in frames:
        out[: f.shape[0], x : x + f.shape[1]] = f
        x += f.shape[1] + gap
    return out


def pad_to_multiple(frame: np.ndarray, multiple: int = 16) -> np.ndarray:
    """Pad right/bottom with the background so H.264 (yuv420p, 16x16 macroblocks) takes the frame
    as it is: no encoder-side rescale that would blur the crisp pixels."""
    h, w = frame.shape[:2]
    ph, pw = -h % multiple, -w % multiple
    if not ph and not pw:
        return frame
    out = np.empty((h + ph, w + pw, 3), np.uint8)
    out[:] = BACKGROUND
    out[:h, :w] = frame
    return out


def compose(panels: list[Panel], size: int) -> np.ndarray:
    """The whole frame: every side's panel, side by side, padded for video encoders."""
    return pad_to_multiple(side_by_side([render_panel(p, size) for p in panels]))
