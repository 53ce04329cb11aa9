"""A run's recorded history: the frames and figures behind the timeline slider and process clips."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from desktopgen.core.events import StepEvent


@dataclass
class RunTrace:
    """Every event's figures, and the preview frames of the events that carried one.

    Frames are kept at most every `keep_every` steps (always the last), so a 784-step AR run at
    batch 64 stays small; `frame_at(fraction)` / `frame_at_time(seconds)` replay it."""

    family: str
    keep_every: int = 1
    steps: list[int] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)
    mem_allocated: list[int] = field(default_factory=list)
    mem_peak: list[int] = field(default_factory=list)
    mem_kind: str = "process"
    total: int = 0
    frames: list[tuple[int, float, np.ndarray, np.ndarray | None, int | None]] = field(
        default_factory=list
    )  # (step, elapsed, preview, preview_clean, position)

    def add(self, ev: StepEvent) -> None:
        self.steps.append(ev.step)
        self.elapsed.append(ev.elapsed)
        self.mem_allocated.append(ev.mem_allocated)
        self.mem_peak.append(ev.mem_peak)
        self.mem_kind, self.total = ev.mem_kind, ev.total
        if ev.preview is not None and (ev.step % self.keep_every == 0 or ev.step == ev.total):
            self.frames.append((ev.step, ev.elapsed, ev.preview, ev.preview_clean, ev.position))

    @property
    def duration(self) -> float:
        return self.elapsed[-1] if self.elapsed else 0.0

    def frame_at(self, fraction: float):
        """The last frame at or before `fraction` (0..1) of the run's steps; None if none yet."""
        if not self.frames:
            return None
        return self._last_frame(0, fraction * (self.total or self.frames[-1][0]))

    def frame_at_time(self, seconds: float):
        """The last frame shown at or before `seconds` of wall time (the final frame after the end)."""
        return self._last_frame(1, seconds) if self.frames else None

    def _last_frame(self, field_index: int, limit: float):
        """The last frame whose step (field 0) or elapsed time (field 1) is at most `limit`
        (the first frame if none is); frames are in run order."""
        best = self.frames[0]
        for f in self.frames:
            if f[field_index] > limit + 1e-9:
                break
            best = f
        return best
