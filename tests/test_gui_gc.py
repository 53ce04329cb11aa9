"""Cyclic garbage is freed on the GUI thread only (desktopgen.gui.gc_guard): a cycle holding Qt
objects freed on a worker thread deadlocks Qt (a CI run froze that way)."""

import gc
import subprocess
import sys
import threading


class _Cycle:
    freed_on: list = []

    def __init__(self):
        self.me = self

    def __del__(self):
        _Cycle.freed_on.append(threading.current_thread() is threading.main_thread())


def test_cycles_made_while_a_worker_allocates_are_freed_on_the_gui_thread(qtbot):
    _Cycle.freed_on = []
    for _ in range(50):
        _Cycle()
    stop = threading.Event()

    def churn():  # allocations that would trigger the collector on this thread
        while not stop.is_set():
            [[] for _ in range(2000)]

    t = threading.Thread(target=churn)
    t.start()
    try:
        qtbot.waitUntil(lambda: len(_Cycle.freed_on) == 50, timeout=20_000)
    finally:
        stop.set()
        t.join()
    assert all(_Cycle.freed_on), f"{_Cycle.freed_on.count(False)} of 50 freed on the worker thread"


def test_the_app_turns_automatic_collection_off():
    code = ("import gc; from desktopgen.gui.app import create_app; app = create_app([]); "
            "from desktopgen.gui import gc_guard; print(gc.isenabled(), gc_guard.installed())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.stdout.split() == ["False", "True"], out.stderr[-2000:]
    assert gc.isenabled() is False  # and so in this test process (conftest installs the guard)
