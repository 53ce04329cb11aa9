"""The drift plot of video mode: per frame index, both families on the same axes, three panels —
class consistency, identity similarity to frame 1, and motion error (desktopgen.metrics.drift).

The worker computes the figures on the frames made so far (gui/video_jobs.py); this widget only
draws them: curves are created once and fed with setData(), one point per frame made.
"""

from __future__ import annotations

import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np  # noqa: E402
import pyqtgraph as pg  # noqa: E402
from PySide6.QtWidgets import QHBoxLayout, QWidget  # noqa: E402

from desktopgen.gui.plots import BACKGROUND  # noqa: E402
from desktopgen.gui.theme import COLORS, FAMILIES, NAMES  # noqa: E402

METRICS = (  # key word in drift()'s dict, title, y label, y range (None: grows), tooltip
    ("consistency", "Class consistency", "fraction of clips", (0.0, 1.02),
     "Fraction of clips whose garment (a 28x28 crop around the intensity centroid) the classifier "
     "still puts in the prompted class, at each frame."),
    ("identity", "Identity (cosine to frame 1)", "cosine similarity", (0.0, 1.02),
     "Cosine similarity of the classifier's features between frame t and frame 1: does the garment "
     "stay the same garment?"),
    ("motion", "Motion error", "px", None,
     "How far the garment's track departs from constant velocity with bounces (pixels)."),
)


def series(drift: dict, word: str) -> np.ndarray | None:
    """The per-frame list of `drift` whose key holds `word` (e.g. "consistency" or
    "class_consistency"), as floats; None if there is none."""
    for k, v in drift.items():
        if word in k and isinstance(v, (list, tuple, np.ndarray)) and np.ndim(v) == 1:
            return np.asarray(v, np.float64)
    return None


class DriftPlot(QWidget):
    """Three plots side by side; `set_drift(family, drift)` redraws that family's curves."""

    def __init__(self, parent=None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.plots, self.curves = {}, {}
        for word, title, ylabel, yrange, tip in METRICS:
            w = pg.PlotWidget(background=BACKGROUND)
            w.setToolTip(tip)
            p = w.getPlotItem()
            p.setTitle(title)
            p.setLabel("bottom", "frame")
            p.setLabel("left", ylabel)
            p.showGrid(x=True, y=True, alpha=0.2)
            # One legend, bottom right of the identity plot, whose curves stay high (from 1 down).
            legend = p.addLegend(offset=(-8, -8)) if word == "identity" else None
            p.setXRange(1, 16, padding=0.02)
            if yrange is not None:
                p.setYRange(*yrange, padding=0)
            for f in FAMILIES:
                self.curves[word, f] = p.plot([], [], name=NAMES[f] if legend is not None else None,
                                              pen=pg.mkPen(COLORS[f], width=2), symbol="o", symbolSize=4,
                                              symbolBrush=COLORS[f], symbolPen=None)
            self.plots[word] = p
            row.addWidget(w, 1)
        self.setMinimumHeight(160)

    def reset(self, frames: int = 16, families=FAMILIES) -> None:
        """A new run of `frames` frames: empty the given families' curves, frame axis 1..frames."""
        for word, p in self.plots.items():
            p.setXRange(1, max(2, frames), padding=0.02)
            for f in families:
                self.curves[word, f].setData([], [])

    def set_drift(self, family: str, drift: dict | None) -> None:
        """Draw one family's figures: one point per frame made so far (frame numbers from 1)."""
        if not drift:
            return
        for word, _, _, _, _ in METRICS:
            y = series(drift, word)
            if y is None:
                continue
            self.curves[word, family].setData(np.arange(1, len(y) + 1), y)

    def points(self, word: str, family: str) -> int:
        """How many points a curve has (tests)."""
        x, _ = self.curves[word, family].getData()
        return 0 if x is None else len(x)
