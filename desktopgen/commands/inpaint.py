"""`desktopgen inpaint`: fill a masked hole of one image (--image) or of a batch (--images NPZ) with
either family, headless; writes a PNG grid with the recipe, or an NPZ of images, masks and sources.

Without --class the class is *any*: the null class (guidance 0), so the model reads what the
object is off the kept pixels. Kept pixels (mask 0) come back exactly.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from desktopgen.commands._args import (
    UsageError,
    add_class_arg,
    add_device_arg,
    add_seed_arg,
    check_out,
    number,
)

MAX_IMAGES = 10_000


def register(subparsers) -> None:
    from desktopgen.sampling.masks import PRESETS

    p = subparsers.add_parser("inpaint", help="fill a masked hole of an image with either family")
    p.add_argument("--family", required=True, choices=("diffusion", "ar"))
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", help="an image file (PNG, JPEG, WebP, BMP, GIF, TIFF); fitted to 28x28")
    src.add_argument("--images", help="an .npz with `images` (N, 28, 28) uint8: inpaint each one")
    p.add_argument("--mask", required=True,
                   help=f"a preset ({', '.join(PRESETS)}) or a mask image (light = generate, dark = keep)")
    p.add_argument("--invert", choices=("auto", "yes", "no"), default="auto",
                   help="--image: invert to light-on-dark (auto: when its border is light)")
    add_class_arg(p, "steer the fill to a class (default: any): ")
    add_seed_arg(p)
    p.add_argument("--n", type=number(int, 1, 256, "n"), default=1,
                   help="--image: how many different fills to make")
    p.add_argument("--resample", type=number(int, 1, 20, "resample"), default=1,
                   help="diffusion: RePaint resamplings per step (1 = none; 5-10 harmonise better)")
    p.add_argument("--jump", type=number(int, 1, 50, "jump"), default=1,
                   help="diffusion: RePaint jump length")
    p.add_argument("--model", default="", help="model folder name under models/ or a path")
    p.add_argument("--sampler", default="",
                   help="diffusion: ddpm, ddim, dpmpp-2m; ar: pixel, tokens, maskgit")
    p.add_argument("--steps", type=number(int, 1, 1000, "steps"), default=0)
    p.add_argument("--guidance", type=number(float, 0, 20, "guidance"), default=None,
                   help="with --class: guidance scale (default: the family's)")
    p.add_argument("--batch", type=number(int, 1, 256, "batch"), default=64)
    add_device_arg(p)
    p.add_argument("--out", required=True, help=".png (grid of results, recipe embedded) or .npz")
    p.add_argument("--overwrite", action="store_true")


def load_npz_images(path: str):
    """The `images` array of an .npz as (N, 28, 28) uint8 (see desktopgen.data.arrays)."""
    from desktopgen.data.arrays import load_images

    return load_images(path, "images", MAX_IMAGES)


def run(a: argparse.Namespace) -> int:
    import numpy as np

    from desktopgen.data.arrays import ArrayImportError
    from desktopgen.data.images import ImageImportError, load_image
    from desktopgen.sampling import masks

    out = check_out(a.out, (".png", ".npz"), a.overwrite)
    try:
        if a.mask in masks.PRESETS:
            mask = masks.preset(a.mask, a.seed)
        elif Path(a.mask).suffix == "" and not Path(a.mask).exists():
            raise UsageError(f"--mask {a.mask!r} is neither a preset ({', '.join(masks.PRESETS)}) nor a file")
        else:
            mask = masks.load_mask_png(a.mask)
        note = masks.check(mask)
        if a.image:
            imported = load_image(a.image, invert={"auto": "auto", "yes": True, "no": False}[a.invert])
            print(imported.message, file=sys.stderr)
            sources = np.broadcast_to(imported.array, (a.n, 28, 28))
        else:
            sources = load_npz_images(a.images)
    except (ImageImportError, masks.MaskError) as e:
        raise UsageError(str(e)) from None
    except ArrayImportError as e:
        raise UsageError(f"--images: {e}") from None
    if note:
        print(f"note: {note}", file=sys.stderr)

    from desktopgen import sampling
    from desktopgen.commands import _progress
    from desktopgen.core.device import device_name, pick_device
    from desktopgen.core.requests import MAX_BATCH, SampleRequest
    from desktopgen.export.images import save_grid_png, save_npz
    from desktopgen.sampling.inpaint_model import default_model

    dev = pick_device(a.device)
    model, card = sampling.load(a.family, a.model or default_model(a.family, a.resample), dev,
                                sampler=a.sampler)
    if a.class_label is None:
        guidance = 0.0  # the null class: "any"
    else:
        guidance = -1.0 if a.guidance is None else a.guidance
    base = SampleRequest(family=a.family, model=card["name"], model_sha256=card["sha256"], sampler=a.sampler,
                         steps=a.steps, guidance=guidance, class_label=a.class_label, seed=a.seed,
                         resample=a.resample, jump=a.jump)
    base = sampling.with_defaults(base.with_(source=masks.as_grid(sources[0]), mask=masks.as_grid(mask)))
    single = a.image is not None
    results, t0, n = [], time.perf_counter(), len(sources)
    with _progress.bar(-(-n // a.batch) * base.steps, f"inpainting {n} images") as bar:
        for start in range(0, n, a.batch):
            chunk = sources[start : start + a.batch]
            req = base.with_(batch=len(chunk), first_index=start,
                             source=base.source if single else masks.as_grid(chunk))
            gen = sampling.sample(model, req, dev, preview_every=0)
            results.append(sampling.run_to_end(gen, _progress.on_step(bar)).images)
    images = np.concatenate(results)
    if out.suffix.lower() == ".npz":
        save_npz(out, overwrite=a.overwrite, images=images, masks=np.broadcast_to(mask, images.shape).copy(),
                 sources=np.ascontiguousarray(sources))
    elif single:
        save_grid_png(out, images, base.with_(batch=n), overwrite=a.overwrite)
    else:  # one recipe per image would be huge: record the inputs instead (batch stays a valid size)
        save_grid_png(out, images, base.with_(batch=min(n, MAX_BATCH), source=None, mask=None),
                      extra={"inpaint": {"images": str(a.images), "mask": a.mask}, "n": n},
                      overwrite=a.overwrite)
    print(f"wrote {out}: {n} inpainted images in {time.perf_counter() - t0:.1f}s on {device_name(dev)}")
    return 0
