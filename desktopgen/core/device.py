"""Device and dtype choice (cuda > mps > cpu) and memory probes."""

from __future__ import annotations

import os
import resource
import sys
import time

import torch


def pick_device(name: str = "auto") -> torch.device:
    """`auto` picks CUDA, then MPS, then CPU. An explicit device that is missing is an error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("CUDA was asked for, but no CUDA GPU is available (try --device cpu)")
    if name == "mps" and not (
        getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
    ):
        raise ValueError("MPS was asked for, but it is not available (try --device cpu)")
    if name not in ("cpu", "mps") and not name.startswith("cuda"):
        raise ValueError(f"unknown device {name!r}: use auto, cpu, cuda or mps")
    return torch.device(name)


def autocast_dtype(device: torch.device) -> torch.dtype | None:
    """Reduced precision where it is safe and fast: bf16 on CUDA parts that have it, else none."""
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return None


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"


def process_rss() -> int:
    """Resident memory of this process in bytes (Linux: /proc; elsewhere: peak RSS)."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return process_peak_rss()


def process_peak_rss() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


class MemoryProbe:
    """Memory figures for a run: CUDA allocated/peak on a GPU, process RSS on a CPU."""

    MIN_INTERVAL_S = 0.01  # reads closer together than this return the last figures

    def __init__(self, device: torch.device):
        self.device = device
        self.kind = "cuda" if device.type == "cuda" else "process"
        self.peak = 0
        self.last: tuple[int, int] | None = None
        self.t_last = 0.0
        if self.kind == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

    def read(self, force: bool = False) -> tuple[int, int]:
        """(current, peak) bytes. A CUDA read costs ~0.1 ms (PyTorch builds the allocator's whole
        statistics dict, once for both figures), half a token-AR step on an H200, so reads within
        MIN_INTERVAL_S of the last one return its figures (a live plot loses nothing at 100 reads a second);
        force=True always reads (a run's final peak: the allocator's peak is kept between reads,
        so no maximum is missed)."""
        now = time.perf_counter()
        if not force and self.last is not None and now - self.t_last < self.MIN_INTERVAL_S:
            return self.last
        if self.kind == "cuda":  # one statistics dict for both figures (each getter builds one)
            stats = torch.cuda.memory_stats(self.device)
            self.last = (stats.get("allocated_bytes.all.current", 0),
                         stats.get("allocated_bytes.all.peak", 0))
        else:
            rss = process_rss()
            self.peak = max(self.peak, rss)
            self.last = (rss, self.peak)
        self.t_last = now
        return self.last


def host_to(x: torch.Tensor, device) -> torch.Tensor:
    """A CPU tensor on `device`. To CUDA through pinned memory, without blocking the host (a copy
    from ordinary, pageable memory returns only once done). What it saves was not timed apart: a
    token-AR run's set-up on an H200 took 1.4-1.5 ms with it and without it
    (tools/token_run_timeline.py)."""
    device = torch.device(device)
    if device.type != "cuda":
        return x.to(device)
    return x.pin_memory().to(device, non_blocking=True)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
