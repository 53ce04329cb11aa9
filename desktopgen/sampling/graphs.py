"""One network call captured as a CUDA graph: static input buffers, one capture, then replays.

A denoising loop calls the same network with the same shapes at every step, so its kernel
launches can be recorded once and replayed (PyTorch's "whole network capture"). Only on CUDA; on
any other device, or when capture fails, the call stays eager. Captures are kept per network and
input shapes (`cached`), so a run pays for warm-up and capture once, not at every Generate: with
4 steps, two warm-up calls per run would cost half as much again as the run itself.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable

import torch

from desktopgen.core.flags import COMPILE_ENV, env_flag

log = logging.getLogger(__name__)

KEEP = 4  # captures kept per network (batch sizes, guidance on/off): each holds its activations
_captures: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # network -> {key: GraphedCall}


class GraphedCall:
    """fn(*args) replayed from a CUDA graph. Each call copies its tensors into the static inputs
    (in the layout they were captured in, e.g. channels-last) and replays; the result is a static
    buffer that the next call overwrites, so callers use it (or copy it) at once."""

    def __init__(self, fn: Callable[..., torch.Tensor], args: tuple[torch.Tensor, ...],
                 memory_format=torch.preserve_format, warmup: int = 2):
        device = args[0].device
        self.inputs = tuple(a.clone(memory_format=memory_format if a.dim() == 4
                                    else torch.preserve_format) for a in args)
        stream = torch.cuda.Stream(device)  # warm-up on a side stream first, as PyTorch asks
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream), torch.no_grad():
            for _ in range(warmup):
                fn(*self.inputs)
        torch.cuda.current_stream(device).wait_stream(stream)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph), torch.no_grad():
            self.output = fn(*self.inputs)

    def __call__(self, *args: torch.Tensor) -> torch.Tensor:
        for static, a in zip(self.inputs, args):
            static.copy_(a)
        self.graph.replay()
        return self.output


def capture(fn: Callable[..., torch.Tensor], args: tuple[torch.Tensor, ...],
            memory_format=torch.preserve_format) -> Callable[..., torch.Tensor]:
    """`fn` as a GraphedCall on CUDA; `fn` itself elsewhere or if capture is refused."""
    if not args[0].is_cuda:
        return fn
    try:
        return GraphedCall(fn, args, memory_format)
    except RuntimeError:  # capture unsupported here (an op that syncs, an old driver): eager
        torch.cuda.synchronize(args[0].device)
        return fn


def cached(owner: torch.nn.Module, fn: Callable[..., torch.Tensor], args: tuple[torch.Tensor, ...],
           memory_format=torch.preserve_format, tag=None) -> Callable[..., torch.Tensor]:
    """`capture`, kept for `owner` (the network) and the inputs' shapes, dtypes and `tag` (what
    else changes the captured kernels, e.g. the autocast dtype): `fn` must compute the same
    function of its tensor arguments every time it is given for that key, and take everything
    that varies between runs (labels, timesteps) as arguments, never as captured constants."""
    if not args[0].is_cuda:
        return fn
    key = (tuple((tuple(a.shape), a.dtype, a.device) for a in args), memory_format, tag)
    return keep(_captures, owner, key, lambda: capture(fn, args, memory_format))


def keep(store: weakref.WeakKeyDictionary, owner, key, make: Callable):
    """`make()`, made once per `owner` and `key` and kept in `store`; past KEEP keys per owner
    the oldest goes (and the memory pool of its capture with it)."""
    kept = store.setdefault(owner, {})
    if key not in kept:
        if len(kept) >= KEEP:
            kept.pop(next(iter(kept)))
        kept[key] = make()
    return kept[key]


# torch.compile of the U-Net call (diffusion and flow samplers), inside the CUDA graph: Inductor
# fuses the group norms, SiLUs and additions that eager runs as separate kernels (39 % of the
# 20-step sampler's GPU time is copies, 21 % group norm: tools/unet_speed_probe.py). It costs
# ~20 s of compiling at the first run of each batch size, so it is a switch, off unless
# $DESKTOPGEN_COMPILE=1 or the app's "Compile the U-Net" option says so; CUDA only.
_compile = {"on": env_flag(COMPILE_ENV)}


def set_compile(on: bool) -> None:
    """Turn torch.compile of the U-Net call on or off for the runs that start from now on."""
    _compile["on"] = bool(on)


def compile_enabled() -> bool:
    return _compile["on"]


class Compiled:
    """`fn` under torch.compile; if compiling fails (no Triton, no C compiler), `fn` itself from
    then on, with one warning: a missing compiler costs speed, never a run."""

    def __init__(self, fn: Callable[..., torch.Tensor]):
        self.fn = fn
        self.compiled: Callable[..., torch.Tensor] | None = torch.compile(fn, dynamic=False)

    def __call__(self, *args: torch.Tensor) -> torch.Tensor:
        if self.compiled is not None:
            try:
                return self.compiled(*args)
            except Exception as e:  # noqa: BLE001 (any compiler failure: run uncompiled)
                log.warning("torch.compile failed, running uncompiled: %s", str(e)[:300])
                self.compiled = None
        return self.fn(*args)


def compile_wanted(device_type: str, on: bool | None = None) -> bool:
    """Whether a run on `device_type` compiles: `on` (None = the process switch), CUDA only."""
    return device_type == "cuda" and (compile_enabled() if on is None else bool(on))


def maybe_compile(fn: Callable[..., torch.Tensor], device_type: str,
                  on: bool | None = None) -> Callable[..., torch.Tensor]:
    """`Compiled(fn)` when `compile_wanted(device_type, on)`; `fn` itself otherwise."""
    return Compiled(fn) if compile_wanted(device_type, on) else fn


def network_call(owner: torch.nn.Module, fn: Callable[..., torch.Tensor], autocast,
                 enabled: bool, compile: bool | None = None) -> Callable[..., torch.Tensor]:
    """A denoising loop's network call: `fn` itself, or (`enabled`, on CUDA) `cached` at its first
    call with channels-last inputs, keyed by the autocast dtype that `autocast()` enters (autocast
    must then not cache its casts: cache_enabled=False). `fn` takes every per-step value (x, t,
    labels, ...) as a tensor argument. `compile` (None = the process switch): on CUDA, `fn` under
    torch.compile (`maybe_compile`), captured separately from the uncompiled call."""
    call: list[Callable[..., torch.Tensor]] = []

    def run(*args: torch.Tensor) -> torch.Tensor:
        if not call:
            kind = args[0].device.type
            with autocast():
                tag = torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else None
            f = maybe_compile(fn, kind, compile)
            call.append(cached(owner, f, args, torch.channels_last, (tag, f is not fn))
                        if enabled else f)
        return call[0](*args)

    return run
