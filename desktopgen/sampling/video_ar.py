"""Frame-by-frame token AR video sampler: one code per step, frames appear one after another.

A generator like the image samplers: one StepEvent per code (position = the code's index in
the clip), a preview of the decoded frames so far at the end of every frame row, a RunResult
holding the clips at the end; close() cancels. The step is the image AR model's: a static KV
cache, guidance on log-probabilities, temperature, top-k and inverse-CDF sampling from uniforms
drawn per frame from each sample's own stream, so clip i depends only on (seed, i) and the step
has fixed shapes (captured once as a CUDA graph on CUDA, as sampling/ar.py does).

Longer than trained (frames > model.config.frames): a sliding context. Frame t >= F (F = the
training length) is generated with only the last W frames (W = F - 1 by default) in the cache:
before each such frame the cache is re-filled by one prefill pass over those W frames, placed at
frame indices 0..W-1, and the new frame decodes at frame index W, where the model saw it in
training. No ring buffer: the frame embeddings are absolute, so every slide re-embeds the window.
The first F frames never slide, so they are the plain run's, bit for bit.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from desktopgen.core.device import MemoryProbe, synchronize
from desktopgen.core.events import RunResult, StepEvent
from desktopgen.sampling import guidance, seeding
from desktopgen.sampling.ar import _capture

MAX_FRAMES = 64
DEFAULT_GUIDANCE = 1.5


def choose(logits, u, w: float, temperature: float, top_k: int) -> torch.Tensor:
    """Codes (B,) from logits ((2B or B), V) and uniforms u (B, 1): guidance mixes
    log-probabilities, then temperature, top-k and the inverse CDF of the softmax."""
    if guidance.doubles(w):
        logits = guidance.combine(F.log_softmax(logits, -1), w)
    logits = logits / temperature
    if top_k:
        kth = torch.topk(logits, min(top_k, logits.shape[-1]), dim=-1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    cdf = torch.cumsum(F.softmax(logits, dim=-1), dim=-1)  # (B, V)
    return torch.searchsorted(cdf, u * cdf[:, -1:]).clamp(max=cdf.shape[-1] - 1)[:, 0]


class _ClipDecoder:
    """State of one run: cache, this frame's codes and uniforms, the step (all fixed shapes)."""

    def __init__(self, model, labels, seed, first_index, w, temperature, top_k, device):
        c = model.config
        self.model, self.w, self.B = model, w, len(labels)
        self.temperature, self.top_k = temperature, top_k
        self.n = c.frame_tokens
        self.y = guidance.labels_for(torch.tensor(labels, device=device), c.num_classes, w)
        self.rep = len(self.y) // self.B  # 2 with guidance: asked classes, then null
        self.cache = model.new_cache(len(self.y), device)
        self.gens = seeding.generators(seed, self.B, first_index)
        self.device = device
        self.u = torch.zeros(self.B, self.n, device=device)  # this frame's uniforms
        self.frame = torch.zeros(self.B, self.n, dtype=torch.long, device=device)  # its codes
        self.token = torch.zeros(len(self.y), dtype=torch.long, device=device)
        self.pos = torch.zeros(1, dtype=torch.long, device=device)

    @torch.no_grad()
    def step(self):
        logits = self.model.decode_step(self.token, self.y, self.pos, self.cache).float()
        place = self.pos % self.n  # (1,): where in the frame
        tok = choose(logits, self.u.index_select(1, place), self.w, self.temperature, self.top_k)
        self.frame.index_copy_(1, place, tok[:, None])
        self.token.copy_(tok.repeat(self.rep))
        self.pos.add_(1)

    def reset(self):
        self.frame.zero_(), self.token.zero_(), self.pos.zero_()

    @torch.no_grad()
    def start_frame(self, context: torch.Tensor | None):
        """Draw this frame's uniforms (one per code, from each sample's own stream); with
        `context` (B, W, n) codes, re-fill the cache with them first (the sliding window)."""
        self.u.copy_(seeding.rand(self.gens, (self.n,), self.device))
        if context is None:
            return
        ctx = context.reshape(self.B, -1).repeat(self.rep, 1)  # (B*rep, W*n)
        if ctx.shape[1]:
            self.model(ctx, self.y, self.cache)  # prefill: positions 0..W*n-1
            self.token.copy_(ctx[:, -1])
        self.pos.fill_(ctx.shape[1])


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Tokenizer output in [-1, 1] (B, 1, H, W) -> CPU uint8 (B, H, W)."""
    return ((x[:, 0].float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).cpu().numpy()


def check_args(model, frames: int, window: int) -> int:
    """The sliding window to use (0 = F - 1); ValueError with one line for bad values."""
    F_ = model.config.frames
    if not 1 <= frames <= MAX_FRAMES:
        raise ValueError(f"frames must be between 1 and {MAX_FRAMES}, not {frames}")
    window = window or max(F_ - 1, 1)
    if not 1 <= window <= max(F_ - 1, 1):
        raise ValueError(f"the sliding window must be 1 to {max(F_ - 1, 1)} frames, not {window}")
    return min(window, F_ - 1)


def sample_video(
    model: torch.nn.Module,
    tokenizer: torch.nn.Module,
    labels: list[int],
    frames: int = 16,
    seed: int = 0,
    first_index: int = 0,
    guidance_scale: float = DEFAULT_GUIDANCE,
    temperature: float = 1.0,
    top_k: int = 0,
    device: torch.device | str = "cpu",
    preview: str = "row",
    window: int = 0,
    cuda_graph: bool = True,
) -> Iterator[StepEvent]:
    """Generate len(labels) clips of `frames` frames, code by code. Clip i has class labels[i]
    and depends only on (seed, first_index + i). `preview`: "row" (decoded frames so far at
    every frame row, the current frame's rows below black), "frame" (at frame ends) or "none"
    (only the RunResult). `window`: past frames kept when rolling past the training length
    (0 = F - 1). Events' previews are (B, t, 48, 48) uint8; the RunResult's images are the
    clips (B, frames, 48, 48) uint8."""
    device = torch.device(device)
    W = check_args(model, frames, window)
    if preview not in ("row", "frame", "none"):
        raise ValueError(f"preview must be row, frame or none, not {preview!r}")
    c = model.config
    B, n, g = len(labels), c.frame_tokens, c.grid
    probe = MemoryProbe(device)
    t0 = time.perf_counter()
    dec = _ClipDecoder(model, list(labels), seed, first_index, guidance_scale, temperature, top_k, device)
    graph = _capture(dec, device) if (cuda_graph and device.type == "cuda") else None
    codes = torch.zeros(B, frames, n, dtype=torch.long, device=device)
    size = g * tokenizer.down
    videos = np.zeros((B, frames, size, size), np.uint8)
    total, step = frames * n, 0
    with torch.no_grad():
        for t in range(frames):
            dec.start_frame(codes[:, t - W : t] if t >= c.frames else None)
            for k in range(n):
                if graph is not None:
                    graph.replay()
                else:
                    dec.step()
                step += 1
                row_end = (k + 1) % g == 0
                shown = None
                if k == n - 1:
                    codes[:, t] = dec.frame
                    if preview != "none":  # else all frames are decoded at the end, at once
                        videos[:, t] = to_uint8(tokenizer.decode(dec.frame.view(B, g, g)))
                        shown = videos[:, : t + 1].copy()
                elif preview == "row" and row_end:
                    rows = (k + 1) // g
                    partial = to_uint8(tokenizer.decode(dec.frame.view(B, g, g)))
                    partial[:, rows * tokenizer.down:] = 0  # rows not generated yet: black
                    shown = np.concatenate([videos[:, :t], partial[:, None]], axis=1)
                mem, peak = probe.read()
                yield StepEvent(
                    family="ar", step=step, total=total, elapsed=time.perf_counter() - t0,
                    preview=shown, position=step - 1,
                    mem_allocated=mem, mem_peak=peak, mem_kind=probe.kind,
                )
    if preview == "none" and frames:
        videos[:] = to_uint8(tokenizer.decode(codes.view(B * frames, g, g))).reshape(videos.shape)
    synchronize(device)
    return RunResult(
        family="ar", images=videos, labels=np.asarray(labels, np.int64), steps=step,
        elapsed=time.perf_counter() - t0, peak_memory=probe.read()[1], mem_kind=probe.kind,
        device=str(device),
        extra={"cuda_graph": graph is not None, "window": W, "frames": frames,
               "codes": codes.cpu().numpy()},
    )
