"""The one atomic-write helper: a complete file or none, never a replaced one without overwrite,
errors that name the file, and no temp file left by an error, a cancel or SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

import desktopgen
from desktopgen.core import atomic

ROOT = os.path.dirname(os.path.dirname(desktopgen.__file__))


def test_writes_and_refuses_to_replace(tmp_path):
    p = tmp_path / "a.json"
    atomic.write_json(p, {"x": 1})
    assert json.loads(p.read_text()) == {"x": 1}
    with pytest.raises(atomic.TargetExistsError, match="a.json exists"):
        atomic.write_text(p, "new")
    assert json.loads(p.read_text()) == {"x": 1}
    atomic.write_text(p, "new", overwrite=True)
    assert p.read_text() == "new" and os.listdir(tmp_path) == ["a.json"]
    assert (p.stat().st_mode & 0o777) == 0o644


def test_file_created_meanwhile_is_never_replaced(tmp_path):
    """The target did not exist when the write began, but does when it ends: it is kept."""
    p = tmp_path / "x.png"

    def slow_write(tmp):
        tmp.write_bytes(b"ours")
        p.write_bytes(b"theirs")  # a second run, or another program, got there first

    with pytest.raises(atomic.TargetExistsError, match="appeared while writing"):
        atomic.atomic_write(p, slow_write)
    assert p.read_bytes() == b"theirs" and os.listdir(tmp_path) == ["x.png"]


def test_without_hard_links_the_create_is_still_exclusive(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise OSError(1, "Operation not permitted")  # EPERM, as on FAT / some shares

    monkeypatch.setattr(os, "link", no_links)
    p = tmp_path / "y.txt"
    atomic.write_text(p, "one")
    with pytest.raises(atomic.TargetExistsError):
        atomic.write_text(p, "two")
    assert p.read_text() == "one" and os.listdir(tmp_path) == ["y.txt"]


def test_full_disk_names_the_file_and_leaves_nothing(tmp_path):
    def full(tmp):
        tmp.write_bytes(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(atomic.WriteError) as e:
        atomic.atomic_write(tmp_path / "big.npz", full)
    assert str(e.value) == f"cannot write {tmp_path / 'big.npz'}: No space left on device"
    assert e.value.errno == 28 and os.listdir(tmp_path) == []


def test_cancel_is_checked_before_publishing(tmp_path):
    with pytest.raises(atomic.WriteCancelled):
        atomic.atomic_write(tmp_path / "c.txt", lambda tmp: tmp.write_text("x"), cancelled=lambda: True)
    assert os.listdir(tmp_path) == []


def test_context_manager_and_interrupt(tmp_path):
    with atomic.atomic_path(tmp_path / "ok.bin") as tmp:
        tmp.write_bytes(b"1")
    assert (tmp_path / "ok.bin").read_bytes() == b"1"
    with pytest.raises(KeyboardInterrupt), atomic.atomic_path(tmp_path / "no.bin") as tmp:
        tmp.write_bytes(b"1")
        raise KeyboardInterrupt
    assert os.listdir(tmp_path) == ["ok.bin"] and atomic.live_temps() == []


def test_json_refuses_nan(tmp_path):
    with pytest.raises(ValueError):
        atomic.write_json(tmp_path / "n.json", {"fd": float("nan")})
    assert os.listdir(tmp_path) == []


def test_sigterm_while_writing_leaves_no_temp_file(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from desktopgen.core import atomic
        atomic.install_sigterm_cleanup()
        def write(tmp):
            tmp.write_bytes(b"partial")
            print("writing", flush=True)
            time.sleep(60)
        atomic.atomic_write(Path({str(tmp_path / "clip.gif")!r}), write)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.stdout.readline().strip() == "writing"
    assert len(os.listdir(tmp_path)) == 1  # the hidden temp file
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 128 + signal.SIGTERM
    time.sleep(0.05)
    assert os.listdir(tmp_path) == []


def test_a_missing_folder_is_a_write_error_naming_the_path(tmp_path):
    from desktopgen.core.atomic import WriteError, write_text

    target = tmp_path / "no-such-folder" / "x.txt"
    with pytest.raises(WriteError) as info:
        write_text(target, "hello")
    assert str(target) in str(info.value) and info.value.errno is not None
