"""Argument helpers every subcommand shares: one-line usage errors, finite number ranges, the
sampling options, and the output-path check. Subcommands import from here, never from cli.py."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from desktopgen import CLASS_NAMES
from desktopgen.core.requests import MAX_SEED
from desktopgen.core.samplers import DIFFUSION_STEPS, GUIDANCE, SAMPLERS, samplers_for

CLASS_CHOICES = ", ".join(f"{i} {n}" for i, n in enumerate(CLASS_NAMES))


class UsageError(Exception):
    """Bad arguments: one line on stderr, exit status 2."""


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage block
        raise UsageError(message)


def number(kind=int, lo=1, hi=None, name="value"):
    """An argparse type: a `kind` number in [lo, hi]; NaN and infinities are refused (NaN slips
    through every range check, since each comparison with it is false)."""
    def parse(text):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be a number, not {text!r}") from None
        if isinstance(v, float) and not math.isfinite(v):
            raise argparse.ArgumentTypeError(f"{name} must be a finite number, not {text!r}")
        if v < lo or (hi is not None and v > hi):
            rng = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
            raise argparse.ArgumentTypeError(f"{name} must be {rng}, not {text}")
        return v
    return parse


def add_seed_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seed", type=number(int, 0, MAX_SEED, "seed"), default=0,
                   help=f"0..{MAX_SEED}; sample i depends only on (seed, i)")


def add_class_arg(p: argparse.ArgumentParser, help_prefix: str = "") -> None:
    p.add_argument("--class", dest="class_label", type=number(int, 0, 9, "class"), default=None,
                   help=f"{help_prefix}0..9: {CLASS_CHOICES}")


def add_device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps")


def add_sampling_args(p: argparse.ArgumentParser, family_required=True) -> None:
    if family_required:
        p.add_argument("--family", required=True, choices=("diffusion", "ar"))
    p.add_argument("--model", default="", help="model folder name under models/ or a path")
    p.add_argument("--sampler", default="", choices=("", *SAMPLERS), metavar="SAMPLER",
                   help="; ".join(f"{f}: " + ", ".join(s.name for s in samplers_for(f))
                                  + " (default first)" for f in ("diffusion", "ar")))
    p.add_argument("--steps", type=number(int, int(DIFFUSION_STEPS.lo), int(DIFFUSION_STEPS.hi), "steps"),
                   default=0, help="default: the sampler's")
    p.add_argument("--guidance", type=number(float, GUIDANCE.lo, GUIDANCE.hi, "guidance"),
                   default=-1.0, help="classifier-free guidance scale (1 = none; default: the sampler's)")
    p.add_argument("--temperature", type=number(float, 0.05, 5, "temperature"), default=1.0)
    p.add_argument("--top-k", type=number(int, 0, 256, "top-k"), default=0)
    add_class_arg(p)
    add_seed_arg(p)
    add_device_arg(p)


def check_out(path: str, suffixes, overwrite: bool, option: str = "--out") -> Path:
    """The export layer's target check, as a one-line usage error (with the --overwrite hint)."""
    from desktopgen.export.images import ExportError, check_target

    try:
        return check_target(path, suffixes, overwrite)
    except ExportError as e:
        hint = "" if overwrite or not Path(path).is_file() else " (pass --overwrite to replace it)"
        raise UsageError(f"{option}: {e}{hint}") from None


def check_distinct(**paths: Path | None) -> None:
    """Refuse two options naming one file (the second write would replace the first)."""
    seen: dict[Path, str] = {}
    for option, p in paths.items():
        if p is None:
            continue
        key = p.resolve()
        if key in seen:
            raise UsageError(f"--{seen[key]} and --{option} name the same file")
        seen[key] = option
