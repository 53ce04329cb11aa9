"""Subcommands that live in their own modules: each `desktopgen/commands/<name>.py` exposes
`register(subparsers)` (add its parser(s)) and `run(args) -> int` (exit status).

`desktopgen.cli` discovers them at start-up, so adding a subcommand needs no edit of cli.py.
Modules whose name starts with "_" are helpers, not subcommands: `_args` (one-line usage errors,
number ranges that refuse NaN, the shared options, the output-path check), `_clipargs` (clip
options) and `_progress` (tqdm bars). Subcommands import those, never desktopgen.cli."""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType


def discover() -> list[ModuleType]:
    """The subcommand modules of this package, in name order."""
    mods = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        mod = importlib.import_module(f"{__name__}.{info.name}")
        if callable(getattr(mod, "register", None)) and callable(getattr(mod, "run", None)):
            mods.append(mod)
    return mods
