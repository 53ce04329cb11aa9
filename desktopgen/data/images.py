"""Safe import of a user's image file into the models' domain: grayscale 28x28 uint8, light on dark.

Decoding is bounded before any pixel is read (file size, pixel count, decompression bombs), every
Pillow failure becomes one clear ImageImportError sentence, and odd modes (16-bit, CMYK, palette,
alpha, 1-bit), animations (first frame) and EXIF orientation are handled.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

SIZE = 28
FORMATS = ("PNG", "JPEG", "WEBP", "BMP", "GIF", "TIFF")  # the only decoders Pillow may try
SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
MAX_FILE_BYTES = 100 * 2**20
MAX_PIXELS = 40_000_000  # ~ a 6300x6300 picture; far more than a 28x28 target needs


class ImageImportError(ValueError):
    """An image that cannot be imported; the message is one sentence for the user."""


@dataclass(frozen=True)
class ImportedImage:
    array: np.ndarray  # (28, 28) uint8, light object on a dark background like Fashion-MNIST
    path: str
    format: str  # e.g. "PNG"
    original_size: tuple[int, int]  # (width, height)
    original_mode: str  # Pillow mode, e.g. "RGBA", "I;16", "CMYK"
    inverted: bool
    frames: int = 1
    notes: tuple[str, ...] = field(default=())

    @property
    def message(self) -> str:
        """What was done, in one line for a status bar."""
        w, h = self.original_size
        if (w, h) == (SIZE, SIZE):
            done = ["kept at 28x28"]
        elif w == h:
            done = [f"scaled to {SIZE}x{SIZE}"]
        else:
            done = [f"fitted to {SIZE}x{SIZE} (aspect kept, padded)"]
        done += list(self.notes)
        if self.inverted:
            done.append("inverted (dark on light)")
        what = f"{self.format}, {w}x{h} {self.original_mode}"
        return f"Imported {Path(self.path).name} ({what}): " + ", ".join(done)


_MAGIC = ((b"\x89PNG", "PNG"), (b"\xff\xd8", "JPEG"), (b"GIF8", "GIF"), (b"BM", "BMP"),
          (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))


def _sniff(path: Path) -> str | None:
    """The format a file's first bytes claim, to tell a corrupt image from a non-image."""
    with open(path, "rb") as f:
        head = f.read(12)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return next((kind for magic, kind in _MAGIC if head.startswith(magic)), None)


def _open(path: Path) -> Image.Image:
    """Open (header only) with the size checks that must come before decoding."""
    if path.is_dir():
        raise ImageImportError(f"{path.name} is a folder, not an image file")
    if not path.exists():
        raise ImageImportError(f"{path} does not exist")
    size = path.stat().st_size
    if size == 0:
        raise ImageImportError(f"{path.name} is empty (0 bytes)")
    if size > MAX_FILE_BYTES:
        raise ImageImportError(f"{path.name} is {size / 2**20:.0f} MB; images up to "
                               f"{MAX_FILE_BYTES // 2**20} MB are accepted")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(path, formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageImportError(f"{path.name} declares far too many pixels (a decompression bomb?)") from None
    except UnidentifiedImageError:
        kind = _sniff(path)
        if kind:
            raise ImageImportError(f"{path.name} looks like a {kind} file but is truncated or corrupt"
                                   ) from None
        raise ImageImportError(f"{path.name} is not an image this app can read "
                               f"(PNG, JPEG, WebP, BMP, GIF or TIFF)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageImportError(f"{path.name} is truncated or corrupt ({e})") from None
    w, h = im.size
    if w <= 0 or h <= 0:
        im.close()
        raise ImageImportError(f"{path.name} has no pixels ({w}x{h})")
    if w * h > MAX_PIXELS:
        im.close()
        raise ImageImportError(f"{path.name} is {w}x{h} pixels; images up to {MAX_PIXELS // 10**6} "
                               "megapixels are accepted")
    return im


def _to_gray(im: Image.Image) -> np.ndarray:
    """Any mode -> (H, W) float64 luminance in 0..255; alpha is composited on a background that
    contrasts with the opaque pixels, so the object stays visible."""
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        a = np.asarray(im, dtype=np.float64)
        if mode.startswith("I;16") or (mode == "I" and a.max() > 255):
            a = a / 257.0  # 16-bit range to 8-bit, keeping the extra precision until rounding
        elif mode == "F" and a.max() <= 1.0:
            a = a * 255.0
        return a.clip(0, 255)
    has_alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.float64)
        alpha = rgba[..., 3] / 255
        lum = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])
        opaque = alpha > 0.5
        bg = 0.0 if (not opaque.any() or lum[opaque].mean() >= 128) else 255.0
        return lum * alpha + bg * (1 - alpha)
    if mode not in ("L", "RGB"):
        im = im.convert("RGB")  # CMYK, YCbCr, P, 1, LAB, HSV ...
    return np.asarray(im.convert("L"), dtype=np.float64)


def _border_value(a: np.ndarray) -> float:
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    return float(np.median(border))


def fit(gray: np.ndarray, pad_value: float) -> np.ndarray:
    """(H, W) float -> (28, 28) float: longest side scaled to 28, aspect kept, padded evenly.
    An integer downscale uses a box filter, so a nearest-neighbour upscale comes back exactly."""
    h, w = gray.shape
    if (h, w) == (SIZE, SIZE):
        return gray
    s = SIZE / max(h, w)
    nh, nw = max(1, round(h * s)), max(1, round(w * s))
    src = Image.fromarray(gray.astype(np.float32), mode="F")
    resample = Image.Resampling.BOX if s < 1 else Image.Resampling.BICUBIC
    small = np.asarray(src.resize((nw, nh), resample), dtype=np.float64)
    out = np.full((SIZE, SIZE), pad_value, np.float64)
    y, x = (SIZE - nh) // 2, (SIZE - nw) // 2
    out[y : y + nh, x : x + nw] = small
    return out


def load_image(path, invert="auto", pad_value: float | None = None) -> ImportedImage:
    """Import an image file as a (28, 28) uint8 Fashion-MNIST-like picture.
    invert: "auto" (invert when the border is light: a dark object on a light background), True,
    or False. pad_value: the padding grey before any inversion (None = the border's grey)."""
    if invert not in ("auto", True, False):
        raise ValueError(f"invert must be 'auto', True or False, not {invert!r}")
    p = Path(os.fspath(path))
    im = _open(p)
    notes = []
    try:
        fmt, mode, size = im.format or "?", im.mode, im.size
        frames = getattr(im, "n_frames", 1)
        if frames > 1:
            im.seek(0)
            notes.append(f"first of {frames} frames")
        try:
            oriented = ImageOps.exif_transpose(im)
            if oriented is not None and oriented.size != im.size:
                notes.append("rotated by its EXIF orientation")
            im2 = oriented if oriented is not None else im
            im2.load()
            gray = _to_gray(im2)
        except Image.DecompressionBombError:
            raise ImageImportError(f"{p.name} declares far too many pixels (a decompression bomb?)") from None
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as e:
            raise ImageImportError(f"{p.name} is truncated or corrupt ({e})") from None
    finally:
        im.close()
    border = _border_value(gray)
    out = fit(gray, border if pad_value is None else pad_value)
    inverted = bool(border >= 128) if invert == "auto" else bool(invert)
    if inverted:
        out = 255 - out
    arr = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return ImportedImage(arr, str(p), fmt, size, mode, inverted, frames, tuple(notes))


def pick_one(paths) -> Path:
    """The single image file among dropped/opened paths, or ImageImportError saying why not."""
    paths = [Path(os.fspath(p)) for p in paths]
    if not paths:
        raise ImageImportError("nothing to import: drop an image file (PNG, JPEG, WebP, BMP, GIF, TIFF)")
    if len(paths) > 1:
        raise ImageImportError(f"{len(paths)} files were dropped; drop one image at a time")
    if paths[0].is_dir():
        raise ImageImportError(f"{paths[0].name} is a folder; drop one image file instead")
    return paths[0]
