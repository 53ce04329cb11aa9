"""One side of the race as the user sees it: its title, caption, canvas, progress bar and the
figures of its last run. It only draws what it is told; the window feeds it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont
from PySide6.QtWidgets import QLabel, QProgressBar, QVBoxLayout, QWidget

from desktopgen.core.events import RunResult
from desktopgen.gui.canvas import OUTLINE, Canvas
from desktopgen.gui.theme import COLORS, NAMES
from desktopgen.gui.token_overlay import TokenCanvas

TOOLTIPS = {
    "diffusion": "The diffusion model refines the whole image at every step, from noise to picture.",
    "ar": "The autoregressive model writes one pixel at a time, left to right, top to bottom. "
          "The red box is the pixel being written; the dim checker is what is not written yet. "
          "The token samplers write learned tokens instead, 14 x 14 or 7 x 7 per image (Ctrl+T shows "
          "their codes).",
}
LEGENDS = {  # under the AR canvas during a token run: how to read the grid over the images
    "raster": "Token grid: one token per step in raster order · hatched = not generated yet · "
              "red box = this step's token · Ctrl+T: codes as colours",
    "masked": "Hatched = masked (the model's guess, dimmed) · tint = the committed code's "
              "probability (red 0.001, yellow 0.03, green 1) · red boxes = this step's commits",
}


def duration(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds >= 1 else f"{1000 * seconds:.1f} ms"


class SideView(QWidget):
    """Caption, canvas, progress and figures of one family."""

    def __init__(self, family: str, parent=None):
        super().__init__(parent)
        self.family = f = family
        v = QVBoxLayout(self)
        v.setContentsMargins(4, 0, 4, 0)
        title = QLabel(NAMES[f])
        font = QFont()
        font.setPointSize(13)
        font.setBold(True)
        title.setFont(font)
        title.setStyleSheet(f"color: {COLORS[f]};")
        self.caption = QLabel("")
        self.caption.setObjectName(f"{f}Caption")
        self.caption.setStyleSheet("color: #9a9aa6;")
        self.caption.setWordWrap(True)
        self.canvas = TokenCanvas(NAMES[f], QColor("#ff3b5c")) if f == "ar" else Canvas(NAMES[f])
        self._codes: np.ndarray | None = None  # the last token run's final codes (timeline replay)
        self._token_kind = ""  # "raster" | "masked" during and after a token run
        self._final: np.ndarray | None = None  # that run's finished images
        self.canvas.setObjectName(f"{f}Canvas")
        self.canvas.setToolTip(TOOLTIPS[f])
        self.progress = QProgressBar()
        self.progress.setObjectName(f"{f}Progress")
        self.progress.setFormat("idle")
        self.progress.setValue(0)
        self.progress.setToolTip("Steps done of the whole run, and the estimated time left.")
        self.figures = QLabel("")
        self.figures.setObjectName(f"{f}Figures")
        self.figures.setWordWrap(True)
        self.figures.setTextInteractionFlags(Qt.TextSelectableByMouse)
        self.figures.setToolTip("The last run: total time, time per image and peak memory.")
        for w in (title, self.caption):
            v.addWidget(w)
        v.addWidget(self.canvas, 1)
        self.legend = QLabel("")
        self.legend.setObjectName(f"{f}TokenLegend")
        self.legend.setStyleSheet("color: #9a9aa6; font-size: 11px;")
        self.legend.setWordWrap(True)
        self.legend.hide()
        v.addWidget(self.legend)
        v.addWidget(self.progress)
        v.addWidget(self.figures)

    def set_caption(self, model: str, sampler_label: str, steps: int | None, device: str) -> None:
        parts = [model, sampler_label] + ([f"{steps} steps"] if steps else [])
        self.caption.setText(" · ".join(parts))  # one line at 1280 px with the inpainting dock open
        self.caption.setToolTip(" · ".join(parts + [device or "device: loading…"]))

    def show_frames(self, frames, clean=None, position=None, view: str = "clean", tokens=None,
                    confidence=None, replay_step=None) -> None:
        """A step's previews: diffusion shows the predicted clean image or the noisy sample; the AR
        token samplers also send their token grid (`position` is then a token's index). The
        timeline's replay passes `replay_step` (None at the end of the run): a raster token run
        had then made its first `replay_step` codes."""
        if self.family == "diffusion":
            self.canvas.set_frames(clean if view == "clean" and clean is not None else frames)
        elif tokens is not None:
            masked = confidence is not None  # MaskGIT: its current guess, dimmed where still masked
            shown = clean if masked and clean is not None else frames
            if shown is not None:
                self.canvas.set_frames(shown, None)
            self.canvas.set_tokens(tokens, confidence, position)
            self._show_legend("masked" if masked else "raster")
        elif self._token_kind:  # a token run replayed by the timeline: its frames carry no tokens
            shown = clean if self._token_kind == "masked" and clean is not None else frames
            self.canvas.set_frames(shown, None)
            if replay_step is not None and position is None:
                position = replay_step - 1  # token events carry no pixel position: use the step
            self.canvas.set_tokens(self._replayed_codes(shown, position))
        else:
            self.canvas.set_tokens(None)
            self.canvas.set_frames(frames, position)

    def _replayed_codes(self, frames, position):
        """Raster token AR at token `position` (None: the end) had made the final codes up to it;
        MaskGIT's order is not kept, so its grid shows only on the finished images."""
        if self._codes is None:
            return None
        if self._token_kind != "raster":
            done = self._final is not None and np.array_equal(frames, self._final)
            return self._codes if done else None
        if position is None:
            return self._codes
        done = np.arange(self._codes[0].size).reshape(self._codes.shape[1:]) <= position
        return np.where(done, self._codes, -1)

    def _show_legend(self, kind: str) -> None:
        self._token_kind = kind
        self.legend.setText(LEGENDS[kind])
        self.legend.show()

    def prepare(self, loading: bool) -> None:
        """A new run is about to start on this side."""
        self._bar(0, 1, "starting…")
        self.figures.setText("")
        self.figures.setStyleSheet("")
        self.canvas.clear("Loading the model…" if loading else "Starting…")
        self._codes, self._token_kind = None, ""
        self.legend.hide()

    def show_waiting(self) -> None:
        self.progress.setFormat("waiting for the other side (one at a time)")

    def show_starting(self) -> None:
        self.progress.setFormat("starting…")

    def show_progress(self, step: int, total: int, elapsed: float) -> None:
        eta = elapsed / step * (total - step) if step else 0.0
        self._bar(step, total, f"step {step} / {total} · {elapsed:.1f} s · ETA {eta:.1f} s")

    def show_result(self, r: RunResult, total: int) -> None:
        """A finished run, or a cancelled one (then no per-image time: the images are partial)."""
        self.canvas.set_frames(r.images, None)
        codes = r.extra.get("tokens", r.extra.get("codes")) if r.extra else None
        if codes is not None and self.family == "ar":  # a token run: its finished grid
            self._codes, self._final = np.asarray(codes), r.images
            _, conf = self.canvas.tokens()
            self.canvas.set_tokens(self._codes, conf if conf is not None and conf.shape ==
                                   self._codes.shape else None)
            self._show_legend(self._token_kind or ("raster" if "tokens" in r.extra else "masked"))
        mem = "CUDA peak" if r.mem_kind == "cuda" else "process peak RSS"
        memory = f"{mem} <b>{r.peak_memory / 2**20:.0f} MiB</b>"
        per_step = f"<b>{duration(r.elapsed / max(1, r.steps))}</b> per step"
        if r.completed:
            self._bar(r.steps, max(1, total or r.steps), f"done: {r.steps} steps in {r.elapsed:.2f} s")
            n = len(r.images)
            self.figures.setText(f"<b>{r.elapsed:.2f} s</b> total · <b>{duration(r.elapsed / max(1, n))}"
                                 f"</b> per image · {per_step} · {memory}")
        else:
            total = max(1, total or r.steps)
            self._bar(r.steps, total, f"cancelled at step {r.steps} / {total} ({r.elapsed:.2f} s)")
            self.figures.setText(f"<i>cancelled</i> after <b>{r.elapsed:.2f} s</b>, {r.steps} of "
                                 f"{total} steps · {per_step} · {memory}")
        self.figures.setStyleSheet("")

    def show_cancelled_before_start(self) -> None:
        self._bar(0, 1, "cancelled before it started")
        self.canvas.clear("Cancelled.")

    def show_failed(self, message: str) -> None:
        self.progress.setFormat("failed")
        self.figures.setText(f"⚠ {message}")
        self.figures.setStyleSheet("color: #ff6b6b;")
        self.canvas.clear(f"{NAMES[self.family]} failed:\n{message}")

    def show_source(self, image, mask=None) -> None:
        """The image to inpaint, before Inpaint is pressed, with its hole tinted red (if any)."""
        if self.family == "ar":
            self.canvas.set_tokens(None)  # the source image has no token grid
            self._codes, self._token_kind = None, ""
            self.legend.hide()
        self.canvas.set_frames(np.asarray(image, np.uint8).reshape(1, 28, 28))
        self.canvas.set_overlay(mask if mask is not None and np.asarray(mask).any() else None)

    def outline(self, mask) -> None:
        """Outline an inpainting run's hole (None: no hole) over its frames, whose generated pixels
        keep their true values. Call after `prepare`, which drops any earlier mask."""
        self.canvas.set_overlay(None if mask is None else np.asarray(mask), OUTLINE)

    def _bar(self, value: int, maximum: int, text: str) -> None:
        self.progress.setRange(0, maximum)
        self.progress.setValue(value)
        self.progress.setFormat(text)
