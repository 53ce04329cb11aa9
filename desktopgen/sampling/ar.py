"""Pixel autoregressive sampler: one pixel per step in raster order, with a static KV cache.

A generator function like the diffusion samplers: one StepEvent per pixel, a RunResult at the
end, close() cancels. Randomness is one uniform number per pixel drawn up front from each
sample's own stream (on CUDA a counter-based hash computed there, `seeding.uniforms`; elsewhere a
CPU generator per sample), turned into a token by inverse-CDF sampling, so sample i depends only on
(seed, i) and the step has fixed shapes; on CUDA the whole step is captured once as a CUDA graph.
Elsewhere (the CPU) `step_at` takes the position as a Python int and attends to the filled part of
the cache only: the same numbers, less work (tests/test_speed_paths.py).
Inpainting forces the known pixels as the raster scan reaches them.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from desktopgen.core.device import MemoryProbe, host_to, synchronize
from desktopgen.core.events import RunResult, StepEvent
from desktopgen.core.requests import SampleRequest
from desktopgen.core.samplers import default_sampler, get_sampler, samplers_for
from desktopgen.nets.pixel_ar import KVCache, PixelAR
from desktopgen.sampling import graphs, guidance, seeding

AR_SAMPLERS = tuple(s.name for s in samplers_for("ar"))


class _Decoder:
    """State of one run: cache, buffers and the step function (all fixed shapes)."""

    def __init__(self, model, req: SampleRequest, device: torch.device, w: float):
        c = model.config
        B = req.batch
        self.model, self.w, self.B = model, w, B
        self.temperature, self.top_k = req.temperature, req.top_k
        self.cfg = guidance.doubles(w)
        self.y = guidance.labels_for(host_to(torch.tensor(req.labels()), device), c.num_classes, w)
        self._cache, self._new_cache = None, (model.new_cache, len(self.y), device)
        if device.type == "cuda":  # (B, 784): one uniform per pixel; hashed on the GPU there
            self.u = seeding.uniforms(req.seed, B, c.seq_len, device, req.first_index)
        else:  # (each sample's own CPU generator: the figures and tests before 2026-12-02 i)
            self.u = seeding.rand(seeding.generators(req.seed, B, req.first_index), (c.seq_len,), device)
        self.pixels = torch.zeros(B, c.seq_len, dtype=torch.long, device=device)
        self.token = torch.zeros(len(self.y), dtype=torch.long, device=device)
        self.pos = torch.zeros(1, dtype=torch.long, device=device)
        self.inpaint = req.mask is not None
        if self.inpaint:
            # One source and mask for the whole batch, or one per sample: (1 or B, 784) each.
            # True = generate
            self.gen_mask = torch.tensor(req.mask, device=device).view(-1, c.seq_len).bool()
            self.known = torch.tensor(req.source, device=device).view(-1, c.seq_len).long()
            if len(self.gen_mask) not in (1, B) or len(self.known) not in (1, B):
                raise ValueError(f"inpainting needs one source and mask or one per sample ({B})")

    @property
    def cache(self):
        """The run's KV cache, made at the first step: a run that reuses a kept decoder
        (_step_graph) never makes one, so its peak memory holds one cache, not two."""
        if self._cache is None:
            new_cache, rows, device = self._new_cache  # the constructing model's
            self._cache = new_cache(rows, device)
        return self._cache

    def _cdf(self, logits):
        """(B, 256) cumulative probabilities of the next pixel: guided, tempered, top-k cut."""
        logits = logits.float()
        if self.cfg:  # guidance mixes log-probabilities, not raw logits
            logits = guidance.combine(F.log_softmax(logits, -1), self.w)
        if self.temperature != 1:  # x / 1 == x: skipping it changes no bit
            logits = logits / self.temperature
        if self.top_k:
            kth = torch.topk(logits, self.top_k, dim=-1).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        return torch.cumsum(F.softmax(logits, dim=-1), dim=-1)

    @torch.no_grad()
    def step_at(self, p: int):
        """`step` at the Python int position p, attending to the filled cache only (the CPU path:
        no mask, fewer ops, shapes that grow with p)."""
        cdf = self._cdf(self.model.decode_step_at(self.token, self.y, p, self.cache))
        u = self.u[:, p:p + 1] * cdf[:, -1:]
        tok = torch.searchsorted(cdf, u).clamp_(max=cdf.shape[-1] - 1)[:, 0]  # (B,)
        if self.inpaint:
            tok = torch.where(self.gen_mask[:, p], tok, self.known[:, p])
        self.pixels[:, p] = tok
        self.token = tok if len(self.y) == self.B else tok.repeat(len(self.y) // self.B)

    @torch.no_grad()
    def step(self):
        logits = self.model.decode_step(self.token, self.y, self.pos, self.cache)
        fused = getattr(self.cache, "static", None)  # (stand-in models may keep no cache)
        if getattr(fused, "fused_sampling", False) and not (self.inpaint or self.top_k):
            # the Triton step's own draw: the same maths as below in one kernel
            fused.sample(logits, self.u, self.pos, self.pixels, self.token, self.B, self.w, self.cfg,
                         self.temperature)  # (advances pos too)
            return
        cdf = self._cdf(logits)
        u = self.u.index_select(1, self.pos) * cdf[:, -1:]
        tok = torch.searchsorted(cdf, u).clamp(max=cdf.shape[-1] - 1)[:, 0]  # (B,)
        if self.inpaint:
            gen = self.gen_mask.index_select(1, self.pos)[:, 0]  # (1 or B,)
            tok = torch.where(gen, tok, self.known.index_select(1, self.pos)[:, 0])
        self.pixels.index_copy_(1, self.pos, tok[:, None])
        self.token.copy_(tok.repeat(len(self.y) // self.B))
        self.pos.add_(1)

    def reset(self):
        self.pixels.zero_(), self.token.zero_(), self.pos.zero_()

    def load(self, other: _Decoder) -> None:
        """Take `other`'s run (same shapes and settings, no inpainting) into this decoder's
        buffers, in place, so that a graph captured on them replays `other`'s run; then start it.
        The cache is not cleared: a step attends to the slots it has written in this run only."""
        self.y.copy_(other.y), self.u.copy_(other.u)
        self.reset()


_graphs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {key: (dec, graph)}


def _step_graph(dec: _Decoder, device) -> tuple[_Decoder, torch.cuda.CUDAGraph | None]:
    """A CUDA graph of one step, and the decoder whose buffers it replays on. As MaskGIT's
    sampler does, a graph captured by an earlier run with the same shapes and settings is
    reused (its decoder loads this run's labels and uniforms), so a run pays for warm-up and
    capture once (on an H200 they cost a fifth of a 100-image token-AR run). Kept as graphs.keep
    keeps captures: up to graphs.KEEP per model, the oldest going first; each holds its run's KV
    cache. Inpainting runs (per-run masks) capture afresh and are not kept. The key holds what
    the step was made from: the cache kind (KVCache.LEAN / TRITON), the Triton step's launch
    settings (TritonStep.META: a graph replays the launches it captured) and the weights (where
    they live, and their in-place version: the Triton step reads a packed copy)."""
    if dec.inpaint:
        return dec, _capture(dec, device)
    # (imported here, as pixel_ar.lean_step does: importing it jits the kernels, which must come
    # after a CPU test session has set TRITON_INTERPRET)
    from desktopgen.nets.triton_step import TritonStep

    model = dec.model
    key = (dec.B, dec.w, dec.temperature, dec.top_k, str(device), KVCache.LEAN, KVCache.TRITON,
           tuple(sorted(TritonStep.META.items())), graphs.storage(model), graphs.versions(model))
    reused, graph = graphs.keep(_graphs, model, key, lambda: (dec, _capture(dec, device)))
    if reused is not dec:
        reused.load(dec)
    return reused, graph


def _capture(dec: _Decoder, device, steps: int = 1) -> torch.cuda.CUDAGraph | None:
    """Capture one decode step (or `steps` in a row: pos lives on the device, so such a graph
    replays from wherever the run is) as a CUDA graph (warm-up on a side stream first, as PyTorch asks).
    capture_begin / capture_end rather than `with torch.cuda.graph(...)`, which first runs
    gc.collect() and torch.cuda.empty_cache(): ~10 ms of a 0.1 s run on an H200, and the emptied
    cache sends the next run's allocations back to cudaMalloc."""
    try:
        dec.cache  # noqa: B018 (made here, on the current stream: it outlives the side stream's work)
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            for _ in range(2):
                dec.step()
            graph = torch.cuda.CUDAGraph()
            graph.capture_begin()
            try:
                for _ in range(steps):
                    dec.step()
            finally:
                graph.capture_end()
        torch.cuda.current_stream(device).wait_stream(stream)
        dec.reset()
        return graph
    except RuntimeError:  # capture unsupported here: fall back to eager steps
        torch.cuda.synchronize(device)
        dec.reset()
        return None


def sample(
    model: torch.nn.Module,
    request: SampleRequest,
    device: torch.device | str = "cpu",
    preview_every: int = 1,
    cuda_graph: bool = True,
    filled_cache: bool | None = None,
) -> Iterator[StepEvent]:
    """Generate `request.batch` images pixel by pixel. `preview_every` = 0: previews only at
    the end (and no per-step device synchronisation). `filled_cache`: attend to the filled
    slots only (None: everywhere but CUDA, which keeps static shapes for cuDNN and its graph);
    a PixelAR's `decode_step_at` does it, so other models (stand-ins with only `decode_step`)
    keep the static path."""
    req = request.validate()
    device = torch.device(device)
    spec = get_sampler(req.sampler) if req.sampler else default_sampler("ar")
    if spec.family != "ar":
        raise ValueError(f"unknown AR sampler {req.sampler!r}; known: {', '.join(AR_SAMPLERS)}")
    w = spec.guidance if req.guidance < 0 else req.guidance
    probe = MemoryProbe(device)
    t0 = time.perf_counter()
    dec = _Decoder(model, req, device, w)
    filled = isinstance(model, PixelAR) and (
        device.type != "cuda" if filled_cache is None else filled_cache)
    graph = None
    if cuda_graph and device.type == "cuda" and not filled:
        dec, graph = _step_graph(dec, device)
    total = model.config.seq_len
    step = 0
    for step in range(1, total + 1):
        if graph is not None:
            graph.replay()
        elif filled:
            dec.step_at(step - 1)
        else:
            dec.step()
        want = step == total or (preview_every and step % preview_every == 0)
        if want:
            preview = dec.pixels.to(torch.uint8).view(req.batch, 28, 28).cpu().numpy()
        mem, peak = probe.read()
        yield StepEvent(
            family="ar", step=step, total=total, elapsed=time.perf_counter() - t0,
            preview=preview if want else None, position=step - 1,
            mem_allocated=mem, mem_peak=peak, mem_kind=probe.kind,
        )
    synchronize(device)
    images = dec.pixels.to(torch.uint8).view(req.batch, 28, 28).cpu().numpy()
    return RunResult(
        family="ar", images=images, labels=np.asarray(req.labels(), np.int64), steps=step,
        elapsed=time.perf_counter() - t0, peak_memory=probe.read(force=True)[1], mem_kind=probe.kind,
        device=str(device), extra={"cuda_graph": graph is not None,
                                   "decode": "filled cache" if filled else "static cache"},
    )
