"""Image grids and arrays, written atomically (temp file + rename), PNGs with the recipe as JSON.

`export_image` is the user-facing image export (one side or both, one sample or the batch grid,
PNG / WebP / JPEG, nearest-neighbour upscaled); `save_grid_png` / `save_npz` serve the CLI."""

from __future__ import annotations

import json
import math
import os
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from desktopgen import __version__

RECIPE_KEY = "desktopgen"  # PNG text chunk holding the request as JSON
EXIF_DESCRIPTION = 0x010E  # ImageDescription: where WebP / JPEG carry the recipe (no PNG text chunks)
IMAGE_FORMATS = {".png": "PNG", ".webp": "WEBP", ".jpg": "JPEG", ".jpeg": "JPEG"}


class ExportError(OSError):
    """An export that cannot be written (bad folder, existing file, unknown format); the message
    is for the user."""


def check_target(path, suffixes, overwrite: bool = False) -> Path:
    """Refuse, with a clear message, what would fail late or silently clobber a file: an unknown
    suffix, a missing or read-only folder, an existing file without `overwrite`."""
    path = Path(path)
    if path.suffix.lower() not in suffixes:
        raise ExportError(f"{path.name!r}: the file name must end in {', '.join(sorted(suffixes))}")
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise ExportError(f"cannot write {path}: {folder} is a file, not a folder")
    if not folder.is_dir():
        raise ExportError(f"cannot write {path}: folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ExportError(f"cannot write {path}: folder {folder} is not writable")
    if path.is_dir():
        raise ExportError(f"cannot write {path}: it is a folder")
    if path.exists() and not overwrite:
        raise ExportError(f"{path} exists; choose another name or allow overwriting")
    return path


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


def recipe_meta(request, result=None, batch_index: int | None = None, extra: dict | None = None) -> dict:
    """The recipe embedded in an exported image: the request that makes it again, plus what the
    run measured (device, elapsed) so a shared file says where it came from."""
    meta = {"request": request.to_dict(), "app_version": __version__}
    if batch_index is not None:
        meta["batch_index"] = batch_index
    if result is not None:
        meta |= {"device": result.device, "elapsed": round(float(result.elapsed), 4),
                 "peak_memory": int(result.peak_memory), "mem_kind": result.mem_kind}
    return meta | (extra or {})


def single_request(request, index: int):
    """The request that regenerates sample `index` of `request`'s batch alone: sample i depends
    only on (seed, first_index + i), so batch 1 at first_index + i reproduces it bit-exactly."""
    if not 0 <= index < request.batch:
        raise ExportError(f"sample {index} is not in a batch of {request.batch}")
    return request.with_(batch=1, first_index=request.first_index + index)


def _scale_for(shape, size: int | None) -> int:
    """Whole-number nearest-neighbour factor so the longer side reaches about `size` pixels."""
    if not size:
        return 1
    return max(1, size // max(shape[:2]))


def _save_with_recipe(path: Path, img: Image.Image, meta: dict, quality: int = 95) -> None:
    fmt = IMAGE_FORMATS[path.suffix.lower()]
    text = json.dumps(meta, separators=(",", ":"))
    kwargs: dict = {}
    if fmt == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text(RECIPE_KEY, text)
        kwargs = {"pnginfo": info}
    else:  # EXIF ImageDescription: readable by exiftool and by recall.read_recipe
        exif = Image.Exif()
        exif[EXIF_DESCRIPTION] = f"{RECIPE_KEY}:{text}"
        kwargs = {"exif": exif.tobytes(), "quality": quality}
        if fmt == "WEBP":
            kwargs["lossless"] = True  # crisp pixels; these images are tiny anyway
    atomic_write(path, lambda tmp: img.save(tmp, format=fmt, **kwargs))


def export_image(path, sides: dict, index: int | None = None, size: int | None = 512,
                 overwrite: bool = False) -> Path:
    """Write one side's result or both sides', as one sample (`index`) or the batch grid.

    `sides` maps a family ("diffusion" | "ar") to (SampleRequest, RunResult). One side gives a
    plain grayscale image; several give a labelled side-by-side picture whose recipe holds every
    side's request. The request embedded for a single sample is the one that regenerates it alone
    (see `single_request`)."""
    path = check_target(path, IMAGE_FORMATS, overwrite)
    if not sides:
        raise ExportError("nothing to export: no finished result yet")
    if len(sides) == 1:
        ((family, (request, result)),) = sides.items()
        if index is None:
            pixels, meta = grid(result.images), recipe_meta(request, result)
        else:
            pixels = result.images[index] if 0 <= index < len(result.images) else None
            if pixels is None:
                raise ExportError(f"sample {index} is not in a batch of {len(result.images)}")
            meta = recipe_meta(single_request(request, index), result, batch_index=index,
                               extra={"batch": {"first_index": request.first_index, "batch": request.batch}})
        img = Image.fromarray(upscale(pixels, _scale_for(pixels.shape, size)), mode="L")
        _save_with_recipe(path, img, meta)
        return path
    from desktopgen.export import composite  # composite builds on this module

    panels, recipes = [], {}
    for family, (request, result) in sides.items():
        if index is not None and not 0 <= index < len(result.images):
            raise ExportError(f"sample {index} is not in the {family} batch of {len(result.images)}")
        req = request if index is None else single_request(request, index)
        recipes[family] = recipe_meta(req, result, batch_index=index)
        panels.append(composite.Panel(
            family=family, title=composite.FAMILY_TITLES.get(family, family),
            subtitle=f"{request.sampler} {request.steps} steps",
            image=composite.batch_image(result.images, index),
            lines=(f"{result.elapsed * 1000:,.0f} ms on {result.device}",
                   f"peak {result.peak_memory / 2**20:.0f} MiB ({result.mem_kind})")))
    frame = composite.side_by_side([composite.render_panel(p, size or 280) for p in panels])
    meta = {"sides": recipes, "app_version": __version__, "batch_index": index}
    _save_with_recipe(path, Image.fromarray(frame, mode="RGB"), meta)
    return path
