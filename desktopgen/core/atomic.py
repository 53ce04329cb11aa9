"""Atomic file writes: a temp file in the target's folder, fsync, then one publishing step.

Without `overwrite` the publish is an exclusive create (a hard link, which fails if the name
exists), so a file that appeared while we were writing, or a second run to the same path, is
never replaced. With `overwrite` it is a rename over the old file. Either way the target only
ever appears complete, and the temp file is removed on any exception, on cancel (GeneratorExit)
and, once `install_sigterm_cleanup()` ran, on SIGTERM.

    atomic_write(path, write, overwrite=False, cancelled=None)  # write(tmp_path) fills the file
    write_bytes / write_text / write_json(path, ..., overwrite=False)
    with atomic_path(path, overwrite) as tmp: ...               # publish on a clean exit
    new_temp(path) -> tmp; publish(tmp, path, overwrite); discard(tmp)   # for generators
"""

from __future__ import annotations

import errno
import json
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

_LIVE: set[str] = set()  # temp files being written: removed on SIGTERM
_LOCK = threading.Lock()


class WriteError(OSError):
    """A file that could not be written; the message names it and is for the user.
    str() is the message alone (no "[Errno N]"); .errno still tells the cause."""

    def __init__(self, code: int | None, message: str):
        super().__init__(message)
        self.errno = code


class TargetExistsError(WriteError, FileExistsError):
    """The target exists (or appeared while writing) and overwriting was not allowed."""


class WriteCancelled(Exception):
    """The write was cancelled before its file was published: nothing was written."""


def _why(e: OSError) -> str:
    return e.strerror or str(e) or type(e).__name__


def new_temp(path, suffix: str | None = None) -> Path:
    """An empty temp file beside `path` (hidden, same suffix so encoders pick the format)."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.",
                                   suffix=path.suffix if suffix is None else suffix)
    except OSError as e:
        raise WriteError(e.errno, f"cannot write {path}: {_why(e)}") from e
    os.close(fd)
    with _LOCK:
        _LIVE.add(tmp)
    return Path(tmp)


def discard(tmp) -> None:
    """Remove a temp file (no error if it is gone)."""
    with _LOCK:
        _LIVE.discard(str(tmp))
    try:
        Path(tmp).unlink(missing_ok=True)
    except OSError:
        pass


def _fsync_file(p: Path) -> None:
    fd = os.open(p, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems cannot sync a folder; the data itself is synced
    finally:
        os.close(fd)


def _exists_error(path: Path) -> TargetExistsError:
    return TargetExistsError(errno.EEXIST, f"{path} exists (it appeared while writing); "
                             "nothing was replaced: choose another name or allow overwriting")


def publish(tmp, path, overwrite: bool = False) -> Path:
    """fsync `tmp`, then make it `path`: an exclusive create, or a replace with `overwrite`.
    On failure the temp file is removed and the target is untouched."""
    tmp, path = Path(tmp), Path(path)
    try:
        os.chmod(tmp, 0o644)
        _fsync_file(tmp)
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)  # fails if the name exists: never replaces anything
            except FileExistsError:
                raise _exists_error(path) from None
            except OSError as e:  # no hard links here (FAT, some network shares): claim, then rename
                if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                    raise
                try:
                    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
                except FileExistsError:
                    raise _exists_error(path) from None
                os.replace(tmp, path)
        _fsync_dir(path.parent)
    except WriteError:
        discard(tmp)
        raise
    except OSError as e:
        discard(tmp)
        raise WriteError(e.errno, f"cannot write {path}: {_why(e)}") from e
    except BaseException:
        discard(tmp)
        raise
    discard(tmp)  # after a link: drop the temp name; after a replace: already gone
    return path


def atomic_write(path, write: Callable[[Path], object], overwrite: bool = False,
                 cancelled: Callable[[], bool] | None = None) -> Path:
    """Call write(tmp_path), then publish it as `path`. `cancelled()` is asked last, before the
    publish, so a cancelled write never appears. Errors name the file (a full disk included)."""
    path = Path(path)
    tmp = new_temp(path)
    try:
        write(tmp)
        if cancelled is not None and cancelled():
            raise WriteCancelled(f"cancelled: {path.name} was not written")
    except OSError as e:
        discard(tmp)
        if isinstance(e, WriteError):
            raise
        raise WriteError(e.errno, f"cannot write {path}: {_why(e)}") from e
    except BaseException:
        discard(tmp)
        raise
    return publish(tmp, path, overwrite)


@contextmanager
def atomic_path(path, overwrite: bool = False) -> Iterator[Path]:
    """`with atomic_path(p) as tmp:` write tmp; it becomes `p` on a clean exit, else vanishes."""
    tmp = new_temp(path)
    try:
        yield tmp
    except BaseException:
        discard(tmp)
        raise
    publish(tmp, path, overwrite)


def write_bytes(path, data: bytes, overwrite: bool = False) -> Path:
    return atomic_write(path, lambda tmp: Path(tmp).write_bytes(data), overwrite)


def write_text(path, text: str, overwrite: bool = False) -> Path:
    return write_bytes(path, text.encode("utf-8"), overwrite)


def write_json(path, obj, overwrite: bool = False, indent: int | None = 2) -> Path:
    """Strict JSON (NaN / Infinity refused, so every reader can parse it back)."""
    text = json.dumps(obj, indent=indent, allow_nan=False) + "\n"
    return write_text(path, text, overwrite)


def live_temps() -> list[str]:
    with _LOCK:
        return sorted(_LIVE)


def remove_live_temps() -> None:
    """Remove every temp file still being written (a terminating process calls this)."""
    for tmp in live_temps():
        discard(tmp)


def install_sigterm_cleanup(exit_code: int = 128 + signal.SIGTERM) -> None:
    """On SIGTERM, remove the temp files being written, then leave by SystemExit(exit_code) (so
    `finally` blocks run too). Call from the main thread (CLI start-up); the default action
    would kill the process before any cleanup."""

    def on_term(signum, frame):
        remove_live_temps()
        raise SystemExit(exit_code)

    if threading.current_thread() is threading.main_thread():  # signals are set from there only
        signal.signal(signal.SIGTERM, on_term)
