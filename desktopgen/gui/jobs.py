"""The messages between the window and the side workers (Qt-free dataclasses): a job, its
events, and how it ended. In their own module so that the video jobs (gui/video_jobs.py) and
the workers (gui/workers.py) both use them without importing each other."""

from __future__ import annotations

from dataclasses import dataclass

from desktopgen.core.events import RunResult, StepEvent
from desktopgen.core.requests import SampleRequest


@dataclass(frozen=True)
class Job:
    """A request for one side, numbered so that stale events of a cancelled job can be dropped."""

    id: int
    request: SampleRequest
    device: str = "auto"
    frames: int = 0  # > 0: a video job, clips of this many frames (gui/video_jobs.py)


@dataclass(frozen=True)
class JobEvent:
    job_id: int
    event: StepEvent
    drift: dict | None = None  # video jobs: drift figures of the frames made so far (or None)

    @property
    def family(self) -> str:
        return self.event.family


@dataclass(frozen=True)
class JobDone:
    family: str
    job_id: int
    request: SampleRequest  # with the defaults filled in and the model's sha256
    result: RunResult  # completed=False when cancelled (the last preview as images)
    card: dict


@dataclass(frozen=True)
class JobCancelled:
    """A job cancelled before its first step: nothing was made."""

    family: str
    job_id: int


@dataclass(frozen=True)
class JobFailed:
    family: str
    job_id: int
    message: str  # one or two plain sentences for the user


@dataclass(frozen=True)
class WorkerReady:
    family: str
    device: str  # "NVIDIA H200", "CPU (1 thread)", ...
    device_type: str  # "cuda" | "mps" | "cpu"
