"""The Runner of video mode: its own two side workers, each Job carrying `frames`."""

from __future__ import annotations

from PySide6.QtCore import Signal, Slot

from desktopgen.gui.jobs import Job, JobEvent
from desktopgen.gui.run import Runner


class VideoRunner(Runner):
    """The Runner with video jobs: its own two side workers, each Job carrying `frames`."""

    driftChanged = Signal(str, object)  # family, drift figures of the frames made so far
    frames = 16

    def start(self, requests, one_at_a_time: bool = False, frames: int = 16) -> None:
        self.frames = frames
        super().start(requests, one_at_a_time)
        for f, _ in requests:
            self.sides[f].trace = None  # clips are big: the player keeps the last preview, not a trace

    @Slot(object)
    def _on_event(self, je: JobEvent) -> None:
        super()._on_event(je)
        if je.drift is not None and self._current(je.family, je.job_id) is not None:
            self.driftChanged.emit(je.family, je.drift)

    def _submit(self, f: str, req) -> None:
        self._next_job += 1
        s = self.sides[f]
        s.job_id, s.running, s.request = self._next_job, True, req
        self.threads[f].worker.submit(Job(s.job_id, req, self.device, frames=self.frames))
        self.sideStarted.emit(f)
