"""A canvas that paints a batch of 28x28 frames as a grid, nearest-neighbour scaled.

The AR canvas dims the pixels not generated yet and marks the current position; any canvas can
show a 28x28 overlay (an inpainting mask, or the context an AR model could see).
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

SIZE = 28
GAP = 1  # pixels between tiles, in image pixels

_checker = ((np.indices((SIZE, SIZE)).sum(0) // 2) % 2).astype(bool)  # 2x2 checks


def grid_shape(batch: int) -> tuple[int, int]:
    """(rows, cols) of the most square grid that holds `batch` tiles."""
    cols = max(1, math.ceil(math.sqrt(batch)))
    return math.ceil(batch / cols), cols


def compose(frames: np.ndarray, position: int | None = None, overlay: np.ndarray | None = None,
            overlay_color=(230, 60, 60)) -> np.ndarray:
    """(B, 28, 28) uint8 -> (H, W, 3) uint8 RGB grid. With `position` (AR), pixels after it are
    drawn as a dim checker; with `overlay` (28x28, nonzero = marked), marked pixels are tinted."""
    frames = np.asarray(frames, dtype=np.uint8)
    B = frames.shape[0]
    rows, cols = grid_shape(B)
    tiles = np.repeat(frames[..., None], 3, axis=-1)  # (B, 28, 28, 3)
    if position is not None:
        pending = np.arange(SIZE * SIZE).reshape(SIZE, SIZE) > position
        dim = np.where(_checker, 38, 52).astype(np.uint8)
        tiles[:, pending] = np.stack([dim[pending], dim[pending], dim[pending] + 14], -1)
    if overlay is not None:
        m = np.asarray(overlay).astype(bool)
        tint = np.asarray(overlay_color, np.float32)
        tiles[:, m] = (0.55 * tiles[:, m] + 0.45 * tint).astype(np.uint8)
    H, W = rows * (SIZE + GAP) - GAP, cols * (SIZE + GAP) - GAP
    out = np.full((H, W, 3), 24, np.uint8)
    for i in range(B):
        r, c = divmod(i, cols)
        out[r * (SIZE + GAP):r * (SIZE + GAP) + SIZE, c * (SIZE + GAP):c * (SIZE + GAP) + SIZE] = tiles[i]
    return out


class Canvas(QWidget):
    """Shows the latest frames of one side; `set_frames` is cheap, painting happens on update()."""

    def __init__(self, title: str, marker_color: QColor | None = None, parent=None):
        super().__init__(parent)
        self.title = title
        self.marker_color = marker_color
        self._frames: np.ndarray | None = None
        self._position: int | None = None
        self._overlay: np.ndarray | None = None
        self._image: QImage | None = None
        self._message = "Press Generate"
        self.setMinimumSize(240, 240)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setAttribute(Qt.WA_OpaquePaintEvent)

    # --- state ---------------------------------------------------------------------------
    def set_frames(self, frames: np.ndarray | None, position: int | None = None) -> None:
        """Frames (B, 28, 28) uint8; `position` = index of the last generated pixel (AR)."""
        self._frames, self._position = frames, position
        self._image = None
        self.update()

    def set_overlay(self, mask: np.ndarray | None) -> None:
        """A 28x28 overlay drawn on every tile (nonzero = marked), or None to remove it."""
        self._overlay = None if mask is None else np.asarray(mask).reshape(SIZE, SIZE)
        self._image = None
        self.update()

    def set_message(self, text: str) -> None:
        """Text shown when there is no image yet (or over it, dimmed, for errors)."""
        self._message = text
        self.update()

    def frames(self) -> np.ndarray | None:
        return self._frames

    def clear(self, message: str = "") -> None:
        self._frames, self._position, self._image = None, None, None
        self._message = message
        self.update()

    # --- painting ------------------------------------------------------------------------
    def _qimage(self) -> QImage | None:
        if self._image is None and self._frames is not None:
            rgb = np.ascontiguousarray(compose(self._frames, self._position, self._overlay))
            h, w, _ = rgb.shape
            self._image = QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy()  # own the bytes
        return self._image

    def image_rect(self) -> QRectF:
        img = self._qimage()
        if img is None:
            return QRectF()
        scale = min(self.width() / img.width(), self.height() / img.height())
        if scale >= 1:
            scale = math.floor(scale)  # whole screen pixels per image pixel: crisp
        w, h = img.width() * scale, img.height() * scale
        return QRectF((self.width() - w) / 2, (self.height() - h) / 2, w, h)

    def paintEvent(self, _event) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(18, 18, 22))
        img = self._qimage()
        if img is not None:
            p.setRenderHint(QPainter.SmoothPixmapTransform, False)  # nearest neighbour
            target = self.image_rect()
            p.drawImage(target, img)
            if self._position is not None and self.marker_color is not None and self._frames is not None:
                self._paint_marker(p, target)
        if self._message and img is None:
            p.setPen(QColor(170, 170, 180))
            p.drawText(self.rect(), Qt.AlignCenter | Qt.TextWordWrap, self._message)
        p.end()

    def _paint_marker(self, p: QPainter, target: QRectF) -> None:
        """A small box around the pixel being generated, on every tile."""
        pos = self._position
        if pos is None or not 0 <= pos < SIZE * SIZE:
            return
        rows, cols = grid_shape(len(self._frames))
        px = target.width() / (cols * (SIZE + GAP) - GAP)  # screen pixels per image pixel
        y, x = divmod(pos, SIZE)
        pen = QPen(self.marker_color)
        pen.setWidthF(max(1.5, px * 0.25))
        p.setPen(pen)
        p.setBrush(Qt.NoBrush)
        for i in range(len(self._frames)):
            r, c = divmod(i, cols)
            ox = target.left() + (c * (SIZE + GAP) + x) * px
            oy = target.top() + (r * (SIZE + GAP) + y) * px
            p.drawRect(QRectF(ox - px * 0.5, oy - px * 0.5, px * 2, px * 2))
