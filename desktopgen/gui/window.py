"""The main window: two canvases racing side by side, the controls, live plots and a timeline.

The window only draws, collects input and moves events between threads: each side's worker
(desktopgen.gui.workers) owns its model and runs on its own QThread; events are stored as they
arrive and drawn by a ~30 Hz timer, so a fast sampler cannot flood the event loop.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QColor, QFont, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSlider,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from desktopgen.core.events import RunResult, StepEvent
from desktopgen.core.requests import SampleRequest
from desktopgen.core.trace import RunTrace
from desktopgen.gui import options
from desktopgen.gui.canvas import OUTLINE, Canvas, overlay_toggle
from desktopgen.gui.theme import COLORS, NAMES
from desktopgen.gui.workers import Job, JobDone, JobEvent, JobFailed, WorkerReady, WorkerThread

FAMILIES = ("diffusion", "ar")
REDRAW_MS = 33  # ~30 canvas redraws per second, however fast the samplers step
PLOT_EVERY = 2  # ticks between plot redraws; each updates one of the three plots (rotation), ~5 Hz each
MAX_SEED = 2**31 - 1
KEEP_EVERY = {"diffusion": 1, "ar": 8}  # timeline frames kept: AR keeps every 8th pixel step


@dataclass
class Side:
    """What the window knows about one side's current or last run."""

    family: str
    job_id: int = 0
    running: bool = False
    trace: RunTrace | None = None
    latest: StepEvent | None = None
    dirty: bool = False
    request: SampleRequest | None = None  # as the worker ran it (defaults filled in)
    result: RunResult | None = None
    card: dict = field(default_factory=dict)
    error: str = ""
    device: str = ""


class _FirstPaint(QObject):
    """Emits once, on the window's first paint event (and notes its wall-clock time)."""

    painted = Signal()
    at: float | None = None  # time.time() of the first paint event

    def eventFilter(self, obj, event):
        if event.type() == QEvent.Paint:
            self.at = time.time()
            obj.removeEventFilter(self)
            QTimer.singleShot(0, self.painted.emit)
        return False


class MainWindow(QMainWindow):
    firstPainted = Signal()
    workersLoaded = Signal()  # both workers have imported torch and loaded their default model
    runFinished = Signal(str)  # family, after its JobDone or JobFailed was handled
    allIdle = Signal()  # no side running nor queued

    def __init__(self, settings: QSettings | None = None, device: str = "auto", parent=None):
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle("DesktopGen — diffusion vs autoregression")
        self.settings = settings if settings is not None else QSettings()
        self.device = device
        self.sides = {f: Side(f) for f in FAMILIES}
        self.threads: dict[str, WorkerThread] = {}
        self._next_job = 0
        self._queued: list[tuple[str, SampleRequest]] = []  # one-at-a-time mode: sides still to run
        self._source_mask: tuple[np.ndarray, np.ndarray] | None = None
        self._overrides: dict = {}  # inpainting: class/guidance/resample/jump from the mask editor
        self._editor = None  # the mask editor (issue 4), built on first use: it imports torch
        self._editor_dock = None
        self._loaded: set[str] = set()

        self._build_ui()
        self._build_menus()
        self._restore_settings()

        self._ticks = 0
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw)
        self._timer.start()

        self._first_paint = _FirstPaint(self)
        self._first_paint.painted.connect(self.firstPainted)
        self.installEventFilter(self._first_paint)

    # ===================================================================== UI construction
    def _build_ui(self) -> None:
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(8, 8, 8, 4)
        split = QSplitter(Qt.Vertical)
        top = QWidget()
        row = QHBoxLayout(top)
        row.setContentsMargins(0, 0, 0, 0)
        controls = QScrollArea()  # scrolls rather than push the window past an 800-px screen
        controls.setWidget(self._build_controls())
        controls.setWidgetResizable(True)
        controls.setFrameShape(QFrame.NoFrame)
        controls.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        controls.setFixedWidth(controls.widget().width() + controls.verticalScrollBar().sizeHint().width())
        row.addWidget(controls)
        self.canvases: dict[str, Canvas] = {}
        self.captions: dict[str, QLabel] = {}
        self.progress: dict[str, QProgressBar] = {}
        self.figures: dict[str, QLabel] = {}
        for f in FAMILIES:
            row.addWidget(self._build_side_view(f), 1)
        split.addWidget(top)

        bottom = QWidget()
        b = QVBoxLayout(bottom)
        b.setContentsMargins(0, 0, 0, 0)
        b.addLayout(self._build_timeline())
        # pyqtgraph takes most of a second to import: the plots replace this placeholder right
        # after the first paint, so the window shows without waiting for it.
        self.plots = None
        self._plots_layout = b
        self._plots_placeholder = QLabel("Live plots: loading…")
        self._plots_placeholder.setAlignment(Qt.AlignCenter)
        self._plots_placeholder.setMinimumHeight(200)
        self._plots_placeholder.setStyleSheet("background: #16161a; color: #77777f;")
        b.addWidget(self._plots_placeholder, 1)
        split.addWidget(bottom)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        outer.addWidget(split)
        self.setCentralWidget(central)
        self.setAcceptDrops(True)  # an image opens in the mask editor; an exported PNG, its recipe

        self.device_label = QLabel("Device: starting…")
        self.device_label.setToolTip("Where the models run. On a CPU the two sides share its cores.")
        self.statusBar().addPermanentWidget(self.device_label)
        self.statusBar().showMessage("Loading the engine in the background… you can set up a run.")
        self.resize(1280, 800)

    def _build_side_view(self, f: str) -> QWidget:
        box = QWidget()
        v = QVBoxLayout(box)
        v.setContentsMargins(4, 0, 4, 0)
        title = QLabel(NAMES[f])
        font = QFont()
        font.setPointSize(13)
        font.setBold(True)
        title.setFont(font)
        title.setStyleSheet(f"color: {COLORS[f]};")
        caption = QLabel("")
        caption.setObjectName(f"{f}Caption")
        caption.setStyleSheet("color: #9a9aa6;")
        caption.setWordWrap(True)
        canvas = Canvas(NAMES[f], QColor("#ff3b5c") if f == "ar" else None)
        canvas.setObjectName("diffusionCanvas" if f == "diffusion" else "arCanvas")
        canvas.setToolTip(
            "The diffusion model refines the whole image at every step, from noise to picture."
            if f == "diffusion" else
            "The autoregressive model writes one pixel at a time, left to right, top to bottom. "
            "The red box is the pixel being written; the dim checker is what is not written yet.")
        bar = QProgressBar()
        bar.setObjectName(f"{f}Progress")
        bar.setFormat("idle")
        bar.setValue(0)
        bar.setToolTip("Steps done of the whole run, and the estimated time left.")
        fig = QLabel("")
        fig.setObjectName(f"{f}Figures")
        fig.setWordWrap(True)
        fig.setTextInteractionFlags(Qt.TextSelectableByMouse)
        fig.setToolTip("The last run: total time, time per image and peak memory.")
        for w in (title, caption):
            v.addWidget(w)
        v.addWidget(canvas, 1)
        v.addWidget(bar)
        v.addWidget(fig)
        self.canvases[f], self.captions[f], self.progress[f], self.figures[f] = canvas, caption, bar, fig
        return box

    def _build_controls(self) -> QWidget:
        panel = QWidget()
        panel.setFixedWidth(300)
        v = QVBoxLayout(panel)
        v.setContentsMargins(0, 0, 0, 0)

        shared = QGroupBox("What to make")
        form = QFormLayout(shared)
        self.class_combo = QComboBox()
        self.class_combo.setObjectName("classCombo")
        self.class_combo.addItems(["any (one of each)"] + list(options.CLASSES[1:]))
        self.class_combo.setToolTip("The kind of clothing to draw (the 'prompt'). 'any' cycles "
                                    "through the ten Fashion-MNIST classes across the batch.")
        form.addRow("Prompt", self.class_combo)

        seed_row = QHBoxLayout()
        self.seed_spin = QSpinBox()
        self.seed_spin.setObjectName("seedSpin")
        self.seed_spin.setRange(0, MAX_SEED)
        self.seed_spin.setToolTip("The random seed. The same seed and settings give the same images.")
        self.dice_button = QToolButton()
        self.dice_button.setObjectName("diceButton")
        self.dice_button.setText("Roll")
        self.dice_button.setToolTip("Pick a new random seed.")
        self.dice_button.clicked.connect(self.roll_seed)
        self.seed_lock = QCheckBox("lock")
        self.seed_lock.setObjectName("seedLock")
        self.seed_lock.setToolTip("Locked: every Generate uses this seed. Unlocked: each Generate "
                                  "picks a new one, so you see new images.")
        seed_row.addWidget(self.seed_spin, 1)
        seed_row.addWidget(self.dice_button)
        seed_row.addWidget(self.seed_lock)
        form.addRow("Seed", seed_row)

        self.batch_spin = QSpinBox()
        self.batch_spin.setObjectName("batchSpin")
        self.batch_spin.setRange(1, 64)
        self.batch_spin.setValue(4)
        self.batch_spin.setToolTip("How many images each side makes at once (shown as a grid).")
        form.addRow("Batch", self.batch_spin)

        self.sequential_check = QCheckBox("One at a time (fair timing)")
        self.sequential_check.setObjectName("sequentialCheck")
        self.sequential_check.setToolTip(
            "Run diffusion first, then autoregression, so neither slows the other down. "
            "Off: both race at once and share the machine.")
        form.addRow(self.sequential_check)

        buttons = QHBoxLayout()
        self.generate_button = QPushButton("Generate")
        self.generate_button.setObjectName("generateButton")
        self.generate_button.setToolTip("Both sides make the same request at once (Ctrl+Enter).")
        self.generate_button.setDefault(True)
        self.generate_button.setMinimumHeight(34)
        self.generate_button.clicked.connect(lambda: self.generate())
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelButton")
        self.cancel_button.setToolTip("Stop both sides after their current step (Esc).")
        self.cancel_button.setEnabled(False)
        self.cancel_button.setMinimumHeight(34)
        self.cancel_button.clicked.connect(self.cancel)
        buttons.addWidget(self.generate_button, 2)
        buttons.addWidget(self.cancel_button, 1)
        form.addRow(buttons)
        v.addWidget(shared)

        self.model_combo, self.sampler_combo, self.steps_spin, self.guidance_spin = {}, {}, {}, {}
        self.side_generate = {}
        for f in FAMILIES:
            v.addWidget(self._build_side_controls(f))
        v.addStretch(1)
        return panel

    def _build_side_controls(self, f: str) -> QGroupBox:
        d = options.DEFAULTS[f]
        box = QGroupBox(NAMES[f])
        box.setStyleSheet(f"QGroupBox {{ color: {COLORS[f]}; font-weight: bold; }}")
        form = QFormLayout(box)
        model = QComboBox()
        model.setObjectName(f"{f}ModelCombo")
        model.setEditable(False)
        model.addItems(options.list_models(f))
        model.setToolTip("Which trained model to use (folders under models/).")
        form.addRow("Model", model)
        sampler = QComboBox()
        sampler.setObjectName(f"{f}SamplerCombo")
        for s in options.SAMPLERS[f]:
            sampler.addItem(options.SAMPLER_LABELS[s], s)
        sampler.setToolTip(
            "How noise becomes an image: DPM-Solver++ is good in few steps; DDIM is deterministic; "
            "DDPM adds fresh noise at every step and needs many steps." if f == "diffusion" else
            "The pixel transformer writes the 784 pixels one by one, each one conditioned on all "
            "the pixels before it.")
        form.addRow("Sampler", sampler)
        steps = QSpinBox()
        steps.setObjectName(f"{f}StepsSpin")
        if f == "diffusion":
            steps.setRange(1, 1000)
            steps.setValue(d["steps"])
            steps.setToolTip("Denoising steps: more steps, finer images, more time.")
        else:
            steps.setRange(784, 784)
            steps.setValue(784)
            steps.setEnabled(False)
            steps.setToolTip("One step per pixel: 28 x 28 = 784, always.")
        form.addRow("Steps", steps)
        guidance = QDoubleSpinBox()
        guidance.setObjectName(f"{f}GuidanceSpin")
        guidance.setRange(0.0, 20.0)
        guidance.setSingleStep(0.25)
        guidance.setValue(d["guidance"])
        guidance.setToolTip("Classifier-free guidance: how hard to push towards the prompt. "
                            "1 = none; higher = more typical, less varied images.")
        form.addRow("Guidance", guidance)
        if f == "diffusion":
            self.view_combo = QComboBox()
            self.view_combo.setObjectName("diffusionViewCombo")
            self.view_combo.addItem("predicted clean image", "clean")
            self.view_combo.addItem("current noisy sample", "noisy")
            self.view_combo.setToolTip("While it runs, show the model's guess of the final image, "
                                       "or the noisy sample it is actually refining.")
            self.view_combo.currentIndexChanged.connect(lambda _: self._view_changed())
            form.addRow("Show", self.view_combo)
        else:
            self.temperature_spin = QDoubleSpinBox()
            self.temperature_spin.setObjectName("arTemperatureSpin")
            self.temperature_spin.setRange(0.05, 5.0)
            self.temperature_spin.setSingleStep(0.05)
            self.temperature_spin.setValue(d["temperature"])
            self.temperature_spin.setToolTip("Randomness of each pixel: below 1 plays safe, above 1 "
                                             "takes more chances.")
            form.addRow("Temperature", self.temperature_spin)
            self.topk_spin = QSpinBox()
            self.topk_spin.setObjectName("arTopKSpin")
            self.topk_spin.setRange(0, 256)
            self.topk_spin.setSpecialValueText("off")
            self.topk_spin.setToolTip("Only pick among the k likeliest intensities for each pixel "
                                      "(off = all 256).")
            form.addRow("Top-k", self.topk_spin)
        gen = QPushButton(f"Generate {NAMES[f].lower()} only")
        gen.setObjectName(f"{f}GenerateButton")
        gen.setToolTip(f"Run only the {NAMES[f].lower()} side with these settings.")
        gen.clicked.connect(lambda _=False, fam=f: self.generate((fam,)))
        form.addRow(gen)
        self.model_combo[f], self.sampler_combo[f] = model, sampler
        self.steps_spin[f], self.guidance_spin[f], self.side_generate[f] = steps, guidance, gen
        return box

    def _build_timeline(self) -> QHBoxLayout:
        row = QHBoxLayout()
        label = QLabel("Timeline")
        label.setToolTip("After a run, drag to replay both processes and compare any moment.")
        self.timeline_slider = QSlider(Qt.Horizontal)
        self.timeline_slider.setObjectName("timelineSlider")
        self.timeline_slider.setRange(0, 1000)
        self.timeline_slider.setValue(1000)
        self.timeline_slider.setEnabled(False)
        self.timeline_slider.setToolTip("After a run, drag to replay both processes step by step.")
        self.timeline_slider.valueChanged.connect(lambda _: self._show_timeline())
        self.align_combo = QComboBox()
        self.align_combo.setObjectName("timelineAlignCombo")
        self.align_combo.addItem("aligned by fraction of run", "fraction")
        self.align_combo.addItem("aligned by wall time", "time")
        self.align_combo.setToolTip("Fraction: both at the same share of their steps. Wall time: "
                                    "both at the same second since they started.")
        self.align_combo.currentIndexChanged.connect(lambda _: self._show_timeline())
        self.timeline_label = QLabel("")
        self.timeline_label.setMinimumWidth(300)
        self.timeline_label.setStyleSheet("color: #9a9aa6;")
        row.addWidget(label)
        row.addWidget(self.timeline_slider, 1)
        row.addWidget(self.align_combo)
        row.addWidget(self.timeline_label)
        return row

    def _build_menus(self) -> None:
        fm = self.menuBar().addMenu("&File")
        self.open_action = QAction("&Open image…", self)
        self.open_action.setShortcut(QKeySequence.Open)
        self.open_action.setToolTip("Open an image to inpaint (mask editor)")
        self.open_action.triggered.connect(lambda: self.open_image())
        self.export_action = QAction("&Export image…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+S"))
        self.export_action.triggered.connect(lambda: self.export("image"))
        self.export_clip_action = QAction("Export process &clip…", self)
        self.export_clip_action.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.export_clip_action.triggered.connect(lambda: self.export("clip"))
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.triggered.connect(self.close)
        for a in (self.open_action, self.export_action, self.export_clip_action):
            fm.addAction(a)
            self.addAction(a)
        fm.addSeparator()
        fm.addAction(self.quit_action)

        im = self.menuBar().addMenu("&Image")
        self.image_menu = im
        self.generate_action = QAction("&Generate both", self)
        self.generate_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.generate_action.triggered.connect(lambda: self.generate())
        self.cancel_action = QAction("&Cancel", self)
        self.cancel_action.setShortcut(QKeySequence(Qt.Key_Escape))
        self.cancel_action.triggered.connect(self.cancel)
        self.dice_action = QAction("New random &seed", self)
        self.dice_action.setShortcut(QKeySequence("Ctrl+R"))
        self.dice_action.triggered.connect(self.roll_seed)
        for a in (self.generate_action, self.cancel_action, self.dice_action):
            im.addAction(a)
            self.addAction(a)  # shortcuts work even with the menu bar hidden
        im.addSeparator()
        self.inpaint_panel_action = QAction("&Inpainting panel", self)
        self.inpaint_panel_action.setToolTip("Paint a hole in an image and let both models fill it")
        self.inpaint_panel_action.triggered.connect(lambda: self.mask_editor())
        im.addAction(self.inpaint_panel_action)
        self.mask_overlay_action = overlay_toggle(self, self.canvases.values())
        im.addAction(self.mask_overlay_action)
        self.addAction(self.mask_overlay_action)
        self.send_actions = {}
        for f in FAMILIES:
            a = QAction(f"Send {NAMES[f].lower()} result to inpainting", self)
            a.triggered.connect(lambda _=False, fam=f: self.send_to_inpainting(fam))
            im.addAction(a)
            self.send_actions[f] = a
        self.addAction(self.quit_action)

        hm = self.menuBar().addMenu("&Help")
        about = QAction("&About DesktopGen", self)
        about.triggered.connect(self._about)
        hm.addAction(about)

    def _about(self) -> None:
        from desktopgen import __version__
        QMessageBox.about(self, "About DesktopGen",
                          f"DesktopGen {__version__}\n\nA diffusion model and an autoregressive model "
                          "draw Fashion-MNIST clothes side by side, live, on your own machine.")

    # ===================================================================== workers
    def ensure_plots(self):
        """Build the live plots (imports pyqtgraph) in place of their placeholder; idempotent."""
        if self.plots is None:
            from desktopgen.gui.plots import TelemetryPlots

            self.plots = TelemetryPlots()
            self._plots_layout.replaceWidget(self._plots_placeholder, self.plots)
            self._plots_placeholder.deleteLater()
            self._plots_placeholder = None
        return self.plots

    @Slot()
    def start_workers(self) -> None:
        """Start both worker threads (idempotent); each imports torch and loads its default model
        in the background. Called after the first paint, so the window never waits for torch."""
        self.ensure_plots()
        if self.threads:
            return
        for f in FAMILIES:
            wt = WorkerThread(f)
            # bound methods, not lambdas: PySide6 runs a lambda on the worker's thread
            wt.worker.event.connect(self._on_event)
            wt.worker.finished.connect(self._on_finished)
            wt.worker.failed.connect(self._on_failed)
            wt.worker.ready.connect(self._on_ready)
            wt.worker.loaded.connect(self._on_loaded)
            self.threads[f] = wt
            wt.worker.warm_up(self.device)

    @property
    def first_paint_at(self) -> float | None:
        """time.time() of the window's first paint event (None before it)."""
        return self._first_paint.at

    def stop_workers(self) -> None:
        """Cancel any run and join both threads (a step ends within milliseconds)."""
        self._queued.clear()
        self._loaded.clear()
        for wt in self.threads.values():
            wt.stop()
        self.threads.clear()
        for s in self.sides.values():
            s.running = False

    @Slot(str)
    def _on_loaded(self, family: str) -> None:
        self._loaded.add(family)
        if self._loaded >= set(FAMILIES):
            self.workersLoaded.emit()

    @Slot(object)
    def _on_ready(self, r: WorkerReady) -> None:
        self.sides[r.family].device = r.device.replace("(1 threads)", "(1 thread)")
        self.plots.set_memory_kind("cuda" if r.device_type == "cuda" else "process")
        shared = " — both sides share its cores" if r.device_type == "cpu" else ""
        self.device_label.setText(f"Device: {self.sides[r.family].device}{shared}")
        self._update_caption(r.family)
        if all(s.device for s in self.sides.values()) and not self.is_running():
            self.statusBar().showMessage("Ready. Press Generate (Ctrl+Enter).", 5000)

    # ===================================================================== running
    def request_for(self, family: str) -> SampleRequest:
        """The request the controls describe for one side."""
        cls = self.class_combo.currentIndex() - 1
        kw = dict(family=family, model=self.model_combo[family].currentText(),
                  sampler=self.sampler_combo[family].currentData(),
                  guidance=float(self.guidance_spin[family].value()),
                  class_label=None if cls < 0 else cls, seed=int(self.seed_spin.value()),
                  batch=int(self.batch_spin.value()))
        if family == "diffusion":
            kw["steps"] = int(self.steps_spin[family].value())
        else:
            kw.update(temperature=float(self.temperature_spin.value()), top_k=int(self.topk_spin.value()))
        if self._source_mask is not None:
            src, mask = self._source_mask
            kw.update(source=tuple(map(tuple, src.astype(int).tolist())),
                      mask=tuple(map(tuple, mask.astype(int).tolist())))
            kw.update(self._overrides)
        return SampleRequest(**kw)

    def is_running(self, family: str | None = None) -> bool:
        fams = FAMILIES if family is None else (family,)
        return any(self.sides[f].running for f in fams) or (family is None and bool(self._queued))

    def generate(self, families: tuple[str, ...] = FAMILIES) -> None:
        """Start a run on the given sides (both race, or one after the other in one-at-a-time mode)."""
        if not self.seed_lock.isChecked() and families == FAMILIES:
            self.roll_seed()
        self.start_workers()
        self._queued.clear()
        for f in families:
            if self.sides[f].running:
                self.threads[f].worker.cancel(self.sides[f].job_id)
        requests = [(f, self.request_for(f)) for f in families]
        self.plots.reset(families)
        self.timeline_slider.setEnabled(False)
        self.timeline_label.setText("")
        for f, _ in requests:
            self._prepare_side(f)
        if self.sequential_check.isChecked() and len(requests) > 1:
            self._queued = requests[1:]
            for f, _ in self._queued:
                self.progress[f].setFormat("waiting for the other side (one at a time)")
            requests = requests[:1]
        for f, req in requests:
            self._submit(f, req)
        self._update_buttons()

    def start_inpaint(self, source, mask, **changes) -> None:
        """Both sides fill the same hole: `source` 28x28 uint8, `mask` 28x28 with 1 = generate;
        `changes` (class_label, guidance, resample, jump) override the controls for both sides.
        The mask editor's Inpaint button lands here; the overlay shows the hole on both canvases."""
        source = np.asarray(source, np.uint8).reshape(28, 28)
        mask = (np.asarray(mask).reshape(28, 28) > 0).astype(np.uint8)
        allowed = {"class_label", "guidance", "resample", "jump"}
        self._source_mask = (source, mask)
        self._overrides = {k: v for k, v in changes.items() if k in allowed}
        try:
            self.generate()  # clears the canvases, and with them any earlier mask
        finally:
            self._source_mask, self._overrides = None, {}
        for c in self.canvases.values():  # outlined, so the filled-in pixels are not tinted
            c.set_overlay(mask, OUTLINE)

    def clear_inpaint(self) -> None:
        for c in self.canvases.values():
            c.set_overlay(None)

    def _prepare_side(self, f: str) -> None:
        s = self.sides[f]
        s.trace = RunTrace(f, keep_every=KEEP_EVERY[f])
        s.latest, s.result, s.error, s.dirty = None, None, "", False
        self.progress[f].setRange(0, 1)
        self.progress[f].setValue(0)
        self.progress[f].setFormat("starting…")
        self.figures[f].setText("")
        self.figures[f].setStyleSheet("")
        self.canvases[f].clear("Loading the model…" if not s.device else "Starting…")

    def _submit(self, f: str, req: SampleRequest) -> None:
        self._next_job += 1
        s = self.sides[f]
        s.job_id, s.running = self._next_job, True
        s.request = req
        self._update_caption(f)
        self.progress[f].setFormat("starting…")
        self.threads[f].worker.submit(Job(s.job_id, req, self.device))

    def cancel(self) -> None:
        """Stop both sides after their current step; what was made so far stays on screen."""
        for f, _ in self._queued:
            self.progress[f].setFormat("cancelled before it started")
        self._queued.clear()
        for f, s in self.sides.items():
            if s.running and f in self.threads:
                self.threads[f].worker.cancel(s.job_id)
        if self.is_running():
            self.statusBar().showMessage("Cancelling…")

    def roll_seed(self) -> None:
        self.seed_spin.setValue(random.randint(0, MAX_SEED))

    # ===================================================================== worker events
    @Slot(object)
    def _on_event(self, je: JobEvent) -> None:
        f = je.family
        s = self.sides[f]
        if je.job_id != s.job_id or not s.running:
            return  # a stale event from a cancelled run
        ev = je.event
        if s.trace is not None:
            s.trace.add(ev)
        self.plots.add(ev)
        if ev.preview is not None:
            s.latest = ev
        s.dirty = True

    @Slot(object)
    def _on_finished(self, done: JobDone) -> None:
        f = done.family
        s = self.sides[f]
        if done.job_id != s.job_id:
            return
        s.running, s.result, s.card, s.request = False, done.result, done.card, done.request
        s.dirty = True
        self._redraw()
        r = done.result
        self.canvases[f].set_frames(r.images, None)
        if f == "ar" and self._editor is not None:
            self._editor.set_ar_position(-1)  # the live AR context ends with the run
        self._update_caption(f)
        bar = self.progress[f]
        bar.setRange(0, max(1, s.trace.total if s.trace and s.trace.total else r.steps))
        bar.setValue(r.steps)
        if r.completed:
            bar.setFormat(f"done: {r.steps} steps in {r.elapsed:.2f} s")
        else:
            bar.setFormat(f"cancelled at step {r.steps} ({r.elapsed:.2f} s)")
        mem = "CUDA peak" if r.mem_kind == "cuda" else "process peak RSS"
        n = len(r.images)
        self.figures[f].setText(
            f"<b>{r.elapsed:.2f} s</b> total · <b>{_duration(r.elapsed / max(1, n))}</b> per image "
            f"· <b>{_duration(r.elapsed / max(1, r.steps))}</b> per step · {mem} "
            f"<b>{r.peak_memory / 2**20:.0f} MiB</b>" + ("" if r.completed else " · <i>cancelled</i>"))
        self._after_side(f)

    @Slot(object)
    def _on_failed(self, fail: JobFailed) -> None:
        f = fail.family
        s = self.sides[f]
        if fail.job_id != s.job_id:
            return
        s.running, s.error = False, fail.message
        self.progress[f].setFormat("failed")
        self.figures[f].setText(f"⚠ {fail.message}")
        self.figures[f].setStyleSheet("color: #ff6b6b;")
        self.canvases[f].clear(f"{NAMES[f]} failed:\n{fail.message}")
        self.statusBar().showMessage(f"{NAMES[f]} failed: {fail.message}", 15000)
        self._after_side(f)

    def _after_side(self, f: str) -> None:
        if self._queued:
            nf, req = self._queued.pop(0)
            self._submit(nf, req)
        self._update_buttons()
        self.runFinished.emit(f)
        if not self.is_running():
            self._enable_timeline()
            if not any(s.error for s in self.sides.values()):
                self.statusBar().showMessage("Done. Drag the timeline to replay both runs.", 8000)
            self.allIdle.emit()

    def _update_buttons(self) -> None:
        running = self.is_running()
        self.cancel_button.setEnabled(running)

    def _update_caption(self, f: str) -> None:
        s = self.sides[f]
        req = s.request
        model = req.model if req and req.model else self.model_combo[f].currentText()
        sampler = req.sampler if req and req.sampler else self.sampler_combo[f].currentData()
        parts = [model, options.SAMPLER_LABELS.get(sampler, sampler)]
        if f == "diffusion":
            steps = req.steps if req and req.steps else self.steps_spin[f].value()
            parts.append(f"{steps} steps")
        self.captions[f].setText(" · ".join(parts))  # one line at 1280 px with the inpainting dock
        self.captions[f].setToolTip(" · ".join(parts + [s.device or "device: loading…"]))

    # ===================================================================== drawing
    @Slot()
    def _redraw(self) -> None:
        """Runs ~30 times a second: draw the latest frame and figures of each side that changed."""
        for f, s in self.sides.items():
            if not s.dirty:
                continue
            s.dirty = False
            ev = s.latest
            if ev is not None and s.running:
                self._show_event_frame(f, ev.preview, ev.preview_clean, ev.position)
                if f == "ar" and self._editor is not None and s.request is not None and s.request.mask:
                    self._editor.set_ar_position(ev.position)  # what the AR model can see now
            tr = s.trace
            if tr is not None and tr.steps and s.running:
                step, total, el = tr.steps[-1], tr.total, tr.elapsed[-1]
                eta = el / step * (total - step) if step else 0.0
                bar = self.progress[f]
                bar.setRange(0, total)
                bar.setValue(step)
                bar.setFormat(f"step {step} / {total} · {el:.1f} s · ETA {eta:.1f} s")
        self._ticks += 1
        if self.plots is not None:
            if not self.is_running():
                self.plots.refresh()
            elif self._ticks % PLOT_EVERY == 0:
                self.plots.refresh_next()  # one plot per tick: each ~10 Hz, no long frames

    def _show_event_frame(self, f, preview, preview_clean, position) -> None:
        if f == "diffusion":
            clean = self.view_combo.currentData() == "clean"
            frames = preview_clean if clean and preview_clean is not None else preview
            self.canvases[f].set_frames(frames)
        else:
            self.canvases[f].set_frames(preview, position)

    def _view_changed(self) -> None:
        s = self.sides["diffusion"]
        if s.running and s.latest is not None:
            s.dirty = True
        elif self.timeline_slider.isEnabled() and self.timeline_slider.value() < 1000:
            self._show_timeline()

    # ===================================================================== timeline
    def _enable_timeline(self) -> None:
        have = [s for s in self.sides.values() if s.trace is not None and s.trace.frames]
        self.timeline_slider.setEnabled(bool(have))
        self.timeline_slider.blockSignals(True)
        self.timeline_slider.setValue(1000)
        self.timeline_slider.blockSignals(False)
        if have:
            self.timeline_label.setText("end of both runs — drag to replay")

    def _show_timeline(self) -> None:
        """Show both sides at the slider's moment, by fraction of each run or by wall time."""
        if not self.timeline_slider.isEnabled() or self.is_running():
            return
        x = self.timeline_slider.value() / 1000
        by_time = self.align_combo.currentData() == "time"
        traces = {f: s.trace for f, s in self.sides.items() if s.trace is not None and s.trace.frames}
        longest = max((t.duration for t in traces.values()), default=0.0)
        texts = []
        for f, tr in traces.items():
            frame = tr.frame_at_time(x * longest) if by_time else tr.frame_at(x)
            if frame is None:
                continue
            step, el, preview, clean, pos = frame
            if by_time and x * longest < tr.frames[0][1]:
                step, el = 0, 0.0
            done = step >= tr.total
            req = self.sides[f].request  # the run's own hole, even if the editor's mask changed since
            self.canvases[f].set_overlay(np.asarray(req.mask) if req and req.mask else None, OUTLINE)
            self._show_event_frame(f, preview, clean, None if done else pos)
            self.plots.set_cursor(f, el)
            texts.append(f"{NAMES[f]} step {step}/{tr.total} at {el:.2f} s")
        if by_time:
            texts.insert(0, f"t = {x * longest:.2f} s")
        self.timeline_label.setText(" · ".join(texts))

    # ===================================================================== results (export hook)
    def current_results(self) -> dict[str, dict]:
        """Both sides' last run, for export: {family: {request, result, trace, card, error}}.
        `result` is None while a side runs or after it failed."""
        return {f: {"request": s.request, "result": s.result, "trace": s.trace, "card": s.card,
                    "error": s.error} for f, s in self.sides.items()}

    def mask_editor(self):
        """The mask editor (issue 4) in a dock on the right, built on first use."""
        if self._editor is None:
            from PySide6.QtWidgets import QDockWidget

            from desktopgen.gui.mask_editor import MaskEditor  # imports the engine: never at start-up

            self._editor = MaskEditor()
            self._editor_dock = QDockWidget("Inpainting", self)
            self._editor_dock.setObjectName("inpaintDock")
            self._editor_dock.setWidget(self._editor)
            self.addDockWidget(Qt.RightDockWidgetArea, self._editor_dock)
            self.resizeDocks([self._editor_dock], [self._editor.sizeHint().width()], Qt.Horizontal)
            self._editor.add_overlay_toggle(self.mask_overlay_action)
            self._editor.message.connect(self._show_message)
            self._editor.inpaintRequested.connect(self._inpaint_from_editor)
            self._editor.maskChanged.connect(self._show_mask)
            self._editor.imageChanged.connect(self._show_source)
            for a in self._editor.actions():  # File > Open image (Ctrl+O) does the same: one owner,
                if a.shortcut() == self.open_action.shortcut():  # or Qt finds Ctrl+O ambiguous
                    a.setShortcut(QKeySequence())
        self._editor_dock.show()
        return self._editor

    def open_image(self, path: str | None = None) -> None:
        """Open an image to inpaint in the mask editor (a file dialog when no path is given)."""
        editor = self.mask_editor()
        if path:
            editor.open_file(str(path))
        else:
            editor.open_dialog()

    @Slot(str)
    def _show_message(self, text: str) -> None:
        self.statusBar().showMessage(text, 10000)

    @Slot(object)
    def _show_mask(self, mask) -> None:
        source = self._editor.source() if self._editor is not None else None
        if source is None or self.is_running():  # the mask applies to the editor's image only
            return
        self._show_source(source)
        for c in self.canvases.values():
            c.set_overlay(mask if mask is not None and np.asarray(mask).any() else None)

    @Slot(object)
    def _show_source(self, image) -> None:
        """Put the image to inpaint on both canvases, so the hole shows before Inpaint is pressed."""
        if image is None or self.is_running():
            return
        for c in self.canvases.values():
            c.set_frames(np.asarray(image, np.uint8).reshape(1, 28, 28))

    @Slot()
    def _inpaint_from_editor(self) -> None:
        try:
            ch = self._editor.request_changes()
        except ValueError as e:
            self._show_message(str(e))
            return
        self.start_inpaint(ch.pop("source"), ch.pop("mask"), **ch)

    def send_to_inpainting(self, family: str, index: int = 0) -> None:
        """Use a finished result (sample `index`) as the mask editor's source image."""
        r = self.sides[family].result
        if r is None or not len(r.images):
            self._show_message(f"No {NAMES[family].lower()} result yet: generate first.")
            return
        self.mask_editor().set_image(r.images[min(index, len(r.images) - 1)],
                                     f"{NAMES[family]} result, sample {index + 1}, sent to inpainting")

    def export(self, tab: str = "image") -> None:
        """The export dialog (issue 5) on the finished sides' results."""
        results = self.current_results()
        if not any(r["result"] is not None for r in results.values()):
            self._show_message("Nothing to export yet: generate first.")
            return
        from desktopgen.gui.export_dialog import ExportDialog

        ExportDialog(self, results, tab=tab).exec()

    def restore_request(self, req: SampleRequest) -> None:
        """Set the controls from a request (e.g. the recipe of a dropped exported PNG)."""
        f = req.family
        self.class_combo.setCurrentIndex(0 if req.class_label is None else req.class_label + 1)
        self.seed_spin.setValue(min(MAX_SEED, req.seed))
        self.seed_lock.setChecked(True)
        self.batch_spin.setValue(max(1, min(64, req.batch)))
        if self.model_combo[f].findText(req.model) >= 0:
            self.model_combo[f].setCurrentText(req.model)
        i = self.sampler_combo[f].findData(req.sampler)
        if i >= 0:
            self.sampler_combo[f].setCurrentIndex(i)
        if f == "diffusion" and req.steps:
            self.steps_spin[f].setValue(req.steps)
        if req.guidance >= 0:
            self.guidance_spin[f].setValue(req.guidance)
        if f == "ar":
            self.temperature_spin.setValue(req.temperature)
            self.topk_spin.setValue(req.top_k)

    def dragEnterEvent(self, e) -> None:
        if e.mimeData().hasUrls():
            e.acceptProposedAction()  # judged on drop, where a refusal can say why
        else:
            e.ignore()

    def dropEvent(self, e) -> None:
        """A dropped exported PNG restores its recipe; any other image opens in the mask editor."""
        e.acceptProposedAction()
        urls = [u for u in e.mimeData().urls() if u.isLocalFile()]
        if len(urls) != 1:
            self._show_message("Drop one local image file.")
            return
        path = urls[0].toLocalFile()
        from desktopgen.export.recall import has_recipe

        if has_recipe(path):
            from desktopgen.gui.export_dialog import recall_from_png

            recipe = recall_from_png(path, self)
            if recipe is not None:
                for req in recipe.requests.values():
                    self.restore_request(req)
                self._show_message(f"Restored the settings of {Path(path).name}. Press Generate.")
            return
        self.open_image(path)

    # ===================================================================== settings
    def _restore_settings(self) -> None:
        st = self.settings
        geo = st.value("window/geometry")
        if isinstance(geo, QByteArray) and not geo.isEmpty():
            self.restoreGeometry(geo)

        def get(key, default, kind):
            v = st.value(key, default)
            try:
                return kind(v) if kind is not bool else v in (True, "true", "1", 1)
            except (TypeError, ValueError):
                return default

        self.class_combo.setCurrentIndex(min(10, max(0, get("run/class", 0, int))))
        self.seed_spin.setValue(min(MAX_SEED, max(0, get("run/seed", 0, int))))
        self.seed_lock.setChecked(get("run/seed_locked", False, bool))
        self.batch_spin.setValue(min(64, max(1, get("run/batch", 4, int))))
        self.sequential_check.setChecked(get("run/one_at_a_time", False, bool))
        for f in FAMILIES:
            d = options.DEFAULTS[f]
            i = self.model_combo[f].findText(get(f"{f}/model", "", str))
            if i >= 0:
                self.model_combo[f].setCurrentIndex(i)
            i = self.sampler_combo[f].findData(get(f"{f}/sampler", d["sampler"], str))
            if i >= 0:
                self.sampler_combo[f].setCurrentIndex(i)
            if f == "diffusion":
                self.steps_spin[f].setValue(get(f"{f}/steps", d["steps"], int))
            self.guidance_spin[f].setValue(get(f"{f}/guidance", d["guidance"], float))
        self.temperature_spin.setValue(get("ar/temperature", 1.0, float))
        self.topk_spin.setValue(get("ar/top_k", 0, int))
        self.view_combo.setCurrentIndex(1 if get("diffusion/view", "clean", str) == "noisy" else 0)
        self.align_combo.setCurrentIndex(1 if get("timeline/align", "fraction", str) == "time" else 0)
        for f in FAMILIES:
            self._update_caption(f)

    def save_settings(self) -> None:
        st = self.settings
        st.setValue("window/geometry", self.saveGeometry())
        st.setValue("run/class", self.class_combo.currentIndex())
        st.setValue("run/seed", self.seed_spin.value())
        st.setValue("run/seed_locked", self.seed_lock.isChecked())
        st.setValue("run/batch", self.batch_spin.value())
        st.setValue("run/one_at_a_time", self.sequential_check.isChecked())
        for f in FAMILIES:
            st.setValue(f"{f}/model", self.model_combo[f].currentText())
            st.setValue(f"{f}/sampler", self.sampler_combo[f].currentData())
            if f == "diffusion":
                st.setValue(f"{f}/steps", self.steps_spin[f].value())
            st.setValue(f"{f}/guidance", self.guidance_spin[f].value())
        st.setValue("ar/temperature", self.temperature_spin.value())
        st.setValue("ar/top_k", self.topk_spin.value())
        st.setValue("diffusion/view", self.view_combo.currentData())
        st.setValue("timeline/align", self.align_combo.currentData())
        st.sync()

    def closeEvent(self, event) -> None:
        """Save the settings, stop both workers cleanly (a run ends within a step), then close."""
        self.save_settings()
        self._timer.stop()
        self.stop_workers()
        super().closeEvent(event)


def _duration(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else f"{1000 * seconds:.1f} ms"
