"""Diffusion sampling: the U-Net as a denoiser, inpainting and RePaint around any solver.

`sample` is a generator function: one StepEvent per denoising step, a RunResult at the end,
close() cancels. The solvers themselves are in solvers.py; here the network becomes a guided
denoiser D(x, k), and inpainting wraps a solver: the re-noised known region is pasted in after
every step, and RePaint (Lugmayr et al. 2022) reruns blocks of steps after jumping back.
On CUDA the guided network call runs in bf16 (a bf16 copy, or bf16 autocast: graphs.unet_form)
and is replayed from a CUDA graph (sampling/graphs.py): the same kernels at every step, without
their launch cost.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import numpy as np
import torch

from desktopgen.core.device import MemoryProbe, autocast_dtype, synchronize
from desktopgen.core.events import RunResult, StepEvent
from desktopgen.core.requests import SampleRequest
from desktopgen.core.samplers import default_sampler, get_sampler, samplers_for
from desktopgen.nets import rows
from desktopgen.sampling import graphs, guidance, inpaint_model, seeding
from desktopgen.sampling.schedule import T
from desktopgen.sampling.solvers import SOLVERS, Denoiser, Grid, Hook, Noise, Steps, cosine_grid, keep

DIFFUSION_SAMPLERS = tuple(s.name for s in samplers_for("diffusion"))
IMAGE = (1, 28, 28)
# Rows per network call on a CPU (guidance doubles the batch). The image U-Net on a guided batch of
# 100 (200 rows), per call: 50 rows 0.70x, 25 rows 0.63x the time of one call on the 2-core VM;
# 50 rows 0.64x / 0.59x on 2 / 16 Xeon threads, with one call's bits there (at 25 rows on 16
# threads other bits). benchmarks/results/cpu-2026-12-02k/image-unet-rows-xeon.txt.
CPU_ROWS = 50


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, 1, 28, 28) in [-1, 1] -> (B, 28, 28) uint8 on the CPU."""
    return ((x[:, 0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()


def from_uint8(images, device) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(images, dtype=np.uint8), device=device).float()
    return (x / 127.5 - 1)[:, None]


def guided_denoiser(model: torch.nn.Module, labels: torch.Tensor, w: float, grid: Grid,
                    timesteps: list[int], autocast=contextlib.nullcontext,
                    cuda_graph: bool = False, compile: bool | None = None,
                    memory_format=torch.channels_last) -> Denoiser:
    """D(x, k) of a v-predicting network at the grid's noisy levels, guidance scale w applied;
    the clean estimate is clipped to [-1, 1], which keeps guided samples in range. `cuda_graph`:
    on CUDA, the network call is captured at the first step and replayed at the others
    (inputs in `memory_format`; autocast must then not cache its casts: pass cache_enabled=False)."""
    y = guidance.labels_for(labels, model.config.num_classes, w)
    twice = guidance.doubles(w)
    t_in = [torch.full((len(y),), float(t), device=labels.device) for t in timesteps]

    def net(x_in: torch.Tensor, t: torch.Tensor, labels_in: torch.Tensor) -> torch.Tensor:
        with autocast():
            return model(x_in, t, labels_in)

    call = graphs.network_call(model, net, autocast, cuda_graph, compile,
                               memory_format)  # captured once, kept

    @torch.no_grad()
    def denoise(x: torch.Tensor, k: int) -> torch.Tensor:
        x_in = x.repeat(2, 1, 1, 1) if twice else x
        v = call(x_in, t_in[k], y).float()
        if twice:
            v = guidance.combine(v, w)
        return (grid.alpha[k] * x - grid.sigma[k] * v).clamp(-1, 1)

    return denoise


def paste_known(mask: torch.Tensor, known: torch.Tensor, grid: Grid, noise: Noise) -> Hook:
    """Inpainting's per-step blend: outside the mask (1 = generate), x is the known image
    noised to the level just reached (with fresh noise; the clean image at sigma = 0)."""
    def paste(x: torch.Tensor, k: int) -> torch.Tensor:
        z = noise() if grid.sigma[k] > 0 else 0
        return mask * x + (1 - mask) * (grid.alpha[k] * known + grid.sigma[k] * z)
    return paste


def repaint(solve, x: torch.Tensor, grid: Grid, resample: int, jump: int, noise: Noise) -> Steps:
    """RePaint's schedule around a solver `solve(x, levels)`: each block of `jump` steps is
    solved `resample` times, jumping back from its end to its start with fresh noise between."""
    for k in range(0, grid.n, jump):
        end = min(k + jump, grid.n)
        for rep in range(resample):
            x = yield from solve(x, list(range(k, end + 1)))
            if rep < resample - 1:  # q(x_k | x_end): back to the noisier level k
                r = grid.alpha_bar[k] / grid.alpha_bar[end]
                x = r**0.5 * x + (1 - r) ** 0.5 * noise()
    return x


def sample(
    model: torch.nn.Module,
    request: SampleRequest,
    device: torch.device | str = "cpu",
    preview_every: int = 1,
    cuda_graph: bool = True,
    compile: bool | None = None,
) -> Iterator[StepEvent]:
    """Generate `request.batch` images. `preview_every` = 0 makes previews only at the end.
    `cuda_graph`: on CUDA, replay the network call from a CUDA graph (ignored elsewhere).
    `compile`: on CUDA, the network call under torch.compile (None: graphs.compile_enabled())."""
    req = request.validate()
    device = torch.device(device)
    spec = get_sampler(req.sampler) if req.sampler else default_sampler("diffusion")
    if spec.family != "diffusion":
        raise ValueError(f"unknown diffusion sampler {req.sampler!r}; "
                         f"known: {', '.join(DIFFUSION_SAMPLERS)}")
    n = req.steps or spec.steps
    if n > T:
        raise ValueError(f"diffusion steps must be between 1 and {T}, not {n}")
    w = spec.guidance if req.guidance < 0 else req.guidance
    B = req.batch
    probe = MemoryProbe(device)
    t0 = time.perf_counter()

    grid, timesteps = cosine_grid(n)
    labels = torch.tensor(req.labels(), device=device)
    graphed = cuda_graph and device.type == "cuda"
    # On CUDA: a bf16 copy of the network or bf16 autocast, channels-last or not (graphs.unet_form)
    model, autocast, layout = graphs.in_form(model, device, autocast_dtype(device))
    model = inpaint_model.bind(model, req, device)  # the inpainting U-Net sees source and mask
    if device.type == "cpu":  # a few rows per call: a big batch spills out of the caches
        model = rows.by_rows(model, CPU_ROWS)
    compiled = graphs.compile_wanted(device.type, compile)
    denoise = guided_denoiser(model, labels, w, grid, timesteps, autocast, cuda_graph=graphed,
                              compile=compiled, memory_format=layout)
    gens = seeding.generators(req.seed, B, req.first_index)

    def noise() -> torch.Tensor:  # the next normal draw of every sample's own stream
        return seeding.randn(gens, IMAGE, device)

    x = noise()

    solver, after_step, resample = SOLVERS[spec.name], keep, 1
    if req.mask is not None:
        # One source and mask for the whole batch, or one per sample ((B, 28, 28) each).
        mask = torch.tensor(req.mask, device=device, dtype=torch.float32).view(-1, *IMAGE)
        known = from_uint8(np.broadcast_to(np.asarray(req.source, np.uint8), (B, 28, 28)).copy(),
                           device)
        if len(mask) not in (1, B):
            raise ValueError(f"inpainting needs one mask or one per sample ({B}), not {len(mask)}")
        after_step, resample = paste_known(mask, known, grid, noise), req.resample

    def solve(x: torch.Tensor, levels: list[int]) -> Steps:
        return solver(denoise, x, grid, levels, noise, after_step=after_step)

    if resample > 1:
        steps = repaint(solve, x, grid, resample, req.jump, noise)
    else:  # one pass: multistep solvers keep their history over the whole run
        steps = solve(x, list(range(n + 1)))

    total = n * resample
    step = 0
    for step, (b, x, x0) in enumerate(steps, 1):
        want = step == total or (preview_every and step % preview_every == 0)
        mem, peak = probe.read()
        yield StepEvent(
            family="diffusion", step=step, total=total,
            elapsed=_elapsed(t0, device, want),
            preview=to_uint8(x) if want else None,
            preview_clean=to_uint8(x0 if b < n else x) if want else None,
            mem_allocated=mem, mem_peak=peak, mem_kind=probe.kind,
        )
    synchronize(device)
    return RunResult(
        family="diffusion", images=to_uint8(x), labels=np.asarray(req.labels(), np.int64),
        steps=step, elapsed=time.perf_counter() - t0, peak_memory=probe.read(force=True)[1],
        mem_kind=probe.kind, device=str(device),
        extra={"cuda_graph": graphed, "compiled": compiled},
    )


def _elapsed(t0: float, device: torch.device, sync: bool) -> float:
    if sync:
        synchronize(device)
    return time.perf_counter() - t0
