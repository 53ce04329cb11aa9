"""Raster token sampler: one tokenizer code per step (14x14 = 196 steps for the default model,
7x7 = 49 for fmnist-token-ar), then the tokenizer decodes.

The transformer step is the pixel sampler's (sampling/ar.py: static KV cache, one uniform number
per token drawn up front from each sample's own stream, a CUDA graph on CUDA), so sample i depends
only on (seed, i). Each StepEvent carries the token grid so far (`tokens`, -1 = not generated yet)
and, as its preview, the decoded image of that grid with the unfilled tokens set to the code of
an empty black patch (`Tokenizer.blank_code`). Decoding costs far more than a transformer step on
a CPU, so previews are skipped while they would take more than PREVIEW_SHARE of the run's time
(the last step always has one); the token grid comes with every previewed step regardless.
`position` stays None: it means a pixel index to the canvas and clips, which dim the pixels after
it; the token being generated is the last non-negative entry of `tokens` in raster order.

Inpainting: a token is generated if its patch (2x2 or 4x4 pixels) touches the hole, and is the source image's
own code otherwise; like the pixel sampler, the raster scan forces each known token when it
reaches it, so a hole token sees only the known tokens before it. The image is then decoded
whole (the decoder's 3x3 convolutions see the known tokens beside the hole, which blends the
fill into its border) and the kept pixels (mask 0) are pasted back exactly; no feathering,
since kept pixels must come back unchanged.
"""

from __future__ import annotations

import functools
import logging
import os
import time
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from desktopgen.core.device import MemoryProbe, synchronize
from desktopgen.core.events import RunResult, StepEvent
from desktopgen.core.flags import DECODE_FORM_ENV
from desktopgen.core.requests import SampleRequest
from desktopgen.core.samplers import get_sampler
from desktopgen.nets.tokenizer import DECODE_CHUNK, Tokenizer
from desktopgen.sampling import ar, graphs

log = logging.getLogger(__name__)

PREVIEW_SHARE = 0.5  # previews may take at most this fraction of the elapsed time (CPU decoding)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, 1, H, W) in [-1, 1] -> (B, H, W) uint8."""
    return _uint8(x).cpu().numpy()


def _uint8(x: torch.Tensor) -> torch.Tensor:
    return ((x[:, 0].float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


# The form the tokenizer's decoder runs in on CUDA for the samplers (precision and layout), as the
# U-Net's (graphs.in_form): "fp32" is the decoder as loaded (what the CPU runs); the others a copy
# (graphs.copy_in). $DESKTOPGEN_DECODE_FORM picks another. Measured on an H200 (100 images of the
# 14x14 tokenizer, graphed, to the host; tools/triton_step_tune.py, 2026-12-01 h): fp32 2.03 ms,
# fp32-cl 1.89, bf16-nchw 1.47, bf16-cl 1.39; bf16 moves pixels by 0.22 of 255 on average, at most
# 2 (tests/test_token_ar.py).
DECODE_FORMS = ("fp32", "fp32-cl", "bf16-nchw", "bf16-cl")
DEFAULT_DECODE_FORM = "bf16-cl"


def decode_form() -> str:
    """$DESKTOPGEN_DECODE_FORM, or the default (a value not in DECODE_FORMS: warned once)."""
    name = os.environ.get(DECODE_FORM_ENV, "") or DEFAULT_DECODE_FORM
    if name not in DECODE_FORMS:
        _warn_form(name)
        return DEFAULT_DECODE_FORM
    return name


@functools.cache
def _warn_form(name: str) -> None:
    log.warning("%s=%r is not one of %s; using %s", DECODE_FORM_ENV, name, ", ".join(DECODE_FORMS),
                DEFAULT_DECODE_FORM)


def _decoded_uint8(quantizer, decoder, dtype, layout, codes: torch.Tensor) -> torch.Tensor:
    """Tokenizer.decode's arithmetic (in `decoder`'s form) without its range check (a host
    sync), then to uint8."""
    with torch.autocast(codes.device.type, enabled=False):
        z = quantizer.lookup(codes).to(dtype).contiguous(memory_format=layout)
        return _uint8(decoder(z).float().clamp(-1, 1))


@torch.no_grad()
def decode_uint8(tokenizer, codes: torch.Tensor, cuda_graph: bool = True) -> torch.Tensor:
    """Codes (B, h, w) from a sampler -> images (B, H, W) uint8 on the codes' device. Elsewhere than
    CUDA `to_uint8(tokenizer.decode(codes))`, the same bits. On CUDA the decoder runs in
    `decode_form()`, without decode's range check (a host sync: samplers' codes are in range by
    construction), and with `cuda_graph` as one graph replay kept per tokenizer, form and batch
    shape (graphs.cached): eager, the decoder is ~40 small kernels, ~2 ms of a 100-image token
    run on an H200."""
    codes = codes.long()
    if not (codes.is_cuda and isinstance(tokenizer, Tokenizer) and not tokenizer.training
            and len(codes) <= DECODE_CHUNK):
        return _uint8(tokenizer.decode(codes))
    form = decode_form()
    precision, layout = graphs.split_form(form)
    dtype = torch.bfloat16 if precision == "bf16" and torch.cuda.is_bf16_supported() else torch.float32
    decoder = tokenizer.decoder if form == "fp32" else graphs.copy_in(tokenizer.decoder, dtype, layout)
    fn = functools.partial(_decoded_uint8, tokenizer.quantizer, decoder, dtype, layout)
    if not cuda_graph:
        return fn(codes)
    return graphs.cached(tokenizer, fn, (codes,), tag=("decode_uint8", form, graphs.storage(decoder)))(codes)


def _inpaint_setup(tokenizer, req: SampleRequest, grid: int, device):
    """(token mask (1 or B, L) bool, True = generate; known codes (1 or B, L); kept pixels
    (1 or B, 28, 28) bool; source (1 or B, 28, 28) uint8) of an inpainting request."""
    mask = np.asarray(req.mask, np.uint8).reshape(-1, 28, 28)
    source = np.asarray(req.source, np.uint8).reshape(-1, 28, 28)
    m = torch.as_tensor(mask, device=device).float()[:, None]
    down = 28 // grid
    touch = F.max_pool2d(m, down, down)[:, 0] > 0  # (1 or B, grid, grid)
    x = torch.as_tensor(source, device=device).float()[:, None] / 127.5 - 1
    known = tokenizer.encode(x)  # (1 or B, grid, grid)
    return touch.flatten(1), known.flatten(1), mask == 0, source


def sample(
    model: torch.nn.Module,
    request: SampleRequest,
    device: torch.device | str = "cpu",
    preview_every: int = 1,
    cuda_graph: bool = True,
    filled_cache: bool | None = None,
) -> Iterator[StepEvent]:
    """Generate `request.batch` images token by token. `model` is a TokenAR with its tokenizer
    attached (sampling.load does that). `preview_every` = 0: no per-step previews or tokens
    (and no per-step device synchronisation), the finished images only. `filled_cache`: attend
    to the filled cache slots only (None: everywhere but CUDA), as the pixel sampler does."""
    req = request.validate()
    device = torch.device(device)
    tokenizer = getattr(model, "tokenizer", None)
    if tokenizer is None:
        raise ValueError("the token sampler needs the model's tokenizer (load it with sampling.load)")
    spec = get_sampler(req.sampler or "tokens")
    w = spec.guidance if req.guidance < 0 else req.guidance
    c = model.config
    grid, total = c.grid, c.seq_len
    if 28 % grid or 28 // grid != tokenizer.down:
        raise ValueError(f"the tokenizer makes {28 // tokenizer.down}x{28 // tokenizer.down} tokens "
                         f"of a 28x28 image, the transformer expects {grid}x{grid}")
    probe = MemoryProbe(device)
    t0 = time.perf_counter()
    dec = ar._Decoder(model, req.with_(source=None, mask=None), device, w)
    blank = tokenizer.blank_code()
    kept = None
    if req.mask is not None:
        dec.gen_mask, dec.known, kept, source = _inpaint_setup(tokenizer, req, grid, device)
        dec.inpaint = True
        if len(dec.gen_mask) not in (1, req.batch) or len(dec.known) not in (1, req.batch):
            raise ValueError(f"inpainting needs one source and mask or one per sample ({req.batch})")
        fill = torch.where(dec.gen_mask, torch.full_like(dec.known, blank), dec.known)
    else:
        fill = torch.full((1, total), blank, dtype=torch.long, device=device)
    filled_path = device.type != "cuda" if filled_cache is None else filled_cache
    graph = None
    if cuda_graph and device.type == "cuda" and not filled_path:
        dec, graph = ar._step_graph(dec, device)
    order = torch.arange(total, device=device)

    def image(codes: torch.Tensor) -> np.ndarray:
        out = decode_uint8(tokenizer, codes.view(-1, grid, grid), cuda_graph).cpu().numpy()
        return np.where(kept, source, out) if kept is not None else out

    spent, step = 0.0, 0
    for step in range(1, total + 1):
        if graph is not None:
            graph.replay()
        elif filled_path:
            dec.step_at(step - 1)
        else:
            dec.step()
        tokens = preview = None
        if step == total or (preview_every and step % preview_every == 0):
            filled = order < step  # (L,)
            tokens = torch.where(filled, dec.pixels, -1).view(req.batch, grid, grid)
            tokens = tokens.to(torch.int32).cpu().numpy()
            now = time.perf_counter()
            if step == total or spent <= PREVIEW_SHARE * (now - t0):
                preview = image(torch.where(filled, dec.pixels, fill))
                spent += time.perf_counter() - now
        mem, peak = probe.read(force=step == total)  # (the last: the run's peak, decode included)
        yield StepEvent(
            family="ar", step=step, total=total, elapsed=time.perf_counter() - t0,
            preview=preview, position=None, mem_allocated=mem, mem_peak=peak,
            mem_kind=probe.kind, tokens=tokens,
        )
    synchronize(device)
    images = preview  # the last step always decodes the finished grid ...
    codes = tokens.copy()  # ... and copies it to the host: every code filled, int32
    return RunResult(
        family="ar", images=images, labels=np.asarray(req.labels(), np.int64), steps=step,
        elapsed=time.perf_counter() - t0, peak_memory=peak, mem_kind=probe.kind,
        device=str(device), extra={"cuda_graph": graph is not None, "blank_code": blank,
                                   "decode": "filled cache" if filled_path else "static cache",
                                   "tokens": codes},
    )
