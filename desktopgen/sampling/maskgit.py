"""MaskGIT sampler (Chang et al. 2022): every token starts masked; each step predicts all the
masked codes at once, commits the most confident and leaves the rest masked, on a cosine schedule.

A generator like the other samplers: one StepEvent per step, a RunResult at the end, close()
cancels. As in the pixel AR sampler, all randomness (one uniform per position and step for the
code, one for the choice noise) is drawn up front from each sample's own stream, so sample i
depends only on (seed, i), and every step has fixed shapes (on CUDA it is captured as a graph).

Choice: a masked position's confidence is log p(its sampled code) plus Gumbel noise scaled by
CHOICE_TEMPERATURE * (1 - (s+1)/S), annealed to none at the last step; the least confident stay
masked. A committed code is never changed again.

Inpainting: a token is regenerated when its 4x4 patch holds at least one hole pixel; every
other token is fixed to the code of the source, encoded with the hole blanked (black) so that
no hidden pixel leaks into the kept codes through the encoder's receptive field. All fixed
tokens, before and after the hole, are context from the first step. The decoded image then
gets its kept pixels back exactly; there is no feathering: the hole's pixels come from the
convolutional decoder, which sees the fixed codes around them, so seams follow the tokenizer's
reconstruction error only.

Previews: `preview` decodes the committed codes with every masked one replaced by the
tokenizer's code of empty background (its `blank_code()`: the code of an all-black patch), so it shows
what is decided, on black; `preview_clean` decodes the current guess at every position;
`tokens` holds the committed codes (-1 = masked); `confidence` the probability each committed
code had when it was committed, and for masked positions that of the current guess.
"""

from __future__ import annotations

import math
import time
import weakref
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from desktopgen.core.device import MemoryProbe, synchronize
from desktopgen.core.events import RunResult, StepEvent
from desktopgen.core.requests import SampleRequest
from desktopgen.core.samplers import get_sampler
from desktopgen.sampling import graphs, guidance, seeding, tokens

CHOICE_TEMPERATURE = 4.5  # the MaskGIT paper's default for ImageNet
SIZE = 28


def masked_after(n, steps: int) -> torch.Tensor:
    """(steps, B) long: tokens still masked after each step, for B samples with n[b] tokens to
    generate. Cosine schedule (MaskGIT eq. 3): floor(n cos(pi/2 (s+1)/S)), capped so that each
    step commits at least one token while any is left (as the paper's code does), 0 at the end."""
    n = torch.as_tensor(n, dtype=torch.long).reshape(-1)
    rows, prev = [], n
    for s in range(steps):
        ratio = 0.0 if s == steps - 1 else math.cos(math.pi / 2 * (s + 1) / steps)
        count = torch.minimum(torch.floor(n.double() * ratio).long(), prev - 1).clamp(min=0)
        rows.append(count)
        prev = count
    return torch.stack(rows)


def regenerated(mask: torch.Tensor, down: int) -> torch.Tensor:
    """(B, 28, 28) 0/1 hole -> (B, 28/down, 28/down) bool: True where the token's patch holds at
    least one hole pixel (it is generated), False where the patch lies wholly outside (kept)."""
    return F.max_pool2d(mask.float()[:, None], down)[:, 0] > 0


@torch.no_grad()
def blank_code(tokenizer, h: int, w: int, device) -> torch.Tensor:
    """The tokenizer's code for empty background: its own `blank_code()` where it has one, else
    the commonest code of an all-black image."""
    if hasattr(tokenizer, "blank_code"):
        return torch.tensor(int(tokenizer.blank_code()), device=device)
    codes = tokenizer.encode(-torch.ones(1, 1, h * tokenizer.down, w * tokenizer.down, device=device))
    return codes.flatten().long().mode().values


def with_tokenizer(model: torch.nn.Module, tokenizer: torch.nn.Module) -> torch.nn.Module:
    """Attach the tokenizer a MaskGIT model decodes with, as a plain attribute, not a submodule:
    it is another model folder with its own hash, never part of MaskGIT's weights or dtype."""
    if int(tokenizer.codebook_size) != model.config.codebook_size:
        raise ValueError(f"the tokenizer has {tokenizer.codebook_size} codes and the MaskGIT model "
                         f"{model.config.codebook_size}: they were not trained together")
    object.__setattr__(model, "tokenizer", tokenizer)
    return model


class _Decoder:
    """State of one run: codes, committed set, confidences and the randomness (fixed shapes)."""

    def __init__(self, model, tokenizer, req: SampleRequest, device, w: float, steps: int,
                 choice_temperature: float):
        c = model.config
        B, self.h, self.w_ = req.batch, c.grid_h, c.grid_w
        N = self.h * self.w_
        self.model, self.w, self.B, self.N, self.K = model, w, B, N, c.codebook_size
        self.temperature, self.top_k = req.temperature, req.top_k
        self.cfg = guidance.doubles(w)
        self.y = guidance.labels_for(torch.tensor(req.labels(), device=device), c.num_classes, w)
        gens = seeding.generators(req.seed, B, req.first_index)
        u = seeding.rand(gens, (steps, 2, N), device)  # (B, S, 2, N): code draw, choice noise
        self.u_code = u[:, :, 0].contiguous()
        self.gumbel = -torch.log(-torch.log(u[:, :, 1].clamp(1e-10, 1 - 1e-7)))  # (B, S, N)
        self.anneal = choice_temperature * (1 - torch.arange(1, steps + 1, device=device) / steps)
        self.codes = torch.full((B, N), c.codebook_size, dtype=torch.long, device=device)  # [MASK]
        self.committed = torch.zeros(B, N, dtype=torch.bool, device=device)
        self.conf = torch.zeros(B, N, device=device)
        self.known = self.hole = self.source = None
        if req.mask is not None:
            self.hole = torch.tensor(req.mask, device=device).view(-1, SIZE, SIZE).bool()  # 1 = generate
            self.source = torch.tensor(req.source, device=device).view(-1, SIZE, SIZE).to(torch.uint8)
            if len(self.hole) not in (1, B) or len(self.source) not in (1, B):
                raise ValueError(f"inpainting needs one source and mask or one per sample ({B})")
            blanked = torch.where(self.hole, 0, self.source).float()[:, None] / 127.5 - 1
            known = tokenizer.encode(blanked).long().view(-1, N).expand(B, N)
            keep = ~regenerated(self.hole, tokenizer.down).view(-1, N).expand(B, N)
            self.codes = torch.where(keep, known, self.codes)
            self.committed = keep.clone()
            self.conf = keep.float()
        self.start_codes, self.start_committed = self.codes.clone(), self.committed.clone()
        self.guess = self.codes.clone()
        self.counts = masked_after((~self.committed).sum(1).cpu(), steps).to(device)  # (S, B)
        self.s = torch.zeros(1, dtype=torch.long, device=device)

    @torch.no_grad()
    def step(self):
        B, N, K = self.B, self.N, self.K
        inp = self.codes.view(B, self.h, self.w_).repeat(len(self.y) // B, 1, 1)
        logits = self.model(inp, self.y).float().view(len(self.y), N, K)
        if self.cfg:  # guidance mixes log-probabilities, not raw logits
            logits = guidance.combine(F.log_softmax(logits, -1), self.w)
        logits = logits / self.temperature
        if self.top_k:
            kth = torch.topk(logits, min(self.top_k, K), dim=-1).values[..., -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = F.softmax(logits, dim=-1)  # (B, N, K)
        # Sample a code at every position by inverse CDF with this step's uniforms.
        cdf = torch.cumsum(probs, dim=-1)
        u = self.u_code.index_select(1, self.s)[:, 0, :, None] * cdf[..., -1:]  # (B, N, 1)
        code = torch.searchsorted(cdf, u).clamp(max=K - 1)[..., 0]  # (B, N)
        p = probs.gather(-1, code[..., None])[..., 0]  # (B, N)
        # Confidence with annealed Gumbel noise; committed positions can never be picked to stay.
        noise = self.gumbel.index_select(1, self.s)[:, 0] * self.anneal.index_select(0, self.s)
        score = torch.where(self.committed, float("inf"), p.clamp_min(1e-30).log() + noise)
        rank = score.argsort(dim=1, stable=True).argsort(dim=1, stable=True)
        stay = rank < self.counts.index_select(0, self.s).view(B, 1)  # the least confident
        new = ~self.committed & ~stay
        self.guess.copy_(torch.where(self.committed, self.codes, code))
        self.conf.copy_(torch.where(self.committed, self.conf, p))
        self.codes.copy_(torch.where(new, code, self.codes))
        self.committed.logical_or_(new)
        self.s.add_(1)

    def reset(self):
        self.codes.copy_(self.start_codes), self.committed.copy_(self.start_committed)
        self.guess.copy_(self.start_codes), self.s.zero_()
        self.conf.copy_(self.start_committed.float())

    # What one run's request puts in the state (its classes, randomness, kept codes, the counts
    # that its mask implies); everything else is fixed by the reuse key (`_step_graph`).
    PER_RUN = ("y", "u_code", "gumbel", "anneal", "start_codes", "start_committed", "counts")

    def load(self, other: _Decoder) -> None:
        """Take `other`'s run (same shapes and settings) into this decoder's buffers, in place, so
        that a graph captured on them replays `other`'s run; then start it."""
        for name in self.PER_RUN:
            getattr(self, name).copy_(getattr(other, name))
        self.hole, self.source = other.hole, other.source  # used outside the graph (_Images)
        self.reset()


_graphs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {key: (dec, graph)}


def _step_graph(dec: _Decoder, steps: int, choice_temperature: float,
                device) -> tuple[_Decoder, torch.cuda.CUDAGraph | None]:
    """A CUDA graph of one step, and the decoder whose buffers it replays on. A graph captured by
    an earlier run with the same shapes and settings is reused: its decoder loads this run's
    state (`_Decoder.load`), so a run pays for warm-up and capture once, not every time (at 10
    steps the two warm-up steps and the capture cost a third of the run). Kept as graphs.keep
    keeps captures: up to graphs.KEEP per model, the oldest going first."""
    key = (dec.B, steps, dec.w, dec.temperature, dec.top_k, choice_temperature, dec.K,
           str(device))
    reused, graph = graphs.keep(_graphs, dec.model, key, lambda: (dec, _capture(dec, device)))
    if reused is not dec:
        reused.load(dec)  # an earlier run's buffers, with this run's state
    return reused, graph


def _capture(dec: _Decoder, device) -> torch.cuda.CUDAGraph | None:
    """Capture one step as a CUDA graph (warm-up on a side stream first, as PyTorch asks)."""
    try:
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            for _ in range(2):
                dec.step()
        torch.cuda.current_stream(device).wait_stream(stream)
        dec.reset()
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph):
            dec.step()
        dec.reset()
        return graph
    except RuntimeError:  # capture unsupported here: fall back to eager steps
        torch.cuda.synchronize(device)
        dec.reset()
        return None


class _Images:
    """Decoding codes to uint8 images, kept pixels restored when inpainting."""

    def __init__(self, tokenizer, dec: _Decoder, device, cuda_graph: bool = True):
        self.tokenizer, self.dec, self.cuda_graph = tokenizer, dec, cuda_graph
        self.blank = blank_code(tokenizer, dec.h, dec.w_, device)

    @torch.no_grad()
    def __call__(self, codes: torch.Tensor, committed: torch.Tensor | None = None) -> np.ndarray:
        d = self.dec
        if committed is not None:
            codes = torch.where(committed, codes, self.blank)
        img = tokens.decode_uint8(self.tokenizer, codes.view(d.B, d.h, d.w_), self.cuda_graph)
        if d.hole is not None:
            img = torch.where(d.hole, img, d.source)  # kept pixels, exactly
        return img.cpu().numpy()


def sample(
    model: torch.nn.Module,
    request: SampleRequest,
    device: torch.device | str = "cpu",
    preview_every: int = 1,
    cuda_graph: bool = True,
    choice_temperature: float = CHOICE_TEMPERATURE,
) -> Iterator[StepEvent]:
    """Generate `request.batch` images in `request.steps` MaskGIT steps (defaults filled by
    desktopgen.sampling.with_defaults). `model` carries its tokenizer (`with_tokenizer`;
    desktopgen.sampling.load attaches it). `preview_every` = 0: previews only at the end."""
    req = request.validate()
    device = torch.device(device)
    spec = get_sampler("maskgit")
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None:
        raise ValueError("this MaskGIT model has no tokenizer attached: load it with "
                         "desktopgen.sampling.load, which loads the tokenizer it names")
    steps = req.steps or spec.steps
    if steps not in spec.steps_range:
        raise ValueError(f"maskgit: steps must be between {spec.steps_range.lo:g} and "
                         f"{spec.steps_range.hi:g}, not {steps}")
    w = spec.guidance if req.guidance < 0 else req.guidance
    probe = MemoryProbe(device)
    t0 = time.perf_counter()
    dec = _Decoder(model, tokenizer, req, device, w, steps, choice_temperature)
    graph = None
    if cuda_graph and device.type == "cuda":
        dec, graph = _step_graph(dec, steps, choice_temperature, device)
    images = _Images(tokenizer, dec, device, cuda_graph)
    for step in range(1, steps + 1):
        if graph is not None:
            graph.replay()
        else:
            dec.step()
        last = step == steps
        want = last or (preview_every and step % preview_every == 0)
        extra = {}
        if want:  # at the last step every code is committed: one decode serves all three
            shape = (req.batch, dec.h, dec.w_)
            picture = images(dec.codes) if last else images(dec.codes, dec.committed)
            extra = dict(preview=picture, preview_clean=picture if last else images(dec.guess),
                         tokens=torch.where(dec.committed, dec.codes, -1).view(shape).int().cpu().numpy(),
                         confidence=dec.conf.view(shape).cpu().numpy())
        mem, peak = probe.read()
        yield StepEvent(family="ar", step=step, total=steps, elapsed=time.perf_counter() - t0,
                        mem_allocated=mem, mem_peak=peak, mem_kind=probe.kind, **extra)
    synchronize(device)
    return RunResult(
        family="ar", images=picture, labels=np.asarray(req.labels(), np.int64),
        steps=steps, elapsed=time.perf_counter() - t0, peak_memory=probe.read(force=True)[1],
        mem_kind=probe.kind, device=str(device),
        extra={"cuda_graph": graph is not None,
               "codes": dec.codes.view(req.batch, dec.h, dec.w_).cpu().numpy()},
    )
