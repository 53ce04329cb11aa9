"""The timeline: after a run, a slider replays both processes, aligned by fraction of each run or
by wall time. `moment()` says what each side showed at the slider's position; the window draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QSlider, QWidget

from desktopgen.core.trace import RunTrace
from desktopgen.gui.theme import NAMES

END = 1000  # slider units


@dataclass(frozen=True)
class Frame:
    """One side at the timeline's moment."""

    family: str
    step: int
    total: int
    elapsed: float
    preview: object  # (B, 28, 28) uint8
    clean: object  # diffusion's predicted clean image, or None
    position: int | None  # AR: last written pixel; None once the run is complete


def moment(traces: dict[str, RunTrace], x: float, by_time: bool) -> tuple[list[Frame], str]:
    """Each side's frame at `x` (0..1 of the longest run's duration, or of each run's steps) and
    the line of text that describes the moment."""
    traces = {f: t for f, t in traces.items() if t is not None and t.frames}
    longest = max((t.duration for t in traces.values()), default=0.0)
    frames, texts = [], []
    for f, tr in traces.items():
        frame = tr.frame_at_time(x * longest) if by_time else tr.frame_at(x)
        if frame is None:
            continue
        step, el, preview, clean, pos = frame
        if by_time and x * longest < tr.frames[0][1]:
            step, el = 0, 0.0
        done = step >= tr.total
        frames.append(Frame(f, step, tr.total, el, preview, clean, None if done else pos))
        texts.append(f"{NAMES[f]} step {step}/{tr.total} at {el:.2f} s")
    if by_time:
        texts.insert(0, f"t = {x * longest:.2f} s")
    return frames, " · ".join(texts)


class Timeline(QWidget):
    """Slider, alignment choice and a line of text; `moved` when either changes."""

    moved = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        label = QLabel("Timeline")
        label.setToolTip("After a run, drag to replay both processes and compare any moment.")
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setObjectName("timelineSlider")
        self.slider.setRange(0, END)
        self.slider.setValue(END)
        self.slider.setEnabled(False)
        self.slider.setToolTip("After a run, drag to replay both processes step by step.")
        self.slider.valueChanged.connect(lambda _: self.moved.emit())
        self.align_combo = QComboBox()
        self.align_combo.setObjectName("timelineAlignCombo")
        self.align_combo.addItem("aligned by fraction of run", "fraction")
        self.align_combo.addItem("aligned by wall time", "time")
        self.align_combo.setToolTip("Fraction: both at the same share of their steps. Wall time: "
                                    "both at the same second since they started.")
        self.align_combo.currentIndexChanged.connect(lambda _: self.moved.emit())
        self.label = QLabel("")
        self.label.setMinimumWidth(300)
        self.label.setStyleSheet("color: #9a9aa6;")
        row.addWidget(label)
        row.addWidget(self.slider, 1)
        row.addWidget(self.align_combo)
        row.addWidget(self.label)

    def position(self) -> float:
        return self.slider.value() / END

    def by_time(self) -> bool:
        return self.align_combo.currentData() == "time"

    def at_end(self) -> bool:
        return self.slider.value() >= END

    def is_active(self) -> bool:
        return self.slider.isEnabled()

    def disable(self) -> None:
        self.slider.setEnabled(False)
        self.label.setText("")

    def enable(self, have_frames: bool) -> None:
        """A run ended: the slider goes to the end, enabled when there is something to replay."""
        self.slider.setEnabled(have_frames)
        self.slider.blockSignals(True)
        self.slider.setValue(END)
        self.slider.blockSignals(False)
        if have_frames:
            self.label.setText("end of both runs — drag to replay")

    def restore_settings(self, st) -> None:
        self.align_combo.setCurrentIndex(1 if st.value("timeline/align", "fraction") == "time" else 0)

    def save_settings(self, st) -> None:
        st.setValue("timeline/align", self.align_combo.currentData())
