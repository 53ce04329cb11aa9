"""Inpainting quality table: both families fill the same holes in Fashion-MNIST test images.

For each mask and family: mean squared error inside the mask (pixels in [0, 1]), agreement of the
project's classifier with the true label, and time per image; beside two references, the unmasked
original and the hole left black (no inpainting). The class is *any* (null class, guidance 0) so
the model has to read the class off the kept pixels, and the kept pixels are checked to be exact.

    python benchmarks/eval_inpaint.py --n 1000 --device cpu --json /tmp/eval_inpaint.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from desktopgen import metrics, sampling  # noqa: E402
from desktopgen.core import checkpoints  # noqa: E402
from desktopgen.core.device import device_name, pick_device  # noqa: E402
from desktopgen.core.requests import SampleRequest  # noqa: E402
from desktopgen.data import fmnist  # noqa: E402
from desktopgen.sampling import masks  # noqa: E402

# --families entries that are a sampler of the AR family: (family, sampler)
AR_SAMPLERS = {"maskgit": ("ar", "maskgit"), "tokens": ("ar", "tokens")}


def inpaint(model, family, images, mask, batch, device, seed=0, resample=1, jump=1, sampler=""):
    """Inpaint every image with the same mask, `batch` at a time; returns (images, seconds)."""
    out, t0 = [], time.perf_counter()
    for start in range(0, len(images), batch):
        chunk = images[start : start + batch]
        req = SampleRequest(family=family, sampler=sampler, guidance=0.0, seed=seed, batch=len(chunk),
                            first_index=start, resample=resample, jump=jump,
                            source=masks.as_grid(chunk), mask=masks.as_grid(mask))
        out.append(sampling.run_to_end(sampling.sample(model, req, device, preview_every=0)).images)
        done = start + len(chunk)
        print(f"  {family} {done}/{len(images)} {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    return np.concatenate(out), time.perf_counter() - t0


def row_stats(clf, result, originals, labels, mask, device):
    m = mask.astype(bool)
    diff = (result.astype(np.float64) - originals.astype(np.float64)) / 255
    mse = float((diff[:, m] ** 2).mean())
    preds, _ = metrics.classify(clf, result, device)
    return mse, float((preds == labels).mean())


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=1000, help="first n Fashion-MNIST test images")
    p.add_argument("--batch", type=int, default=250)
    p.add_argument("--masks", default="bottom-half,top-half,center-square")
    p.add_argument("--families", default="diffusion,ar",
                   help="diffusion, ar (raster pixels), maskgit (the AR family's MaskGIT sampler), "
                        "tokens (raster tokens)")
    p.add_argument("--resample", type=int, default=1, help="diffusion RePaint resamplings (1 = none)")
    p.add_argument("--jump", type=int, default=1)
    p.add_argument("--device", default="cpu")
    p.add_argument("--data", default=None)
    p.add_argument("--json", default=None)
    p.add_argument("--diffusion-model", default="", help="e.g. fmnist-inpaint (default: fmnist-diffusion)")
    a = p.parse_args(argv)

    dev = pick_device(a.device)
    test_x, test_y = fmnist.load("test", a.data)
    x, y = test_x[: a.n], test_y[: a.n]
    clf = checkpoints.load_model("fmnist-classifier", dev)[0]
    models = {f: sampling.load(AR_SAMPLERS.get(f, (f,))[0], a.diffusion_model if f == "diffusion" else "",
                               dev, sampler=AR_SAMPLERS.get(f, ("", ""))[1])[0]
              for f in a.families.split(",")}
    orig_acc = float((metrics.classify(clf, x, dev)[0] == y).mean())
    rows = []
    print(f"# {a.n} test images, device {device_name(dev)}, torch {torch.__version__}, class any "
          f"(guidance 0), diffusion dpmpp-2m 20 steps resample {a.resample} jump {a.jump}", flush=True)
    print("| mask | method | MSE in mask | label agreement | s/image |")
    print("|---|---|---|---|---|")
    print(f"| (none) | unmasked original | 0 | {orig_acc:.3f} | |", flush=True)
    for name in a.masks.split(","):
        mask = masks.preset(name)
        black = x * (1 - mask)
        mse, acc = row_stats(clf, black, x, y, mask, dev)
        rows.append({"mask": name, "method": "hole left black", "mse": mse, "agreement": acc})
        print(f"| {name} | hole left black | {mse:.4f} | {acc:.3f} | |", flush=True)
        for fam, model in models.items():
            family, sampler = AR_SAMPLERS.get(fam, (fam, ""))
            out, secs = inpaint(model, family, x, mask, a.batch, dev, resample=a.resample, jump=a.jump,
                                sampler=sampler)
            kept_exact = bool((out[:, mask == 0] == x[:, mask == 0]).all())
            mse, acc = row_stats(clf, out, x, y, mask, dev)
            label = {"diffusion": "diffusion (dpmpp-2m 20)", "ar": "AR (raster pixels)",
                     "maskgit": "AR (MaskGIT tokens, 10 steps)",
                     "tokens": f"AR (raster tokens, {getattr(model.config, 'seq_len', 0)})"}[fam]
            rows.append({"mask": name, "method": fam, "mse": mse, "agreement": acc,
                         "seconds_per_image": secs / len(x), "kept_exact": kept_exact})
            print(f"| {name} | {label} | {mse:.4f} | {acc:.3f} | {secs / len(x):.3f} |"
                  + ("" if kept_exact else " KEPT PIXELS CHANGED"), flush=True)
    if a.json:
        summary = {"n": a.n, "device": device_name(dev), "original_agreement": orig_acc,
                   "resample": a.resample, "jump": a.jump, "rows": rows}
        Path(a.json).write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
