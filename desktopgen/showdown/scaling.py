"""Cost and memory of the shipped architectures scaled to other resolutions, random weights
(speed and memory do not depend on training): claims 2 and 4 share these measurements.

Every step of a sampler has the same shapes (pixel AR attends over a static cache with a mask; a
U-Net step is one forward), so `timed_steps` calls are timed after a warm-up and the time per
image is extrapolated: per-call time x calls per image. The memory kept between steps (the
sampler's state: the KV cache, or the noisy sample and the solver's history) is counted exactly
from tensor sizes; the peak during a step is measured (CUDA allocator, or process RSS polled on
a CPU, which is rough).
"""

from __future__ import annotations

import json
import statistics
import threading
import time

from desktopgen.core import checkpoints

DIFFUSION_STEPS = 20  # the default samplers' step count


def _shipped_config(name: str, fallback: dict) -> dict:
    try:
        return dict(json.loads((checkpoints.resolve(name) / checkpoints.CONFIG).read_text())["config"])
    except (OSError, ValueError, KeyError):
        return dict(fallback)


class PeakMemory:
    """Peak memory of a block, in bytes above what was in use when it started: the CUDA
    allocator's peak, or on a CPU the process RSS polled every millisecond by a thread."""

    def __init__(self, device):
        self.device, self.peak, self.kind = device, 0, "cuda" if device.type == "cuda" else "process-rss"

    def __enter__(self):
        import torch

        from desktopgen.core.device import process_rss

        if self.kind == "cuda":
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base = torch.cuda.memory_allocated(self.device)
        else:
            self.base, self._stop = process_rss(), threading.Event()
            self._max = self.base

            def poll():
                while not self._stop.wait(0.001):
                    self._max = max(self._max, process_rss())
            self._thread = threading.Thread(target=poll, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        import torch

        from desktopgen.core.device import process_rss

        if self.kind == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device) - self.base
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self._max, process_rss()) - self.base
        return False


def _timed(call, n: int, device) -> float:
    from desktopgen.core.device import synchronize

    call()  # warm-up: kernel selection, allocator
    times = []
    for _ in range(n):
        synchronize(device)
        t0 = time.perf_counter()
        call()
        synchronize(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def pixel_ar(res: int, batch: int, device, timed_steps: int, guidance: bool = True) -> dict:
    """Pixel AR of the shipped width at res x res: seconds per image (res^2 decode steps) and memory."""
    import torch

    from desktopgen.nets import PixelAR, PixelARConfig

    cfg = _shipped_config("fmnist-pixel-ar", {}) | {"seq_len": res * res, "dropout": 0.0}
    rows = batch * (2 if guidance else 1)  # guidance: conditional and null-class rows
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    with PeakMemory(device) as mem, torch.no_grad():
        model = PixelAR(PixelARConfig(**cfg)).to(device, dtype).eval()
        cache = model.new_cache(rows, device)
        token = torch.zeros(rows, dtype=torch.long, device=device)
        y = torch.zeros(rows, dtype=torch.long, device=device)
        pos = torch.tensor([res * res - 1], device=device)  # the last step: the whole cache live
        per_step = _timed(lambda: model.decode_step(token, y, pos, cache), timed_steps, device)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    state = cache.nbytes()
    return {"kind": "pixel-ar", "res": res, "batch": batch, "calls": res * res,
            "seconds_per_call": per_step, "seconds_per_image": per_step * res * res / batch,
            "state_bytes": state, "weights_bytes": weights, "peak_bytes": mem.peak,
            "mem_kind": mem.kind}


def unet(res: int, batch: int, device, timed_steps: int, steps: int = DIFFUSION_STEPS,
         guidance: bool = True) -> dict:
    """The shipped U-Net at res x res: seconds per image for `steps` steps (one forward each) and
    memory. State between steps: the sample and one earlier prediction (DPM-Solver++(2M))."""
    import torch

    from desktopgen.core.device import autocast_dtype
    from desktopgen.nets import UNet, UNetConfig

    cfg = _shipped_config("fmnist-diffusion", {}) | {"image_size": res, "attn_res": [res // 4],
                                                     "dropout": 0.0}
    rows = batch * (2 if guidance else 1)
    amp = autocast_dtype(device)
    with PeakMemory(device) as mem, torch.no_grad():
        model = UNet(UNetConfig(**cfg)).to(device).eval()
        x = torch.randn(rows, 1, res, res, device=device)
        t = torch.full((rows,), 500.0, device=device)
        y = torch.zeros(rows, dtype=torch.long, device=device)

        def call():
            with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                return model(x, t, y)
        per_call = _timed(call, timed_steps, device)
    weights = sum(p.numel() * p.element_size() for p in model.parameters())
    state = 2 * batch * res * res * 4  # x and the previous clean estimate, float32
    return {"kind": "diffusion-unet", "res": res, "batch": batch, "calls": steps,
            "seconds_per_call": per_call, "seconds_per_image": per_call * steps / batch,
            "state_bytes": state, "weights_bytes": weights, "peak_bytes": mem.peak,
            "mem_kind": mem.kind}


def _tokenizer_decode(res: int, batch: int, device, timed_steps: int) -> tuple[float, object]:
    """Seconds for the shipped tokenizer's (random-weight) decoder to turn a (res/4)^2 grid of
    codes into batch images, and the tokenizer."""
    import torch

    from desktopgen.nets import Tokenizer, TokenizerConfig

    tok = Tokenizer(TokenizerConfig(**_shipped_config("fmnist-tokenizer", {}))).to(device).eval()
    codes = torch.zeros(batch, res // 4, res // 4, dtype=torch.long, device=device)
    with torch.no_grad():
        return _timed(lambda: tok.decode(codes), max(1, timed_steps // 4), device), tok


def token_ar(res: int, batch: int, device, timed_steps: int, guidance: bool = True) -> dict:
    """Raster token AR of the shipped width: (res/4)^2 decode steps over a KV cache, then the
    tokenizer's decoder once."""
    import torch

    from desktopgen.nets import TokenAR, TokenARConfig

    seq = (res // 4) ** 2
    cfg = _shipped_config("fmnist-token-ar", {}) | {"seq_len": seq, "dropout": 0.0}
    rows = batch * (2 if guidance else 1)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    with PeakMemory(device) as mem, torch.no_grad():
        model = TokenAR(TokenARConfig(**cfg)).to(device, dtype).eval()
        cache = model.new_cache(rows, device)
        token = torch.zeros(rows, dtype=torch.long, device=device)
        y = torch.zeros(rows, dtype=torch.long, device=device)
        pos = torch.tensor([seq - 1], device=device)
        per_step = _timed(lambda: model.decode_step(token, y, pos, cache), timed_steps, device)
        decode, _ = _tokenizer_decode(res, batch, device, timed_steps)
    return {"kind": "token-ar", "res": res, "batch": batch, "calls": seq, "seconds_per_call": per_step,
            "seconds_per_image": (per_step * seq + decode) / batch,
            "state_bytes": cache.nbytes(),
            "weights_bytes": sum(p.numel() * p.element_size() for p in model.parameters()),
            "peak_bytes": mem.peak, "mem_kind": mem.kind}


def maskgit(res: int, batch: int, device, timed_steps: int, steps: int = 10,
            guidance: bool = True) -> dict:
    """MaskGIT of the shipped width: `steps` full passes over the (res/4)^2 token grid, then the
    tokenizer's decoder once. State between steps: the token grid."""
    import torch

    from desktopgen.core.device import autocast_dtype
    from desktopgen.nets import MaskGIT, MaskGITConfig

    g = res // 4
    cfg = _shipped_config("fmnist-maskgit", {}) | {"grid_h": g, "grid_w": g, "dropout": 0.0}
    rows = batch * (2 if guidance else 1)
    amp = autocast_dtype(device)
    with PeakMemory(device) as mem, torch.no_grad():
        model = MaskGIT(MaskGITConfig(**cfg)).to(device).eval()
        codes = torch.full((rows, g, g), model.mask_id, dtype=torch.long, device=device)
        y = torch.zeros(rows, dtype=torch.long, device=device)

        def call():
            with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                return model(codes, y)
        per_call = _timed(call, max(1, timed_steps // 2), device)
        decode, _ = _tokenizer_decode(res, batch, device, timed_steps)
    return {"kind": "maskgit", "res": res, "batch": batch, "calls": steps, "seconds_per_call": per_call,
            "seconds_per_image": (per_call * steps + decode) / batch, "state_bytes": batch * g * g * 8,
            "weights_bytes": sum(p.numel() * p.element_size() for p in model.parameters()),
            "peak_bytes": mem.peak, "mem_kind": mem.kind}


# Model kind -> (label, measure(res, batch, device, timed_steps)); a new kind adds one line.
SCALERS = {
    "diffusion-unet": (f"diffusion U-Net, {DIFFUSION_STEPS} steps", unet),
    "pixel-ar": ("pixel AR (one step per pixel)", pixel_ar),
    "token-ar": ("token AR (one step per 4x4 token, then decode)", token_ar),
    "maskgit": ("MaskGIT (10 parallel steps, then decode)", maskgit),
}
TOKEN_KINDS = ("token-ar", "maskgit")  # measured in the full run only (time on a CPU)
# Same network as another kind, fewer calls: derived from its measurement, not timed again (the
# few-step model is the U-Net plus a tiny step-size MLP).
DERIVED = {"flow": ("few-step U-Net, 4 steps", "diffusion-unet", 4)}


def measure_all(ctx, batches) -> list[dict]:
    """Every scaler at every resolution of the settings and every batch in `batches`; cached in
    the context so claims 2 and 4 measure once. Progress and cancel between points."""
    done = ctx.shared.setdefault("scaling", {})
    kinds = [k for k in SCALERS if ctx.settings.scale_tokens or k not in TOKEN_KINDS]
    points = [(k, r, b) for k in kinds for r in ctx.settings.resolutions for b in batches]
    out = []
    for i, (kind, res, b) in enumerate(points):
        if (kind, res, b) not in done:
            ctx.progress(i / len(points), f"{SCALERS[kind][0]}: {res}x{res}, batch {b}")
            try:
                done[(kind, res, b)] = SCALERS[kind][1](res, b, ctx.device, ctx.settings.timed_steps)
            except (RuntimeError, MemoryError) as e:  # out of memory at a large size: say so
                done[(kind, res, b)] = {"kind": kind, "res": res, "batch": b, "error": str(e)[:200]}
                if ctx.device.type == "cuda":
                    import torch

                    torch.cuda.empty_cache()
        out.append(done[(kind, res, b)] | {"label": SCALERS[kind][0]})
    for kind, (label, source, calls) in DERIVED.items():
        for p in [p for p in out if p["kind"] == source and "seconds_per_call" in p]:
            out.append(p | {"kind": kind, "label": label, "calls": calls, "derived_from": source,
                            "seconds_per_image": p["seconds_per_call"] * calls / p["batch"]})
    return out
