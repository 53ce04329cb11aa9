"""Diffusion samplers (DDPM ancestral, DDIM, DPM-Solver++(2M)) as plain generator functions.

Each yields one StepEvent per denoising step and returns a RunResult; closing the generator
cancels. Inpainting is the same loop with the re-noised known region blended in at every step,
plus optional RePaint resampling (Lugmayr et al. 2022).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Iterator

import numpy as np
import torch

from desktopgen.core.device import MemoryProbe, autocast_dtype, synchronize
from desktopgen.core.events import RunResult, StepEvent
from desktopgen.core.requests import SampleRequest
from desktopgen.core.samplers import default_sampler, get_sampler, samplers_for
from desktopgen.sampling import inpaint_model, seeding
from desktopgen.sampling.schedule import T, cosine_alpha_bar, spaced_timesteps

DIFFUSION_SAMPLERS = tuple(s.name for s in samplers_for("diffusion"))


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, 1, 28, 28) in [-1, 1] -> (B, 28, 28) uint8 on the CPU."""
    return ((x[:, 0].float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()


def from_uint8(images, device) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(images, dtype=np.uint8), device=device).float()
    return (x / 127.5 - 1)[:, None]


def repaint_schedule(n: int, resample: int, jump: int) -> list[tuple[str, int, int]]:
    """Ops over noise levels 0..n (level n = clean): ("denoise", k, k+1) and, for RePaint,
    ("renoise", a, b) jumping back from level a to the noisier level b, `resample - 1` times
    for every block of `jump` steps."""
    ops, k = [], 0
    while k < n:
        end = min(k + jump, n)
        for rep in range(resample):
            ops += [("denoise", m, m + 1) for m in range(k, end)]
            if rep < resample - 1:
                ops.append(("renoise", end, k))
        k = end
    return ops


def sample(
    model: torch.nn.Module,
    request: SampleRequest,
    device: torch.device | str = "cpu",
    preview_every: int = 1,
) -> Iterator[StepEvent]:
    """Generate `request.batch` images. `preview_every` = 0 makes previews only at the end."""
    req = request.validate()
    device = torch.device(device)
    spec = get_sampler(req.sampler) if req.sampler else default_sampler("diffusion")
    if spec.family != "diffusion":
        raise ValueError(f"unknown diffusion sampler {req.sampler!r}; known: {', '.join(DIFFUSION_SAMPLERS)}")
    name = spec.name
    n = req.steps or spec.steps
    if n > T:
        raise ValueError(f"diffusion steps must be between 1 and {T}, not {n}")
    w = spec.guidance if req.guidance < 0 else req.guidance
    B = req.batch
    probe = MemoryProbe(device)
    t0 = time.perf_counter()

    # Everything fixed for the run is computed once, here.
    ts = spaced_timesteps(n)
    ab = cosine_alpha_bar()[ts].tolist() + [1.0]  # per level, python floats; level n = clean
    alpha = [a**0.5 for a in ab]
    sigma = [(1 - a) ** 0.5 for a in ab]
    lam = [math.log(al / max(si, 1e-12)) for al, si in zip(alpha, sigma)]  # half log-SNR
    t_in = [torch.full((B,), float(t), device=device) for t in ts]
    labels = torch.tensor(req.labels(), device=device)
    null = torch.full_like(labels, model.config.num_classes)
    if w == 1:
        y_in = labels
    elif w == 0:
        y_in = null
    else:
        y_in = torch.cat([labels, null])
        t_in = [t.repeat(2) for t in t_in]
    amp = autocast_dtype(device)
    autocast = (lambda: torch.autocast(device.type, dtype=amp)) if amp else contextlib.nullcontext

    gens = seeding.generators(req.seed, B, req.first_index)
    x = seeding.randn(gens, (1, 28, 28), device)
    model = inpaint_model.bind(model, req, device)  # the inpainting U-Net sees source and mask
    inpaint = req.mask is not None
    if inpaint:
        # One source and mask for the whole batch, or one per sample ((B, 28, 28) each).
        mask = torch.tensor(req.mask, device=device, dtype=torch.float32).view(-1, 1, 28, 28)  # 1 = generate
        known = from_uint8(np.broadcast_to(np.asarray(req.source, np.uint8), (B, 28, 28)).copy(), device)
        if len(mask) not in (1, B):
            raise ValueError(f"inpainting needs one mask or one per sample ({B}), not {len(mask)}")
        ops = repaint_schedule(n, req.resample, req.jump)
    else:
        ops = repaint_schedule(n, 1, 1)
    total = sum(op[0] == "denoise" for op in ops)

    @torch.no_grad()
    def denoise(x, k):
        """The model's clean-image and noise predictions at level k, guidance applied."""
        with autocast():
            v = model(x.repeat(2, 1, 1, 1) if len(y_in) > B else x, t_in[k], y_in).float()
        if len(y_in) > B:
            v_cond, v_null = v.chunk(2)
            v = v_null + w * (v_cond - v_null)
        x0 = (alpha[k] * x - sigma[k] * v).clamp(-1, 1)  # clipping keeps guided samples in range
        eps = (x - alpha[k] * x0) / sigma[k]
        return x0, eps

    step, x0, x0_prev, h_prev = 0, x, None, None
    for op, a, b in ops:
        if op == "renoise":  # RePaint: jump back from level a to the noisier level b
            r = ab[b] / ab[a]
            x = r**0.5 * x + (1 - r) ** 0.5 * seeding.randn(gens, (1, 28, 28), device)  # r is a float
            x0_prev = None
            continue
        x0, eps = denoise(x, a)
        if name == "dpmpp-2m":
            if b == n:
                x = x0  # last step: the denoised image (lower order at the end)
            else:
                h = lam[b] - lam[a]
                if x0_prev is None:
                    d = x0
                else:
                    r = h_prev / h
                    d = (1 + 1 / (2 * r)) * x0 - (1 / (2 * r)) * x0_prev
                x = (sigma[b] / sigma[a]) * x - alpha[b] * math.expm1(-h) * d
                x0_prev, h_prev = x0, h
        else:  # DDIM (eta = 0) and DDPM ancestral (eta = 1)
            eta = 1.0 if name == "ddpm" else 0.0
            s = eta * ((1 - ab[b]) / (1 - ab[a]) * (1 - ab[a] / ab[b])) ** 0.5
            x = alpha[b] * x0 + max(sigma[b] ** 2 - s**2, 0.0) ** 0.5 * eps
            if s > 0:
                x = x + s * seeding.randn(gens, (1, 28, 28), device)
        if inpaint:
            noise = seeding.randn(gens, (1, 28, 28), device) if b < n else 0
            x = mask * x + (1 - mask) * (alpha[b] * known + sigma[b] * noise)
        step += 1
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
        steps=step, elapsed=time.perf_counter() - t0, peak_memory=probe.read()[1],
        mem_kind=probe.kind, device=str(device),
    )


def _elapsed(t0: float, device: torch.device, sync: bool) -> float:
    if sync:
        synchronize(device)
    return time.perf_counter() - t0
