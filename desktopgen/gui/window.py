"""The main window: assembles the control panel, the two side views, the timeline and the live
plots around the Runner, and owns the menus, the inpainting dock, drops and settings.

Each piece is its own object talking by signals; this module wires them and is the only one that
imports the others (they import only leaf helpers: theme, options, canvas, workers). Events are
stored as they arrive and drawn by a ~30 Hz timer, so a fast sampler cannot flood the event loop.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from PySide6.QtCore import QByteArray, QEvent, QObject, QSettings, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMainWindow, QSplitter, QVBoxLayout, QWidget

from desktopgen.core import samplers
from desktopgen.core.requests import SampleRequest
from desktopgen.gui.controls import ControlPanel
from desktopgen.gui.drops import read_drop
from desktopgen.gui.menus import Menus
from desktopgen.gui.mode_switch import ModeSwitch
from desktopgen.gui.run import Runner
from desktopgen.gui.side_view import SideView
from desktopgen.gui.theme import FAMILIES, NAMES
from desktopgen.gui.timeline import Timeline, moment
from desktopgen.gui.workers import JobDone, JobFailed, WorkerReady

REDRAW_MS = 33  # ~30 canvas redraws per second, however fast the samplers step
PLOT_EVERY = 2  # ticks between plot redraws; each updates one of the three plots (rotation), ~5 Hz each
TITLE = "Diffusion vs autoregression"  # Qt appends the application's display name, "DesktopGen"


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
    runFinished = Signal(str)  # family, after its run ended (finished, cancelled or failed)
    allIdle = Signal()  # no side running nor queued

    def __init__(self, settings: QSettings | None = None, device: str = "auto", parent=None):
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowTitle(TITLE)
        self.settings = settings if settings is not None else QSettings()
        self.device = device
        self.runner = Runner(device, self)
        self._inpaint: dict[str, dict] = {}  # family -> inpainting fields for the next Generate
        self._editor = None  # the mask editor (issue 4), built on first use: it imports torch
        self._editor_dock = None

        self._build_ui()
        self._build_menus()
        self._wire()
        self.mode_switch = ModeSwitch(self)  # Image | Video (issue 11): video mode is its second page
        self._restore_settings()

        self._ticks = 0
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._redraw)
        self._timer.start()

        self._first_paint = _FirstPaint(self)
        self._first_paint.painted.connect(self.firstPainted)
        self.installEventFilter(self._first_paint)

    # ===================================================================== assembly
    def _build_ui(self) -> None:
        central = QWidget()
        outer = QVBoxLayout(central)
        outer.setContentsMargins(8, 8, 8, 4)
        split = QSplitter(Qt.Vertical)
        top = QWidget()
        row = QHBoxLayout(top)
        row.setContentsMargins(0, 0, 0, 0)
        self.controls = ControlPanel()
        row.addWidget(self.controls)
        self.views = {f: SideView(f) for f in FAMILIES}
        for v in self.views.values():
            row.addWidget(v, 1)
        self.canvases = {f: v.canvas for f, v in self.views.items()}
        self.progress = {f: v.progress for f, v in self.views.items()}
        self.figures = {f: v.figures for f, v in self.views.items()}
        split.addWidget(top)

        bottom = QWidget()
        b = QVBoxLayout(bottom)
        b.setContentsMargins(0, 0, 0, 0)
        self.timeline = Timeline()
        b.addWidget(self.timeline)
        # pyqtgraph takes most of a second to import: the plots replace this placeholder right
        # after the first paint, so the window shows without waiting for it.
        self.plots = None
        self._plots_layout = b
        self._plots_placeholder = QLabel("Live plots: loading…")
        self._plots_placeholder.setAlignment(Qt.AlignCenter)
        self._plots_placeholder.setMinimumHeight(170)
        self._plots_placeholder.setStyleSheet("background: #16161a; color: #77777f;")
        b.addWidget(self._plots_placeholder, 1)
        split.addWidget(bottom)
        split.setSizes([500, 250])  # a third for the plots: 180 px each at 1280x800, dock open or not
        outer.addWidget(split)
        self.setCentralWidget(central)
        self.setAcceptDrops(True)  # an image opens in the mask editor; an exported PNG, its recipe

        self.device_label = QLabel("Device: starting…")
        self.device_label.setToolTip("Where the models run. On a CPU the two sides share its cores.")
        self.statusBar().addPermanentWidget(self.device_label)
        self.statusBar().showMessage("Loading the engine in the background… you can set up a run.")
        self.resize(1280, 800)

    def _wire(self) -> None:
        c, r = self.controls, self.runner
        c.generateRequested.connect(self.generate)
        c.cancelRequested.connect(self.cancel)
        c.viewChanged.connect(self._view_changed)
        c.changed.connect(self._update_captions)
        self.timeline.moved.connect(self._show_timeline)
        r.stepped.connect(lambda ev: self.plots.add(ev))  # emitted on this (the GUI) thread
        r.sideStarted.connect(self._on_started)
        r.sideFinished.connect(self._on_finished)
        r.sideFailed.connect(self._on_failed)
        r.sideCancelled.connect(lambda f: self.views[f].show_cancelled_before_start())
        r.ready.connect(self._on_ready)
        r.runFinished.connect(self._on_run_finished)
        r.workersLoaded.connect(self.workersLoaded)
        r.allIdle.connect(self._on_all_idle)

    def _build_menus(self) -> None:
        m = self.menus = Menus(self, self.canvases.values())
        self.mask_overlay_action = m.mask_overlay_action  # Ctrl+M; the editor's check box shares it
        self.open_action = m.open_action  # the mask editor gives up its Ctrl+O to this one
        m.openRequested.connect(lambda: self.open_image())
        m.exportRequested.connect(self.export)
        m.quitRequested.connect(self.close)
        m.generateRequested.connect(lambda: self.generate())
        m.cancelRequested.connect(self.cancel)
        m.rollRequested.connect(self.controls.roll_seed)
        m.inpaintPanelRequested.connect(lambda: self.mask_editor())
        m.sendRequested.connect(self.send_to_inpainting)

    def ensure_plots(self):
        """Build the live plots (imports pyqtgraph) in place of their placeholder; idempotent."""
        if self.plots is None:
            from desktopgen.gui.plots import TelemetryPlots

            self.plots = TelemetryPlots()
            self.plots.set_progress_mode(self._progress_mode)
            self._plots_layout.replaceWidget(self._plots_placeholder, self.plots)
            self._plots_placeholder.deleteLater()
            self._plots_placeholder = None
        return self.plots

    # ===================================================================== workers
    @property
    def sides(self):
        return self.runner.sides

    @property
    def first_paint_at(self) -> float | None:
        """time.time() of the window's first paint event (None before it)."""
        return self._first_paint.at

    @Slot()
    def start_workers(self) -> None:
        """Build the plots and start both workers (idempotent); each imports torch and loads its
        default model in the background. Called after the first paint, so the window never waits."""
        self.ensure_plots()
        self.runner.start_workers()

    def stop_workers(self) -> None:
        self.runner.stop_workers()
        self.mode_switch.stop_workers()

    @Slot(object)
    def _on_ready(self, r: WorkerReady) -> None:
        self.ensure_plots().set_memory_kind("cuda" if r.device_type == "cuda" else "process")
        shared = " — both sides share its cores" if r.device_type == "cpu" else ""
        self.device_label.setText(f"Device: {self.sides[r.family].device}{shared}")
        self._update_caption(r.family)
        if all(s.device for s in self.sides.values()) and not self.is_running():
            self.statusBar().showMessage("Ready. Press Generate (Ctrl+Enter).", 5000)

    # ===================================================================== running
    def request_for(self, family: str) -> SampleRequest:
        """The request the controls describe for one side, with any pending inpainting."""
        return self.controls.request_for(family).with_(**self._inpaint.get(family, {}))

    def is_running(self, family: str | None = None) -> bool:
        return self.runner.is_running(family)

    @Slot(object)
    def generate(self, families: tuple[str, ...] = FAMILIES) -> None:
        """Start a run on the given sides (both race, or one after the other in one-at-a-time mode)."""
        families = tuple(families)
        if not self.controls.seed_lock.isChecked() and families == FAMILIES:
            self.controls.roll_seed()
        self.start_workers()
        requests = [(f, self.request_for(f)) for f in families]
        self._inpaint = {}  # one run: a plain Generate afterwards is not an inpaint
        self.plots.reset(families)
        self.timeline.disable()
        for f in families:
            self.views[f].prepare(loading=not self.sides[f].device)
        self.runner.start(requests, self.controls.sequential_check.isChecked())
        for f, _ in self.runner.queued:
            self.views[f].show_waiting()
        self.controls.set_running(self.is_running())

    def start_inpaint(self, source, mask, families=FAMILIES, **changes) -> None:
        """Both sides (or `families`) fill the same hole: `source` 28x28 uint8, `mask` 28x28 with
        1 = generate; `changes` (class_label, guidance, resample, jump) override the controls.
        The mask editor's Inpaint button lands here; the overlay shows the hole on both canvases."""
        source = np.asarray(source, np.uint8).reshape(28, 28)
        mask = (np.asarray(mask).reshape(28, 28) > 0).astype(np.uint8)
        allowed = {"class_label", "guidance", "resample", "jump"}
        fields = {k: v for k, v in changes.items() if k in allowed}
        fields.update(source=tuple(map(tuple, source.astype(int).tolist())),
                      mask=tuple(map(tuple, mask.astype(int).tolist())))
        self._inpaint = {f: fields for f in families}
        self.generate(families)  # clears the canvases, and with them any earlier mask
        for f in families:
            self.views[f].outline(mask)

    def cancel(self) -> None:
        """Stop both sides after their current step; what was made so far stays on screen."""
        for f in self.runner.cancel():
            self.views[f].show_cancelled_before_start()
        if self.is_running():
            self.statusBar().showMessage("Cancelling…")

    # ===================================================================== run events
    @Slot(str)
    def _on_started(self, f: str) -> None:
        self._update_caption(f)
        self.views[f].show_starting()

    @Slot(object)
    def _on_finished(self, done: JobDone) -> None:
        f = done.family
        self._redraw()
        s = self.sides[f]
        self._update_caption(f)
        self.views[f].show_result(done.result, s.trace.total if s.trace and s.trace.total else 0)
        if f == "ar" and self._editor is not None:
            self._editor.set_ar_position(-1)  # the live AR context ends with the run

    @Slot(object)
    def _on_failed(self, fail: JobFailed) -> None:
        self.views[fail.family].show_failed(fail.message)
        self.statusBar().showMessage(f"{NAMES[fail.family]} failed: {fail.message}", 15000)

    @Slot(str)
    def _on_run_finished(self, f: str) -> None:
        self.controls.set_running(self.is_running())
        self.runFinished.emit(f)

    @Slot()
    def _on_all_idle(self) -> None:
        self.controls.set_running(False)
        self.timeline.enable(any(s.trace is not None and s.trace.frames for s in self.sides.values()))
        sides = self.sides.values()
        if any(s.cancelled for s in sides):
            self.statusBar().showMessage("Cancelled. What was made so far stays on screen.", 8000)
        elif not any(s.error for s in sides):
            self.statusBar().showMessage("Done. Drag the timeline to replay both runs.", 8000)
        self.allIdle.emit()

    def _update_captions(self) -> None:
        for f in FAMILIES:
            if not self.is_running(f):
                self._update_caption(f)

    def _update_caption(self, f: str) -> None:
        s = self.sides[f]  # running: what it runs; idle: what Generate would run
        req = s.request if s.running else self.controls.request_for(f)
        spec = samplers.SAMPLERS.get(req.sampler) or samplers.default_sampler(f)
        self.views[f].set_caption(req.model, spec.label, req.steps or None, s.device)

    # ===================================================================== drawing
    @Slot()
    def _redraw(self) -> None:
        """Runs ~30 times a second: draw the latest frame and figures of each side that changed."""
        view = self.controls.view_combo.currentData()
        for f, s in self.sides.items():
            if not s.dirty:
                continue
            s.dirty = False
            ev = s.latest
            if ev is not None and s.running:
                self.views[f].show_frames(ev.preview, ev.preview_clean, ev.position, view,
                                          ev.tokens, ev.confidence)
                if f == "ar" and self._editor is not None and s.request is not None and s.request.mask:
                    pixel = ev.position if ev.tokens is None else -1  # token samplers: no pixel index
                    self._editor.set_ar_position(pixel)  # what the AR model can see now
            tr = s.trace
            if tr is not None and tr.steps and s.running:
                self.views[f].show_progress(tr.steps[-1], tr.total, tr.elapsed[-1])
        self._ticks += 1
        if self.plots is not None:
            if not self.is_running():
                self.plots.refresh()
            elif self._ticks % PLOT_EVERY == 0:
                self.plots.refresh_next()  # one plot per tick: each ~10 Hz, no long frames

    def _view_changed(self) -> None:
        s = self.sides["diffusion"]
        if s.running and s.latest is not None:
            s.dirty = True
        elif self.timeline.is_active() and not self.timeline.at_end():
            self._show_timeline()

    def _show_timeline(self) -> None:
        """Show both sides at the slider's moment, by fraction of each run or by wall time."""
        if not self.timeline.is_active() or self.is_running():
            return
        traces = {f: s.trace for f, s in self.sides.items()}
        frames, text = moment(traces, self.timeline.position(), self.timeline.by_time())
        view = self.controls.view_combo.currentData()
        for fr in frames:
            req = self.sides[fr.family].request  # its own hole, even if the editor's mask changed since
            self.views[fr.family].outline(req.mask if req else None)
            self.views[fr.family].show_frames(fr.preview, fr.clean, fr.position, view,
                                              replay_step=None if fr.step >= fr.total else fr.step)
            self.plots.set_cursor(fr.family, fr.elapsed)
        self.timeline.label.setText(text)

    # ===================================================================== results, export
    def current_results(self) -> dict[str, dict]:
        """Both sides' last run, for export: {family: {request, result, trace, card, error}}.
        `result` is None while a side runs or after it failed."""
        return self.runner.results()

    def export(self, tab: str = "image") -> None:
        """The export dialog (issue 5) on the finished sides' results."""
        results = self.current_results()
        if not any(r["result"] is not None for r in results.values()):
            self._show_message("Nothing to export yet: generate first.")
            return
        from desktopgen.gui.export_dialog import ExportDialog

        ExportDialog(self, results, tab=tab).exec()

    # ===================================================================== inpainting dock
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
        """The image to inpaint with its hole on both canvases, before Inpaint is pressed (the editor
        sends its mask after each new image too). The mask applies to the editor's image only."""
        source = self._editor.source() if self._editor is not None else None
        if source is not None and not self.is_running():
            for v in self.views.values():
                v.show_source(source, mask)

    @Slot()
    def _inpaint_from_editor(self) -> None:
        try:
            ch = self._editor.request_changes()
        except ValueError as e:
            self._show_message(str(e))
            return
        self.start_inpaint(ch.pop("source"), ch.pop("mask"), **ch)

    def send_to_inpainting(self, family: str, index: int = 0) -> None:
        """Use a finished result (sample `index`, shown as number index + 1) as the mask editor's
        source image."""
        r = self.sides[family].result
        if r is None or not len(r.images):
            self._show_message(f"No {NAMES[family].lower()} result yet: generate first.")
            return
        self.mask_editor().set_image(r.images[min(index, len(r.images) - 1)],
                                     f"{NAMES[family]} result, sample {index + 1}, sent to inpainting")

    # ===================================================================== recall (drops)
    def restore_request(self, req: SampleRequest) -> list[str]:
        """Set the controls from a request (a dropped recipe), inpainting included: the next
        Generate makes it again. Returns what could not be restored (empty: all of it)."""
        problems = self.controls.restore_request(req)
        if req.source is not None and req.mask is not None:
            self._inpaint[req.family] = {k: getattr(req, k) for k in ("source", "mask", "resample",
                                                                      "jump")}
            editor = self.mask_editor()  # which shows the image and its hole on both canvases too
            editor.set_image(np.asarray(req.source, np.uint8), "Recalled image to inpaint")
            editor.set_mask(np.asarray(req.mask, np.uint8), undoable=False)
        else:
            self._inpaint.pop(req.family, None)
        return problems

    def recall(self, path: str) -> bool:
        """Restore the recipe of an exported image; False when the file carries none. Whatever the
        file holds, the outcome is one status-bar sentence, never a traceback."""
        drop = read_drop(path)
        if drop.plain_image:
            return False
        if drop.error:
            self._show_message(drop.error)
            return True
        self._inpaint = {}
        problems = list(drop.recipe.warnings)  # what the recipe itself could not say exactly
        problems += [p for req in drop.recipe.requests.values() for p in self.restore_request(req)]
        name = Path(path).name
        self._show_message(f"Restored {name} except: {'; '.join(problems)}." if problems else
                           f"Restored the settings of {name}. Press Generate.")
        return True

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
        if not self.recall(path):
            self.open_image(path)

    # ===================================================================== settings
    def _restore_settings(self) -> None:
        geo = self.settings.value("window/geometry")
        if isinstance(geo, QByteArray) and not geo.isEmpty():
            self.restoreGeometry(geo)
        self.controls.restore_settings(self.settings)
        self.timeline.restore_settings(self.settings)
        self._progress_mode = str(self.settings.value("plots/progress", "fraction"))
        for f in FAMILIES:
            self._update_caption(f)

    def save_settings(self) -> None:
        st = self.settings
        st.setValue("window/geometry", self.saveGeometry())
        self.controls.save_settings(st)
        self.timeline.save_settings(st)
        self.mode_switch.save_settings()
        if self.plots is not None:
            st.setValue("plots/progress", self.plots.progress_mode())
        st.sync()

    def closeEvent(self, event) -> None:
        """Save the settings, stop both workers cleanly (a run ends within a step), then close."""
        self.save_settings()
        self._timer.stop()
        self.stop_workers()
        super().closeEvent(event)
