"""Command line: `desktopgen [sample|eval|train|inpaint|race]`; no subcommand opens the GUI.

The parser only: every subcommand lives in desktopgen/commands/ and registers itself. Heavy
imports (torch) happen inside the subcommands, so `--help` and the GUI start fast.

Errors: bad arguments and the user's mistakes the engine detects (a missing model, a bad file, an
unwritable path, a full disk) give one line on stderr and exit 2 (or 1 for the environment: files,
memory). Anything else is a bug: it is called an internal error, and `--debug` shows its traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from desktopgen import CLASS_NAMES, __version__  # noqa: F401  (CLASS_NAMES: for scripts)
from desktopgen.commands._args import Parser, UsageError, check_out  # noqa: F401  (re-exported)
from desktopgen.commands._args import number as _positive  # noqa: F401  (the old name)


def build_parser() -> argparse.ArgumentParser:
    p = Parser(prog="desktopgen", description="Diffusion vs autoregression, side by side.")
    p.add_argument("--version", action="version", version=f"desktopgen {__version__}")
    p.add_argument("--debug", action="store_true", help="show the traceback of an internal error")
    sub = p.add_subparsers(dest="command", parser_class=Parser)
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


def _user_error(e: BaseException) -> int | None:
    """The exit status for an error the user can act on (its message says how), else None."""
    from desktopgen.core.atomic import WriteError
    from desktopgen.core.checkpoints import CheckpointError, ModelNotFoundError
    from desktopgen.core.requests import RequestError
    from desktopgen.data.arrays import ArrayImportError
    from desktopgen.data.fmnist import DatasetError
    from desktopgen.data.images import ImageImportError
    from desktopgen.export.images import ExportError
    from desktopgen.export.recall import RecallError

    if isinstance(e, (UsageError, RequestError, ModelNotFoundError, ImageImportError, ArrayImportError,
                      RecallError)):
        return 2
    if isinstance(e, (CheckpointError, DatasetError, ExportError, WriteError, MemoryError)):
        return 1
    if isinstance(e, OSError):  # the environment: a file, a folder, a device
        return 1
    if type(e).__name__ == "OutOfMemoryError" or "out of memory" in str(e).lower():
        return 1
    if isinstance(e, ValueError) and _raised_by_us(e):  # the engine's checks (device, sampler, ...)
        return 2
    return None


def _raised_by_us(e: BaseException) -> bool:
    """Whether the innermost frame that raised `e` is DesktopGen's own code: its ValueErrors are
    checks with a message for the user; one from inside numpy or torch is a bug of ours."""
    tb = e.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    here = Path(__file__).resolve().parent
    try:
        return Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(here)
    except (OSError, ValueError):
        return False


def _message(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    if isinstance(e, OSError) and getattr(e, "filename", None) and str(e.filename) not in text:
        text = f"{e.filename}: {text}"
    return text


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    debug = "--debug" in argv
    try:
        a = build_parser().parse_args(argv)
        if a.command is None:
            from desktopgen.gui.app import main as gui_main
            return gui_main()
        from desktopgen.core.atomic import install_sigterm_cleanup

        install_sigterm_cleanup()  # SIGTERM mid-write: the temp file goes, nothing half-written stays
        return a._run(a)
    except KeyboardInterrupt:
        print("desktopgen: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        status = _user_error(e)
        if status is not None:
            if debug:
                raise
            print(f"desktopgen: error: {_message(e)}", file=sys.stderr)
            return status
        if debug:
            raise
        print(f"desktopgen: internal error: {type(e).__name__}: {_message(e)[:300]} "
              "(a bug: please report it; --debug shows the traceback)", file=sys.stderr)
        return 1
