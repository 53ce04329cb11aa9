"""The mask editor's drawing surface: the 28x28 source drawn large (nearest), the red mask and the
AR context on top, painted with the mouse; and those overlays as 28x28 RGBA QImages, which the
window can draw over its canvases too. The editor (mask_editor.py) owns the state."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from desktopgen.sampling import masks

SIZE = 28
EDITOR_WIDTH = 310  # the dock's width: with the 300-px controls, both sides keep ~300 px at 1280


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

    def __init__(self, editor):  # a MaskEditor
        super().__init__(editor)
        self.editor = editor
        self.setMinimumSize(196, 196)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setMouseTracking(True)
        self.setAcceptDrops(False)  # the editor handles drops for the whole panel
        self._hover: QPointF | None = None
        self._painting = False

    def sizeHint(self) -> QSize:
        return QSize(EDITOR_WIDTH - 20, EDITOR_WIDTH - 20)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return width  # square: the dock's spare height goes to the rows below, not to black bars

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
