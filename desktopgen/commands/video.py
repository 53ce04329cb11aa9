"""`desktopgen video`: generate clips of moving garments headless, either family.

.npz: `videos` (N, T, 48, 48) uint8 and `labels` (N,); .mp4 / .gif / .webp: a grid of the clips,
played frame by frame, with the recipe embedded (the request as for images, plus the frame count).
Clip i depends only on (seed, i).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from desktopgen.commands._args import UsageError, add_sampling_args, check_out, number
from desktopgen.core.jsonable import jsonable

VIDEO_SUFFIXES = (".npz", ".mp4", ".gif", ".webp")
MAX_FRAMES = 256
MAX_GRID = 256  # clips in a played grid
MAX_TOTAL_FRAMES = 1 << 18  # n * frames held in memory (~600 MB)


def register(subparsers) -> None:
    p = subparsers.add_parser("video", help="generate clips of moving garments headless")
    add_sampling_args(p)
    p.add_argument("--frames", type=number(int, 1, MAX_FRAMES, "frames"), default=16,
                   help="frames per clip (diffusion: blocks of 16, each next one continuing the last 4)")
    p.add_argument("--n", type=number(int, 1, 10000, "n"), required=True)
    p.add_argument("--batch", type=number(int, 1, 256, "batch"), default=16,
                   help="clips generated at once (results do not depend on it)")
    p.add_argument("--out", required=True, help=".npz (videos, labels) or .mp4 / .gif / .webp (a grid)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--fps", type=number(int, 1, 60, "fps"), default=8)
    p.add_argument("--size", type=number(int, 48, 4096, "size"), default=512,
                   help="pixels of the grid's longer side in a played clip")


def run(a: argparse.Namespace) -> int:
    out = check_out(a.out, VIDEO_SUFFIXES, a.overwrite)
    if a.n * a.frames > MAX_TOTAL_FRAMES:
        raise UsageError(f"--n {a.n} x --frames {a.frames} is too many frames at once "
                         f"(at most {MAX_TOTAL_FRAMES:,}): split the run")
    if out.suffix.lower() != ".npz" and a.n > MAX_GRID:
        raise UsageError(f"a played grid holds at most {MAX_GRID} clips; use .npz for {a.n}")

    from desktopgen.commands import _progress
    from desktopgen.core.device import device_name, pick_device
    from desktopgen.core.requests import MAX_BATCH, SampleRequest
    from desktopgen.export.images import save_npz
    from desktopgen.sampling import video

    req = SampleRequest(family=a.family, model=a.model, sampler=a.sampler, steps=a.steps,
                        guidance=a.guidance, temperature=a.temperature, top_k=a.top_k,
                        class_label=a.class_label, seed=a.seed, batch=min(a.n, MAX_BATCH)).validate()
    video.module(a.family)  # a missing sampler: one line before any model is loaded
    dev = pick_device(a.device)
    model, card = video.load(a.family, a.model, dev)
    chunks = -(-a.n // a.batch)
    with _progress.bar(0, f"generating {a.n} clips of {a.frames} frames") as bar:
        def step(event):
            if bar.total != event.total * chunks:  # the sampler knows its step count
                bar.total = event.total * chunks
                bar.refresh()
            bar.update(1)
        videos, labels, info = video.sample_videos(a.family, model, card, req, a.n, a.frames, a.batch,
                                                   dev, on_event=step)
    if out.suffix.lower() == ".npz":
        save_npz(out, overwrite=a.overwrite, videos=videos, labels=labels)
    else:  # the recipe regenerates the whole grid: batch n from index 0
        whole = info["request"].with_(batch=min(a.n, MAX_BATCH), first_index=0)
        extra = {"video": {"frames": a.frames, "n": a.n, **_plain(info["extra"])}}
        write_grid_clip(out, videos, whole, extra, a.fps, a.size, a.overwrite)
    print(f"wrote {out}: {a.n} clips of {a.frames} frames in {info['elapsed']:.1f}s on {device_name(dev)}, "
          f"peak memory {info['peak_memory'] / 2**20:.0f} MiB ({info['mem_kind']})")
    return 0


def _plain(d: dict) -> dict:
    """JSON-safe copy of a RunResult.extra for the embedded recipe: its settings, not its arrays
    (video AR's `codes` are every generated code; they belong in no recipe)."""
    return jsonable({k: v for k, v in d.items() if not (isinstance(v, np.ndarray) and v.ndim)})


def grid_frames(videos: np.ndarray, size: int) -> list[np.ndarray]:
    """One RGB frame (H, W, 3) per time step: the clips in a grid, upscaled crisply, padded to
    16 px for video encoders."""
    from desktopgen.export import composite
    from desktopgen.export.pixels import grid, scale_for, upscale

    frames = []
    for t in range(videos.shape[1]):
        g = grid(videos[:, t])
        g = upscale(g, scale_for(g.shape, size))
        frames.append(composite.pad_to_multiple(np.repeat(g[..., None], 3, axis=2)))
    return frames


def write_grid_clip(path: Path, videos: np.ndarray, request, extra: dict, fps: int, size: int,
                    overwrite: bool = False) -> Path:
    """Write the grid of clips as .mp4 / .gif / .webp, atomically, the recipe embedded as
    "desktopgen:<JSON>" (MP4: the comment tag; GIF: its comment; WebP: EXIF ImageDescription)."""
    from PIL import Image

    from desktopgen.export.clips import frame_durations
    from desktopgen.export.images import EXIF_DESCRIPTION, RECIPE_KEY, atomic_write, recipe_meta

    text = RECIPE_KEY + ":" + json.dumps(recipe_meta(request, extra=extra), separators=(",", ":"),
                                         allow_nan=False)
    frames = grid_frames(videos, size)
    suffix = path.suffix.lower()

    def write(tmp):
        if suffix == ".mp4":
            import imageio.v2 as iio

            writer = iio.get_writer(str(tmp), format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                    quality=8, pixelformat="yuv420p", macro_block_size=1,
                                    output_params=["-movflags", "+faststart", "-metadata", f"comment={text}"],
                                    ffmpeg_log_level="error")
            try:
                for f in frames:
                    writer.append_data(f)
            finally:
                writer.close()
            return
        pil = [Image.fromarray(f[..., 0], mode="L") for f in frames]  # grey: no palette loss
        if suffix == ".gif":
            pil[0].save(tmp, format="GIF", save_all=True, append_images=pil[1:], loop=0,
                        duration=frame_durations(len(pil), fps, 10), comment=text.encode())
        else:
            exif = Image.Exif()
            exif[EXIF_DESCRIPTION] = text
            pil[0].save(tmp, format="WEBP", save_all=True, append_images=pil[1:], loop=0, lossless=True,
                        duration=frame_durations(len(pil), fps), exif=exif.tobytes())

    return atomic_write(path, write, overwrite)
