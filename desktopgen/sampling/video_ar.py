"""Frame-by-frame token AR video sampler: one code per step, frames appear one after another.

The contract of notes/video-api.md (`load`, `sample_video`), shared with the diffusion video
sampler. A generator like the image samplers: one StepEvent per code (position = the frame being
made), previews of the clip so far (B, T, 48, 48) at frame-row ends, a RunResult holding the
clips at the end; close() cancels. The step is the image AR model's: a static KV
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

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from desktopgen.core import checkpoints
from desktopgen.core.device import MemoryProbe, synchronize
from desktopgen.core.events import RunResult, StepEvent
from desktopgen.core.requests import RequestError, SampleRequest
from desktopgen.sampling import guidance, seeding
from desktopgen.sampling.ar import _capture
from desktopgen.sampling.tokens import to_uint8
from desktopgen.sampling.video import DEFAULT_MODELS

DEFAULT_MODEL = DEFAULT_MODELS["ar"]
SAMPLER = "video-ar"  # the one AR video sampler ("" in a request means it too)
MAX_FRAMES = 256  # the CLI's limit; the sliding context has none of its own
# Chosen on the drift tables (docs/video.md, clips of 16 frames, the shipped model, H200, seed 0):
# min class consistency per frame 0.871 / 0.852 / 0.914 / 0.926 / 0.922 at guidance 3 / 4 / 5 / 6 / 7
# (n = 256), and at 6 the lowest per-frame FD (mean 2.40, against 2.92 at 4 and 2.56 at 7). On
# 512 clips: 6 gives min 0.920 (FD mean 2.24), 5 gives 0.906; 64 frames at 6: min 0.918.
DEFAULT_GUIDANCE = 6.0


@dataclass(frozen=True)
class VideoARModel:
    """What the sampler needs: the transformer and the frozen tokenizer its codes belong to."""

    net: torch.nn.Module  # nets.VideoAR
    tokenizer: torch.nn.Module  # nets.Tokenizer (or anything with its interface)


def load(name: str = "", device="cpu") -> tuple[VideoARModel, dict]:
    """(model, card) for inference; name "" = DEFAULT_MODEL. The tokenizer is the folder the
    transformer's config names; its codebook must be the transformer's vocabulary. On CUDA the
    transformer runs in bf16 weights (its step is launch-bound and captured as a graph), the
    tokenizer in fp32."""
    from desktopgen import nets

    name = name or DEFAULT_MODEL
    if name == DEFAULT_MODEL and not checkpoints.resolve(name).is_dir():
        raise checkpoints.ModelNotFoundError(
            name, f"not shipped yet (train it: desktopgen train video-ar --out models/{name})")
    net, card = checkpoints.load_model(name, device)
    if not isinstance(net, nets.VideoAR):
        raise checkpoints.CheckpointError(card["name"], f"is a {type(net).__name__}, not a video AR model")
    if not checkpoints.resolve(net.config.tokenizer).is_dir():
        raise checkpoints.ModelNotFoundError(
            card["name"], f"its tokenizer {net.config.tokenizer!r} is not in the models folder")
    tokenizer, tok_card = checkpoints.load_model(net.config.tokenizer, device)
    if getattr(tokenizer, "codebook_size", None) != net.config.vocab:
        raise checkpoints.CheckpointError(
            card["name"], f"its tokenizer {tok_card['name']!r} has {getattr(tokenizer, 'codebook_size', 0)} "
                          f"codes, not the {net.config.vocab} the transformer predicts")
    if torch.device(device).type == "cuda":
        net = net.to(torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    card = {**card, "tokenizer": {"name": tok_card["name"], "sha256": tok_card.get("sha256", "")}}
    return VideoARModel(net, tokenizer), card


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
        self.p = 0  # the same position as a Python int (step_at)

    @torch.no_grad()
    def step(self):
        logits = self.model.decode_step(self.token, self.y, self.pos, self.cache).float()
        place = self.pos % self.n  # (1,): where in the frame
        tok = choose(logits, self.u.index_select(1, place), self.w, self.temperature, self.top_k)
        self.frame.index_copy_(1, place, tok[:, None])
        self.token.copy_(tok.repeat(self.rep))
        self.pos.add_(1)

    @torch.no_grad()
    def step_at(self):
        """`step` at the Python int position self.p, attending to the filled cache only."""
        p = self.p
        logits = self.model.decode_step_at(self.token, self.y, p, self.cache).float()
        place = p % self.n
        tok = choose(logits, self.u[:, place:place + 1], self.w, self.temperature, self.top_k)
        self.frame[:, place] = tok
        self.token = tok.repeat(self.rep)
        self.p = p + 1

    def reset(self):
        self.frame.zero_(), self.token.zero_(), self.pos.zero_()
        self.p = 0

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
        self.p = ctx.shape[1]


def check_args(net, frames: int, window: int) -> int:
    """The sliding window to use (0 = F - 1); ValueError with one line for bad values."""
    F_ = net.config.frames
    if not 1 <= frames <= MAX_FRAMES:
        raise ValueError(f"the AR video sampler makes 1 to {MAX_FRAMES} frames, not {frames}")
    most = max(F_ - 1, 1)
    window = window or most
    if not 1 <= window <= most:
        raise ValueError(f"the sliding window must be 1 to {most} frames, not {window}")
    return min(window, F_ - 1)


def with_defaults(req: SampleRequest) -> SampleRequest:
    """The request with its default guidance written in: what a recipe embeds, so that it
    regenerates the same clips after the default changes (it was 4 until 2026-12-01)."""
    return req.with_(guidance=DEFAULT_GUIDANCE) if req.guidance < 0 else req


def sample_video(model: VideoARModel, request: SampleRequest, frames: int = 16,
                 device: torch.device | str = "cpu", preview_every: int = 1,
                 window: int = 0, cuda_graph: bool = True,
                 filled_cache: bool | None = None) -> Iterator[StepEvent]:
    """notes/video-api.md: request.batch clips of `frames` frames. Uses the request's guidance
    (<0 = DEFAULT_GUIDANCE), temperature, top_k, labels(), seed and first_index; steps is
    ignored (always frames x codes per frame). `preview_every` = 0: a preview on the last step
    only; k > 0: every ceil(k / grid) frame rows."""
    req = request.validate()
    if req.family != "ar":
        raise RequestError(f"the AR video sampler takes family ar, not {req.family}")
    if req.sampler not in ("", SAMPLER):
        raise RequestError(f"unknown AR video sampler {req.sampler!r}; known: {SAMPLER}")
    if req.mask is not None:
        raise RequestError("the AR video sampler does not inpaint")
    w = DEFAULT_GUIDANCE if req.guidance < 0 else req.guidance
    return generate(model.net, model.tokenizer, req.labels(), frames, seed=req.seed,
                    first_index=req.first_index, guidance_scale=w, temperature=req.temperature,
                    top_k=req.top_k, device=device, preview_rows=_rows(preview_every, model.net),
                    window=window, cuda_graph=cuda_graph, filled_cache=filled_cache)


def _rows(preview_every: int, net) -> int:
    return math.ceil(preview_every / net.config.grid) if preview_every > 0 else 0


def generate(
    net: torch.nn.Module,
    tokenizer: torch.nn.Module,
    labels: list[int],
    frames: int = 16,
    seed: int = 0,
    first_index: int = 0,
    guidance_scale: float = DEFAULT_GUIDANCE,
    temperature: float = 1.0,
    top_k: int = 0,
    device: torch.device | str = "cpu",
    preview_rows: int = 1,
    window: int = 0,
    cuda_graph: bool = True,
    filled_cache: bool | None = None,
) -> Iterator[StepEvent]:
    """Generate len(labels) clips of `frames` frames, code by code. Clip i has class labels[i]
    and depends only on (seed, first_index + i). Previews (B, frames, 48, 48) uint8 (frames not
    made yet black, the current frame's rows below the last made one black) every
    `preview_rows` frame rows (0: on the last step only). `window`: past frames kept when
    rolling past the training length (0 = F - 1). The RunResult's images are the clips."""
    device = torch.device(device)
    W = check_args(net, frames, window)
    c = net.config
    B, n, g = len(labels), c.frame_tokens, c.grid
    probe = MemoryProbe(device)
    t0 = time.perf_counter()
    dec = _ClipDecoder(net, list(labels), seed, first_index, guidance_scale, temperature, top_k, device)
    # the CPU path attends to the filled slots only (None: everywhere but CUDA, whose graph needs
    # static shapes); a net without decode_step_at (a stand-in) keeps the static path
    filled = hasattr(net, "decode_step_at") and (
        device.type != "cuda" if filled_cache is None else filled_cache)
    graph = _capture(dec, device) if (cuda_graph and device.type == "cuda" and not filled) else None
    codes = torch.zeros(B, frames, n, dtype=torch.long, device=device)
    down = tokenizer.down
    videos = np.zeros((B, frames, g * down, g * down), np.uint8)
    # a tokenizer with space-time blocks decodes a frame from `reach` frames either side of it
    # (nets/tokenizer.py): a new frame updates the `reach` frames before it, and the finished
    # clip is decoded at once, so previews or not, the clips are the same bits
    reach = getattr(getattr(tokenizer, "config", None), "temporal_blocks", 0)

    def decode(clip_codes: torch.Tensor) -> np.ndarray:
        """(B, T', n) codes -> (B, T', H, W) uint8 frames."""
        Tc = clip_codes.shape[1]
        if reach:
            frames_out = tokenizer.decode_clips(clip_codes.view(B, Tc, g, g)).flatten(0, 1)
        else:
            frames_out = tokenizer.decode(clip_codes.reshape(B * Tc, g, g))
        return to_uint8(frames_out).reshape(B, Tc, g * down, g * down)
    total, step = frames * n, 0
    with torch.no_grad():
        for t in range(frames):
            dec.start_frame(codes[:, t - W : t] if t >= c.frames else None)
            for k in range(n):
                if graph is not None:
                    graph.replay()
                elif filled:
                    dec.step_at()
                else:
                    dec.step()
                step += 1
                shown = None
                if k == n - 1:
                    codes[:, t] = dec.frame
                    if preview_rows:  # else all frames are decoded at the end, at once
                        lo = max(0, t - reach)  # the frames this one is a neighbour of
                        part = decode(codes[:, max(0, lo - reach) : t + 1])
                        videos[:, lo : t + 1] = part[:, part.shape[1] - (t + 1 - lo):]
                if preview_rows and ((k + 1) % (g * preview_rows) == 0 or k == n - 1):
                    shown = videos.copy()
                    if k < n - 1:  # the current frame so far: rows not made yet are black
                        rows = (k + 1) // g
                        shown[:, t] = to_uint8(tokenizer.decode(dec.frame.view(B, g, g)))
                        shown[:, t, rows * down :] = 0
                if step == total and (reach or not preview_rows):  # the whole clip, decoded at once
                    videos[:] = decode(codes)
                    shown = videos.copy()
                mem, peak = probe.read()
                yield StepEvent(
                    family="ar", step=step, total=total, elapsed=time.perf_counter() - t0,
                    preview=shown, position=t,
                    mem_allocated=mem, mem_peak=peak, mem_kind=probe.kind,
                )
    synchronize(device)
    return RunResult(
        family="ar", images=videos, labels=np.asarray(labels, np.int64), steps=step,
        elapsed=time.perf_counter() - t0, peak_memory=probe.read(force=True)[1], mem_kind=probe.kind,
        device=str(device),
        extra={"frames": frames, "cuda_graph": graph is not None, "window": W,
               "decode": "filled cache" if filled else "static cache",
               "tokens_per_frame": n, "codes": codes.to(torch.int32).cpu().numpy()},
    )


def time_clips(model: VideoARModel, frames: int, batch: int, device="cpu",
               guidance_scale: float = DEFAULT_GUIDANCE, seed: int = 0) -> dict:
    """One timing row for benchmarks (issue 11: time per 16- and 64-frame clip, batch 1 and 64,
    peak memory vs frames): a warm-up clip of one frame (kernels, allocator), then one timed run
    without previews. `seconds` counts everything a user waits for, the CUDA-graph capture and
    the final decode included."""
    device = torch.device(device)
    req = SampleRequest(family="ar", batch=batch, seed=seed, guidance=guidance_scale)
    from desktopgen.sampling import run_to_end

    run_to_end(sample_video(model, req, frames=1, device=device, preview_every=0))
    synchronize(device)
    out = run_to_end(sample_video(model, req, frames=frames, device=device, preview_every=0))
    return {"family": "ar", "model": "video-ar", "frames": frames, "batch": batch,
            "device": out.device, "seconds": round(out.elapsed, 4),
            "seconds_per_clip": round(out.elapsed / batch, 4),
            "codes_per_second": round(batch * out.steps / out.elapsed, 1),
            "peak_memory": out.peak_memory, "mem_kind": out.mem_kind,
            "cuda_graph": out.extra["cuda_graph"], "window": out.extra["window"]}
