"""Live telemetry: steps vs time, milliseconds per step, and memory, both sides on the same axes.

Curves are created once and fed with setData() from growing buffers; the window calls
`refresh()` on its redraw timer (about 30 per second), never once per event.
"""

from __future__ import annotations

import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402

from desktopgen.core.events import StepEvent  # noqa: E402
from desktopgen.gui.theme import COLORS, NAMES  # noqa: E402

MIB = 2**20


class _Series:
    """Growing buffers for one side: elapsed s, steps, ms/step, memory allocated and peak (MiB)."""

    FIELDS = ("t", "step", "ms", "mem", "peak")

    def __init__(self):
        self.n = 0
        self.buf = {k: np.zeros(1024) for k in self.FIELDS}

    def append(self, t, step, ms, mem, peak):
        if self.n == len(self.buf["t"]):
            self.buf = {k: np.concatenate([v, np.zeros_like(v)]) for k, v in self.buf.items()}
        for k, v in zip(self.FIELDS, (t, step, ms, mem, peak)):
            self.buf[k][self.n] = v
        self.n += 1

    def __getitem__(self, k):
        return self.buf[k][: self.n]


class TelemetryPlots(pg.GraphicsLayoutWidget):
    """Three plots in a row; `add(event)` per step, `refresh()` per frame."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("telemetryPlots")
        self.setBackground("#16161a")
        self.setMinimumHeight(200)
        self.series = {f: _Series() for f in COLORS}
        self._dirty = set()
        self.p_steps = self._plot("Progress", "elapsed", "s", "steps done", "")
        self.p_ms = self._plot("Time per step", "elapsed", "s", "time per step", "ms")
        self.p_mem = self._plot("Memory", "elapsed", "s", "process RSS", "MiB")
        self.p_steps.setToolTip("Steps completed against wall-clock seconds: the steeper, the faster.")
        self.p_ms.setToolTip("Milliseconds each step took. On a CPU the two sides share the cores, "
                             "so each is slower while the other runs.")
        self.p_mem.setToolTip("Memory during the run: CUDA allocated and peak on a GPU; on a CPU the "
                              "whole app's resident memory (both sides live in one process).")
        self.curves = {}
        for f, color in COLORS.items():
            pen = pg.mkPen(color, width=2)
            dashed = pg.mkPen(color, width=1.5, style=Qt.DashLine)
            self.curves[f] = {
                "step": self.p_steps.plot(name=NAMES[f], pen=pen),
                "ms": self.p_ms.plot(name=NAMES[f], pen=pen),
                "mem": self.p_mem.plot(name=f"{NAMES[f]} now", pen=pen),
                "peak": self.p_mem.plot(name=f"{NAMES[f]} peak", pen=dashed),
            }
        self.cursors = {}
        for f, color in COLORS.items():  # the timeline's moment, per side
            self.cursors[f] = [pg.InfiniteLine(angle=90, pen=pg.mkPen(color, width=1, style=Qt.DotLine))
                               for _ in range(3)]
            for plot, line in zip((self.p_steps, self.p_ms, self.p_mem), self.cursors[f]):
                plot.addItem(line, ignoreBounds=True)
                line.hide()
        self.set_memory_kind("process")

    def _plot(self, title, xname, xunit, yname, yunit):
        p = self.addPlot(title=title)
        p.setLabel("bottom", xname, units=xunit)
        p.setLabel("left", yname, units=yunit)
        p.showGrid(x=True, y=True, alpha=0.2)
        p.addLegend(offset=(8, 8), labelTextSize="8pt")
        p.setClipToView(True)
        p.setDownsampling(mode="peak")
        p.setMouseEnabled(x=False, y=False)
        p.hideButtons()
        return p

    # --- data ----------------------------------------------------------------------------
    def reset(self, families=("diffusion", "ar")) -> None:
        """A new run: empty the sides about to run (the other side keeps its last run)."""
        for f in families:
            self.series[f] = _Series()
            self._dirty.add(f)
        self.hide_cursors()
        self.refresh()

    def set_memory_kind(self, kind: str) -> None:
        if kind == "cuda":
            self.p_mem.setLabel("left", "CUDA allocated / peak", units="MiB")
            self.p_mem.setTitle("GPU memory (CUDA allocated, dashed = peak)")
        else:
            self.p_mem.setLabel("left", "process RSS", units="MiB")
            self.p_mem.setTitle("Process memory (RSS of the whole app, dashed = peak)")

    def add(self, ev: StepEvent) -> None:
        s = self.series[ev.family]
        prev_t = s["t"][-1] if s.n else 0.0
        prev_step = s["step"][-1] if s.n else 0
        ms = 1000.0 * (ev.elapsed - prev_t) / max(1, ev.step - prev_step)
        s.append(ev.elapsed, ev.step, ms, ev.mem_allocated / MIB, ev.mem_peak / MIB)
        self._dirty.add(ev.family)

    def count(self, family: str) -> int:
        """Points received for `family` in the current run."""
        return self.series[family].n

    def refresh(self) -> None:
        for f in self._dirty:
            s, c = self.series[f], self.curves[f]
            t = s["t"]
            for k in ("step", "ms", "mem", "peak"):
                c[k].setData(t, s[k])
        self._dirty.clear()

    # --- timeline ------------------------------------------------------------------------
    def set_cursor(self, family: str, seconds: float | None) -> None:
        for line in self.cursors[family]:
            if seconds is None:
                line.hide()
            else:
                line.setValue(seconds)
                line.show()

    def hide_cursors(self) -> None:
        for f in self.cursors:
            self.set_cursor(f, None)
