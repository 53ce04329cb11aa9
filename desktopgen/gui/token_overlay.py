"""What the token samplers generate, drawn over the AR canvas: the token grid of each image
(14x14 or 7x7).

Raster token AR fills the grid one token per step; MaskGIT commits a group per step and leaves
the least confident masked. Over the decoded image, every token cell is outlined; a pending
(masked) cell is dimmed and hatched; a committed cell is tinted by its confidence when the
sampler gives one (MaskGIT: red unsure, yellow, green sure, on a log scale); the cells that
changed at the last step are boxed in the marker colour. The "Show token grid" toggle (Ctrl+T) puts the codes
themselves beside the decoded image, one fixed colour per code index: what AR actually writes.

Pure numpy helpers (`code_colors`, `compose_codes`, `confidence_colors`) and `TokenCanvas`, a
Canvas that behaves exactly like its base until it is given tokens.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QLineF, QRectF, Qt
from PySide6.QtGui import (
    QAction,
    QBrush,
    QColor,
    QImage,
    QKeySequence,
    QPainter,
    QPainterPath,
    QPen,
)

from desktopgen.gui.canvas import GAP, SIZE, TINT, Canvas, compose, grid_shape
from desktopgen.gui.settings import TOKEN_GRID_KEY

SEP = 3  # image pixels between the decoded images and their codes
GOLDEN = 0.6180339887498949  # hue step between neighbouring code indices: far-apart hues
PENDING_RGB = (30, 30, 38)  # a pending token in the code view (hatched on top)
PENDING_FILL = QColor(14, 14, 20, 150)  # dims a pending cell over the decoded image
HATCH = QColor(120, 120, 150, 170)
GRID_LINE = QColor(255, 255, 255, 38)
TINT_ALPHA = 95  # confidence tint over a committed cell (0-255)
LOG_FLOOR = 1e-3  # confidences at or below it get the reddest tint


def _hsv_to_rgb(h: np.ndarray, s: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Vectorised HSV (each in [0, 1]) -> (..., 3) uint8 RGB."""
    i = np.floor(h * 6).astype(int) % 6
    f = h * 6 - np.floor(h * 6)
    p, q, t = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return (np.stack([r, g, b], -1) * 255).round().astype(np.uint8)


def code_colors(codes) -> np.ndarray:
    """A fixed colour per code index, whatever the codebook size: hues a golden ratio apart with
    three saturations and four brightnesses, so neighbouring indices look different. -1 (not
    generated yet) gets PENDING_RGB. (...,) int -> (..., 3) uint8."""
    codes = np.asarray(codes).astype(np.int64)
    k = np.maximum(codes, 0)
    rgb = _hsv_to_rgb((k * GOLDEN) % 1.0, 0.45 + 0.2 * (k % 3), 0.55 + 0.15 * ((k // 3) % 4))
    rgb[codes < 0] = PENDING_RGB
    return rgb


def confidence_colors(conf) -> np.ndarray:
    """Confidence (a probability) -> (..., 3) uint8 on a red (unsure) - yellow - green (sure) ramp,
    on a log scale: 0.001 and below red, 0.03 yellow, 1 green. A code among 1000 is rarely
    sampled with p > 0.3 (the shipped MaskGIT commits codes at p ~ 0.005 to 0.3), so a linear
    ramp would paint every cell red."""
    p = np.clip(np.nan_to_num(np.asarray(conf, np.float64)), LOG_FLOOR, 1)
    c = ((np.log10(p) - np.log10(LOG_FLOOR)) / -np.log10(LOG_FLOOR))[..., None]  # 0..1
    red, yellow, green = (np.array(x, np.float64) for x in ((235, 70, 60), (240, 205, 60),
                                                            (70, 205, 110)))
    low = red + (yellow - red) * np.clip(2 * c, 0, 1)
    return np.where(c < 0.5, low, yellow + (green - yellow) * np.clip(2 * c - 1, 0, 1)).astype(np.uint8)


def _layout(tiles: np.ndarray, fill=24) -> np.ndarray:
    """(B, 28, 28, ...) tiles -> one grid image laid out as `canvas.compose` lays out images."""
    B = len(tiles)
    rows, cols = grid_shape(B)
    out = np.full((rows * (SIZE + GAP) - GAP, cols * (SIZE + GAP) - GAP) + tiles.shape[3:], fill,
                  tiles.dtype)
    for i in range(B):
        r, c = divmod(i, cols)
        out[r * (SIZE + GAP):r * (SIZE + GAP) + SIZE, c * (SIZE + GAP):c * (SIZE + GAP) + SIZE] = tiles[i]
    return out


def _cells_to_pixels(a: np.ndarray) -> np.ndarray:
    """(B, h, w, ...) per token -> (B, 28, 28, ...) per pixel (h and w divide 28 or not)."""
    h, w = a.shape[1:3]
    ys, xs = np.arange(SIZE) * h // SIZE, np.arange(SIZE) * w // SIZE  # pixel -> cell
    return a[:, ys][:, :, xs]


def compose_codes(tokens) -> np.ndarray:
    """(B, h, w) codes (-1 = pending) -> (H, W, 3) uint8: each image's codes as 28x28 tiles of
    coloured cells, laid out like `canvas.compose` lays out the images (same size, same grid)."""
    return _layout(_cells_to_pixels(code_colors(np.asarray(tokens))))


def shade(grid: np.ndarray, tokens, confidence=None) -> np.ndarray:
    """The composed images `grid` (H, W, 3) uint8 with each pending token's pixels dimmed and,
    with `confidence`, each committed token's pixels tinted by it (TINT_ALPHA); a NaN confidence
    leaves its token untinted (an inpainting job's known tokens)."""
    tokens = np.asarray(tokens)
    alpha = _layout(_cells_to_pixels(np.where(tokens < 0, PENDING_FILL.alphaF(), 0.0)
                                     .astype(np.float32)), fill=0.0)  # (H, W): how much to cover
    cover = np.broadcast_to(np.array(PENDING_FILL.getRgb()[:3], np.float32), grid.shape)
    if confidence is not None:
        tinted = (tokens >= 0) & np.isfinite(np.asarray(confidence, np.float32).reshape(tokens.shape))
        committed = _layout(_cells_to_pixels(tinted), fill=False)
        alpha = np.where(committed, np.float32(TINT_ALPHA / 255), alpha)
        tint = _layout(_cells_to_pixels(confidence_colors(confidence)), fill=0)
        cover = np.where(committed[..., None], tint.astype(np.float32), cover)
    out = grid + (cover - grid) * alpha[..., None]
    return out.round().astype(np.uint8)


def token_grid_toggle(parent, canvases, settings=None) -> QAction:
    """The checkable "Show token grid" action (Ctrl+T): the token canvases among `canvases` show
    each image's codes as colours beside it. Its state is kept in `settings` (TOKEN_GRID_KEY)."""
    canvases = [c for c in canvases if isinstance(c, TokenCanvas)]
    act = QAction("Show &token grid", parent)
    act.setObjectName("tokenGridAction")
    act.setCheckable(True)
    on = settings.value(TOKEN_GRID_KEY, False) in (True, "true", "1", 1) if settings is not None \
        else False
    act.setChecked(on)
    act.setShortcut(QKeySequence("Ctrl+T"))
    act.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    act.setToolTip("Show the token grid beside the image (Ctrl+T): each token's code as a colour, "
                   "what token AR and MaskGIT actually generate (token samplers only)")
    act.setStatusTip(act.toolTip())

    def toggled(value: bool) -> None:
        for c in canvases:
            c.set_token_grid_visible(value)
        if settings is not None:
            settings.setValue(TOKEN_GRID_KEY, bool(value))

    act.toggled.connect(toggled)
    for c in canvases:
        c.set_token_grid_visible(on)
        c.addAction(act)  # right-click on the canvas offers it too
        c.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
    return act


class TokenCanvas(Canvas):
    """A Canvas that, given a token grid (`set_tokens`), draws it over the decoded images, and
    the codes as colours beside them when the token grid is shown. Without tokens: a plain Canvas."""

    def __init__(self, title: str, marker_color: QColor | None = None, parent=None):
        super().__init__(title, marker_color, parent)
        self._tokens: np.ndarray | None = None  # (B, h, w) int, -1 = pending
        self._confidence: np.ndarray | None = None  # (B, h, w) float in [0, 1], or None
        self._fresh: np.ndarray | None = None  # (B, h, w) bool: changed at the last step
        self._show_codes = False

    # --- state ---------------------------------------------------------------------------
    def set_tokens(self, tokens, confidence=None, position: int | None = None) -> None:
        """The token grid of the frames shown (None: none, a plain canvas). `position`: the raster
        index of the token made at this step (raster AR); without it, the cells committed since the
        previous grid are the fresh ones (MaskGIT)."""
        if tokens is None:
            self._tokens = self._confidence = self._fresh = None
        else:
            t = np.asarray(tokens).astype(np.int64)
            if t.ndim != 3:
                raise ValueError(f"tokens must be (batch, h, w), not {t.shape}")
            if position is not None and 0 <= position < t.shape[1] * t.shape[2]:
                fresh = np.zeros(t.shape, bool)
                fresh[:, position // t.shape[2], position % t.shape[2]] = True
            elif self._tokens is not None and self._tokens.shape == t.shape:
                fresh = (self._tokens < 0) & (t >= 0)
            else:
                fresh = np.zeros(t.shape, bool)
            self._tokens, self._fresh = t, fresh & (t >= 0)
            self._confidence = None if confidence is None else \
                np.asarray(confidence, np.float32).reshape(t.shape)
        self._image = None
        self.update()

    def tokens(self) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(tokens, confidence) as drawn now."""
        return self._tokens, self._confidence

    def set_token_grid_visible(self, on: bool) -> None:
        """The user's toggle: the codes as colours beside the decoded images."""
        self._show_codes = bool(on)
        self._image = None
        self.update()

    def token_grid_visible(self) -> bool:
        return self._show_codes

    def clear(self, message: str = "") -> None:
        self._tokens = self._confidence = self._fresh = None
        super().clear(message)

    def _panels(self) -> int:
        """0: no token grid (a plain canvas); 1: over the images; 2: and the codes beside them."""
        if self._tokens is None or self._frames is None or len(self._tokens) != len(self._frames):
            return 0
        return 2 if self._show_codes else 1

    # --- painting ------------------------------------------------------------------------
    def _qimage(self) -> QImage | None:
        if self._image is None and self._frames is not None and self._panels():
            mask, style = self.overlay()
            rgb = shade(compose(self._frames, None, mask if style == TINT else None), self._tokens,
                        self._shown_confidence())
            if self._panels() == 2:
                gap = np.full((rgb.shape[0], SEP, 3), 18, np.uint8)
                rgb = np.concatenate([rgb, gap, compose_codes(self._tokens)], axis=1)
            rgb = np.ascontiguousarray(rgb)
            h, w, _ = rgb.shape
            self._image = QImage(rgb.data, w, h, 3 * w, QImage.Format_RGB888).copy()
        return super()._qimage()

    def _shown_confidence(self) -> np.ndarray | None:
        """The confidences to tint by: none (NaN) on the tokens an inpainting job kept (their 4x4
        patch is outside the outlined hole), whose pixels stay exactly the source's."""
        conf, hole = self._confidence, self._overlay
        if conf is None or hole is None or self._overlay_style == TINT:
            return conf
        h, w = conf.shape[1:]
        touched = np.zeros((h, w), bool)
        ys, xs = np.nonzero(hole)
        touched[ys * h // SIZE, xs * w // SIZE] = True
        return np.where(touched, conf, np.nan)

    def _cell_edges(self, target: QRectF, panel: int) -> tuple[np.ndarray, np.ndarray]:
        """Screen x edges (B, w + 1) and y edges (B, h + 1) of every image's token cells."""
        h, w = self._tokens.shape[1:] if self._tokens is not None else (7, 7)
        B = len(self._frames)
        rows, cols = grid_shape(B)
        px = target.height() / (rows * (SIZE + GAP) - GAP)  # screen pixels per image pixel
        r, c = np.divmod(np.arange(B), cols)
        x0 = panel * (cols * (SIZE + GAP) - GAP + SEP) + c * (SIZE + GAP)  # image pixels
        xs = target.left() + (x0[:, None] + np.arange(w + 1) * SIZE // w) * px
        ys = target.top() + (r[:, None] * (SIZE + GAP) + np.arange(h + 1) * SIZE // h) * px
        return xs, ys

    def cell_rect(self, target: QRectF, i: int, ty: int, tx: int, panel: int = 0) -> QRectF:
        """Screen rectangle of token (ty, tx) of image i, on the images (panel 0) or the codes."""
        xs, ys = self._cell_edges(target, panel)
        return QRectF(xs[i, tx], ys[i, ty], xs[i, tx + 1] - xs[i, tx], ys[i, ty + 1] - ys[i, ty])

    def _rects(self, target: QRectF, panel: int, cells) -> list[QRectF]:
        """Screen rectangles of the cells (i, ty, tx) given as three index arrays."""
        xs, ys = self._cell_edges(target, panel)
        i, ty, tx = (np.asarray(a) for a in cells)
        x1, x2, y1, y2 = xs[i, tx], xs[i, tx + 1], ys[i, ty], ys[i, ty + 1]
        return [QRectF(*v) for v in zip(x1.tolist(), y1.tolist(), (x2 - x1).tolist(),
                                         (y2 - y1).tolist())]

    def paintEvent(self, event) -> None:
        super().paintEvent(event)  # the images, dimmed and tinted by `shade`, and their codes
        panels = self._panels()
        target = self.image_rect()
        if not panels or target.isEmpty():
            return
        p = QPainter(self)
        pending = np.nonzero(self._tokens < 0)
        grid_pen = QPen(GRID_LINE)
        grid_pen.setWidthF(1.0)
        for panel in range(panels):
            if len(pending[0]):  # hatching: one path, one fill
                path = QPainterPath()
                for r in self._rects(target, panel, pending):
                    path.addRect(r)
                p.fillPath(path, QBrush(HATCH, Qt.BrushStyle.BDiagPattern))
            xs, ys = self._cell_edges(target, panel)  # grid lines: whole rows and columns per image
            lines = [QLineF(x, y[0], x, y[-1]) for x, y in zip(xs.tolist(), ys.tolist()) for x in x]
            lines += [QLineF(x[0], y, x[-1], y) for x, y in zip(xs.tolist(), ys.tolist()) for y in y]
            p.setPen(grid_pen)
            p.drawLines(lines)
        if self._fresh is not None and self._fresh.any() and self.marker_color is not None:
            pen = QPen(self.marker_color)
            pen.setWidthF(max(1.5, target.height() / 200))
            p.setPen(pen)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRects(self._rects(target, 0, np.nonzero(self._fresh)))  # on the images only
        if self._outline and self._overlay_visible and self._overlay_style != TINT:
            self._paint_outline(p, target)  # the inpainting hole stays visible over the hatching
        p.end()
