"""Video mode (issue 11): the window's second page, switched with Image | Video.

Each side shows its clips being made — diffusion: every frame sharpening at once; AR: frames
appearing one after another — in a player (the batch as a grid, one frame at a time) and a
filmstrip (every frame of the first clip), then loops them. Below, the drift plot. The jobs run on
the existing side workers through a VideoRunner (gui/video_jobs.py); events are kept as they come
and drawn by a ~30 Hz timer, like the image page.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktopgen.core import checkpoints, samplers
from desktopgen.core.requests import SampleRequest
from desktopgen.export import pixels
from desktopgen.gui import options
from desktopgen.gui.seed_spin import SeedSpin
from desktopgen.gui.theme import COLORS, FAMILIES, NAMES
from desktopgen.gui.video_export import ask_export
from desktopgen.gui.video_jobs import filled

MODES = ("image", "video")
KINDS = {"diffusion": "video-diffusion", "ar": "video-ar"}  # checkpoints.ARCH_FAMILY of the models
DEFAULT_MODELS = {"diffusion": "mfmnist-video-diffusion", "ar": "mfmnist-video-ar"}
SAMPLERS = {"diffusion": [s for s in samplers.SAMPLERS.values() if s.model_kind == "diffusion-unet"],
            "ar": []}  # the AR video sampler is one: "Frame by frame (tokens)"
FRAMES = (16, 64)
MAX_BATCH = 16
FPS = 8  # player and exported clips
STRIP_COLS = 16
REDRAW_MS = 33


class Picture(QWidget):
    """A grey uint8 image, nearest-neighbour scaled to fit, optionally one cell outlined."""

    def __init__(self, message: str = "", parent=None):
        super().__init__(parent)
        self._image, self._qimage, self.cell, self.message = None, None, None, message
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setMinimumSize(120, 60)

    def set_image(self, image: np.ndarray | None, cell: tuple | None = None) -> None:
        self._image = None if image is None else np.ascontiguousarray(image, np.uint8)
        self._qimage = None if self._image is None else QImage(
            self._image.data, self._image.shape[1], self._image.shape[0], self._image.shape[1],
            QImage.Format_Grayscale8)
        self.cell = cell
        self.update()

    def image(self) -> np.ndarray | None:
        return self._image

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#101014"))
        if self._qimage is None:
            p.setPen(QColor("#77777f"))
            p.drawText(self.rect(), Qt.AlignCenter | Qt.TextWordWrap, self.message)
            return
        h, w = self._image.shape
        k = min(self.width() / w, self.height() / h)
        target = QRectF((self.width() - w * k) / 2, (self.height() - h * k) / 2, w * k, h * k)
        p.drawImage(target, self._qimage)  # no smooth transform: crisp pixels
        if self.cell is not None:
            x, y, cw, ch = self.cell
            p.setPen(QPen(QColor("#ffd84a"), 2))
            p.drawRect(QRectF(target.x() + x * k, target.y() + y * k, cw * k, ch * k))


def strip_cols(frames: int) -> int:
    """Frames per filmstrip row: two rows of 8 for a 16-frame clip, rows of 16 beyond."""
    return 8 if frames <= 16 else STRIP_COLS


def strip(clip: np.ndarray, cols: int = STRIP_COLS, pad: int = 1) -> np.ndarray:
    """(T, H, W) -> the frames left to right in rows of `cols` (a filmstrip)."""
    return pixels.grid(clip, cols=min(cols, len(clip)), pad=pad, pad_value=48)


class VideoSide(QGroupBox):
    """One family's clips: caption, player, filmstrip and progress."""

    def __init__(self, family: str, parent=None):
        super().__init__(NAMES[family], parent)
        self.family = family
        self.setObjectName(f"{family}VideoSide")
        self.setStyleSheet(f"QGroupBox {{ color: {COLORS[family]}; font-weight: bold; }}")
        lay = QVBoxLayout(self)
        self.caption = QLabel("")
        self.caption.setStyleSheet("color: #a0a0aa; font-weight: normal;")
        self.player = Picture("Press Generate to make clips.")
        self.film = Picture("")
        self.film.setMinimumHeight(40)
        self.film.setToolTip("Every frame of the first clip, left to right; the frame on show is outlined.")
        self.frame_label = QLabel("")
        self.frame_label.setStyleSheet("font-weight: normal;")
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        lay.addWidget(self.caption)
        lay.addWidget(self.player, 3)
        lay.addWidget(self.film, 1)
        row = QHBoxLayout()
        row.addWidget(self.frame_label)
        row.addWidget(self.bar, 1)
        lay.addLayout(row)
        self.clips: np.ndarray | None = None  # (B, T, 48, 48): the latest preview or the result
        self.made = 0  # frames the player may loop over
        self.index = 0  # the frame on show
        self.looping = False  # the clips are finished: the player loops them

    def clear(self, message: str) -> None:
        self.clips, self.made, self.index, self.looping = None, 0, 0, False
        self.player.message = message
        self.player.set_image(None)
        self.film.set_image(None)
        self.frame_label.setText("")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)

    def set_clips(self, clips: np.ndarray, made: int, position: int | None = None,
                  looping: bool = False) -> None:
        """New frames: `made` of them can be played; AR mid-run shows the frame being made."""
        self.clips, self.made, self.looping = clips, max(1, made), looping
        if position is not None and not looping:
            self.index = min(position, clips.shape[1] - 1)
        self.show_index()

    def tick(self) -> None:
        """The player's next frame (finished clips loop; diffusion loops while it sharpens)."""
        if self.clips is None or (not self.looping and self.family == "ar"):
            return
        self.index = (self.index + 1) % self.made
        self.show_index()

    def show_index(self) -> None:
        c, t = self.clips, min(self.index, self.clips.shape[1] - 1)
        self.player.set_image(pixels.grid(c[:, t], pad=1, pad_value=48))
        h, w = c.shape[2:]
        cols = strip_cols(c.shape[1])
        self.film.set_image(strip(c[0], cols), ((t % cols) * (w + 1), (t // cols) * (h + 1), w + 2, h + 2))
        self.frame_label.setText(f"frame {t + 1} / {c.shape[1]}" + ("  (looping)" if self.looping else ""))

    def progress(self, step: int, total: int, elapsed: float, note: str = "") -> None:
        self.bar.setRange(0, max(1, total))
        self.bar.setValue(step)
        self.bar.setFormat(f"step {step} / {total} · {elapsed:.1f} s" + (f" · {note}" if note else ""))


class VideoMode(QWidget):
    """The video page: its controls, both sides, the drift plot; runs with a VideoRunner."""

    finished = Signal()  # all sides idle after a run

    def __init__(self, settings: QSettings, device: str = "auto", image_runner=None, parent=None):
        super().__init__(parent)
        self.image_runner = image_runner  # its workers import the engine: ours wait for them
        self._pending = None  # (requests, frames) waiting for that
        self._waiting = False  # _start_pending is connected to the image workers' workersLoaded
        from desktopgen.gui.drift_plot import DriftPlot  # pyqtgraph: only when video mode opens
        from desktopgen.gui.video_runner import VideoRunner

        self.settings = settings
        self.runner = VideoRunner(device, self)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        split = QSplitter(Qt.Vertical)
        top = QWidget()
        row = QHBoxLayout(top)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self._build_controls())
        self.sides = {f: VideoSide(f) for f in FAMILIES}
        for s in self.sides.values():
            row.addWidget(s, 1)
        split.addWidget(top)
        self.drift = DriftPlot()
        split.addWidget(self.drift)
        split.setSizes([520, 230])
        outer.addWidget(split)
        self.status = QLabel("")
        outer.addWidget(self.status)

        r = self.runner
        r.sideStarted.connect(self._on_started)
        r.sideFinished.connect(self._on_finished)
        r.sideFailed.connect(self._on_failed)
        r.sideCancelled.connect(self._on_cancelled)
        r.driftChanged.connect(self.drift.set_drift)
        r.allIdle.connect(self._on_all_idle)
        self._redraw_timer = QTimer(self, interval=REDRAW_MS, timeout=self._redraw)
        self._redraw_timer.start()
        self._player = QTimer(self, interval=1000 // FPS, timeout=self._tick)
        self._player.start()
        self.restore_settings()
        for f in FAMILIES:
            self.sides[f].clear("Press Generate (Ctrl+Enter) to make clips.")
            self._caption(f)

    # ===================================================================== controls
    def _build_controls(self) -> QWidget:
        box = QGroupBox("Video")
        box.setMaximumWidth(300)
        form = QFormLayout(box)
        self.class_combo = QComboBox()
        self.class_combo.addItems(["any (one of each)"] + list(options.CLASSES[1:]))
        self.class_combo.setToolTip("The garment to animate (the prompt); 'any' cycles the classes.")
        form.addRow("Prompt", self.class_combo)
        seed_row = QHBoxLayout()
        self.seed_spin = SeedSpin()
        self.seed_lock = QCheckBox("lock")
        self.seed_lock.setToolTip("Locked: every Generate uses this seed; unlocked: a new one each time.")
        roll = QToolButton(text="Roll")
        roll.clicked.connect(self.roll_seed)
        seed_row.addWidget(self.seed_spin, 1)
        seed_row.addWidget(roll)
        seed_row.addWidget(self.seed_lock)
        form.addRow("Seed", seed_row)
        self.batch_spin = QSpinBox(minimum=1, maximum=MAX_BATCH, value=4)
        self.batch_spin.setToolTip("Clips per side, played as a grid.")
        form.addRow("Batch", self.batch_spin)
        self.frames_spin = QSpinBox(minimum=FRAMES[0], maximum=FRAMES[1], value=16, singleStep=4)
        self.frames_spin.setToolTip("Frames per clip. The models learnt 16: AR rolls on with a sliding "
                                    "context, diffusion extends block by block from the last frames.")
        form.addRow("Frames", self.frames_spin)
        self.model_combo, self.sampler_combo = {}, {}
        for f in FAMILIES:
            self.model_combo[f] = QComboBox()
            self.model_combo[f].setToolTip(f"The {NAMES[f].lower()} video model (a folder in models/).")
            self.sampler_combo[f] = QComboBox()
            for s in SAMPLERS[f]:
                self.sampler_combo[f].addItem(s.label, s.name)
            if not SAMPLERS[f]:
                self.sampler_combo[f].addItem("Frame by frame (tokens)", "")
            form.addRow(QLabel(f"<b style='color:{COLORS[f]}'>{NAMES[f]}</b>"))
            form.addRow("Model", self.model_combo[f])
            form.addRow("Sampler", self.sampler_combo[f])
            self.model_combo[f].currentIndexChanged.connect(lambda _=0, f=f: self._caption(f))
            self.sampler_combo[f].currentIndexChanged.connect(lambda _=0, f=f: self._caption(f))
        self.steps_spin = QSpinBox(minimum=0, maximum=1000, value=0, specialValueText="default")
        self.steps_spin.setToolTip("Diffusion steps per 16-frame block (default: the sampler's).")
        form.addRow("Steps", self.steps_spin)
        self.reload_models()
        self.generate_button = QPushButton("Generate", minimumHeight=34)
        self.generate_button.setObjectName("videoGenerateButton")
        self.generate_button.clicked.connect(self.generate)
        self.cancel_button = QPushButton("Cancel", minimumHeight=34, enabled=False)
        self.cancel_button.clicked.connect(self.cancel)
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button, 2)
        buttons.addWidget(self.cancel_button, 1)
        form.addRow(buttons)
        self.export_button = QPushButton("Export video…", enabled=False)
        self.export_button.setToolTip("Save the clips as MP4, GIF or WebP (Ctrl+S).")
        self.export_button.clicked.connect(lambda: self.export_dialog())
        form.addRow(self.export_button)
        return box

    def reload_models(self) -> None:
        """Fill each side's model combo with the video models of its kind found in models/ (a bad
        folder is listed too: Generate says what is wrong with it)."""
        try:  # config.json only: scan_models() imports torch, which the workers may be importing
            folders = sorted(p for p in checkpoints.models_dir().iterdir() if p.is_dir())
        except OSError:
            folders = []
        kinds = {p.name: checkpoints.model_kind(str(p)) for p in folders}
        for f, combo in self.model_combo.items():
            current = combo.currentText()
            names = [n for n, k in kinds.items() if k == KINDS[f]]
            if DEFAULT_MODELS[f] not in names:
                names.insert(0, DEFAULT_MODELS[f])  # not shipped yet: Generate says so
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            for i, name in enumerate(names):  # what each is (config and card: torch-free)
                entry = options.read_model_folder(checkpoints.models_dir() / name)
                if entry.usable and entry.summary:
                    combo.setItemData(i, f"{name}: {entry.summary}", Qt.ToolTipRole)
            combo.setCurrentIndex(max(0, combo.findText(current)))
            combo.blockSignals(False)

    def _caption(self, f: str) -> None:
        self.sides[f].caption.setText(f"{self.model_combo[f].currentText()} · "
                                      f"{self.sampler_combo[f].currentText()}")

    def roll_seed(self) -> None:
        import random

        self.seed_spin.setValue(random.randrange(2**31))

    def request_for(self, f: str) -> SampleRequest:
        k = self.class_combo.currentIndex()
        return SampleRequest(family=f, model=self.model_combo[f].currentText(),
                             sampler=self.sampler_combo[f].currentData() or "",
                             steps=self.steps_spin.value() if f == "diffusion" else 0,
                             class_label=None if k == 0 else k - 1, seed=self.seed_spin.value(),
                             batch=self.batch_spin.value())

    # ===================================================================== running
    def is_running(self) -> bool:
        return self._pending is not None or self.runner.is_running()

    def generate(self) -> None:
        if not self.seed_lock.isChecked():
            self.roll_seed()
        frames = self.frames_spin.value()
        self.drift.reset(frames)
        for f in FAMILIES:
            self.sides[f].clear("Starting… (the first run loads the model)")
        self._pending = ([(f, self.request_for(f)) for f in FAMILIES], frames)
        self._set_running(True)
        ir = self.image_runner
        if ir is not None and ir.threads and not ir.is_loaded():
            # Threads importing torch at once can break its import (a type "already defined"):
            # start after the image workers have imported the engine.
            self.status.setText("Waiting for the engine to load…")
            if not self._waiting:
                self._waiting = True
                ir.workersLoaded.connect(self._start_pending)
        else:
            self._start_pending()

    @Slot()
    def _start_pending(self) -> None:
        if self._waiting:
            self._waiting = False
            self.image_runner.workersLoaded.disconnect(self._start_pending)
        if self._pending is not None:
            (requests, frames), self._pending = self._pending, None
            self.runner.start(requests, frames=frames)
            self.status.setText(f"Making {requests[0][1].batch} clip(s) of {frames} frames per side…")

    def cancel(self) -> None:
        if self._pending is not None:  # not started yet
            self._pending = None
            for s in self.sides.values():
                s.clear("Cancelled before the first step.")
            self._set_running(False)
            self.status.setText("Cancelled before it started.")
            self.finished.emit()
        elif self.is_running():
            self.runner.cancel()
            self.status.setText("Cancelling…")

    def stop_workers(self) -> None:
        self.runner.stop_workers()

    def _set_running(self, running: bool) -> None:
        self.generate_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.export_button.setEnabled(not running and bool(self.results()))

    @Slot(str)
    def _on_started(self, f: str) -> None:
        self.sides[f].player.message = "Loading the model…"
        self.sides[f].player.update()

    @Slot(object)
    def _on_finished(self, done) -> None:
        r = done.result
        made = r.extra.get("made", r.images.shape[1]) if not r.completed else r.images.shape[1]
        self.sides[done.family].set_clips(r.images, made, looping=True)
        self.sides[done.family].progress(r.steps, r.steps if r.completed else max(r.steps, 1), r.elapsed)
        if done.card.get("drift"):
            self.drift.set_drift(done.family, done.card["drift"])
        elif done.card.get("drift_error"):
            self.status.setText(done.card["drift_error"])

    @Slot(object)
    def _on_failed(self, fail) -> None:
        self.sides[fail.family].clear(f"Failed: {fail.message}")
        self.status.setText(f"{NAMES[fail.family]} failed: {fail.message}")

    @Slot(str)
    def _on_cancelled(self, f: str) -> None:
        self.sides[f].clear("Cancelled before the first step.")

    @Slot()
    def _on_all_idle(self) -> None:
        self._set_running(False)
        sides = self.runner.sides.values()
        if any(s.cancelled for s in sides):
            self.status.setText("Cancelled. The frames made so far loop.")
        elif not any(s.error for s in sides):
            self.status.setText("Done. The clips loop; Export video… saves them.")
        self.finished.emit()

    @Slot()
    def _redraw(self) -> None:
        for f, s in self.runner.sides.items():
            if not s.dirty or not s.running:
                continue
            s.dirty = False
            ev = s.latest
            if ev is None:
                continue
            clips = ev.preview_clean if ev.preview_clean is not None else ev.preview
            last = ev.step >= ev.total  # all made: loop them while the final drift is measured
            if f == "ar" and not last:
                self.sides[f].set_clips(clips, (ev.position or 0) + 1, position=ev.position)
            else:  # longer diffusion clips come block by block: loop the frames begun so far
                self.sides[f].set_clips(clips, clips.shape[1] if last else filled(clips), looping=last)
            self.sides[f].progress(ev.step, ev.total, ev.elapsed, "measuring drift…" if last else "")

    @Slot()
    def _tick(self) -> None:
        if self.isVisible():
            for s in self.sides.values():
                s.tick()

    # ===================================================================== export
    def results(self) -> dict[str, np.ndarray]:
        """{family: clips (B, T, 48, 48)} of each side's last run that made frames."""
        out = {}
        for f, s in self.runner.sides.items():
            if s.result is not None and not s.running:
                made = s.result.extra.get("made", s.result.images.shape[1])
                out[f] = s.result.images[:, : max(1, made)]
        return out

    def export(self, path: str, which: str = "both", size: int = 384, fps: int = FPS):
        """Write the clips to `path` in the background; returns the ExportJob (its finished /
        failed / cancelled signals say how it ended)."""
        from desktopgen.export.videos import export_video
        from desktopgen.gui.export_jobs import ExportJob, start_job

        res = self.results()
        sides = res if which == "both" else {which: res[which]} if which in res else {}
        self._job = ExportJob(lambda: export_video(path, sides, size, fps, overwrite=True),
                              f"Saved {path}")
        self._job.finished.connect(self.status.setText)
        self._job.failed.connect(self._export_failed)  # a bound method: runs on the GUI thread
        self._job_thread = start_job(self._job, self)
        return self._job

    def _export_failed(self, message: str) -> None:
        self.status.setText(f"Export failed: {message}")

    def export_dialog(self) -> None:
        if not self.results():
            self.status.setText("Nothing to export yet: generate first.")
            return
        choice = ask_export(self, list(self.results()))
        if choice is not None:
            self.export(*choice)

    # ===================================================================== settings
    KEYS = {"class": "class_combo", "batch": "batch_spin", "frames": "frames_spin", "steps": "steps_spin"}

    def restore_settings(self) -> None:
        st = self.settings
        try:
            self.class_combo.setCurrentIndex(int(st.value("video/class", 0)))
            for k in ("batch", "frames", "steps"):
                spin = getattr(self, self.KEYS[k])
                spin.setValue(int(st.value(f"video/{k}", spin.value())))
            self.seed_spin.setValue(int(st.value("video/seed", 0)))
            self.seed_lock.setChecked(str(st.value("video/seed_lock", "false")).lower() == "true")
            for f in FAMILIES:
                for key, combo in (("model", self.model_combo[f]), ("sampler", self.sampler_combo[f])):
                    i = combo.findText(str(st.value(f"video/{f}_{key}", "")))
                    if i >= 0:
                        combo.setCurrentIndex(i)
        except (TypeError, ValueError):
            pass  # a damaged settings file: keep the defaults

    def save_settings(self) -> None:
        st = self.settings
        st.setValue("video/class", self.class_combo.currentIndex())
        for k in ("batch", "frames", "steps"):
            st.setValue(f"video/{k}", getattr(self, self.KEYS[k]).value())
        st.setValue("video/seed", str(self.seed_spin.value()))
        st.setValue("video/seed_lock", self.seed_lock.isChecked())
        for f in FAMILIES:
            st.setValue(f"video/{f}_model", self.model_combo[f].currentText())
            st.setValue(f"video/{f}_sampler", self.sampler_combo[f].currentText())
