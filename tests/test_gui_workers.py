"""Side workers: every submitted job ends with exactly one final signal (finished, cancelled or
failed), however early it is cancelled. Driven directly, without the window."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import QObject, Slot

from desktopgen.core.requests import SampleRequest
from desktopgen.gui.workers import Job, JobCancelled, SideWorker, WorkerThread, running_threads


class Finals(QObject):
    """Records the final signals of a worker, on the GUI thread."""

    def __init__(self, worker):
        super().__init__()
        self.got: list[tuple[str, int]] = []
        worker.finished.connect(self.on_finished)
        worker.cancelled.connect(self.on_cancelled)
        worker.failed.connect(self.on_failed)

    @Slot(object)
    def on_finished(self, d):
        self.got.append(("finished", d.job_id))

    @Slot(object)
    def on_cancelled(self, c):
        assert isinstance(c, JobCancelled)
        self.got.append(("cancelled", c.job_id))

    @Slot(object)
    def on_failed(self, f):
        self.got.append(("failed", f.job_id))


@pytest.fixture
def gated_loading(monkeypatch):
    """Model loading waits for `release`; `entered` is set once a load has begun."""
    entered, release = threading.Event(), threading.Event()
    original = SideWorker._model

    def slow_model(self, name):
        entered.set()
        assert release.wait(30)
        return original(self, name)

    monkeypatch.setattr(SideWorker, "_model", slow_model)
    yield entered, release
    release.set()


@pytest.fixture
def worker_thread():
    wt = WorkerThread("diffusion")
    yield wt
    wt.stop()
    assert not running_threads()


def request():
    return SampleRequest("diffusion", steps=3, seed=1, batch=1)


def test_job_cancelled_before_it_starts_ends_with_cancelled(qtbot, worker_thread, gated_loading):
    entered, release = gated_loading
    w = worker_thread.worker
    finals = Finals(w)
    w.warm_up("cpu")  # the worker is busy loading: the job waits in its queue
    assert entered.wait(30)
    w.submit(Job(1, request(), "cpu"))
    w.cancel(1)  # Esc at once
    release.set()
    qtbot.waitUntil(lambda: bool(finals.got), timeout=30_000)
    qtbot.wait(300)
    assert finals.got == [("cancelled", 1)]


def test_job_cancelled_while_its_model_loads_ends_with_cancelled(qtbot, worker_thread,
                                                                  gated_loading):
    entered, release = gated_loading
    w = worker_thread.worker
    finals = Finals(w)
    w.submit(Job(1, request(), "cpu"))
    assert entered.wait(30)  # inside the job, loading its model
    w.cancel(1)
    release.set()
    qtbot.waitUntil(lambda: bool(finals.got), timeout=30_000)
    qtbot.wait(300)
    assert finals.got == [("cancelled", 1)]  # no empty "result" of a run that never stepped


def test_every_job_of_a_burst_ends_exactly_once(qtbot, worker_thread):
    w = worker_thread.worker
    finals = Finals(w)
    for i in range(1, 5):  # Generate pressed four times, each cancelling the one before
        w.cancel(i - 1)
        w.submit(Job(i, request(), "cpu"))
    qtbot.waitUntil(lambda: len(finals.got) == 4, timeout=60_000)
    qtbot.wait(300)
    assert sorted(j for _, j in finals.got) == [1, 2, 3, 4]
    assert finals.got[-1] == ("finished", 4)


def test_the_ar_warm_up_primes_one_step_on_cuda_only(monkeypatch):
    """prime_ar pulls one step of a one-image run and closes the generator (its kernels compile,
    nothing more runs); the warm-up calls it on CUDA for the AR side only, so on a CPU (here) it
    only loads the model."""
    import torch

    from desktopgen import sampling
    from desktopgen.gui import workers

    pulled, closed = [], []

    def fake_sample(model, req, device, preview_every=1):
        try:
            for step in range(1, 5):
                pulled.append((req.batch, step))
                yield step
        finally:
            closed.append(True)

    monkeypatch.setattr(sampling, "sample", fake_sample)
    workers.prime_ar(sampling.load("ar", "", "cpu")[0], "cpu")
    assert pulled == [(1, 1)] and closed == [True]

    primed = []
    monkeypatch.setattr(workers, "prime_ar", lambda *a: primed.append(a))
    monkeypatch.setattr(workers, "cpu_threads_per_worker", lambda: torch.get_num_threads())
    w = SideWorker("ar")
    w._do_warm("cpu")  # (on this thread: a worker's thread count must not leak into later tests)
    assert "fmnist-pixel-ar" in w._models and primed == []
