"""Sizes and write times of exports: a 64-image grid PNG and 10-second race clips (MP4, GIF, WebP).

    python benchmarks/bench_export.py            # traces replayed from real Fashion-MNIST images
    python benchmarks/bench_export.py --real     # traces of real runs of both shipped models (slow on CPU)

The default builds the two traces from test-set images (diffusion: 20 steps from noise to the
image in 0.4 s; AR: 784 pixels in 4 s) so the figures measure export alone, not a loaded CPU."""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from PIL import Image

from desktopgen.core.events import RunResult, StepEvent
from desktopgen.core.requests import SampleRequest
from desktopgen.core.trace import RunTrace
from desktopgen.export.clips import ClipOptions, ClipSide, frame_count, write_clip_now
from desktopgen.export.images import export_image, save_grid_png


def cpu_seconds() -> float:
    """User + system CPU of this process and its waited-for children (ffmpeg): on a shared
    machine wall time says as much about the neighbours as about the export."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def replayed_traces(image: np.ndarray) -> list[ClipSide]:
    rng = np.random.default_rng(0)
    noise = rng.normal(128, 80, image.shape)
    diff, ar = RunTrace("diffusion"), RunTrace("ar", keep_every=4)
    for s in range(1, 21):
        a = s / 20
        x = np.clip((1 - a) * noise + a * image, 0, 255).astype(np.uint8)[None]
        diff.add(StepEvent("diffusion", s, 20, 0.02 * s, x, image[None], None, 300 << 20, 310 << 20))
    for s in range(1, 785):
        x = image.copy().reshape(-1)
        x[s:] = 0
        ar.add(StepEvent("ar", s, 784, 4.0 * s / 784, x.reshape(1, 28, 28), None, s - 1,
                         280 << 20, 290 << 20))
    d = SampleRequest("diffusion", sampler="dpmpp-2m", steps=20)
    a = SampleRequest("ar", sampler="pixel", steps=784)
    return [ClipSide.of(diff, d), ClipSide.of(ar, a)]


def real_traces(class_label: int) -> list[ClipSide]:
    from desktopgen import sampling
    from desktopgen.export.record import record

    sides = []
    for fam in ("diffusion", "ar"):
        model, card = sampling.load(fam, "", "cpu")
        req, res, tr = record(model, SampleRequest(fam, model=card["name"], class_label=class_label, seed=0))
        print(f"{fam}: {req.steps} steps in {res.elapsed:.2f}s")
        sides.append(ClipSide.of(tr, req))
    return sides


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--real", action="store_true", help="record real runs of the shipped models")
    p.add_argument("--out", default=None, help="keep the files in this folder")
    a = p.parse_args()
    from desktopgen.data import fmnist

    images, labels = fmnist.load("test")
    grid64 = images[:64]
    req = SampleRequest("diffusion", model="fmnist-diffusion", model_sha256="0" * 64, sampler="dpmpp-2m",
                        steps=20, guidance=2.0, batch=64, seed=0)
    res = RunResult("diffusion", grid64, labels[:64], 20, 1.0, 1, "process", "cpu")
    sides = real_traces(int(labels[0])) if a.real else replayed_traces(images[0].astype(np.float64))

    folder = Path(a.out) if a.out else Path(tempfile.mkdtemp(prefix="bench-export-"))
    folder.mkdir(parents=True, exist_ok=True)
    rows = []

    def timed(name, path, fn, frames="1"):
        path.unlink(missing_ok=True)
        t, c = time.perf_counter(), cpu_seconds()
        fn()
        secs, cpu = time.perf_counter() - t, cpu_seconds() - c
        if path.suffix == ".mp4":
            h, w = iio.imread(path, index=0).shape[:2]
        else:
            with Image.open(path) as im:
                w, h = im.size
        dims = f"{w}x{h}"
        rows.append((name, frames, dims, path.stat().st_size / 1024, secs, cpu))

    g = folder / "grid64-cli.png"
    timed("64-image grid PNG (CLI, 2x)", g, lambda: save_grid_png(g, grid64, req))
    for size in (512, 1024):
        g = folder / f"grid64-{size}.png"
        timed(f"64-image grid PNG (export, {size} px)", g,
              lambda g=g, size=size: export_image(g, {"diffusion": (req, res)}, size=size))
    for suffix in (".mp4", ".gif", ".webp"):
        opts = ClipOptions(align="time", fps=15, seconds=10, hold=0, size=256)
        c = folder / f"race-10s{suffix}"
        timed(f"10 s composite {suffix[1:].upper()} (15 fps, 256 px/side)", c,
              lambda c=c, opts=opts: write_clip_now(c, sides, opts), frames=str(frame_count(sides, opts)))
    print(f"\nfiles in {folder}")
    print(f"{'export':44s} {'frames':>6s} {'pixels':>9s} {'KiB':>8s} {'wall s':>7s} {'CPU s':>6s}")
    for name, frames, dims, kib, secs, cpu in rows:
        print(f"{name:44s} {frames:>6s} {dims:>9s} {kib:8.1f} {secs:7.2f} {cpu:6.2f}")


if __name__ == "__main__":
    main()
