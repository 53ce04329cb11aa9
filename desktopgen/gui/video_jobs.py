"""Video jobs on the existing side workers (workers.py) and runner (run.py).

A Job with `frames` > 0 is a video job: the worker runs `run_video_job` instead of an image run,
on the same thread, with the same cancel mark and the same finished / cancelled / failed ending.
The engine's video samplers (desktopgen.sampling.video_diffusion / video_ar, notes/video-api.md)
make the clips; the drift metrics (desktopgen.metrics.drift) are computed here too, on the frames
made so far, every DRIFT_EVERY_S seconds and at the end, so the GUI thread never pays for them.
"""

from __future__ import annotations

import importlib
import time

import numpy as np

from desktopgen.core.events import RunResult
from desktopgen.gui.jobs import Job, JobCancelled, JobDone, JobEvent

MODULES = {"diffusion": "desktopgen.sampling.video_diffusion", "ar": "desktopgen.sampling.video_ar"}
CLASSIFIER = "fmnist-classifier"
DRIFT_EVERY_S = 0.5  # seconds at least between live drift figures
DRIFT_SHARE = 3.0  # and at least this many times the last one's cost: the sampling keeps >= 3/4
PREVIEW_EVERY = {"diffusion": 1, "ar": 48}  # AR: a preview every 4 of the 12 token rows


def sampler_module(family: str):
    try:
        return importlib.import_module(MODULES[family])
    except ImportError:
        raise ValueError(f"the {family} video sampler is not in this build ({MODULES[family]})") from None


def filled(clips: np.ndarray) -> int:
    """Frames up to the last one with any non-zero pixel (the frames begun so far: a long diffusion
    clip is made block by block, the frames after the current block are still all zeros)."""
    lit = np.flatnonzero(clips.reshape(clips.shape[0], clips.shape[1], -1).any(axis=(0, 2)))
    return int(lit[-1]) + 1 if len(lit) else 0


def frames_made(ev, frames: int) -> int:
    """How many leading frames of an event's preview are worth measuring: AR the frames finished
    before the one being made (all at the last step); diffusion the frames begun so far (they
    sharpen together)."""
    if ev.step >= ev.total:
        return frames
    if ev.family == "ar" and ev.position is not None:
        return int(ev.position)
    shown = ev.preview_clean if ev.preview_clean is not None else ev.preview
    return filled(shown) if shown is not None else 0


class DriftMeter:
    """drift() of the frames made so far, at most every DRIFT_EVERY_S seconds. Without the drift
    module or the classifier it stays silent (`error` says why) and the video still runs."""

    def __init__(self, worker, device, labels, same_frames: bool = False):
        self.same_frames, self._made = same_frames, 0  # same_frames: frames made never change (AR)
        self.labels, self.device, self.error, self._next = np.asarray(labels), device, "", 0.0
        self.classifier = self.fn = None
        try:
            self.fn = importlib.import_module("desktopgen.metrics.drift").drift
            self.classifier = _cached(worker, CLASSIFIER, lambda: _load_classifier(device))
        except Exception as e:  # noqa: BLE001 - drift is an extra: the clips matter more
            self.error = f"no drift figures: {str(e).splitlines()[0][:160] if str(e) else type(e).__name__}"

    def __call__(self, videos: np.ndarray | None, made: int, final: bool = False) -> dict | None:
        now = time.perf_counter()
        if self.fn is None or videos is None or made < 1 or (not final and (
                now < self._next or (self.same_frames and made == self._made))):
            return None
        self._made = made
        try:
            d = self.fn(np.ascontiguousarray(videos[:, :made]), self.labels, self.classifier, self.device)
        except Exception as e:  # noqa: BLE001
            self.fn, self.error = None, f"no drift figures: {type(e).__name__}: {str(e)[:160]}"
            return None
        cost = time.perf_counter() - now  # the motion fit is costly on a CPU: at most ~1/4 of the time
        self._next = now + cost + max(DRIFT_EVERY_S, DRIFT_SHARE * cost)
        return {"frames": made, **d}


def _load_classifier(device):
    from desktopgen.core import checkpoints

    return checkpoints.load_model(CLASSIFIER, device)[0]


def _cached(worker, key: str, load):
    """The worker's cache holds one sampler model (memory); the classifier is kept beside it."""
    cache = worker.__dict__.setdefault("_video_extras", {})
    if key not in cache:
        cache[key] = load()
    return cache[key]


def _video_model(worker, family: str, name: str):
    mod = sampler_module(family)
    key = f"video:{name or mod.DEFAULT_MODEL}"
    if key not in worker._models:
        worker._models = {key: mod.load(name, worker._device)}  # keep one: memory
    return mod, worker._models[key]


def run_video_job(worker, job: Job) -> None:
    """Run one video job on `worker` (a SideWorker, on its thread); it ends with exactly one of
    finished or cancelled (an exception reaches the caller, which emits failed)."""
    if worker._cancelled(job):
        worker.cancelled.emit(JobCancelled(worker.family, job.id))
        return
    device = worker._setup(job.device)
    mod, (model, card) = _video_model(worker, worker.family, job.request.model)
    req = job.request.with_(model=card["name"], model_sha256=card.get("sha256", ""))
    meter = DriftMeter(worker, device, req.labels(), same_frames=worker.family == "ar")
    gen = mod.sample_video(model, req, frames=job.frames, device=device,
                           preview_every=PREVIEW_EVERY[worker.family])
    result, last = None, None
    try:
        while not worker._cancelled(job):
            try:
                ev = next(gen)
            except StopIteration as stop:
                result = stop.value
                break
            if ev.preview is not None:
                last = ev
            shown = ev.preview_clean if ev.preview_clean is not None else ev.preview
            worker.event.emit(JobEvent(job.id, ev, meter(shown, frames_made(ev, job.frames))))
    finally:
        gen.close()  # cancel: the sampler's cleanup runs here, on the thread that owns it
    if result is None and last is None:
        worker.cancelled.emit(JobCancelled(worker.family, job.id))
        return
    if result is None:  # cancelled: the frames made so far
        result = RunResult(family=worker.family, images=last.preview, labels=np.asarray(req.labels()),
                           steps=last.step, elapsed=last.elapsed, peak_memory=last.mem_peak,
                           mem_kind=last.mem_kind, device=str(device), completed=False,
                           extra={"frames": job.frames, "made": frames_made(last, job.frames)})
    made = result.extra.get("made", job.frames) if not result.completed else job.frames
    final = meter(result.images, made, final=True)
    card = {**card, "drift": final, "drift_error": meter.error}
    worker.finished.emit(JobDone(worker.family, job.id, req, result, card))
