"""`desktopgen race`: run both families on the same class and seed, and write the side-by-side
clip of the two processes (and, with --out, the two results as one PNG with both recipes).

The sides run one after the other, each timed from its own start, so on a shared CPU neither
slows the other; the clip then replays both timelines against one clock (--align time) or one
progress fraction (--align progress)."""

from __future__ import annotations

import argparse
import sys

from desktopgen.commands._args import (
    UsageError,
    add_class_arg,
    add_device_arg,
    add_seed_arg,
    check_distinct,
    check_out,
    number,
)
from desktopgen.commands._clipargs import add_clip_args, check_clip_path, clip_options


def register(subparsers) -> None:
    p = subparsers.add_parser("race", help="both families on one class/seed, as a side-by-side clip")
    add_class_arg(p)
    add_seed_arg(p)
    p.add_argument("--batch", type=number(int, 1, 64, "batch"), default=1)
    add_device_arg(p)
    p.add_argument("--diffusion-model", default="")
    p.add_argument("--diffusion-sampler", default="",
                   help="dpmpp-2m, ddim, ddpm, flow-euler, flow-heun, few-step; without "
                        "--diffusion-model, the model the sampler needs (few-step: fmnist-flow)")
    p.add_argument("--diffusion-steps", type=number(int, 1, 1000, "diffusion-steps"), default=0)
    p.add_argument("--diffusion-guidance", type=number(float, 0, 20, "guidance"), default=-1.0)
    p.add_argument("--ar-model", default="")
    p.add_argument("--ar-guidance", type=number(float, 0, 20, "guidance"), default=-1.0)
    p.add_argument("--temperature", type=number(float, 0.05, 5, "temperature"), default=1.0)
    p.add_argument("--top-k", type=number(int, 0, 256, "top-k"), default=0)
    p.add_argument("--clip", required=True, help="race clip: .mp4, .gif or .webp")
    p.add_argument("--out", default=None, help="also write both results side by side as .png")
    add_clip_args(p)
    p.add_argument("--overwrite", action="store_true")


def run(a: argparse.Namespace) -> int:
    from desktopgen.export.images import IMAGE_FORMATS

    clip = check_clip_path(a.clip, a.overwrite)
    out = None
    if a.out:
        out = check_out(a.out, IMAGE_FORMATS, a.overwrite)
        check_distinct(clip=clip, out=out)
    opts = clip_options(a)
    if opts.index is not None and opts.index >= a.batch:
        raise UsageError(f"--clip-sample {opts.index} is not in a batch of {a.batch}")

    from desktopgen import sampling
    from desktopgen.commands import _progress
    from desktopgen.core.device import pick_device
    from desktopgen.core.requests import SampleRequest
    from desktopgen.export.clips import ClipSide, write_clip_now
    from desktopgen.export.images import export_image
    from desktopgen.export.record import record

    dev = pick_device(a.device)
    common = dict(class_label=a.class_label, seed=a.seed, batch=a.batch)
    wanted = {
        "diffusion": SampleRequest("diffusion", model=a.diffusion_model, sampler=a.diffusion_sampler,
                                   steps=a.diffusion_steps, guidance=a.diffusion_guidance, **common),
        "ar": SampleRequest("ar", model=a.ar_model, guidance=a.ar_guidance, temperature=a.temperature,
                            top_k=a.top_k, **common),
    }
    runs = {}
    for family, req in wanted.items():
        if req.sampler and not req.model:  # the model the sampler needs (the table's default_model)
            model, card = sampling.load(family, "", dev, sampler=req.sampler)
        else:
            model, card = sampling.load(family, req.model, dev)
        req = req.with_(model=card["name"], model_sha256=card["sha256"])
        with _progress.bar(sampling.with_defaults(req).steps, family) as bar:
            req, result, trace = record(model, req, dev, on_event=_progress.on_step(bar))
        runs[family] = (req, result, trace)
        print(f"{family}: {req.sampler} {req.steps} steps in {result.elapsed:.2f}s on {result.device}, "
              f"peak {result.peak_memory / 2**20:.0f} MiB ({result.mem_kind})", file=sys.stderr)
        del model
    sides = [ClipSide.of(trace, req) for req, _, trace in runs.values()]
    write_clip_now(clip, sides, opts, a.overwrite, progress=_progress.on_frames(f"writing {clip.name}"))
    print(f"wrote {clip} (aligned by {opts.align})")
    if out is not None:
        export_image(out, {f: (req, res) for f, (req, res, _) in runs.items()}, size=opts.size,
                     overwrite=a.overwrite)
        print(f"wrote {out}")
    return 0
