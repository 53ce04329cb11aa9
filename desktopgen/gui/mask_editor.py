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
    image_path_from_mime(mime)          # for drops on the canvases: (path | None, error | None)
    mask_overlay_image(mask), ar_context_image(mask, k)  # 28x28 RGBA QImages to draw over a canvas
Mask convention: 1 = generate, 0 = keep.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QAction, QColor, QImage, QImageReader, QKeySequence, QPainter, QPen, QPixmap
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
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from desktopgen import CLASS_NAMES
from desktopgen.data.images import SUFFIXES, ImageImportError, load_image, pick_one
from desktopgen.sampling import masks

SIZE = 28
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


def _rgba_image(rgba: np.ndarray) -> QImage:
    rgba = np.ascontiguousarray(rgba, np.uint8)
    h, w = rgba.shape[:2]
    return QImage(rgba.data, w, h, 4 * w, QImage.Format.Format_RGBA8888).copy()  # own the pixels


def mask_overlay_image(mask, alpha: int = 110) -> QImage:
    """28x28 RGBA: red, semi-transparent where the mask is 1 (to be generated)."""
    rgba = np.zeros((SIZE, SIZE, 4), np.uint8)
    rgba[np.asarray(mask) == 1] = (230, 40, 40, alpha)
    return _rgba_image(rgba)


def ar_context_image(mask, position: int) -> QImage:
    """28x28 RGBA for raster AR at pixel `position`: green = known pixels it conditions on (before it),
    grey = known pixels it cannot see yet (after it), yellow = the pixel being generated."""
    rgba = np.zeros((SIZE, SIZE, 4), np.uint8)
    rgba[masks.ar_context(mask, position)] = (40, 220, 90, 120)
    rgba[masks.hidden_context(mask, position)] = (60, 60, 60, 170)
    if 0 <= position < SIZE * SIZE:
        rgba[position // SIZE, position % SIZE] = (255, 230, 0, 255)
    return _rgba_image(rgba)


class MaskCanvas(QWidget):
    """The 28x28 source drawn large (nearest), the mask overlay on top, painted with the mouse."""

    strokeStarted = Signal()
    painted = Signal()

    def __init__(self, editor: MaskEditor):
        super().__init__(editor)
        self.editor = editor
        self.setMinimumSize(224, 224)
        self.setMouseTracking(True)
        self.setAcceptDrops(False)  # the editor handles drops for the whole panel
        self._hover: QPointF | None = None
        self._painting = False

    def sizeHint(self) -> QSize:
        return QSize(336, 336)

    def _square(self) -> QRectF:
        s = min(self.width(), self.height())
        return QRectF((self.width() - s) / 2, (self.height() - s) / 2, s, s)

    def to_pixel(self, pos: QPointF) -> tuple[float, float]:
        r = self._square()
        return ((pos.y() - r.top()) / r.height() * SIZE, (pos.x() - r.left()) / r.width() * SIZE)

    def paintEvent(self, _event):
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(30, 30, 30))
        r = self._square()
        src = self.editor.source()
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        if src is None:
            p.setPen(QColor(200, 200, 200))
            p.drawText(r, Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                       "Drop an image here\nor press Open (Ctrl+O)")
        else:
            gray = np.ascontiguousarray(src)
            img = QImage(gray.data, SIZE, SIZE, SIZE, QImage.Format.Format_Grayscale8).copy()
            p.drawImage(r, img)
        p.drawImage(r, mask_overlay_image(self.editor.mask()))
        if self.editor.ar_position >= 0:
            p.drawImage(r, ar_context_image(self.editor.mask(), self.editor.ar_position))
        if self._hover is not None:  # brush outline
            rad = self.editor.brush_size() / 2 * r.width() / SIZE
            p.setPen(QPen(QColor(255, 255, 255, 180), 1))
            p.drawEllipse(self._hover, rad, rad)
        p.end()

    def mousePressEvent(self, e):
        if e.button() == Qt.MouseButton.LeftButton:
            self._painting = True
            self.strokeStarted.emit()
            self._dab(e.position())

    def mouseMoveEvent(self, e):
        self._hover = e.position()
        if self._painting:
            self._dab(e.position())
        self.update()

    def mouseReleaseEvent(self, e):
        if self._painting:
            self._painting = False
            self.editor._stroke_done()

    def leaveEvent(self, _e):
        self._hover = None
        self.update()

    def _dab(self, pos: QPointF):
        cy, cx = self.to_pixel(pos)
        self.editor._dab(cy, cx)


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
        self.original.setFixedSize(96, 96)
        self.original.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.original.setStyleSheet("border: 1px solid #555;")
        self.info = QLabel("No image yet: drop one, press Open, or pick an example.")
        self.info.setWordWrap(True)

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
        self.soft = QCheckBox("Soft edge")
        self.soft.setToolTip("Dithered rim: the hole's edge mixes kept and generated pixels")

        self.undo_btn = QPushButton("Undo")
        self.redo_btn = QPushButton("Redo")
        clear_btn = QPushButton("Clear")
        invert_btn = QPushButton("Invert")
        self.undo_btn.clicked.connect(self.undo)
        self.redo_btn.clicked.connect(self.redo)
        clear_btn.clicked.connect(self.clear)
        invert_btn.clicked.connect(self.invert)
        self.preset_buttons = {}
        presets = QGridLayout()
        for i, name in enumerate(masks.PRESETS):
            b = QPushButton(PRESET_LABELS[name])
            b.setObjectName(f"preset-{name}")
            b.clicked.connect(lambda _=False, n=name: self.apply_preset(n))
            presets.addWidget(b, i // 3, i % 3)
            self.preset_buttons[name] = b

        self.invert_combo = QComboBox()
        self.invert_combo.addItems(["Invert: auto", "Invert: yes", "Invert: no"])
        self.invert_combo.setToolTip("Fashion-MNIST is light on dark; auto inverts pictures with a light "
                                     "border")
        self.invert_combo.currentIndexChanged.connect(self._reimport)
        open_btn = QPushButton("Open…")
        open_btn.clicked.connect(self.open_dialog)
        self.class_combo = QComboBox()
        self.class_combo.addItems(["any class"] + list(CLASS_NAMES))
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
        self.inpaint_btn = QPushButton("Inpaint")
        self.inpaint_btn.setEnabled(False)
        self.inpaint_btn.clicked.connect(self.request_inpaint)

        top = QHBoxLayout()
        top.addWidget(self.original)
        top.addWidget(self.info, 1)
        tools = QHBoxLayout()
        for w in (self.brush, self.eraser, self.size_box, self.soft):
            tools.addWidget(w)
        edits = QHBoxLayout()
        for w in (self.undo_btn, self.redo_btn, clear_btn, invert_btn):
            edits.addWidget(w)
        src = QHBoxLayout()
        for w in (open_btn, self.invert_combo):
            src.addWidget(w)
        run = QHBoxLayout()
        for w in (self.class_combo, self.resample_box, self.jump_box, self.inpaint_btn):
            run.addWidget(w)
        ar = QHBoxLayout()
        ar.addWidget(self.ar_label)
        ar.addWidget(self.ar_slider, 1)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.canvas, 1)
        for sub in (tools, edits, presets, src, ar, run):
            lay.addLayout(sub)

        for text, keys, slot in (("Undo mask", QKeySequence.StandardKey.Undo, self.undo),
                                 ("Redo mask", QKeySequence("Ctrl+Shift+Z"), self.redo),
                                 ("Open image", QKeySequence.StandardKey.Open, self.open_dialog)):
            act = QAction(text, self)
            act.setShortcut(keys)
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.triggered.connect(slot)
            self.addAction(act)
        self._sync_buttons()

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

    def open_dialog(self):
        pattern = " ".join(f"*{s}" for s in SUFFIXES)
        path, _ = QFileDialog.getOpenFileName(self, "Open an image to inpaint", "",
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
