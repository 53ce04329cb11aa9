"""What every claim module shares: the run's settings, the context an experiment measures with
(device, cancel flag, progress, cached data and models), which samplers can run here, and the
small statistics the verdict rules use.

A claim module exposes: ID, TITLE, CLAIM (the write-ups' words), MEASURES, RULE (the verdict
rule in words, written before running), NEEDS, `experiment(ctx) -> dict` (JSON-ready numbers),
`verdict(numbers) -> (verdict, reason)` (pure) and `figure(numbers) -> matplotlib Figure | None`.
"""

from __future__ import annotations

import math
import threading
from dataclasses import asdict, dataclass, field

HOLDS, NOT_HOLD, MIXED, NOT_MEASURED = "holds", "does not hold", "mixed", "not measured here"
VERDICTS = (HOLDS, NOT_HOLD, MIXED, NOT_MEASURED)


class Cancelled(Exception):
    """The user stopped the run (the cancel event was set)."""


@dataclass(frozen=True)
class Settings:
    """Everything that decides what a run measures; the report prints it."""

    quick: bool = False
    device: str = "auto"
    n: int = 200  # generated images per sampler (quality)
    inpaint_n: int = 100  # test images per hole and sampler
    nll_n: int = 500  # test images for bits/dim
    resolutions: tuple = (32, 64, 128, 256)  # cost vs resolution (random weights)
    batches: tuple = (1, 8)  # memory vs batch
    timed_steps: int = 8  # network calls timed per point (the rest is the same shape: extrapolated)
    seeds: int = 3  # short trainings per family
    train_steps: int = 300
    train_arch: str = "small"  # "tiny" (CPU smoke) | "small"
    seed_quality_n: int = 50  # samples per seed training for its accuracy (0 = loss only)
    video_n: int = 64  # clips per family (claims 6 and 7)
    video_long: int = 64  # claim 7's clip length (trained on 16)
    video_steps: int = 0  # diffusion steps per video block (0: the sampler's default)
    share_clips: bool = False  # claim 6 reads the first 16 frames of claim 7's clips (--quick)
    scale_tokens: bool = True  # claims 2 and 4 also time token AR and MaskGIT (random weights)
    one_sampler_per_model: bool = False  # inpainting: only the first sampler of each model
    data: str | None = None

    @classmethod
    def for_run(cls, quick: bool, device: str = "auto", data: str | None = None) -> Settings:
        if not quick:
            return cls(device=device, data=data)
        return cls(quick=True, device=device, n=10, inpaint_n=8, nll_n=32, resolutions=(16, 32, 64),
                   batches=(1, 2), timed_steps=3, seeds=3, train_steps=8, train_arch="tiny",
                   seed_quality_n=0, video_n=2, video_long=24, video_steps=8, share_clips=True,
                   scale_tokens=False, one_sampler_per_model=True, data=data)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass
class Context:
    """What an experiment measures with. `progress(fraction, text)` reports within the claim;
    `check()` raises Cancelled once the cancel event is set (call it often)."""

    settings: Settings
    cancel: threading.Event = field(default_factory=threading.Event)
    on_progress: object = None  # callable(fraction, text) or None
    shared: dict = field(default_factory=dict)  # results other claims may reuse (by claim id)
    _cache: dict = field(default_factory=dict)

    def check(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()

    def progress(self, fraction: float, text: str = "") -> None:
        self.check()
        if self.on_progress is not None:
            self.on_progress(min(max(float(fraction), 0.0), 1.0), text)

    def on_step(self, lo: float = 0.0, hi: float = 1.0, total: int = 0, text: str = ""):
        """A sampler `on_event` callback: cancel between steps, progress from lo to hi."""
        def hook(ev):
            self.check()
            done = ev.step / ev.total if not total else min(ev.step / total, 1.0)
            if ev.step == ev.total or ev.step % 16 == 0:
                self.progress(lo + (hi - lo) * done, text)
        return hook

    def cached(self, key: str, make):
        if key not in self._cache:
            self._cache[key] = make()
        return self._cache[key]

    # Cached engine objects -------------------------------------------------------------------
    @property
    def device(self):
        from desktopgen.core.device import pick_device

        return self.cached("device", lambda: pick_device(self.settings.device))

    def classifier(self):
        from desktopgen.core import checkpoints

        return self.cached("classifier", lambda: checkpoints.load_model("fmnist-classifier",
                                                                        self.device)[0])

    def test_set(self):
        from desktopgen.data import fmnist

        return self.cached("test", lambda: fmnist.load("test", self.settings.data))

    def train_set(self):
        from desktopgen.data import fmnist

        return self.cached("train", lambda: fmnist.load("train", self.settings.data))

    def test_features(self):
        from desktopgen import metrics

        return self.cached("test_feats", lambda: metrics.classify(self.classifier(),
                                                                  self.test_set()[0], self.device)[1])

    def model(self, spec):
        """(model, card) for a sampler row, loaded once per model folder."""
        from desktopgen import sampling

        return self.cached(f"model:{spec.default_model}",
                           lambda: sampling.load(spec.family, "", self.device, sampler=spec.name))


def model_present(name: str) -> bool:
    from desktopgen.core import checkpoints

    return (checkpoints.resolve(name) / checkpoints.WEIGHTS).is_file()


def runnable_samplers(family: str | None = None, kinds=None, video: bool = False):
    """(rows whose model is in the models folder, rows whose model is missing) of the sampler
    table, in table order; `kinds` limits them to those model kinds; video models (kinds with
    "video") are left out of the image claims, and only they are given with `video`."""
    from desktopgen.core import samplers as table

    rows = [s for s in table.SAMPLERS.values()
            if (family is None or s.family == family) and (kinds is None or s.model_kind in kinds)
            and ("video" in s.model_kind) == video]
    return ([s for s in rows if model_present(s.default_model)],
            [s for s in rows if not model_present(s.default_model)])


def missing_text(rows) -> str:
    """'flow-euler (needs models/fmnist-flow), ...' for rows whose model is missing."""
    return ", ".join(f"{s.name} (needs models/{s.default_model})" for s in rows)


def binomial_se(p: float, n: int) -> float:
    """Standard error of a proportion p measured on n items (0 for n < 1)."""
    if n < 1 or p is None:
        return 0.0
    return math.sqrt(max(p * (1 - p), 1.0 / (4 * n)) / n)  # floor: never claim zero noise


def differs(p1: float, n1: int, p2: float, n2: int, z: float = 2.0) -> int:
    """+1 if p1 is above p2 by more than z standard errors of the difference, -1 if below, else 0."""
    margin = z * math.hypot(binomial_se(p1, n1), binomial_se(p2, n2))
    return 1 if p1 - p2 > margin else -1 if p2 - p1 > margin else 0


def precise(p1: float, n1: int, p2: float, n2: int, tol: float = 0.03, z: float = 2.0) -> bool:
    """Whether a difference of p1 and p2 is measured to within +-tol (z standard errors): a tie
    that is evidence of equality, not just too few samples to tell."""
    return z * math.hypot(binomial_se(p1, n1), binomial_se(p2, n2)) <= tol


def log_slope(xs, ys) -> float | None:
    """Least-squares slope of log y against log x (the growth exponent); None if undefined."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x and y and x > 0 and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    if sxx == 0:
        return None
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx


def needs(*what: str) -> tuple[str, str]:
    """The verdict of a claim whose models or inputs are missing."""
    return NOT_MEASURED, "needs " + "; ".join(what)
