"""The run: both sides' workers, their job ids, the one-at-a-time queue and what each side's last
run produced. A QObject with no widgets; it says what happened by signals, and drops the stale
events of cancelled jobs so that nobody else has to.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal, Slot

from desktopgen.core.events import RunResult, StepEvent
from desktopgen.core.requests import SampleRequest
from desktopgen.core.trace import RunTrace
from desktopgen.gui.theme import FAMILIES
from desktopgen.gui.workers import (
    Job,
    JobCancelled,
    JobDone,
    JobEvent,
    JobFailed,
    WorkerReady,
    WorkerThread,
)

KEEP_EVERY = {"diffusion": 1, "ar": 8}  # timeline frames kept: AR keeps every 8th pixel step


@dataclass
class Side:
    """What is known about one side's current or last run."""

    family: str
    job_id: int = 0
    running: bool = False
    trace: RunTrace | None = None
    latest: StepEvent | None = None  # the last event with a preview, not drawn yet if dirty
    dirty: bool = False
    request: SampleRequest | None = None  # as the worker ran it (defaults filled in)
    result: RunResult | None = None
    card: dict = field(default_factory=dict)
    error: str = ""
    cancelled: bool = False  # the last run was cancelled (before or after its first step)
    device: str = ""


class Runner(QObject):
    """Submits requests to the side workers; every submitted side ends with exactly one of
    sideFinished, sideFailed or sideCancelled, then runFinished; allIdle when nothing is left."""

    stepped = Signal(object)  # StepEvent of a current job
    sideStarted = Signal(str)  # family: its job was submitted to its worker
    sideFinished = Signal(object)  # JobDone (result.completed False when cancelled mid-run)
    sideFailed = Signal(object)  # JobFailed
    sideCancelled = Signal(str)  # family: cancelled before its first step
    runFinished = Signal(str)  # family, after one of the three above
    allIdle = Signal()  # no side running nor queued
    ready = Signal(object)  # WorkerReady
    workersLoaded = Signal()  # both workers have imported torch and loaded their default model

    def __init__(self, device: str = "auto", parent=None):
        super().__init__(parent)
        self.device = device
        self.sides = {f: Side(f) for f in FAMILIES}
        self.threads: dict[str, WorkerThread] = {}
        self.queued: list[tuple[str, SampleRequest]] = []  # one-at-a-time: sides still to run
        self._next_job = 0
        self._loaded: set[str] = set()

    # ===================================================================== workers
    def start_workers(self) -> None:
        """Start both worker threads (idempotent); each imports torch and loads its default model
        in the background."""
        if self.threads:
            return
        for f in FAMILIES:
            wt = WorkerThread(f)
            w = wt.worker  # bound methods, not lambdas: PySide6 runs a lambda on the worker's thread
            w.event.connect(self._on_event)
            w.finished.connect(self._on_finished)
            w.failed.connect(self._on_failed)
            w.cancelled.connect(self._on_cancelled)
            w.ready.connect(self._on_ready)
            w.loaded.connect(self._on_loaded)
            self.threads[f] = wt
            w.warm_up(self.device)

    def stop_workers(self) -> None:
        """Cancel any run and join both threads (a step ends within milliseconds)."""
        self.queued.clear()
        self._loaded.clear()
        for wt in self.threads.values():
            wt.stop()
        self.threads.clear()
        for s in self.sides.values():
            s.running = False

    def is_loaded(self) -> bool:
        return self._loaded >= set(FAMILIES)

    @Slot(str)
    def _on_loaded(self, family: str) -> None:
        self._loaded.add(family)
        if self.is_loaded():
            self.workersLoaded.emit()

    @Slot(object)
    def _on_ready(self, r: WorkerReady) -> None:
        self.sides[r.family].device = r.device.replace("(1 threads)", "(1 thread)")
        self.ready.emit(r)

    # ===================================================================== running
    def is_running(self, family: str | None = None) -> bool:
        fams = FAMILIES if family is None else (family,)
        return any(self.sides[f].running for f in fams) or (family is None and bool(self.queued))

    def start(self, requests: list[tuple[str, SampleRequest]], one_at_a_time: bool = False) -> None:
        """Run the requests (family, request): all at once, or in order when `one_at_a_time`.
        A side still running is cancelled first; its stale events are dropped."""
        self.start_workers()
        self.queued.clear()
        for f, _ in requests:
            s = self.sides[f]
            if s.running:
                self.threads[f].worker.cancel(s.job_id)
            s.trace = RunTrace(f, keep_every=KEEP_EVERY[f])
            s.latest, s.result, s.error, s.dirty, s.cancelled = None, None, "", False, False
        if one_at_a_time and len(requests) > 1:
            self.queued = list(requests[1:])
            requests = requests[:1]
        for f, req in requests:
            self._submit(f, req)

    def _submit(self, f: str, req: SampleRequest) -> None:
        self._next_job += 1
        s = self.sides[f]
        s.job_id, s.running, s.request = self._next_job, True, req
        self.threads[f].worker.submit(Job(s.job_id, req, self.device))
        self.sideStarted.emit(f)

    def cancel(self) -> list[str]:
        """Stop every side after its current step; returns the families dropped from the queue
        (they never started)."""
        dropped = [f for f, _ in self.queued]
        self.queued.clear()
        for f in dropped:
            self.sides[f].cancelled = True
        for f, s in self.sides.items():
            if s.running and f in self.threads:
                self.threads[f].worker.cancel(s.job_id)
        return dropped

    # ===================================================================== worker events
    def _current(self, family: str, job_id: int) -> Side | None:
        s = self.sides[family]
        return s if job_id == s.job_id and s.running else None

    @Slot(object)
    def _on_event(self, je: JobEvent) -> None:
        s = self._current(je.family, je.job_id)
        if s is None:
            return  # a stale event from a cancelled run
        ev = je.event
        if s.trace is not None:
            s.trace.add(ev)
        if ev.preview is not None:
            s.latest = ev
        s.dirty = True
        self.stepped.emit(ev)

    @Slot(object)
    def _on_finished(self, done: JobDone) -> None:
        s = self._current(done.family, done.job_id)
        if s is None:
            return
        s.running, s.result, s.card, s.request = False, done.result, done.card, done.request
        s.cancelled = not done.result.completed
        self.sideFinished.emit(done)
        self._after_side(done.family)

    @Slot(object)
    def _on_failed(self, fail: JobFailed) -> None:
        s = self._current(fail.family, fail.job_id)
        if s is None:
            return
        s.running, s.error = False, fail.message
        self.sideFailed.emit(fail)
        self._after_side(fail.family)

    @Slot(object)
    def _on_cancelled(self, c: JobCancelled) -> None:
        s = self._current(c.family, c.job_id)
        if s is None:
            return
        s.running, s.cancelled = False, True
        self.sideCancelled.emit(c.family)
        self._after_side(c.family)

    def _after_side(self, f: str) -> None:
        self.runFinished.emit(f)  # before the next side starts: one-at-a-time is seen in order
        if self.queued:
            nf, req = self.queued.pop(0)
            self._submit(nf, req)
        if not self.is_running():
            self.allIdle.emit()

    # ===================================================================== results
    def results(self) -> dict[str, dict]:
        """Both sides' last run: {family: {request, result, trace, card, error}}; `result` is None
        while a side runs, after it failed, or when it was cancelled before its first step."""
        return {f: {"request": s.request, "result": s.result, "trace": s.trace, "card": s.card,
                    "error": s.error} for f, s in self.sides.items()}
