"""Inpainting panel: the source image shown large with a red mask overlay, a brush/eraser to paint
the hole, presets, undo/redo, and the drop/open of user images (safe import in data/images.py).

Entry points for the main window:
    editor = MaskEditor()               # a QWidget; embed it in a dock or a tab
    editor.message.connect(status_bar.showMessage)   # import notes and bad-input messages
    editor.inpaintRequested.connect(start_inpaint)   # the user pressed Inpaint with a usable mask
    editor.maskChanged / editor.imageChanged          # Signal(object): (28, 28) uint8 arrays
    editor.request_changes() -> dict    # source, mask, class_label, guidance (0 for "any"),
                                        # resample, jump: pass to SampleRequest.with_(**changes)
    editor.set_image(array28, note="")  # e.g. "send this result to inpainting" (one click)
    editor.open_file(path) / editor.open_dialog()    # Ctrl+O
    editor.set_ar_position(k)           # live: show what the AR model can see at pixel k (-1: off)
    editor.add_overlay_toggle(action)   # a button for the window's "show inpainting mask" action
    editor.examples                     # the example picker (resources/examples), .picked(path)
    image_path_from_mime(mime)          # for drops on the canvases: (path | None, error | None)
    mask_overlay_image(mask), ar_context_image(mask, k)  # 28x28 RGBA QImages to draw over a canvas
Mask convention: 1 = generate, 0 = keep.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QMimeData, QSize, QStandardPaths, Qt, Signal
from PySide6.QtGui import QAction, QImageReader, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QRadioButton,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktopgen import CLASS_NAMES
from desktopgen.data.images import SUFFIXES, ImageImportError, load_image, pick_one
from desktopgen.gui.examples import ExamplePicker
from desktopgen.gui.mask_canvas import (  # noqa: F401 (the overlays are part of this module's API)
    EDITOR_WIDTH,
    SIZE,
    MaskCanvas,
    ar_context_image,
    mask_overlay_image,
)
from desktopgen.sampling import masks

_BAYER = np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]]) / 16 + 1 / 32
PRESET_LABELS = {"bottom-half": "Bottom half", "top-half": "Top half", "left-half": "Left half",
                 "right-half": "Right half", "center-square": "Centre square",
                 "random-blocks": "Random blocks"}


def image_path_from_mime(mime: QMimeData) -> tuple[str | None, str | None]:
    """The one local image file a drop carries, or an error sentence (folder, several, not a file)."""
    if mime is None or not mime.hasUrls():
        return None, "Drop an image file (PNG, JPEG, WebP, BMP, GIF or TIFF) from the file manager"
    urls = mime.urls()
    if any(not u.isLocalFile() for u in urls):
        return None, "Only local files can be dropped, not web links"
    try:
        return str(pick_one([u.toLocalFile() for u in urls])), None
    except ImageImportError as e:
        return None, str(e)[0].upper() + str(e)[1:]


class MaskEditor(QWidget):
    """Inpainting panel; see the module docstring for how the window wires it."""

    maskChanged = Signal(object)  # (28, 28) uint8, 1 = generate
    imageChanged = Signal(object)  # (28, 28) uint8 source
    message = Signal(str)  # for the status bar: what an import did, or why a drop was refused
    inpaintRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self._source: np.ndarray | None = None
        self._mask = masks.preset("center-square")
        self._undo: list[np.ndarray] = []
        self._redo: list[np.ndarray] = []
        self._path: str | None = None
        self.ar_position = -1

        self.canvas = MaskCanvas(self)
        self.canvas.strokeStarted.connect(self._begin_change)

        self.original = QLabel("")  # the picture as it was, beside the converted 28x28
        self.original.setFixedSize(56, 56)
        self.original.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.original.setStyleSheet("border: 1px solid #555;")
        self.original.setToolTip("The picture as it was, before conversion to 28x28")
        self.info = QLabel("No image yet: drop one, press Open, or pick an example below.")
        self.info.setWordWrap(True)
        self.info.setMinimumWidth(120)
        self.info.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.examples = ExamplePicker()
        self.examples.picked.connect(self.open_file)

        self.brush = QRadioButton("Brush")
        self.eraser = QRadioButton("Eraser")
        self.brush.setChecked(True)
        self._tool = QButtonGroup(self)
        self._tool.addButton(self.brush)
        self._tool.addButton(self.eraser)
        self.size_box = QSpinBox()
        self.size_box.setRange(1, 14)
        self.size_box.setValue(4)
        self.size_box.setPrefix("size ")
        self.size_box.setToolTip("Brush diameter in image pixels")
        self.soft = QCheckBox("Soft")
        self.soft.setToolTip("Soft edge: a dithered rim where the hole's edge mixes kept and "
                             "generated pixels")

        self.undo_btn = QPushButton("Undo")
        self.redo_btn = QPushButton("Redo")
        clear_btn = QPushButton("Clear")
        invert_btn = QPushButton("Invert")
        invert_btn.setToolTip("Swap hole and kept pixels")
        self.undo_btn.clicked.connect(self.undo)
        self.redo_btn.clicked.connect(self.redo)
        clear_btn.clicked.connect(self.clear)
        invert_btn.clicked.connect(self.invert)
        self.preset_buttons = {}
        presets = QGridLayout()
        presets.setSpacing(3)
        for i, name in enumerate(masks.PRESETS):
            b = QPushButton(PRESET_LABELS[name])
            b.setObjectName(f"preset-{name}")
            b.setToolTip(f"Mask preset: {PRESET_LABELS[name].lower()}")
            b.clicked.connect(lambda _=False, n=name: self.apply_preset(n))
            presets.addWidget(b, i // 3, i % 3)
            self.preset_buttons[name] = b

        self.invert_combo = QComboBox()
        self.invert_combo.addItems(["Invert: auto", "Invert: yes", "Invert: no"])
        self.invert_combo.setToolTip("Fashion-MNIST is light on dark; auto inverts pictures with a light "
                                     "border")
        self.invert_combo.currentIndexChanged.connect(self._reimport)
        open_btn = QPushButton("Open…")
        open_btn.setToolTip("Open an image file to inpaint (Ctrl+O)")
        open_btn.clicked.connect(self.open_dialog)
        self.class_combo = QComboBox()
        self.class_combo.addItems(["any class"] + list(CLASS_NAMES))
        self.class_combo.setToolTip("The class both models are asked for (any: no guidance)")
        self.resample_box = QSpinBox()
        self.resample_box.setRange(1, 20)
        self.resample_box.setPrefix("resample ")
        self.resample_box.setToolTip("Diffusion, RePaint: times each block of steps is redone (1 = off)")
        self.jump_box = QSpinBox()
        self.jump_box.setRange(1, 50)
        self.jump_box.setPrefix("jump ")
        self.jump_box.setToolTip("Diffusion, RePaint: steps per resampled block")
        self.ar_slider = QSlider(Qt.Orientation.Horizontal)
        self.ar_slider.setRange(-1, SIZE * SIZE - 1)
        self.ar_slider.setValue(-1)
        self.ar_slider.setToolTip("Show what the raster AR model can see when it generates pixel k")
        self.ar_slider.valueChanged.connect(self.set_ar_position)
        self.ar_label = QLabel("AR context: off")
        self.ar_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.inpaint_btn = QPushButton("Inpaint")
        self.inpaint_btn.setToolTip("Both models fill the red hole of this image")
        self.inpaint_btn.setEnabled(False)
        self.inpaint_btn.clicked.connect(self.request_inpaint)

        # Rows kept narrow (EDITOR_WIDTH): the dock must leave the canvases and plots their room.
        self._run_row = run2 = QHBoxLayout()
        run2.addWidget(self.inpaint_btn, 1)
        rows = [[self.original, (self.info, 1)], [self.examples],
                [self.brush, self.eraser, (self.size_box, 1), self.soft],
                [self.undo_btn, self.redo_btn, clear_btn, invert_btn], presets,
                [(open_btn, 1), (self.invert_combo, 1)], [self.ar_label], [self.ar_slider],
                [(self.class_combo, 2), (self.resample_box, 1), (self.jump_box, 1)], run2]
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 6)
        lay.setSpacing(4)
        for i, row in enumerate(rows):
            if isinstance(row, list):
                box = QHBoxLayout()
                box.setSpacing(4)
                for w in row:
                    w, stretch = w if isinstance(w, tuple) else (w, 0)
                    box.addWidget(w, stretch)
                row = box
            lay.addLayout(row)
            if i == 1:
                lay.addWidget(self.canvas)
        lay.addStretch(1)  # a tall dock leaves room below the rows, not black bars round the canvas
        for b in self.findChildren(QPushButton):  # Fusion's 80-px minimum would widen the dock
            b.setMinimumWidth(40)

        for text, keys, slot in (("Undo mask", QKeySequence.StandardKey.Undo, self.undo),
                                 ("Redo mask", QKeySequence("Ctrl+Shift+Z"), self.redo),
                                 ("Open image", QKeySequence.StandardKey.Open, self.open_dialog)):
            act = QAction(text, self)
            act.setShortcut(keys)
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.triggered.connect(slot)
            self.addAction(act)
        self._sync_buttons()

    def sizeHint(self) -> QSize:
        return QSize(EDITOR_WIDTH, 640)

    def add_overlay_toggle(self, action: QAction) -> QCheckBox:
        """A check box beside Inpaint bound to the window's checkable "show inpainting mask"
        action (a check box shows its state more plainly than a pressed button)."""
        box = QCheckBox("Show mask")
        box.setObjectName("maskOverlayCheck")
        box.setToolTip(action.toolTip())
        box.setChecked(action.isChecked())
        box.toggled.connect(action.setChecked)
        action.toggled.connect(box.setChecked)
        self._run_row.addWidget(box)
        return box

    # --- state -------------------------------------------------------------------------------
    def source(self) -> np.ndarray | None:
        return None if self._source is None else self._source.copy()

    def mask(self) -> np.ndarray:
        return self._mask.copy()

    def brush_size(self) -> int:
        return self.size_box.value()

    def class_label(self) -> int | None:
        i = self.class_combo.currentIndex()
        return None if i == 0 else i - 1

    def request_changes(self) -> dict:
        """Fields for SampleRequest.with_(): the class "any" is the null class (guidance 0)."""
        if self._source is None:
            raise ValueError("no source image to inpaint")
        ch = {"source": masks.as_grid(self._source), "mask": masks.as_grid(self._mask),
              "class_label": self.class_label(), "resample": self.resample_box.value(),
              "jump": self.jump_box.value()}
        if ch["class_label"] is None:
            ch["guidance"] = 0.0
        return ch

    def set_image(self, array, note: str = "") -> None:
        """Use a (28, 28) uint8 array as the source (a generated result, an example...)."""
        a = np.asarray(array)
        if a.shape != (SIZE, SIZE):
            self.message.emit(f"Cannot inpaint an image of shape {a.shape}; it must be 28x28")
            return
        self._source = np.clip(a, 0, 255).astype(np.uint8)
        self._path = None
        self.original.clear()
        self.info.setText(note or "Source set (28x28)")
        if note:
            self.message.emit(note)
        self._sync_buttons()
        self.canvas.update()
        self.imageChanged.emit(self.source())
        self.maskChanged.emit(self.mask())  # so the canvases show the current hole with the new image

    def set_mask(self, mask, undoable: bool = True) -> None:
        m = np.asarray(mask).astype(np.uint8)
        if m.shape != (SIZE, SIZE):
            raise ValueError(f"a mask must be 28x28, not {m.shape}")
        if undoable:
            self._begin_change()
        self._mask = (m > 0).astype(np.uint8)
        self._changed()

    def set_ar_position(self, position: int) -> None:
        self.ar_position = int(position)
        if self.ar_slider.value() != self.ar_position:  # live from a run: the slider follows
            self.ar_slider.blockSignals(True)
            self.ar_slider.setValue(self.ar_position)
            self.ar_slider.blockSignals(False)
        if self.ar_position < 0:
            self.ar_label.setText("AR context: off")
        else:
            seen = int(masks.ar_context(self._mask, self.ar_position).sum())
            known = int((self._mask == 0).sum())
            self.ar_label.setText(f"AR at pixel {self.ar_position}: sees {seen} of {known} known pixels")
        self.canvas.update()

    # --- editing -----------------------------------------------------------------------------
    def _begin_change(self):
        self._undo.append(self._mask.copy())
        del self._undo[:-100]
        self._redo.clear()
        self._sync_buttons()

    def _changed(self):
        self._sync_buttons()
        if self.ar_position >= 0:
            self.set_ar_position(self.ar_position)
        self.canvas.update()
        self.maskChanged.emit(self.mask())

    def _dab(self, cy: float, cx: float) -> None:
        """Paint (or erase) a disc at pixel coordinates (row, col), as floats."""
        r = self.brush_size() / 2
        yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
        d = np.hypot(yy - cy, xx - cx)
        if self.soft.isChecked():  # a one-pixel rim on each side of the radius, dithered
            cover = np.clip((r + 1 - d) / 2, 0, 1)
            hit = cover > _BAYER[np.arange(SIZE)[:, None] % 4, np.arange(SIZE)[None] % 4]
        else:
            hit = d <= max(r, 0.71)  # size 1 still hits the pixel under the cursor
        new = self._mask.copy()
        new[hit] = 0 if self.eraser.isChecked() else 1
        if not np.array_equal(new, self._mask):
            self._mask = new
            self.canvas.update()

    def _stroke_done(self):
        if self._undo and np.array_equal(self._undo[-1], self._mask):
            self._undo.pop()  # a click that changed nothing is not an undo step
        self._changed()

    def undo(self):
        if self._undo:
            self._redo.append(self._mask)
            self._mask = self._undo.pop()
            self._changed()

    def redo(self):
        if self._redo:
            self._undo.append(self._mask)
            self._mask = self._redo.pop()
            self._changed()

    def clear(self):
        self.set_mask(np.zeros((SIZE, SIZE), np.uint8))

    def invert(self):
        self.set_mask(1 - self._mask)

    def apply_preset(self, name: str, seed: int | None = None):
        if seed is None:  # each press of "random blocks" gives new blocks
            seed = len(self._undo) + len(self._redo)
        self.set_mask(masks.preset(name, seed))

    def _sync_buttons(self):
        self.undo_btn.setEnabled(bool(self._undo))
        self.redo_btn.setEnabled(bool(self._redo))
        self.inpaint_btn.setEnabled(self._source is not None)

    def request_inpaint(self) -> bool:
        """Emit inpaintRequested if the mask leaves something to do; say why not otherwise."""
        if self._source is None:
            self.message.emit("Open or drop an image first")
            return False
        try:
            note = masks.check(self._mask)
        except masks.MaskError as e:
            self.message.emit(str(e)[0].upper() + str(e)[1:])
            return False
        if note:
            self.message.emit(note[0].upper() + note[1:])
        self.inpaintRequested.emit()
        return True

    # --- import ------------------------------------------------------------------------------
    def _invert_choice(self):
        return ("auto", True, False)[self.invert_combo.currentIndex()]

    def open_file(self, path: str) -> bool:
        """Import an image file; on failure say why and keep the current image and mask."""
        try:
            imported = load_image(path, invert=self._invert_choice())
        except ImageImportError as e:
            self.message.emit(f"Cannot import: {e}")
            return False
        except MemoryError:
            self.message.emit("Cannot import: not enough memory to decode this image")
            return False
        self.set_image(imported.array, imported.message)
        self._path = str(path)
        self._show_original(str(path))
        return True

    def _reimport(self):
        if self._path:
            self.open_file(self._path)

    def _show_original(self, path: str):
        reader = QImageReader(path)  # only reached after load_image accepted the file's size
        reader.setAutoTransform(True)
        size = reader.size()
        if size.isValid():
            reader.setScaledSize(size.scaled(self.original.size(), Qt.AspectRatioMode.KeepAspectRatio))
        img = reader.read()
        if not img.isNull():
            self.original.setPixmap(QPixmap.fromImage(img))

    def open_folder(self) -> str:
        """Where Open starts: the last image's folder, else the user's Pictures (not the cwd)."""
        if self._path and Path(self._path).parent.is_dir():
            return str(Path(self._path).parent)
        pics = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
        return pics if pics and Path(pics).is_dir() else str(Path.home())

    def open_dialog(self):
        pattern = " ".join(f"*{s}" for s in SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(self, "Open an image to inpaint", self.open_folder(),
                                              f"Images ({pattern});;All files (*)")
        if path:
            self.open_file(path)

    def dragEnterEvent(self, e):
        if e.mimeData().hasUrls():
            e.acceptProposedAction()  # judged on drop, where a refusal can say why
        else:
            e.ignore()

    def dragMoveEvent(self, e):
        if e.mimeData().hasUrls():
            e.acceptProposedAction()

    def dropEvent(self, e):
        path, error = image_path_from_mime(e.mimeData())
        e.acceptProposedAction()
        if error:
            self.message.emit(error)
            return
        self.open_file(path)
