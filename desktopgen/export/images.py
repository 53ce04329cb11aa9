"""Image grids and arrays, written atomically (desktopgen.core.atomic), with the recipe as JSON.

`export_image` is the user-facing image export (one side or both, one sample or the batch grid,
PNG / WebP / JPEG, nearest-neighbour upscaled); `save_grid_png` / `save_npz` serve the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from desktopgen import __version__
from desktopgen.core import atomic
from desktopgen.export import composite
from desktopgen.export.pixels import grid, scale_for, upscale

__all__ = ["ExportError", "check_target", "grid", "upscale", "export_image", "save_grid_png", "save_npz",
           "recipe_meta", "single_request", "atomic_write"]

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


def atomic_write(path, write, overwrite: bool = False, cancelled=None) -> Path:
    """Call write(tmp_path), then publish it as `path` (see desktopgen.core.atomic): nothing
    half-written is ever left, and without `overwrite` no existing file is ever replaced."""
    try:
        return atomic.atomic_write(path, write, overwrite, cancelled)
    except atomic.TargetExistsError as e:
        raise ExportError(str(e)) from None


def save_grid_png(path, images: np.ndarray, request=None, size: int | None = 512, extra: dict | None = None,
                  overwrite: bool = False) -> Path:
    """The CLI's grid PNG, nearest-neighbour upscaled like the GUI's export (longer side ~`size`)."""
    pixels = grid(images)
    img = Image.fromarray(upscale(pixels, scale_for(pixels.shape, size)), mode="L")
    if request is None:
        return atomic_write(Path(path), lambda tmp: img.save(tmp, format="PNG"), overwrite)
    return _save_with_recipe(Path(path), img, recipe_meta(request, extra=extra), overwrite=overwrite)


def save_npz(path, overwrite: bool = False, **arrays) -> Path:
    def write(tmp):
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
    return atomic_write(Path(path), write, overwrite)


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


def _save_with_recipe(path: Path, img: Image.Image, meta: dict, quality: int = 95,
                      overwrite: bool = False) -> Path:
    fmt = IMAGE_FORMATS[path.suffix.lower()]
    text = json.dumps(meta, separators=(",", ":"), allow_nan=False)
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
    return atomic_write(path, lambda tmp: img.save(tmp, format=fmt, **kwargs), overwrite)


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
        img = Image.fromarray(upscale(pixels, scale_for(pixels.shape, size)), mode="L")
        return _save_with_recipe(path, img, meta, overwrite=overwrite)
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
    return _save_with_recipe(path, Image.fromarray(frame, mode="RGB"), meta, overwrite=overwrite)
