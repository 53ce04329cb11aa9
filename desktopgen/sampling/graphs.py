"""One network call captured as a CUDA graph: static input buffers, one capture, then replays.

A denoising loop calls the same network with the same shapes at every step, so its kernel
launches can be recorded once and replayed (PyTorch's "whole network capture"). Only on CUDA; on
any other device, or when capture fails, the call stays eager. Captures are kept per network and
input shapes (`cached`), so a run pays for warm-up and capture once, not at every Generate: with
4 steps, two warm-up calls per run would cost half as much again as the run itself.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import os
import weakref
from collections.abc import Callable

import torch

from desktopgen.core.flags import COMPILE_ENV, UNET_FORM_ENV, env_flag

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


# Each module's parameters and buffers as one list, made once: walking a module tree costs ~0.3 ms
# for the token AR's 88 modules, and a run asks twice (its graph's key, the decode's): listed once,
# those two took 0.23 and 0.42 ms instead of 0.91 and 0.71 of a 52 ms token-AR run on an H200
# (tools/token_run_timeline.py, 2026-12-02 i). Any parameter, buffer or submodule
# registered anywhere forgets every list (PyTorch's global registration hooks); so does a
# conversion that replaces parameters (torch.__future__'s overwrite flag: no list is kept then).
# Not seen: a tensor put into a module's `_parameters` or `_buffers` dict directly, bypassing both.
_tensor_lists: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _forget_tensor_lists(*_args) -> None:
    _tensor_lists.clear()  # (a registration hook that returns None changes nothing)


torch.nn.modules.module.register_module_parameter_registration_hook(_forget_tensor_lists)
torch.nn.modules.module.register_module_buffer_registration_hook(_forget_tensor_lists)
torch.nn.modules.module.register_module_module_registration_hook(_forget_tensor_lists)


def tensors(owner: torch.nn.Module) -> list[torch.Tensor]:
    """owner's parameters, then its buffers (as owner.parameters() and owner.buffers() give them),
    listed once per module (see _tensor_lists)."""
    kept = _tensor_lists.get(owner)
    if kept is None:
        kept = [*owner.parameters(), *owner.buffers()]
        if not torch.__future__.get_overwrite_module_params_on_conversion():
            _tensor_lists[owner] = kept
    return kept


def storage(owner: torch.nn.Module) -> tuple[int, ...]:
    """Where the network's weights live. A capture reads its weights from these addresses, so a
    network whose weights moved (`.to(memory_format=...)` or `.to(dtype)` in place) must be
    captured again, never replayed from the old addresses (freed memory)."""
    return tuple(t.data_ptr() for t in tensors(owner))


def versions(owner: torch.nn.Module) -> tuple[int, ...]:
    """The in-place version counters of the network's weights: a copy or capture made from them
    is stale once one has changed (an optimiser step, load_state_dict, copy_)."""
    return tuple(t._version for t in tensors(owner))


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


# The form the U-Net runs in on CUDA: its precision and memory layout. "autocast" keeps fp32
# weights under bf16 autocast, which runs every group norm in fp32 (autocast's rule for norms):
# each norm then casts its input up and its output down, and in channels-last also changes
# layout, and those copies were 39 % of the 20-step sampler's GPU time. "bf16" / "fp16" run a
# copy of the network in that precision without autocast: the norms run in it (accumulating in
# fp32 inside the kernel), no casts. "cl" / "nchw": channels-last or PyTorch's default layout.
# Measured on an H200 (tools/unet_speed_probe.py --forms, 20 DPM++ steps at batch 100, 2026-12-01):
# autocast-cl 0.211 s, autocast-nchw 0.188 s, bf16-cl 0.167 s, bf16-nchw 0.146 s. bf16 keeps fp32's
# range (fp16 overflows past 65,504), hence the default.
UNET_FORMS = ("autocast-cl", "autocast-nchw", "bf16-cl", "bf16-nchw", "fp16-cl", "fp16-nchw")
DEFAULT_UNET_FORM = "bf16-nchw"
_form = {"name": os.environ.get(UNET_FORM_ENV, "") or DEFAULT_UNET_FORM}
_copies: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # network -> {key: its copy}


def set_unet_form(name: str) -> None:
    """The U-Net form for the CUDA runs that start from now on (one of UNET_FORMS)."""
    if name not in UNET_FORMS:
        raise ValueError(f"unknown U-Net form {name!r}; known: {', '.join(UNET_FORMS)}")
    _form["name"] = name


def unet_form() -> str:
    if _form["name"] not in UNET_FORMS:  # a bad $DESKTOPGEN_UNET_FORM: say so once, run the default
        log.warning("%s=%r is not one of %s; using %s", UNET_FORM_ENV, _form["name"],
                    ", ".join(UNET_FORMS), DEFAULT_UNET_FORM)
        _form["name"] = DEFAULT_UNET_FORM
    return _form["name"]


def split_form(name: str) -> tuple[str, torch.memory_format]:
    """A form's name ("bf16-cl", "autocast-nchw", "fp32", ...) -> (precision, memory format):
    "cl" is channels-last, anything else (or no layout) PyTorch's default."""
    precision, _, layout = name.partition("-")
    return precision, torch.channels_last if layout == "cl" else torch.contiguous_format


def in_form(model: torch.nn.Module, device: torch.device, amp: torch.dtype | None):
    """(network, autocast, memory format) for a denoising loop on `device` with reduced precision
    `amp` (None: none). `autocast()` enters bf16/fp16 autocast without a cast cache (a graph must
    not keep casts made during capture), or nothing. On CUDA, per `unet_form()`: the model itself
    moved to the layout (in place) under autocast, or a copy in `amp` in the layout, kept per
    model and remade when its weights change, run without autocast. Elsewhere, or with no `amp`,
    the model as it is (on CUDA in the layout) in full precision. Whatever the form, the network
    returns its output in its own dtype: callers take `.float()`."""
    def autocast():
        return torch.autocast(device.type, dtype=amp, cache_enabled=False)

    plain = autocast if amp else contextlib.nullcontext
    if device.type != "cuda":
        return model, plain, torch.preserve_format
    precision, layout = split_form(unet_form())
    if precision == "autocast" or amp is None:
        return model.to(memory_format=layout), plain, layout
    dtype = torch.float16 if precision == "fp16" else amp  # amp: fp16 where bf16 is missing
    return copy_in(model, dtype, layout), contextlib.nullcontext, layout


def copy_in(model: torch.nn.Module, dtype: torch.dtype, layout=torch.preserve_format) -> torch.nn.Module:
    """A copy of `model` in `dtype` and `layout`, kept per model (so that its CUDA graph captures
    are reused run after run) and made again when the model's weights have changed in place."""
    key = (dtype, layout, versions(model))  # in-place updates bump these
    kept = _copies.setdefault(model, {})
    if key not in kept:
        kept.clear()  # an older copy (other form, older weights) goes with its captures
        kept[key] = copy.deepcopy(model).to(dtype).to(memory_format=layout)
    return kept[key]


def network_call(owner: torch.nn.Module, fn: Callable[..., torch.Tensor], autocast,
                 enabled: bool, compile: bool | None = None,
                 memory_format=torch.channels_last) -> Callable[..., torch.Tensor]:
    """A denoising loop's network call: `fn` itself, or (`enabled`, on CUDA) `cached` at its first
    call with inputs in `memory_format`, keyed by the autocast dtype that `autocast()` enters
    (autocast must then not cache its casts: cache_enabled=False). `fn` takes every per-step
    value (x, t, labels, ...) as a tensor argument. `compile` (None = the process switch): on
    CUDA, `fn` under torch.compile (`maybe_compile`), captured separately from the uncompiled
    call."""
    call: list[Callable[..., torch.Tensor]] = []

    def run(*args: torch.Tensor) -> torch.Tensor:
        if not call:
            kind = args[0].device.type
            with autocast():
                tag = torch.get_autocast_dtype(kind) if torch.is_autocast_enabled(kind) else None
            f = maybe_compile(fn, kind, compile)
            call.append(cached(owner, f, args, memory_format, (tag, f is not fn, storage(owner)))
                        if enabled else f)
        return call[0](*args)

    return run
