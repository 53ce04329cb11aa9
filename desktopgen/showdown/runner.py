"""Run the claims in order: progress per claim, cancel between and inside experiments, a partial
report when stopped. Callbacks serve tqdm on the CLI and Qt signals in the GUI alike."""

from __future__ import annotations

import os
import platform
import threading
import time
from dataclasses import dataclass, field

from desktopgen.showdown import base


@dataclass
class ClaimResult:
    id: str
    title: str
    claim: str
    measures: str
    rule: str
    needs: str
    status: str = "pending"  # pending | done | failed | cancelled
    verdict: str = base.NOT_MEASURED
    reason: str = "not run"
    numbers: dict = field(default_factory=dict)
    figure_png: bytes | None = None
    seconds: float = 0.0

    @classmethod
    def of(cls, mod) -> ClaimResult:
        return cls(mod.ID, mod.TITLE, mod.CLAIM, mod.MEASURES, mod.RULE, mod.NEEDS)


@dataclass
class Report:
    settings: dict
    machine: dict
    claims: list
    started: str = ""
    seconds: float = 0.0
    complete: bool = False  # False: cancelled (a partial report) or not finished


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine(device) -> dict:
    import torch

    from desktopgen import __version__
    from desktopgen.core.device import device_name

    info = {"device": device_name(device), "cpu": cpu_model(), "cpu_cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "desktopgen": __version__}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
    return info


def evaluate(mod, numbers: dict) -> tuple[str, str]:
    """The claim's verdict rule on its numbers; a rule that fails says so (never a made-up verdict)."""
    try:
        verdict, reason = mod.verdict(numbers)
    except Exception as e:  # noqa: BLE001 - a broken rule is reported, not fatal
        return base.NOT_MEASURED, f"the verdict rule failed on these numbers ({type(e).__name__}: {e})"
    if verdict not in base.VERDICTS:
        return base.NOT_MEASURED, f"the verdict rule returned {verdict!r}"
    return verdict, reason


def render(mod, numbers: dict) -> bytes | None:
    from desktopgen.showdown import figures

    try:
        fig = mod.figure(numbers)
        return None if fig is None else figures.png_bytes(fig)
    except Exception:  # noqa: BLE001 - a figure that fails leaves the numbers and verdict
        return None


def run(settings: base.Settings, claims=None, cancel: threading.Event | None = None,
        on_progress=None, on_claim=None, on_start=None) -> Report:
    """Measure `claims` (modules; default all) in order. `on_start(i, result)` when claim i
    starts, `on_progress(i, fraction, text)` within it, `on_claim(i, result)` when it ends.
    Setting `cancel` stops at the next check; the claims not finished stay "not measured"."""
    from desktopgen import showdown

    claims = list(showdown.CLAIMS if claims is None else claims)
    cancel = cancel or threading.Event()
    ctx = base.Context(settings, cancel=cancel)
    results = [ClaimResult.of(m) for m in claims]
    report = Report(settings.as_dict(), {}, results, time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()))
    t_run = time.perf_counter()
    try:
        report.machine = machine(ctx.device)
        for i, (mod, res) in enumerate(zip(claims, results)):
            ctx.check()
            if on_start:
                on_start(i, res)
            ctx.on_progress = (lambda f, text, i=i: on_progress(i, f, text)) if on_progress else None
            t0 = time.perf_counter()
            try:
                res.numbers = mod.experiment(ctx)
                res.status = "done"
                res.verdict, res.reason = evaluate(mod, res.numbers)
                res.figure_png = render(mod, res.numbers)
            except base.Cancelled:
                res.status, res.reason = "cancelled", "cancelled before it finished"
                raise
            except Exception as e:  # noqa: BLE001 - one failed experiment leaves the others
                res.status = "failed"
                res.reason = f"the experiment failed: {type(e).__name__}: {' '.join(str(e).split())[:300]}"
            finally:
                res.seconds = time.perf_counter() - t0
                if on_claim and res.status != "pending":
                    on_claim(i, res)
        report.complete = True
    except base.Cancelled:
        for res in results:
            if res.status == "pending":
                res.reason = "not run: the Showdown was cancelled"
    report.seconds = time.perf_counter() - t_run
    return report
