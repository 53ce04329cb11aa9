"""Command line: `desktopgen [sample|eval|train|bench|inpaint|race]`; no subcommand opens the GUI.

Heavy imports (torch) happen inside the subcommands, so `--help` and the GUI start fast.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from desktopgen import CLASS_NAMES, __version__


class UsageError(Exception):
    """Bad arguments: one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        raise UsageError(message)


def _positive(kind=int, lo=1, hi=None, name="value"):
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, not {text!r}") from None
        if v < lo or (hi is not None and v > hi):
            rng = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            raise argparse.ArgumentTypeError(f"{name} must be {rng}, not {text}")
        return v
    return parse


def _add_sampling_args(p: argparse.ArgumentParser, family_required=True) -> None:
    if family_required:
        p.add_argument("--family", required=True, choices=("diffusion", "ar"))
    p.add_argument("--model", default="", help="model folder name under models/ or a path")
    from desktopgen.core.samplers import DIFFUSION_STEPS, GUIDANCE, SAMPLERS, samplers_for
    p.add_argument("--sampler", default="", choices=("", *SAMPLERS), metavar="SAMPLER",
                   help="; ".join(f"{f}: " + ", ".join(s.name for s in samplers_for(f))
                                  + " (default first)" for f in ("diffusion", "ar")))
    p.add_argument("--steps", type=_positive(int, int(DIFFUSION_STEPS.lo), int(DIFFUSION_STEPS.hi),
                                             "steps"), default=0, help="default: the sampler's")
    p.add_argument("--guidance", type=_positive(float, GUIDANCE.lo, GUIDANCE.hi, "guidance"),
                   default=-1.0, help="classifier-free guidance scale (1 = none; default: the sampler's)")
    p.add_argument("--temperature", type=_positive(float, 0.05, 5, "temperature"), default=1.0)
    p.add_argument("--top-k", type=_positive(int, 0, 256, "top-k"), default=0)
    p.add_argument("--class", dest="class_label", type=_positive(int, 0, 9, "class"), default=None,
                   help="0..9: " + ", ".join(f"{i} {n}" for i, n in enumerate(CLASS_NAMES)))
    p.add_argument("--seed", type=_positive(int, 0, 2**63 - 1, "seed"), default=0)
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="desktopgen", description="Diffusion vs autoregression, side by side.")
    p.add_argument("--version", action="version", version=f"desktopgen {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    s = sub.add_parser("sample", help="generate images headless")
    _add_sampling_args(s)
    s.add_argument("--n", type=_positive(int, 1, 10000, "n"), required=True)
    s.add_argument("--batch", type=_positive(int, 1, 256, "batch"), default=64,
                   help="images generated at once (results do not depend on it)")
    s.add_argument("--out", required=True, help=".png (a grid) or .npz (images, labels)")
    s.add_argument("--overwrite", action="store_true")
    s.add_argument("--clip", default=None,
                   help="also write the first batch's generation process: .mp4, .gif or .webp")
    from desktopgen.commands._clipargs import add_clip_args
    add_clip_args(s, align=False)

    e = sub.add_parser("eval", help="print the quality table of a model")
    e.add_argument("--family", required=True, choices=("diffusion", "ar", "classifier"))
    _add_sampling_args(e, family_required=False)
    e.add_argument("--n", type=_positive(int, 10, 10000, "n"), default=1000)
    e.add_argument("--batch", type=_positive(int, 1, 2000, "batch"), default=500)
    e.add_argument("--data", default=None, help="Fashion-MNIST folder")
    e.add_argument("--sweep", action="store_true", help="every sampler x steps x guidance")
    e.add_argument("--classifier", default="fmnist-classifier")
    e.add_argument("--update-card", action="store_true", help="write the table into the card")
    e.add_argument("--json", default=None, help="also write the results as JSON here")

    t = sub.add_parser("train", help="train a model (use torchrun for several GPUs)")
    t.add_argument("model", choices=("diffusion", "ar", "classifier", "flow", "shortcut", "inpaint"))
    t.add_argument("--data", default=None, help="Fashion-MNIST folder")
    t.add_argument("--out", required=True, help="model folder to write, e.g. models/fmnist-diffusion")
    t.add_argument("--steps", type=_positive(int, 1, 10**7, "steps"), default=10_000)
    t.add_argument("--minutes", type=_positive(float, 0, 10**5, "minutes"), default=0.0)
    t.add_argument("--batch", type=_positive(int, 0, 65536, "batch"), default=0)
    t.add_argument("--lr", type=_positive(float, 0, 1, "lr"), default=0.0)
    t.add_argument("--checkpoint-every", type=_positive(int, 1, 10**7, "checkpoint-every"), default=1000)
    t.add_argument("--seed", type=_positive(int, 0, 2**31, "seed"), default=0)
    t.add_argument("--device", default="auto")
    t.add_argument("--resume", action="store_true")
    t.add_argument("--arch", default=None, help='network overrides as JSON, e.g. \'{"n_layer": 4}\'')
    t.add_argument("--limit", type=_positive(int, 0, 60000, "limit"), default=0)
    _register_commands(sub)
    return p


def _register_commands(sub) -> None:
    """Add the subcommands of desktopgen/commands/*.py (see that package): each module's
    `register(subparsers)` adds its parser(s); its `run(args)` runs whatever it added."""
    from desktopgen import commands

    for mod in commands.discover():
        before = set(sub.choices)
        mod.register(sub)
        for name in set(sub.choices) - before:
            sub.choices[name].set_defaults(_run=mod.run)


def check_out(path: str, suffixes, overwrite: bool, option: str = "--out") -> Path:
    """The export layer's target check, as a one-line usage error (with the --overwrite hint)."""
    from desktopgen.export.images import ExportError, check_target

    try:
        return check_target(path, suffixes, overwrite)
    except ExportError as e:
        hint = "" if overwrite or not Path(path).is_file() else " (pass --overwrite to replace it)"
        raise UsageError(f"{option}: {e}{hint}") from None


def cmd_sample(a) -> int:
    out = check_out(a.out, (".png", ".npz"), a.overwrite)
    clip = opts = None
    if a.clip:  # refuse a bad clip path before sampling, not after
        from desktopgen.commands._clipargs import check_clip_path, clip_options
        clip, opts = check_clip_path(a.clip, a.overwrite), clip_options(a)
        if clip.resolve() == out.resolve():
            raise UsageError("--clip and --out name the same file")
    from desktopgen.core.requests import SampleRequest
    from desktopgen.engine import sample_images

    req = SampleRequest(family=a.family, model=a.model, sampler=a.sampler, steps=a.steps,
                        guidance=a.guidance, temperature=a.temperature, top_k=a.top_k,
                        class_label=a.class_label, seed=a.seed, batch=1)
    if clip is None:
        images, labels, info = sample_images(req, a.n, a.batch, a.device, progress=True)
    else:
        from desktopgen.commands._clipargs import progress_printer, sample_with_trace
        from desktopgen.export.clips import ClipSide, write_clip_now
        images, labels, info, trace = sample_with_trace(req, a.n, a.batch, a.device)
        write_clip_now(clip, [ClipSide.of(trace, info["first_request"])], opts, a.overwrite,
                       progress=progress_printer(f"writing {clip.name}"))
        print(f"wrote {clip}")
    from desktopgen.export.images import save_grid_png, save_npz
    if out.suffix.lower() == ".npz":
        save_npz(out, images=images, labels=labels)
    else:
        save_grid_png(out, images, info["request"])
    print(f"wrote {out}: {len(images)} images in {info['elapsed']:.1f}s on {info['device']}, "
          f"peak memory {info['peak_memory'] / 2**20:.0f} MiB ({info['mem_kind']})")
    return 0


def cmd_eval(a) -> int:
    from desktopgen.engine import evaluate
    evaluate(a)
    return 0


def cmd_train(a) -> int:
    import json

    from desktopgen.train.loop import TrainConfig, train
    try:
        arch = json.loads(a.arch) if a.arch else None
    except json.JSONDecodeError as e:
        raise UsageError(f"--arch is not JSON: {e}") from None
    train(TrainConfig(model=a.model, out=a.out, data=a.data, steps=a.steps, minutes=a.minutes,
                      batch=a.batch, lr=a.lr, checkpoint_every=a.checkpoint_every, seed=a.seed,
                      device=a.device, resume=a.resume, arch=arch, limit=a.limit))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        a = build_parser().parse_args(argv)
        if a.command is None:
            from desktopgen.gui.app import main as gui_main
            return gui_main()
        builtin = {"sample": cmd_sample, "eval": cmd_eval, "train": cmd_train}.get(a.command)
        return builtin(a) if builtin is not None else a._run(a)
    except UsageError as e:
        print(f"desktopgen: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("desktopgen: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # a clear line for the user's mistakes the engine detects
        from desktopgen.engine import USER_ERRORS
        if isinstance(e, USER_ERRORS):
            print(f"desktopgen: error: {e}", file=sys.stderr)
            from desktopgen.core.checkpoints import ModelNotFoundError
            return 2 if isinstance(e, (ValueError, ModelNotFoundError)) else 1
        raise
