"""A canvas that paints a batch of 28x28 frames as a grid, nearest-neighbour scaled.

The AR canvas dims the pixels not generated yet and marks the current position; any canvas can
show a 28x28 inpainting mask over what it shows: tinted red over the image about to be inpainted
(the hole to fill), outlined over an inpainting job's frames (its generated pixels keep their true
values), and hidden by the user's toggle (`overlay_toggle`). A new run (`clear`) drops the mask:
it no longer applies.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QLineF, QRectF, Qt
from PySide6.QtGui import QAction, QColor, QImage, QKeySequence, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

SIZE = 28
GAP = 1  # pixels between tiles, in image pixels

_checker = ((np.indices((SIZE, SIZE)).sum(0) // 2) % 2).astype(bool)  # 2x2 checks
TINT, OUTLINE = "tint", "outline"  # how a mask is drawn: over a source, over a job's frames
OUTLINE_COLOR = QColor(255, 70, 70, 230)


def grid_shape(batch: int) -> tuple[int, int]:
    """(rows, cols) of the most square grid that holds `batch` tiles."""
    cols = max(1, math.ceil(math.sqrt(batch)))
    return math.ceil(batch / cols), cols


def mask_outline(mask: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The edges between masked and unmasked pixels (or the border) as (x1, y1, x2, y2) segments in
    pixel-corner coordinates of one 28x28 tile."""
    m = np.pad(np.asarray(mask).reshape(SIZE, SIZE).astype(bool), 1)
    inner = m[1:-1, 1:-1]
    segs = []
    for y, x in zip(*np.nonzero(inner & ~m[:-2, 1:-1])):  # top edges
        segs.append((x, y, x + 1, y))
    for y, x in zip(*np.nonzero(inner & ~m[2:, 1:-1])):  # bottom edges
        segs.append((x, y + 1, x + 1, y + 1))
    for y, x in zip(*np.nonzero(inner & ~m[1:-1, :-2])):  # left edges
        segs.append((x, y, x, y + 1))
    for y, x in zip(*np.nonzero(inner & ~m[1:-1, 2:])):  # right edges
        segs.append((x + 1, y, x + 1, y + 1))
    return [tuple(int(v) for v in s) for s in segs]


def overlay_toggle(parent: QWidget, canvases) -> QAction:
    """The checkable "Show inpainting mask" action (Ctrl+M) for a menu, toolbar or button: shows or
    hides the mask on `canvases` wherever it applies (it never shows on plain generations)."""
    canvases = list(canvases)
    act = QAction("Show inpainting &mask", parent)
    act.setObjectName("maskOverlayAction")
    act.setCheckable(True)
    act.setChecked(True)
    act.setShortcut(QKeySequence("Ctrl+M"))
    act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    act.setToolTip("Show the inpainting hole over the images (Ctrl+M): red over the image to "
                   "inpaint, an outline around what the models filled in")
    act.setStatusTip(act.toolTip())
    act.toggled.connect(lambda on: [c.set_overlay_visible(on) for c in canvases])
    return act


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
        self._overlay_style = TINT
        self._overlay_visible = True
        self._outline: list[tuple[int, int, int, int]] = []
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

    def set_overlay(self, mask: np.ndarray | None, style: str = TINT) -> None:
        """A 28x28 mask drawn on every tile (nonzero = marked), or None to remove it. `style`:
        TINT (red over an image about to be inpainted) or OUTLINE (around the hole, over the frames
        of an inpainting job, whose pixels stay untouched)."""
        if style not in (TINT, OUTLINE):
            raise ValueError(f"overlay style must be {TINT!r} or {OUTLINE!r}, not {style!r}")
        self._overlay = None if mask is None else np.asarray(mask).reshape(SIZE, SIZE)
        self._overlay_style = style
        self._outline = mask_outline(self._overlay) if self._overlay is not None else []
        self._image = None
        self.update()

    def set_overlay_visible(self, on: bool) -> None:
        """The user's toggle: hide the mask (kept, and shown again when switched back on)."""
        self._overlay_visible = bool(on)
        self._image = None
        self.update()

    def overlay(self) -> tuple[np.ndarray | None, str]:
        """(mask, style) as drawn now: mask None when there is none or it is hidden."""
        shown = self._overlay if self._overlay_visible else None
        return shown, self._overlay_style

    def set_message(self, text: str) -> None:
        """Text shown when there is no image yet (or over it, dimmed, for errors)."""
        self._message = text
        self.update()

    def frames(self) -> np.ndarray | None:
        return self._frames

    def clear(self, message: str = "") -> None:
        """Empty the canvas for a new run (or a failure): the old mask no longer applies."""
        self._frames, self._position, self._image = None, None, None
        self._overlay, self._outline = None, []
        self._message = message
        self.update()

    # --- painting ------------------------------------------------------------------------
    def _qimage(self) -> QImage | None:
        if self._image is None and self._frames is not None:
            mask, style = self.overlay()
            rgb = np.ascontiguousarray(compose(self._frames, self._position,
                                               mask if style == TINT else None))
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
            if self._outline and self._overlay_visible and self._overlay_style == OUTLINE:
                self._paint_outline(p, target)
            if self._position is not None and self.marker_color is not None and self._frames is not None:
                self._paint_marker(p, target)
        if self._message and img is None:
            p.setPen(QColor(170, 170, 180))
            p.drawText(self.rect(), Qt.AlignCenter | Qt.TextWordWrap, self._message)
        p.end()

    def _paint_outline(self, p: QPainter, target: QRectF) -> None:
        """The hole's border on every tile, drawn between pixels so that none is covered."""
        rows, cols = grid_shape(len(self._frames))
        px = target.height() / (rows * (SIZE + GAP) - GAP)  # a token canvas may add a panel beside
        pen = QPen(OUTLINE_COLOR)
        pen.setWidthF(max(1.0, min(2.0, px * 0.2)))
        p.setPen(pen)
        for i in range(len(self._frames)):
            r, c = divmod(i, cols)
            ox, oy = target.left() + c * (SIZE + GAP) * px, target.top() + r * (SIZE + GAP) * px
            p.drawLines([QLineF(ox + x1 * px, oy + y1 * px, ox + x2 * px, oy + y2 * px)
                         for x1, y1, x2, y2 in self._outline])

    def _paint_marker(self, p: QPainter, target: QRectF) -> None:
        """A small box around the pixel being generated, on every tile."""
        pos = self._position
        if pos is None or not 0 <= pos < SIZE * SIZE:
            return
        rows, cols = grid_shape(len(self._frames))
        px = target.height() / (rows * (SIZE + GAP) - GAP)  # screen pixels per image pixel
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
