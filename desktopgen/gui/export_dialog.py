"""The export dialog (images and process clips) and the main window's entry points for export and
recall. Composition and writing live in desktopgen.export (no Qt); this module collects choices,
asks before overwriting, and runs clip exports on a worker thread with progress and cancel.

Entry points for the main window:
    ExportDialog(parent, results, tab="image").exec()
        results: {"diffusion" | "ar": (SampleRequest, RunResult, RunTrace | None)}, or the window's
        current_results() dicts; unfinished sides (result None) are left out.
    install_export_actions(window, get_results) -> (image_action, clip_action)
        QActions with Ctrl+S / Ctrl+Shift+S for the menu and toolbar; get_results() -> results.
    recall_from_png(path, parent=None) -> Recipe | None
        recipe.requests[family] is the SampleRequest to restore; None (after a message box when
        parent is given) for a file without a readable recipe.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktopgen.export.clips import ClipOptions, ClipSide, export_clip
from desktopgen.export.composite import FAMILY_TITLES
from desktopgen.export.images import ExportError, export_image
from desktopgen.export.recall import RecallError, Recipe, read_recipe
from desktopgen.gui.export_jobs import ExportJob, start_job
from desktopgen.gui.settings import make_settings

BOTH = "both"
IMAGE_SUFFIX = {"PNG": ".png", "WebP": ".webp", "JPEG": ".jpg"}
CLIP_SUFFIX = {"MP4 (H.264)": ".mp4", "GIF": ".gif", "WebP": ".webp"}


FOLDER_KEYS = {"image": "export/image_folder", "clip": "export/clip_folder"}
GIF_MAX_FPS = 50
HOLD_SECONDS = 1.0  # the final frame stays this long; part of the clip's duration cap, not added


def _standard_folder(kind: str) -> Path:
    """The user's Pictures (images) or Videos (clips) folder; the other one, then home, if missing."""
    loc = QStandardPaths.StandardLocation
    order = (loc.PicturesLocation, loc.MoviesLocation) if kind == "image" else (loc.MoviesLocation,
                                                                                loc.PicturesLocation)
    for where in (*order, loc.HomeLocation):
        p = QStandardPaths.writableLocation(where)
        if p and Path(p).is_dir():
            return Path(p)
    return Path.home()


def default_folder(kind: str, settings=None) -> Path:
    """Where an export of `kind` ("image" | "clip") is proposed: the folder last written to, if it
    still exists, else the user's standard folder for that kind (never the current directory)."""
    last = settings.value(FOLDER_KEYS[kind], "") if settings is not None else ""
    if isinstance(last, str) and last and Path(last).is_dir():
        return Path(last)
    return _standard_folder(kind)


def clip_timing(cap: float, fps: int, hold: float = HOLD_SECONDS) -> tuple[float, float]:
    """(max_seconds, hold) for ClipOptions so that generation + hold lasts at most `cap` seconds,
    in whole frames: the cap the user typed is the length of the file, hold included."""
    least = max(2, math.ceil(0.5 * fps))  # ClipOptions wants at least 0.5 s of generation
    total = max(least, round(cap * fps))
    n_hold = min(round(hold * fps), total - least)
    return (total - n_hold) / fps, n_hold / fps


def _window_view(parent, view: str | None, align: str | None) -> tuple[str, str]:
    """The diffusion view and alignment the window shows (its combos, found by object name)."""
    def shown(name):
        box = parent.findChild(QComboBox, name) if isinstance(parent, QWidget) else None
        return box.currentData() if box is not None else None

    view = view or shown("diffusionViewCombo") or "clean"  # the window's own defaults
    align = align or shown("timelineAlignCombo") or "progress"
    return view, "progress" if align == "fraction" else align


def normalize_results(results: dict | None) -> dict:
    """{family: (request, result, trace)} of the finished sides. Accepts that form or the main
    window's `current_results()` form {family: {"request", "result", "trace", ...}}; sides still
    running or failed (result None) are left out."""
    out = {}
    for fam, r in (results or {}).items():
        if isinstance(r, dict):
            r = (r.get("request"), r.get("result"), r.get("trace"))
        if r is None or r[0] is None or r[1] is None:
            continue
        out[fam] = (r[0], r[1], r[2] if len(r) > 2 else None)
    return out


class _PathRow(QWidget):
    """A file name field with a Browse button."""

    def __init__(self, caption: str, filters: str):
        super().__init__()
        self.edit = QLineEdit()
        browse = QPushButton("Browse…")
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.edit, 1)
        lay.addWidget(browse)
        browse.clicked.connect(lambda: self._browse(caption, filters))

    def _browse(self, caption, filters):
        # Qt's own dialog, so the overwrite question is ours (asked once, in export()).
        path, _ = QFileDialog.getSaveFileName(self, caption, self.edit.text(), filters,
                                              options=QFileDialog.Option.DontConfirmOverwrite)
        if path:
            self.edit.setText(path)

    def set_suffix(self, suffix: str) -> None:
        p = Path(self.edit.text())
        if p.name:
            self.edit.setText(str(p.with_suffix(suffix)))


class ExportDialog(QDialog):
    """Export the current results: images (one side or both, one sample or the grid, format,
    size) or process clips (one side or the side-by-side race, alignment, fps, duration cap,
    size, format)."""

    def __init__(self, parent=None, results: dict | None = None, tab: str = "image",
                 folder: str | Path | None = None, view: str | None = None, align: str | None = None,
                 settings=None):
        """`folder`: where to propose both files (default: the last folder written to, else the
        user's Pictures for images and Videos for clips). `view` ("clean" | "noisy") and `align`
        ("time" | "progress"; the timeline's "fraction" = "progress"): what the window shows, so
        the clip starts out like it; None reads them from the parent window's controls.
        `settings`: a QSettings for the remembered folders (default: the parent's, or the app's)."""
        super().__init__(parent)
        self.setWindowTitle("Export")
        self.results = normalize_results(results)
        if settings is None:
            settings = getattr(parent, "settings", None)
        if settings is None or not hasattr(settings, "value"):
            settings = make_settings()
        self.settings = settings
        self.folders = {k: Path(folder) if folder else default_folder(k, settings) for k in FOLDER_KEYS}
        self.view, self.align = _window_view(parent, view, align)
        self._job: ExportJob | None = None
        self._thread = None
        self._pending: Path | None = None
        self.last_path: Path | None = None

        self.tabs = QTabWidget()
        self.tabs.addTab(self._image_tab(), "Image")
        self.tabs.addTab(self._clip_tab(), "Process clip")
        self.progress = QProgressBar()
        self.progress.setRange(0, 100)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.export_button = buttons.addButton("Export", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = buttons.addButton("Cancel export", QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.cancel_button.setEnabled(False)
        self.export_button.clicked.connect(self.export)
        self.cancel_button.clicked.connect(self.cancel_export)
        self.close_button.clicked.connect(self.reject)

        lay = QVBoxLayout(self)
        lay.addWidget(self.tabs)
        lay.addWidget(self.progress)
        lay.addWidget(self.status)
        lay.addWidget(buttons)
        self.tabs.setCurrentIndex(1 if tab == "clip" else 0)
        if not self.results:
            self.export_button.setEnabled(False)
            self.status.setText("Nothing to export yet: generate first.")
        elif not any(r[2] is not None and r[2].frames for r in self.results.values()):
            self.tabs.setTabEnabled(1, False)
        self.resize(560, 0)

    # ---- tabs ----
    def _side_combo(self, both_label: str) -> QComboBox:
        box = QComboBox()
        for fam in self.results:
            box.addItem(FAMILY_TITLES.get(fam, fam), fam)
        if len(self.results) > 1:
            box.addItem(both_label, BOTH)
            box.setCurrentIndex(box.count() - 1)
        return box

    def _sample_row(self) -> tuple[QComboBox, QSpinBox, QWidget]:
        what = QComboBox()
        what.addItem("Batch grid", "grid")
        what.addItem("One sample", "one")
        index = QSpinBox()
        # Counted from 1, as everywhere the user sees sample numbers; value() - 1 is the index.
        index.setRange(1, max(1, max((len(r[1].images) for r in self.results.values()), default=1)))
        index.setPrefix("sample ")
        index.setEnabled(False)
        what.currentIndexChanged.connect(lambda: index.setEnabled(what.currentData() == "one"))
        row = QWidget()
        lay = QHBoxLayout(row)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(what, 1)
        lay.addWidget(index)
        return what, index, row

    def _seed_name(self) -> str:
        req = next(iter(self.results.values()))[0] if self.results else None
        return f"seed{req.seed}" if req is not None else "export"

    def _image_tab(self) -> QWidget:
        w = QWidget()
        form = QFormLayout(w)
        self.image_side = self._side_combo("Both, side by side")
        self.image_what, self.image_index, row = self._sample_row()
        self.image_format = QComboBox()
        self.image_format.addItems(list(IMAGE_SUFFIX))
        self.image_size = QSpinBox()
        self.image_size.setRange(28, 4096)
        self.image_size.setValue(512)
        self.image_size.setSuffix(" px")
        self.image_size.setToolTip("Longer side of each image; pixels are enlarged by a whole number "
                                   "(nearest neighbour)")
        self.image_path = _PathRow("Export image", "Images (*.png *.webp *.jpg *.jpeg)")
        self.image_path.edit.setText(str(self.folders["image"] / f"desktopgen-{self._seed_name()}.png"))
        self.image_format.currentTextChanged.connect(
            lambda t: self.image_path.set_suffix(IMAGE_SUFFIX[t]))
        form.addRow("Side", self.image_side)
        form.addRow("Image", row)
        form.addRow("Format", self.image_format)
        form.addRow("Size", self.image_size)
        form.addRow("File", self.image_path)
        note = QLabel("PNG keeps the full recipe: drop it back on the app to generate it again.")
        note.setWordWrap(True)
        note.setStyleSheet("color: gray")
        form.addRow(note)
        return w

    def _clip_tab(self) -> QWidget:
        w = QWidget()
        form = QFormLayout(w)
        self.clip_side = self._side_combo("Both, side by side (the race)")
        self.clip_align = QComboBox()
        self.clip_align.addItem("Wall-clock time: the faster side finishes and waits", "time")
        self.clip_align.addItem("Progress: both at the same fraction of their steps", "progress")
        self.clip_what, self.clip_index, row = self._sample_row()
        self.clip_align.setCurrentIndex(max(0, self.clip_align.findData(self.align)))
        self.clip_clean = QCheckBox("Diffusion: show the predicted clean image, not the noisy sample")
        self.clip_clean.setChecked(self.view == "clean")
        self.clip_fps = QSpinBox()
        self.clip_fps.setRange(1, 60)
        self.clip_fps.setValue(15)
        self.clip_fps.setSuffix(" fps")
        self.clip_max = QDoubleSpinBox()
        self.clip_max.setRange(0.5, 600)
        self.clip_max.setValue(10)
        self.clip_max.setSuffix(" s")
        self.clip_max.setToolTip(f"Longest the clip may last, the {HOLD_SECONDS:g} s hold of the final "
                                 "frame included; a longer run is shown as a time-lapse")
        self.clip_size = QSpinBox()
        self.clip_size.setRange(32, 2048)
        self.clip_size.setValue(256)
        self.clip_size.setSuffix(" px per side")
        self.clip_format = QComboBox()
        self.clip_format.addItems(list(CLIP_SUFFIX))
        self.clip_path = _PathRow("Export clip", "Clips (*.mp4 *.gif *.webp)")
        self.clip_path.edit.setText(str(self.folders["clip"] / f"desktopgen-race-{self._seed_name()}.mp4"))
        self.clip_format.currentTextChanged.connect(self._clip_format_changed)
        form.addRow("Side", self.clip_side)
        form.addRow("Align", self.clip_align)
        form.addRow("Image", row)
        form.addRow("", self.clip_clean)
        form.addRow("Frame rate", self.clip_fps)
        form.addRow("Duration cap", self.clip_max)
        form.addRow("Size", self.clip_size)
        form.addRow("Format", self.clip_format)
        form.addRow("File", self.clip_path)
        return w

    def _clip_format_changed(self, text: str) -> None:
        self.clip_path.set_suffix(CLIP_SUFFIX[text])
        # GIF delays count hundredths of a second, and browsers play a delay under 2/100 s as
        # 10/100 s: above 50 fps a GIF would crawl.
        self.clip_fps.setMaximum(GIF_MAX_FPS if CLIP_SUFFIX[text] == ".gif" else 60)
        self.clip_fps.setToolTip(f"GIF: at most {GIF_MAX_FPS} fps (browsers slow faster GIFs down)"
                                 if CLIP_SUFFIX[text] == ".gif" else "")

    # ---- choices ----
    def _families(self, combo: QComboBox) -> list[str]:
        fam = combo.currentData()
        return list(self.results) if fam == BOTH else [fam]

    def clip_options(self) -> ClipOptions:
        run, hold = clip_timing(self.clip_max.value(), self.clip_fps.value())
        one = self.clip_what.currentData() == "one"
        return ClipOptions(align=self.clip_align.currentData(), fps=self.clip_fps.value(),
                           max_seconds=run, hold=hold, size=self.clip_size.value(),
                           index=self.clip_index.value() - 1 if one else None,
                           clean=self.clip_clean.isChecked())

    def confirm_overwrite(self, path: Path) -> bool:
        """Ask before replacing a file (tests replace this method)."""
        answer = QMessageBox.question(self, "Replace file?", f"{path.name} exists in {path.parent}.\n"
                                      "Replace it?", QMessageBox.StandardButton.Yes
                                      | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _target(self, text: str) -> tuple[Path, bool] | None:
        path = Path(text).expanduser()
        if path.exists() and not path.is_dir():
            if not self.confirm_overwrite(path):
                self.status.setText("Not exported: the file exists.")
                return None
            return path, True
        return path, False

    # ---- actions ----
    def export(self) -> None:
        if self.running:
            return
        if self.tabs.currentIndex() == 0:
            self.export_image()
        else:
            self.export_clip()

    def export_image(self) -> Path | None:
        target = self._target(self.image_path.edit.text())
        if target is None:
            return None
        path, overwrite = target
        sides = {f: self.results[f][:2] for f in self._families(self.image_side)}
        index = self.image_index.value() - 1 if self.image_what.currentData() == "one" else None
        try:
            export_image(path, sides, index=index, size=self.image_size.value(), overwrite=overwrite)
        except (ExportError, OSError, ValueError) as e:
            self._fail(str(e))
            return None
        self._wrote(path, "image")
        self.progress.setValue(100)
        self.status.setText(f"Wrote {path}")
        return path

    def export_clip(self) -> None:
        target = self._target(self.clip_path.edit.text())
        if target is None:
            return
        path, overwrite = target
        sides = []
        for fam in self._families(self.clip_side):
            req, _, trace = self.results[fam]
            if trace is None or not trace.frames:
                self._fail(f"no recorded frames for {FAMILY_TITLES.get(fam, fam)}")
                return
            sides.append(ClipSide.of(trace, req))
        try:  # checks the path and options now, so mistakes show before the thread starts
            gen = export_clip(path, sides, self.clip_options(), overwrite)
        except (ExportError, OSError, ValueError) as e:
            self._fail(str(e))
            return
        self._job = ExportJob(lambda: gen, f"Wrote {path}")
        self._pending = path
        # Bound methods of this dialog (not lambdas): the calls are queued to the GUI thread.
        self._job.progress.connect(self._on_progress)
        self._job.finished.connect(self._on_finished)
        self._job.failed.connect(self._fail)
        self._job.cancelled.connect(self._on_cancelled)
        self._set_running(True)
        self.status.setText(f"Writing {path.name}…")
        self._thread = start_job(self._job, self)

    def cancel_export(self) -> None:
        if self._job is not None:
            self._job.cancel()
            self.status.setText("Cancelling…")

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    def wait(self, ms: int = 30000) -> bool:
        """Block until the clip job's thread has ended (closing, tests)."""
        return self._thread.wait(ms) if self._thread is not None else True

    def _on_progress(self, done: int, total: int) -> None:
        self.progress.setValue(round(100 * done / max(1, total)))

    def _set_running(self, on: bool) -> None:
        self.export_button.setEnabled(not on)
        self.cancel_button.setEnabled(on)
        self.tabs.setEnabled(not on)
        if on:
            self.progress.setValue(0)

    def _on_finished(self, message: str) -> None:
        self._end(message, self._pending)

    def _on_cancelled(self) -> None:
        self._end("Cancelled: nothing was written.", None)

    def _wrote(self, path: Path, kind: str) -> None:
        """Remember the file and its folder: the next export of this kind is proposed there."""
        self.last_path = path
        self.settings.setValue(FOLDER_KEYS[kind], str(path.resolve().parent))

    def _end(self, message: str, path: Path | None) -> None:
        self._set_running(False)
        if path is not None:
            self._wrote(path, "clip")
        else:
            self.progress.setValue(0)
        self.status.setText(message)

    def _fail(self, message: str) -> None:
        self._set_running(False)
        self.progress.setValue(0)
        self.status.setText(f"<span style='color:#d33'>Export failed: {message}</span>")

    def done(self, r: int) -> None:  # closing mid-export cancels it; nothing half-written stays
        if self.running:
            self._job.cancel()
            self.wait()
        super().done(r)


def install_export_actions(window: QWidget, get_results: Callable[[], dict]) -> tuple[QAction, QAction]:
    """Ctrl+S (image) and Ctrl+Shift+S (clip) actions on `window`; add them to a menu / toolbar."""
    def open_dialog(tab):
        ExportDialog(window, get_results(), tab=tab).exec()

    image = QAction("Export image…", window)
    image.setShortcut(QKeySequence("Ctrl+S"))
    image.triggered.connect(lambda: open_dialog("image"))
    clip = QAction("Export process clip…", window)
    clip.setShortcut(QKeySequence("Ctrl+Shift+S"))
    clip.triggered.connect(lambda: open_dialog("clip"))
    for a in (image, clip):
        a.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        window.addAction(a)
    return image, clip


def recall_from_png(path, parent: QWidget | None = None) -> Recipe | None:
    """The recipe of a dropped exported image (recipe.requests[family] -> SampleRequest), or None
    after telling the user why (a message box when `parent` is given)."""
    try:
        return read_recipe(path)
    except RecallError as e:
        if parent is not None:
            QMessageBox.warning(parent, "Cannot restore settings", str(e))
        return None
