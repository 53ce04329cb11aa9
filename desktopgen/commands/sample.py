"""`desktopgen sample`: generate images headless, as a PNG grid (recipe embedded) or an NPZ, and
optionally the first batch's generation process as a clip."""

from __future__ import annotations

import argparse

from desktopgen.commands._args import UsageError, add_sampling_args, check_distinct, check_out, number
from desktopgen.commands._clipargs import add_clip_args, check_clip_path, clip_options


def register(subparsers) -> None:
    p = subparsers.add_parser("sample", help="generate images headless")
    add_sampling_args(p)
    p.add_argument("--n", type=number(int, 1, 10000, "n"), required=True)
    p.add_argument("--batch", type=number(int, 1, 256, "batch"), default=64,
                   help="images generated at once (results do not depend on it)")
    p.add_argument("--out", required=True, help=".png (a grid) or .npz (images, labels)")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--clip", default=None,
                   help="also write the first batch's generation process: .mp4, .gif or .webp")
    add_clip_args(p, align=False)


def run(a: argparse.Namespace) -> int:
    out = check_out(a.out, (".png", ".npz"), a.overwrite)
    clip = opts = None
    if a.clip:  # refuse a bad clip path before sampling, not after
        clip, opts = check_clip_path(a.clip, a.overwrite), clip_options(a)
        check_distinct(out=out, clip=clip)
        if opts.index is not None and opts.index >= min(a.batch, a.n):
            raise UsageError(f"--clip-sample {opts.index} is not in a batch of {min(a.batch, a.n)}")

    from desktopgen import sampling
    from desktopgen.commands import _progress
    from desktopgen.core.requests import MAX_BATCH, SampleRequest
    from desktopgen.core.trace import RunTrace
    from desktopgen.engine import sample_images
    from desktopgen.export.images import save_grid_png, save_npz

    req = SampleRequest(family=a.family, model=a.model, sampler=a.sampler, steps=a.steps,
                        guidance=a.guidance, temperature=a.temperature, top_k=a.top_k,
                        class_label=a.class_label, seed=a.seed, batch=min(a.n, MAX_BATCH)).validate()
    trace = RunTrace(a.family) if clip is not None else None
    total = -(-a.n // a.batch) * sampling.with_defaults(req).steps  # steps of all batches: an ETA
    with _progress.bar(total, f"sampling {a.n} images") as bar:
        images, labels, info = sample_images(req, a.n, a.batch, a.device, trace=trace,
                                             on_event=_progress.on_step(bar))
    if clip is not None:
        from desktopgen.export.clips import ClipSide, write_clip_now

        write_clip_now(clip, [ClipSide.of(trace, info["first_request"])], opts, a.overwrite,
                       progress=_progress.on_frames(f"writing {clip.name}"))
        print(f"wrote {clip}")
    if out.suffix.lower() == ".npz":
        save_npz(out, overwrite=a.overwrite, images=images, labels=labels)
    else:  # the recipe regenerates the whole grid: batch n from index 0 (up to MAX_BATCH at once)
        whole = info["request"].with_(batch=min(a.n, MAX_BATCH), first_index=0)
        extra = {"n": a.n} if a.n > MAX_BATCH else None
        save_grid_png(out, images, whole, extra=extra, overwrite=a.overwrite)
    print(f"wrote {out}: {len(images)} images in {info['elapsed']:.1f}s on {info['device']}, "
          f"peak memory {info['peak_memory'] / 2**20:.0f} MiB ({info['mem_kind']})")
    return 0
