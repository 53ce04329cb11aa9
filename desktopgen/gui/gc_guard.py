"""Garbage collection on the GUI thread only.

Python's cyclic collector runs in whichever thread happens to allocate. When it runs on a side
worker's thread and frees a reference cycle holding Qt widgets, ~QObject takes Qt's locks there
and then waits for the GIL, while the GUI thread holds the GIL and waits for the same locks: the
whole app freezes with every thread asleep. (Seen in a CI run: the AR worker inside
gc_collect_main -> ~QObject -> GilState::acquire, the GUI thread inside ~QMenu -> QBasicMutex.)

So a GUI process turns automatic collection off and collects on a timer on the GUI thread, by
generation thresholds as the interpreter would (pyqtgraph's GarbageCollector does the same; ours
needs only QtCore, so the window still paints before pyqtgraph is imported).
"""

from __future__ import annotations

import gc

_GUARD = None


class Guard:
    """A QTimer on the GUI thread that collects each generation whose count passed its threshold."""

    def __init__(self, interval_s: float):
        from PySide6.QtCore import QTimer

        self.threshold = gc.get_threshold()
        self.timer = QTimer()
        self.timer.timeout.connect(self.check)
        self.timer.start(int(interval_s * 1000))

    def check(self) -> None:
        c0, c1, c2 = gc.get_count()
        t0, t1, t2 = self.threshold
        if c0 > t0:
            gc.collect(2 if c1 > t1 and c2 > t2 else 1 if c1 > t1 else 0)


def install(interval_s: float = 1.0) -> Guard:
    """Disable automatic collection; collect on the GUI thread every `interval_s` (idempotent).
    Needs a QApplication. Returns the guard (its `check()` collects now, by thresholds)."""
    global _GUARD
    if _GUARD is None:
        _GUARD = Guard(interval_s)
    gc.disable()
    return _GUARD


def installed() -> bool:
    return _GUARD is not None and not gc.isenabled()
