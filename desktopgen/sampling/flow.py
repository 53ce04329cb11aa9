"""Samplers of the shortcut model (desktopgen/nets/shortcut.py), one small function each.

Time runs from t = 1 (noise) to t = 0 (image); a step of size h is x <- x - h * u(x, t, d).
`flow-euler` and `flow-heun` integrate the flow-matching velocity (d = 0); `few-step` takes
1-4 steps of size d = 1/steps, telling the network that size. Each solver is a generator of
(step, x, predicted clean image) returning the final x; `sample` turns it into StepEvents.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch

from desktopgen.core.device import MemoryProbe, autocast_dtype, synchronize
from desktopgen.core.events import RunResult, StepEvent
from desktopgen.core.requests import SampleRequest
from desktopgen.core.samplers import get_sampler
from desktopgen.sampling import graphs, guidance, seeding
from desktopgen.sampling.diffusion import to_uint8

Velocity = Callable[[torch.Tensor, float, float], torch.Tensor]  # (x at t, t, step size d) -> u
Steps = Iterator[tuple[int, torch.Tensor, torch.Tensor]]  # (step, x, x0) per step
IMAGE = (1, 28, 28)


def times(n: int) -> list[float]:
    """t_0 = 1 > t_1 > ... > t_n = 0, evenly spaced, exact at both ends."""
    return [(n - i) / n for i in range(n + 1)]


def euler(velocity: Velocity, x: torch.Tensor, n: int) -> Steps:
    """Euler's method on dx/dt = v(x, t) from t = 1 to 0 in n equal steps (d = 0)."""
    ts = times(n)
    for i in range(n):
        v = velocity(x, ts[i], 0.0)
        x0 = x - ts[i] * v  # where a straight path would end: the clean-image estimate
        x = x - (ts[i] - ts[i + 1]) * v
        yield i + 1, x, x0
    return x


def heun(velocity: Velocity, x: torch.Tensor, n: int) -> Steps:
    """Heun's method (the trapezoidal predictor-corrector, EDM Algorithm 1 without churn),
    second order: an Euler step, then the mean of the velocities at both ends of the step."""
    ts = times(n)
    for i in range(n):
        h = ts[i] - ts[i + 1]
        v = velocity(x, ts[i], 0.0)
        x0 = x - ts[i] * v
        x_euler = x - h * v
        # Apply the second-order correction.
        x = x - h * (v + velocity(x_euler, ts[i + 1], 0.0)) / 2
        yield i + 1, x, x0
    return x


def shortcut(velocity: Velocity, x: torch.Tensor, n: int) -> Steps:
    """n steps of size d = 1/n, the network told d: one step is x1 - u(x1, 1, 1)."""
    ts = times(n)
    for i in range(n):
        u = velocity(x, ts[i], 1.0 / n)
        x0 = x - ts[i] * u
        x = x - (ts[i] - ts[i + 1]) * u
        yield i + 1, x, x0
    return x


SOLVERS = {"flow-euler": euler, "flow-heun": heun, "few-step": shortcut}
CALLS_PER_STEP = {"flow-euler": 1, "flow-heun": 2, "few-step": 1}


def guided_velocity(model: torch.nn.Module, labels: torch.Tensor, w: float,
                    autocast=contextlib.nullcontext, cuda_graph: bool = False,
                    compile: bool | None = None, memory_format=torch.channels_last) -> Velocity:
    """u(x, t, d) of the network for these classes, classifier-free guidance w on the velocity
    (u_null + w (u_cond - u_null), one call on the classes stacked on the null class), with the
    diffusion samplers' helpers (sampling/guidance.py). `cuda_graph`: on CUDA, the network call
    is captured at the first step and replayed at the others, t and d being inputs of the graph
    (graphs.network_call, as diffusion.guided_denoiser)."""
    y = guidance.labels_for(labels, model.config.num_classes, w)
    twice = guidance.doubles(w)

    def net(x_in: torch.Tensor, t_in: torch.Tensor, y_in: torch.Tensor,
            d_in: torch.Tensor) -> torch.Tensor:
        with autocast():
            return model(x_in, t_in, y_in, d_in)

    call = graphs.network_call(model, net, autocast, cuda_graph, compile,
                               memory_format)  # captured once, kept

    @torch.no_grad()
    def velocity(x: torch.Tensor, t: float, d: float) -> torch.Tensor:
        t_in = torch.full((len(y),), float(t), device=x.device)
        d_in = torch.full((len(y),), float(d), device=x.device)
        x_in = x.repeat(2, 1, 1, 1) if twice else x
        u = call(x_in, t_in, y, d_in).float()
        return guidance.combine(u, w) if twice else u

    return velocity


def sample(model: torch.nn.Module, request: SampleRequest, device: torch.device | str = "cpu",
           preview_every: int = 1, cuda_graph: bool = True,
           compile: bool | None = None) -> Iterator[StepEvent]:
    """Generate `request.batch` images with the request's flow sampler; see diffusion.sample.
    `cuda_graph`: on CUDA, replay the network call from a CUDA graph (ignored elsewhere).
    `compile`: on CUDA, the network call under torch.compile (None: graphs.compile_enabled())."""
    req = request.validate()
    device = torch.device(device)
    spec = get_sampler(req.sampler)
    if spec.name not in SOLVERS:
        raise ValueError(f"{spec.name!r} is not a flow sampler; flow samplers: {', '.join(SOLVERS)}")
    if req.mask is not None:
        raise ValueError(f"{spec.name} does not inpaint; use a diffusion sampler (dpmpp-2m, ddim, ddpm)")
    n = req.steps or spec.steps
    if n not in spec.steps_range:
        raise ValueError(f"{spec.name}: steps must be between {spec.steps_range.lo:g} and "
                         f"{spec.steps_range.hi:g}, not {n}")
    w = spec.default_guidance(n) if req.guidance < 0 else req.guidance
    probe = MemoryProbe(device)
    t0 = time.perf_counter()
    graphed = cuda_graph and device.type == "cuda"
    # On CUDA: a bf16 copy of the network or bf16 autocast, channels-last or not (graphs.unet_form)
    model, autocast, layout = graphs.in_form(model, device, autocast_dtype(device))
    compiled = graphs.compile_wanted(device.type, compile)
    velocity = guided_velocity(model, torch.tensor(req.labels(), device=device), w, autocast,
                               cuda_graph=graphed, compile=compiled, memory_format=layout)
    gens = seeding.generators(req.seed, req.batch, req.first_index)
    x1 = seeding.randn(gens, IMAGE, device)  # t = 1: pure noise
    x = x1
    for step, x, x0 in SOLVERS[spec.name](velocity, x1, n):
        want = step == n or (preview_every and step % preview_every == 0)
        if want:
            synchronize(device)
        mem, peak = probe.read()
        yield StepEvent(
            family="diffusion", step=step, total=n, elapsed=time.perf_counter() - t0,
            preview=to_uint8(x) if want else None,
            preview_clean=to_uint8(x if step == n else x0) if want else None,
            mem_allocated=mem, mem_peak=peak, mem_kind=probe.kind,
        )
    synchronize(device)
    return RunResult(
        family="diffusion", images=to_uint8(x), labels=np.asarray(req.labels(), np.int64),
        steps=n, elapsed=time.perf_counter() - t0, peak_memory=probe.read(force=True)[1],
        mem_kind=probe.kind, device=str(device),
        extra={"network_calls": n * CALLS_PER_STEP[spec.name], "cuda_graph": graphed,
               "compiled": compiled},
    )
