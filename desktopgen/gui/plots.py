"""Live telemetry: steps vs time, milliseconds per step, and memory, both sides on the same axes.

Curves are created once and fed with setData() from growing buffers. Each plot is its own view,
and the window refreshes one plot per redraw tick in rotation, so no single frame pays for all
three (painting a pyqtgraph plot costs tens of milliseconds on a busy CPU).
"""

from __future__ import annotations

import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget  # noqa: E402

from desktopgen.core.events import StepEvent  # noqa: E402
from desktopgen.gui.theme import COLORS, NAMES  # noqa: E402

MIB = 2**20
BACKGROUND = "#16161a"
PROGRESS_MODES = {  # key: (combo text, series field, axis label, y range at the start of a run)
    "fraction": ("progress as % of the run", "pct", "% of the run done", 100.0),
    "steps": ("progress as steps done", "step", "steps done", 1.0),
}
CPU_MEMORY_NOTE = ("On a CPU both sides run in one process: the two memory curves are the same "
                   "memory, the whole app's.")


class _Series:
    """Growing buffers for one side: elapsed s, steps, % of the run, ms/step, memory allocated
    and peak (MiB)."""

    FIELDS = ("t", "step", "pct", "ms", "mem", "peak")

    def __init__(self):
        self.n = 0
        self.buf = {k: np.zeros(1024) for k in self.FIELDS}

    def append(self, t, step, pct, ms, mem, peak):
        if self.n == len(self.buf["t"]):
            self.buf = {k: np.concatenate([v, np.zeros_like(v)]) for k, v in self.buf.items()}
        for k, v in zip(self.FIELDS, (t, step, pct, ms, mem, peak)):
            self.buf[k][self.n] = v
        self.n += 1

    def __getitem__(self, k):
        return self.buf[k][: self.n]


class _Plot:
    """One plot: its widget, the series fields it draws, and ranges that grow in steps."""

    def __init__(self, title, ylabel, yunit, fields, tooltip, legend_at=(-8, 8)):
        self.widget = pg.PlotWidget(background=BACKGROUND)
        self.widget.setToolTip(tooltip)
        self.item = p = self.widget.getPlotItem()
        p.setTitle(title)
        p.setLabel("bottom", "elapsed", units="s")
        p.setLabel("left", ylabel, units=yunit)
        # No grid and no auto-range: grid lines belong to the axes, so a grid repaints the axes
        # with every new point; ranges grow in steps instead, and the axes stay cached.
        p.addLegend(offset=legend_at, labelTextSize="8pt")  # (x, y); negative = from the right/bottom
        for side in ("left", "bottom"):
            p.getAxis(side).enableAutoSIPrefix(False)  # "ms", never "kms"
        p.setClipToView(True)
        p.setDownsampling(mode="peak")
        p.setMouseEnabled(x=False, y=False)
        p.disableAutoRange()
        p.hideButtons()
        self.fields = fields
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        self.limits = [0.0, 0.0]
        self.y0 = 1.0  # the y range at the start of a run
        self.set_ranges(1.0, 1.0)

    def set_ranges(self, x, y):
        self.item.setXRange(0, x, padding=0)
        self.item.setYRange(0, y, padding=0)
        self.limits = [x, y]

    def grow(self, xmax: float, ymax: float) -> None:
        lx, ly = self.limits
        if xmax > lx or ymax > ly:
            self.set_ranges(max(lx, xmax * 1.5, 1.0) if xmax > lx else lx,
                            max(ly, ymax * 1.3, 1e-3) if ymax > ly else ly)


SHORT = {"diffusion": "Diffusion", "ar": "AR"}  # legend names in the narrow memory plot


class TelemetryPlots(QWidget):
    """Three plots in a row; `add(event)` per step, `refresh_next()` per redraw tick."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("telemetryPlots")
        self.setMinimumHeight(170)
        self.series = {f: _Series() for f in COLORS}
        self.steps = _Plot("Progress", "% of the run done", "", ("progress",),
                           "How far each run is against wall-clock seconds: the steeper, the "
                           "faster. As a share of the run, diffusion's 20 steps and AR's 784 "
                           "compare; switch to steps done above.", legend_at=(8, 8))
        self.ms = _Plot("Time per step", "time per step", "ms", ("ms",),
                        "Milliseconds each step took. On a CPU the two sides share the cores, so "
                        "each is slower while the other runs.")
        self.mem = _Plot("Memory", "process RSS", "MiB", ("mem", "peak"),
                         "Memory during the run: CUDA allocated and peak on a GPU; on a CPU the "
                         "whole app's resident memory: one process for both sides.",
                         legend_at=(-8, -8))
        self.mem.item.legend.setColumnCount(2)  # four entries in two rows: a short plot keeps them
        self.plots = [self.steps, self.ms, self.mem]
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(2)
        header = QHBoxLayout()
        self.progress_combo = QComboBox()
        self.progress_combo.setObjectName("progressModeCombo")
        for key, (text, *_) in PROGRESS_MODES.items():
            self.progress_combo.addItem(text, key)
        self.progress_combo.setToolTip("The progress plot's y axis: share of each run (the two "
                                       "families compare) or steps done (their real counts).")
        self.progress_combo.currentIndexChanged.connect(lambda _: self._progress_changed())
        self.memory_note = QLabel(CPU_MEMORY_NOTE)
        self.memory_note.setObjectName("memoryNote")
        self.memory_note.setStyleSheet("color: #9a9aa6;")
        header.addWidget(self.progress_combo)
        header.addStretch(1)
        header.addWidget(self.memory_note)
        outer.addLayout(header)
        row = QHBoxLayout()
        row.setSpacing(2)
        outer.addLayout(row, 1)
        for pl in self.plots:
            row.addWidget(pl.widget)
        for f, color in COLORS.items():
            pen = pg.mkPen(color, width=2)
            dashed = pg.mkPen(color, width=1.5, style=Qt.DashLine)
            for pl in self.plots:
                for k in pl.fields:
                    kind = "now" if k == "mem" else "peak"
                    name = NAMES[f] if len(pl.fields) == 1 else f"{SHORT[f]} {kind}"  # fits the plot
                    pl.curves[(f, k)] = pl.item.plot(name=name, pen=dashed if k == "peak" else pen)
        self.cursors = {}
        for f, color in COLORS.items():  # the timeline's moment, per side
            self.cursors[f] = []
            for pl in self.plots:
                line = pg.InfiniteLine(angle=90, pen=pg.mkPen(color, width=1, style=Qt.DotLine))
                pl.item.addItem(line, ignoreBounds=True)
                line.hide()
                self.cursors[f].append(line)
        self._dirty: set[int] = set()  # indexes of plots with new data
        self._next = 0
        self.set_memory_kind("process")
        self._progress_changed()

    # --- data ----------------------------------------------------------------------------
    def reset(self, families=("diffusion", "ar")) -> None:
        """A new run: empty the sides about to run (the other side keeps its last run)."""
        for f in families:
            self.series[f] = _Series()
        for pl in self.plots:
            pl.set_ranges(1.0, pl.y0)
        self.hide_cursors()
        self._dirty = {0, 1, 2}
        self.refresh()

    def set_memory_kind(self, kind: str) -> None:
        p = self.mem.item
        if kind == "cuda":
            p.setLabel("left", "CUDA allocated / peak", units="MiB")
            p.setTitle("GPU memory (dashed: peak)")  # whole at 1280 px with the dock open
            self.memory_note.hide()
        else:
            p.setLabel("left", "process RSS", units="MiB")
            p.setTitle("Memory: app RSS (dashed: peak)")  # one process for both sides: see tooltip
            self.memory_note.show()

    def progress_mode(self) -> str:
        return self.progress_combo.currentData()

    def set_progress_mode(self, mode: str) -> None:
        i = self.progress_combo.findData(mode)
        self.progress_combo.setCurrentIndex(max(0, i))
        self._progress_changed()

    def _progress_changed(self) -> None:
        _, _, label, y0 = PROGRESS_MODES[self.progress_mode()]
        self.steps.item.setLabel("left", label, units="")
        self.steps.y0 = y0
        ymax = max((self.series[f][self._progress_field()].max() for f in self.series
                    if self.series[f].n), default=0.0)
        self.steps.set_ranges(self.steps.limits[0], max(y0, ymax * 1.05))
        self._dirty.add(0)
        self.refresh()

    def _progress_field(self) -> str:
        return PROGRESS_MODES[self.progress_mode()][1]

    def add(self, ev: StepEvent) -> None:
        s = self.series[ev.family]
        prev_t = s["t"][-1] if s.n else 0.0
        prev_step = s["step"][-1] if s.n else 0
        ms = 1000.0 * (ev.elapsed - prev_t) / max(1, ev.step - prev_step)
        pct = 100.0 * ev.step / ev.total if ev.total else 0.0
        s.append(ev.elapsed, ev.step, pct, ms, ev.mem_allocated / MIB, ev.mem_peak / MIB)
        self._dirty = {0, 1, 2}

    def count(self, family: str) -> int:
        """Points received for `family` in the current run."""
        return self.series[family].n

    def refresh_next(self) -> None:
        """Redraw the next plot that has new data (one per call, in rotation)."""
        for i in range(3):
            j = (self._next + i) % 3
            if j in self._dirty:
                self._refresh_plot(j)
                self._next = (j + 1) % 3
                return

    def refresh(self) -> None:
        """Redraw every plot that has new data."""
        for j in sorted(self._dirty):
            self._refresh_plot(j)

    def _refresh_plot(self, j: int) -> None:
        self._dirty.discard(j)
        pl = self.plots[j]
        xmax = ymax = 0.0
        for (f, k), curve in pl.curves.items():
            s = self.series[f]
            k = self._progress_field() if k == "progress" else k
            curve.setData(s["t"], s[k])
            if s.n:
                xmax = max(xmax, s["t"][-1])
                ymax = max(ymax, np.percentile(s[k], 99) if k == "ms" else s[k].max())
        pl.grow(xmax, ymax)

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
