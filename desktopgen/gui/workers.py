"""One long-lived worker per side, on its own QThread, driving the engine's sampler generators.

The superqt GeneratorWorker pattern: the job is the engine's generator; the loop calls next(),
emits the event, and reads a cancel mark between steps (no Qt event loop runs inside a busy
worker, so cancel cannot be a queued signal). torch and the engine are imported lazily, on the
worker's thread, so the window appears before torch has loaded.
"""

from __future__ import annotations

import os
import weakref

from PySide6.QtCore import QObject, QThread, Signal, Slot

from desktopgen.core.events import RunResult
from desktopgen.core.requests import SampleRequest
from desktopgen.gui.jobs import (  # noqa: F401 (re-exported: the workers' API)
    Job,
    JobCancelled,
    JobDone,
    JobEvent,
    JobFailed,
    WorkerReady,
)


def cpu_threads_per_worker(workers: int = 2) -> int:
    """Intra-op threads for each worker on a CPU: the cores split between the two sides.
    Oversubscribing OpenMP teams (2 workers x all cores) makes both sides crawl."""
    return max(1, (os.cpu_count() or 1) // workers)


class SideWorker(QObject):
    """Runs Jobs for one family. Lives on its own QThread; call `submit` and `cancel` from the GUI.

    Connect its signals to methods of a QObject that lives on the GUI thread (not to lambdas:
    PySide6 calls a lambda on the emitting thread)."""

    event = Signal(object)  # JobEvent
    finished = Signal(object)  # JobDone
    failed = Signal(object)  # JobFailed
    cancelled = Signal(object)  # JobCancelled (before its first step; later, finished says so)
    ready = Signal(object)  # WorkerReady, once torch and the device are known
    loaded = Signal(str)  # family, once the warm-up has loaded the default model
    _run = Signal(object)  # Job, queued into the worker's thread
    _warm = Signal(str)  # device, queued into the worker's thread

    def __init__(self, family: str):
        super().__init__()
        self.family = family
        self._cancelled_up_to = 0  # jobs with id <= this stop between steps (an int write is atomic)
        self._models: dict[str, tuple] = {}  # model name -> (model, card)
        self._device = None
        self._run.connect(self._do_run)
        self._warm.connect(self._do_warm)

    # --- called from the GUI thread -------------------------------------------------------
    def submit(self, job: Job) -> None:
        self._run.emit(job)

    def warm_up(self, device: str = "auto") -> None:
        """Import torch, pick the device and load the default model, before the first Generate."""
        self._warm.emit(device)

    def cancel(self, up_to_job_id: int) -> None:
        self._cancelled_up_to = max(self._cancelled_up_to, up_to_job_id)

    # --- on the worker's thread -----------------------------------------------------------
    def _cancelled(self, job: Job) -> bool:
        return job.id <= self._cancelled_up_to

    def _setup(self, device: str):
        if self._device is None:
            import torch

            from desktopgen.core.device import device_name, pick_device

            dev = pick_device(device)
            if dev.type == "cpu":
                torch.set_num_threads(cpu_threads_per_worker())
            self._device = dev
            self.ready.emit(WorkerReady(self.family, device_name(dev), dev.type))
        return self._device

    def _model(self, name: str):
        from desktopgen import sampling
        from desktopgen.core import checkpoints

        name = name or checkpoints.DEFAULT_MODELS[self.family]
        if name not in self._models:
            self._models = {name: sampling.load(self.family, name, self._device)}  # keep one: memory
        return self._models[name]

    @Slot(str)
    def _do_warm(self, device: str) -> None:
        try:
            dev = self._setup(device)
            model, _ = self._model("")
            if dev.type == "cuda" and self.family == "ar":
                prime_ar(model, dev)
        except Exception:  # a warm-up failure shows on the first Generate instead
            pass
        self.loaded.emit(self.family)

    @Slot(object)
    def _do_run(self, job: Job) -> None:
        try:
            if job.frames:
                from desktopgen.gui.video_jobs import run_video_job

                run_video_job(self, job)
            else:
                self._run_job(job)
        except Exception as e:  # any failure reaches the user as a message, never a crash
            self.failed.emit(JobFailed(self.family, job.id, describe_error(e)))

    def _run_job(self, job: Job) -> None:
        """Run one job; it ends with exactly one of finished, cancelled or failed (the caller
        emits failed), so the window never waits for a job that was dropped silently."""
        if self._cancelled(job):  # cancelled while it waited in the queue (e.g. behind loading)
            self.cancelled.emit(JobCancelled(self.family, job.id))
            return
        device = self._setup(job.device)
        from desktopgen import sampling

        model, card = self._model(job.request.model or needed_model(job.request))
        if self._cancelled(job):  # cancelled while its model loaded
            self.cancelled.emit(JobCancelled(self.family, job.id))
            return
        req = sampling.with_defaults(
            job.request.with_(model=card["name"], model_sha256=card.get("sha256", "")), model)
        gen = sampling.sample(model, req, device, preview_every=1)
        result, last = None, None
        try:
            while True:
                if self._cancelled(job):
                    break
                try:
                    ev = next(gen)
                except StopIteration as stop:
                    result = stop.value
                    break
                last = ev
                self.event.emit(JobEvent(job.id, ev))
        finally:
            gen.close()  # cancel: the generator's cleanup runs here, on the thread that owns it
        if result is None and last is None:  # cancelled before its first step: nothing made
            self.cancelled.emit(JobCancelled(self.family, job.id))
            return
        if result is None:  # cancelled: what was made so far
            import numpy as np

            images = last.preview if last.preview is not None else np.zeros(
                (req.batch, 28, 28), np.uint8)
            result = RunResult(family=self.family, images=images, labels=np.asarray(req.labels()),
                               steps=last.step, elapsed=last.elapsed, peak_memory=last.mem_peak,
                               mem_kind=last.mem_kind, device=str(device), completed=False)
        self.finished.emit(JobDone(self.family, job.id, req, result, card))


def prime_ar(model, device) -> None:
    """One step of a one-image run of the AR sampler, then cancelled: on CUDA its Triton kernels
    compile here, during the warm-up (~5 s on a new machine, then Triton's disk cache serves
    them), instead of inside the user's first Generate."""
    from desktopgen import sampling

    req = sampling.with_defaults(SampleRequest(family="ar", batch=1, seed=0), model)
    gen = sampling.sample(model, req, device, preview_every=0)
    try:
        next(gen)
    finally:
        gen.close()


def needed_model(req: SampleRequest) -> str:
    """The model a request's sampler needs when it names none (the table's default_model; "" =
    the family's default): what sampling.load(family, "", device, sampler) would load."""
    from desktopgen.core.samplers import get_sampler

    return get_sampler(req.sampler).default_model if req.sampler else ""


def describe_error(e: BaseException) -> str:
    """A clear message for the user: what failed and what to try."""
    name = type(e).__name__
    text = str(e).strip() or name
    if name == "OutOfMemoryError" or "out of memory" in text.lower():
        return ("The GPU ran out of memory. Try a smaller batch, or close other programs that "
                "use the GPU. (" + text.splitlines()[0][:200] + ")")
    if name in ("CheckpointError", "RequestError", "ValueError"):
        return text
    return f"{name}: {text}"


_ALL_THREADS: weakref.WeakSet = weakref.WeakSet()


def running_threads() -> list[QThread]:
    """Worker QThreads still running (tests fail on any left behind)."""
    return [wt.thread for wt in list(_ALL_THREADS) if wt.thread.isRunning()]


class WorkerThread:
    """A SideWorker and the QThread it lives on, with a clean stop."""

    def __init__(self, family: str):
        _ALL_THREADS.add(self)
        self.thread = QThread()
        self.thread.setObjectName(f"{family}Worker")
        self.worker = SideWorker(family)
        self.worker.moveToThread(self.thread)
        self.thread.start()

    def stop(self, timeout_ms: int = 30000) -> bool:
        """Cancel everything, let the current step end, and join the thread."""
        self.worker.cancel(2**62)
        self.thread.quit()
        return self.thread.wait(timeout_ms)
