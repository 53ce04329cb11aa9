"""Joint video diffusion: all frames of a clip denoised together by the space-time U-Net.

The clip (B, T, 48, 48) goes through the image solvers (solvers.py) and guided denoiser
(diffusion.py) as they are. Clips longer than the model's block (16 frames) are made block by
block: each next block is 16 frames whose first ones are the last frames already made, given to
the network as known frames (its frame mask) and pasted in at every step, exactly at the end, so
the conditioning frames come back bit for bit (the inpainting machinery, on frames).

The contract (generator of StepEvents returning a RunResult) is DESIGN.md's; notes/video-api.md
says what the AR video sampler shares with this one.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import numpy as np
import torch

from desktopgen.core import checkpoints
from desktopgen.core.device import MemoryProbe, autocast_dtype, synchronize
from desktopgen.core.events import RunResult, StepEvent
from desktopgen.core.requests import RequestError, SampleRequest
from desktopgen.core.samplers import default_sampler, get_sampler
from desktopgen.nets import rows
from desktopgen.nets.video_unet import VideoUNet
from desktopgen.sampling import seeding
from desktopgen.sampling.diffusion import guided_denoiser, paste_known
from desktopgen.sampling.schedule import T as HORIZON
from desktopgen.sampling.solvers import SOLVERS, cosine_grid, keep
from desktopgen.sampling.video import DEFAULT_MODELS

DEFAULT_MODEL = DEFAULT_MODELS["diffusion"]
SIZE = 48
BLOCK = 16  # frames the model was trained on: every block is this long (shorter clips: one block)
CONTEXT = 4  # known frames carried into each next block
MAX_FRAMES = 256
# Video's own default guidance, chosen on the drift tables (docs/video.md, n = 256 clips): with the
# shipped model, guidance 3 keeps the class at min 0.980 per frame (2: 0.961) at a lower per-frame
# FD (1.58 vs 1.67). The image samplers' defaults move with image quality (DPM-Solver++'s went to
# 1.5 for FD); video's must not move with them unmeasured.
DEFAULT_GUIDANCE = 3.0
# Clips per network call on a CPU (guidance doubles the batch, so 2 rows are one guided clip).
# Measured on the 2-core VM, one 16-frame call: 1 row 0.53 s, 2 rows 0.46 s a row, 4 rows 0.48,
# 32 rows 1.07 (docs/video.md); on 2, 4 and 16 Xeon threads 2 rows also cost least, with the same
# bits as one call (benchmarks/bench_video_rows.py). GPUs take the batch whole.
CPU_ROWS = 2


def load(name: str = "", device="cpu") -> tuple[VideoUNet, dict]:
    """(model, card) of a video diffusion model folder (default: the shipped one)."""
    name = name or DEFAULT_MODEL
    if name == DEFAULT_MODEL and not checkpoints.resolve(name).is_dir():
        raise checkpoints.ModelNotFoundError(
            name, f"not shipped yet (train it: desktopgen train video-diffusion --out models/{name})")
    model, card = checkpoints.load_model(name, device)
    if not isinstance(model, VideoUNet):
        raise checkpoints.CheckpointError(name, f"is a {type(model).__name__}, not a video diffusion model")
    return model, card


def blocks(frames: int, block: int = BLOCK, context: int = CONTEXT) -> list[tuple[int, int]]:
    """The (start, end) frames of each block: the first from 0, each next one `block` frames
    long ending `block - context` frames further (the last one ends at `frames`, so it may know
    more than `context` frames). A clip of at most `block` frames is one block."""
    if frames > block and not 1 <= context < block:
        raise ValueError(f"context must be between 1 and {block - 1} frames, not {context}")
    spans = [(0, min(frames, block))]
    while spans[-1][1] < frames:
        end = min(spans[-1][1] + block - context, frames)
        spans.append((end - block, end))
    return spans


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, T, H, W) in [-1, 1] -> uint8 on the CPU."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()


def from_uint8(frames: np.ndarray, device) -> torch.Tensor:
    return torch.as_tensor(np.ascontiguousarray(frames), device=device).float() / 127.5 - 1


def resolve(req: SampleRequest) -> tuple[str, int, float]:
    """(solver name, steps, guidance) of a video diffusion request, defaults filled in."""
    spec = get_sampler(req.sampler) if req.sampler else default_sampler("diffusion")
    if spec.name not in SOLVERS:
        raise RequestError(f"video diffusion samplers: {', '.join(SOLVERS)}; not {spec.name}")
    steps = req.steps or spec.steps
    if not 1 <= steps <= HORIZON:
        raise RequestError(f"diffusion steps must be between 1 and {HORIZON}, not {steps}")
    return spec.name, steps, DEFAULT_GUIDANCE if req.guidance < 0 else req.guidance


def with_defaults(req: SampleRequest) -> SampleRequest:
    """The request with its defaults written in (solver, steps, guidance): what a recipe embeds,
    so that it regenerates the same clips after a default changes."""
    solver, steps, w = resolve(req)
    return req.with_(sampler=solver, steps=steps, guidance=w)


def denoise_block(model, labels: torch.Tensor, known: torch.Tensor | None, n_known: int, solver: str,
                  steps: int, w: float, noise, autocast) -> Iterator[tuple[int, torch.Tensor, torch.Tensor]]:
    """The solver's steps (level, x, x0) over one block; `known` (B, F, 48, 48) in [-1, 1] holds
    the block's first `n_known` frames (the rest is ignored). Returns the final x, whose known
    frames are `known`'s exactly."""
    grid, timesteps = cosine_grid(steps)
    x = noise()
    after_step = keep
    if n_known:
        mask = (torch.arange(x.shape[1], device=x.device) >= n_known).float()[None]  # (1, F)
        known = known * (1 - mask[:, :, None, None])
        model = model.conditioned(known, mask)
        after_step = paste_known(mask[:, :, None, None], known, grid, noise)
    if x.device.type == "cpu":  # a few rows per call, as the image sampler (nets/rows.py)
        model = rows.by_rows(model, CPU_ROWS)
    denoise = guided_denoiser(model, labels, w, grid, timesteps, autocast)
    return (yield from SOLVERS[solver](denoise, x, grid, list(range(steps + 1)), noise,
                                       after_step=after_step))


def sample_video(model, request: SampleRequest, frames: int = BLOCK, device="cpu",
                 preview_every: int = 1, block: int = BLOCK, context: int = CONTEXT) -> Iterator[StepEvent]:
    """Generate `request.batch` clips of `frames` frames; sample i depends only on
    (seed, first_index + i). `preview_every` = 0 makes previews only at the end. Previews are
    the whole clip (B, frames, 48, 48): frames made, the block being denoised, zeros after."""
    req = request.validate()
    if not isinstance(frames, int) or not 1 <= frames <= MAX_FRAMES:
        raise RequestError(f"frames must be between 1 and {MAX_FRAMES}, not {frames}")
    device = torch.device(device)
    solver, steps, w = resolve(req)
    spans = blocks(frames, block, context)
    B = req.batch
    probe = MemoryProbe(device)
    t0 = time.perf_counter()
    amp = autocast_dtype(device)
    autocast = (lambda: torch.autocast(device.type, dtype=amp)) if amp else contextlib.nullcontext
    labels = torch.tensor(req.labels(), device=device)
    gens = seeding.generators(req.seed, B, req.first_index)
    clip = np.zeros((B, frames, SIZE, SIZE), np.uint8)
    total, done, made = steps * len(spans), 0, 0  # made: frames finished so far
    for start, end in spans:
        shape = (end - start, SIZE, SIZE)

        def noise(shape=shape) -> torch.Tensor:  # the next draw of every sample's own stream
            return seeding.randn(gens, shape, device)

        n_known = made - start
        known = from_uint8(clip[:, start:end], device) if n_known else None
        run = denoise_block(model, labels, known, n_known, solver, steps, w, noise, autocast)
        while True:
            try:
                level, x, x0 = next(run)
            except StopIteration as stop:
                x = stop.value
                break
            done += 1
            want = done == total or (preview_every and done % preview_every == 0)
            mem, peak = probe.read()
            previews = (None, None)
            if want:
                previews = tuple(_preview(clip, start, end, made, y) for y in (x, x0 if level < steps else x))
            yield StepEvent(family="diffusion", step=done, total=total, elapsed=_elapsed(t0, device, want),
                            preview=previews[0], preview_clean=previews[1],
                            mem_allocated=mem, mem_peak=peak, mem_kind=probe.kind)
        clip[:, made:end] = to_uint8(x[:, made - start:])  # the new frames only: known ones stay
        made = end
    synchronize(device)
    return RunResult(
        family="diffusion", images=clip, labels=np.asarray(req.labels(), np.int64), steps=done,
        elapsed=time.perf_counter() - t0, peak_memory=probe.read(force=True)[1], mem_kind=probe.kind,
        device=str(device),
        extra={"frames": frames, "block": block, "context": context, "blocks": spans,
               "sampler": solver, "steps_per_block": steps, "guidance": w},
    )


def _preview(clip: np.ndarray, start: int, end: int, made: int, x: torch.Tensor) -> np.ndarray:
    """The whole clip so far with the block being denoised drawn in (its new frames only)."""
    out = clip.copy()
    out[:, made:end] = to_uint8(x[:, made - start:])
    return out


def _elapsed(t0: float, device: torch.device, sync: bool) -> float:
    if sync:
        synchronize(device)
    return time.perf_counter() - t0
