"""Clip options shared by `desktopgen sample --clip` and `desktopgen race` (same as the GUI's)."""

from __future__ import annotations

import argparse
from pathlib import Path

from desktopgen.commands._args import check_out, number


def add_clip_args(p: argparse.ArgumentParser, align: bool = True) -> None:
    if align:
        p.add_argument("--align", choices=("time", "progress"), default="time",
                       help="time: wall clock, the faster side finishes and waits; progress: same fraction")
    p.add_argument("--fps", type=number(int, 1, 60, "fps"), default=15)
    p.add_argument("--max-seconds", type=number(float, 0.5, 600, "max-seconds"), default=10.0,
                   help="cap on the clip's length; a longer run becomes a time-lapse")
    p.add_argument("--seconds", type=number(float, 0.5, 600, "seconds"), default=None,
                   help="exact length of the generation part (default: real time, capped)")
    p.add_argument("--hold", type=number(float, 0, 30, "hold"), default=1.0,
                   help="seconds the final frame stays at the end")
    p.add_argument("--size", type=number(int, 32, 2048, "size"), default=256,
                   help="pixels of each side's image in the clip")
    p.add_argument("--clip-sample", type=number(int, 0, 255, "clip-sample"), default=None,
                   help="show this sample of the batch (default: the batch grid)")
    p.add_argument("--clean", action="store_true",
                   help="diffusion: show the predicted clean image instead of the noisy sample")


def clip_options(a):
    from desktopgen.export.clips import ClipOptions

    return ClipOptions(align=getattr(a, "align", "time"), fps=a.fps, max_seconds=a.max_seconds,
                       seconds=a.seconds, hold=a.hold, size=a.size, index=a.clip_sample,
                       clean=a.clean).validate()


def check_clip_path(path: str, overwrite: bool) -> Path:
    """Refuse before any sampling what the clip could not be written to."""
    from desktopgen.export.clips import CLIP_FORMATS

    return check_out(path, CLIP_FORMATS, overwrite, "--clip")
