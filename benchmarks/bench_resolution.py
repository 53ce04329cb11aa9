"""Cost vs resolution: the project's architectures scaled to 32, 64, 128 and 256 px, random
weights (speed does not depend on training). Time per image at batch 1 and 8, and peak memory.
Prints a table, writes JSON and (with matplotlib) a PNG plot. Not a test.

    python benchmarks/bench_resolution.py --device cuda              # the H200 table, docs/
    python benchmarks/bench_resolution.py --device cpu --quick       # 32 and 64 px, < 2 minutes
    python benchmarks/bench_resolution.py --device cpu --quick --threads 1 --clock cpu  # shared CPU

What is timed, and how it is scaled (every row says which):
- pixel AR: res^2 steps (65,536 at 256 px). A fixed number of steps is timed at the start and at
  the end of the sequence and the mean rate is scaled to all res^2 steps: exact when a step's
  cost is constant (the static cache: CUDA) or grows linearly with the position (the CPU's
  filled-cache attention). "eager" and "graphed" (a CUDA graph of the whole step, CUDA only).
- token AR (4x tokenizer: (res/4)^2 steps, 1000 codes) and MaskGIT (10 parallel steps over the
  (res/4)^2 grid), each with the tokenizer's decoder: rows appear when desktopgen.nets.token_ar,
  .maskgit and .tokenizer exist (other branches of issue 10's wave).
- diffusion: the U-Net (64-128-128 channels, attention at res/4 as at 28 px: 7), DDIM 20 steps,
  guidance 2 (a doubled batch), eager and graphed; few-step: the shortcut U-Net, 4 and 1 steps.
  --quick times 1 network call and scales it to the step count (a step's cost is constant).
Peak memory: torch.cuda.max_memory_allocated on CUDA (weights, caches, activations); n/a on a CPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from desktopgen.core.device import autocast_dtype, device_name, pick_device, synchronize
from desktopgen.core.requests import SampleRequest
from desktopgen.nets.pixel_ar import PixelAR, PixelARConfig
from desktopgen.nets.shortcut import ShortcutUNet, ShortcutUNetConfig
from desktopgen.nets.unet import UNet, UNetConfig
from desktopgen.sampling import ar, diffusion, flow, graphs
from desktopgen.sampling.solvers import cosine_grid

RES, QUICK_RES, BATCHES = (32, 64, 128, 256), (32, 64), (1, 8)
CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}  # cpu: this process's CPU seconds
clock = CLOCKS["wall"]


def _optional(module: str, *names: str):
    """Classes from a module that may not exist yet on this branch; None if it does not."""
    try:
        mod = __import__(f"desktopgen.nets.{module}", fromlist=list(names))
        return tuple(getattr(mod, n) for n in names)
    except (ImportError, AttributeError):
        return None


TOKENIZER = _optional("tokenizer", "Tokenizer", "TokenizerConfig")
TOKEN_AR = _optional("token_ar", "TokenAR", "TokenARConfig")
MASKGIT = _optional("maskgit", "MaskGIT", "MaskGITConfig")


class Meter:
    """Peak device memory of one measurement (CUDA only)."""

    def __init__(self, dev):
        self.dev = dev

    def __enter__(self):
        if self.dev.type == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(self.dev)
        return self

    def __exit__(self, *exc):
        self.peak = torch.cuda.max_memory_allocated(self.dev) if self.dev.type == "cuda" else None


def seconds(fn, dev, repeat: int) -> float:
    """Median wall time of fn() after one warm-up call (none on a CPU, where --quick must be
    quick and nothing is compiled or captured)."""
    if dev.type != "cpu":
        fn()
    times = []
    for _ in range(max(1, repeat)):
        synchronize(dev)
        t0 = clock()
        fn()
        synchronize(dev)
        times.append(clock() - t0)
    return statistics.median(times)


# ---------------------------------------------------------------- autoregressive rows
def ar_decode_time(model, batch: int, dev, graphed: bool, timed_steps: int, repeat: int,
                   guidance: float = 1.5) -> tuple[float, str]:
    """Seconds for one whole sequence at `batch`, and how it was obtained."""
    T = model.config.seq_len
    req = SampleRequest(family="ar", batch=batch, seed=0, guidance=guidance)
    dec = ar._Decoder(model, req, dev, guidance)
    graph = ar._capture(dec, dev) if graphed else None
    filled = dev.type != "cuda"  # what ar.sample does: static shapes on CUDA

    def run(start: int, n: int):
        def go():
            dec.pos.fill_(start)
            for p in range(start, start + n):
                if graph is not None:
                    graph.replay()
                elif filled:
                    dec.step_at(p)
                else:
                    dec.step()
        return go

    if timed_steps >= T:
        return seconds(run(0, T), dev, repeat), "all steps"
    n = timed_steps
    rate = (seconds(run(0, n), dev, repeat) + seconds(run(T - n, n), dev, repeat)) / (2 * n)
    return rate * T, f"{n}+{n} of {T} steps timed, scaled"


def _ar_model(cls, config, dev):
    model = cls(config).to(dev).eval()
    if dev.type == "cuda":  # as sampling.load: the transformer in bf16 weights on CUDA
        model = model.to(torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    return model


def _tokenizer(dev):
    if TOKENIZER is None:
        return None
    Tokenizer, TokenizerConfig = TOKENIZER
    return Tokenizer(TokenizerConfig()).to(dev).eval()


def _decode_images(tok, batch: int, grid: int, dev):
    codes = torch.zeros(batch, grid, grid, dtype=torch.long, device=dev)
    return lambda: tok.decode(codes)


def ar_rows(res: int, batch: int, dev, a) -> list[dict]:
    rows = []
    for graphed in ((False, True) if dev.type == "cuda" else (False,)):
        model = None
        with Meter(dev) as m:
            model = _ar_model(PixelAR, PixelARConfig(seq_len=res * res, dropout=0.0), dev)
            t, how = ar_decode_time(model, batch, dev, graphed, a.ar_steps, a.repeat)
        rows.append(dict(model="pixel AR", variant="graphed" if graphed else "eager", steps=res * res,
                         seconds=t, how=how, peak=m.peak))
        del model
    try:
        rows += token_rows(res, batch, dev, a)
    except Exception as e:  # noqa: BLE001 - another branch's API may have moved: say so, go on
        print(f"token AR / MaskGIT rows left out at {res} px: {type(e).__name__}: {str(e)[:100]}")
    return rows


def token_rows(res: int, batch: int, dev, a) -> list[dict]:
    rows, tok, g = [], _tokenizer(dev), res // 4
    if TOKEN_AR is not None and tok is not None:
        TokenAR, TokenARConfig = TOKEN_AR
        for graphed in ((False, True) if dev.type == "cuda" else (False,)):
            with Meter(dev) as m:
                model = _ar_model(TokenAR, TokenARConfig(seq_len=g * g, vocab=1000, dropout=0.0), dev)
                t, how = ar_decode_time(model, batch, dev, graphed, a.ar_steps, a.repeat)
                with torch.no_grad():
                    t += seconds(_decode_images(tok, batch, g, dev), dev, a.repeat)
            rows.append(dict(model="token AR + decoder", variant="graphed" if graphed else "eager",
                             steps=g * g, seconds=t, how=how, peak=m.peak))
    if MASKGIT is not None and tok is not None:
        MaskGIT, MaskGITConfig = MASKGIT
        with Meter(dev) as m:
            model = _ar_model(MaskGIT, MaskGITConfig(grid_h=g, grid_w=g, dropout=0.0), dev)
            codes = torch.full((2 * batch, g, g), model.mask_id, dtype=torch.long, device=dev)
            y = torch.arange(2 * batch, device=dev) % 11

            @torch.no_grad()
            def steps():
                for _ in range(10):
                    model(codes, y)
                tok.decode(codes[:batch].clamp(max=999))
            t = seconds(steps, dev, a.repeat)
        rows.append(dict(model="MaskGIT + decoder", variant="eager", steps=10, seconds=t,
                         how="10 steps, guidance (doubled batch)", peak=m.peak))
    return rows


# ---------------------------------------------------------------- diffusion rows
def _unet_config(res: int) -> dict:
    return dict(image_size=res, attn_res=(res // 4,), dropout=0.0)  # 28 px: attention at 7


def diffusion_rows(res: int, batch: int, dev, a) -> list[dict]:
    """The U-Nets as the samplers run them: on CUDA in graphs.unet_form() (a bf16 copy or bf16
    autocast, its layout), eager and graphed."""
    rows = []
    labels = torch.arange(batch, device=dev) % 10
    calls = 1 if a.quick else None
    variants = (False, True) if dev.type == "cuda" else (False,)
    for graphed in variants:
        with Meter(dev) as m:
            model = UNet(UNetConfig(**_unet_config(res))).to(dev).eval()
            model, autocast, layout = graphs.in_form(model, dev, autocast_dtype(dev))
            grid, ts = cosine_grid(20)
            den = diffusion.guided_denoiser(model, labels, 2.0, grid, ts, autocast, cuda_graph=graphed,
                                            memory_format=layout)
            x = torch.randn(batch, 1, res, res, device=dev)
            n = calls or 20

            def run(den=den, x=x, n=n):
                for k in range(n):
                    den(x, k)
            t = seconds(run, dev, a.repeat) * 20 / n
        rows.append(dict(model="diffusion DDIM", variant="graphed" if graphed else "eager", steps=20,
                         seconds=t, how="all steps" if n == 20 else f"{n} of 20 calls timed, scaled",
                         peak=m.peak))
        del model, den
    for steps in (4, 1):
        for graphed in variants:
            with Meter(dev) as m:
                model = ShortcutUNet(ShortcutUNetConfig(**_unet_config(res))).to(dev).eval()
                model, autocast, layout = graphs.in_form(model, dev, autocast_dtype(dev))
                velocity = flow.guided_velocity(model, labels, 1.5, autocast, cuda_graph=graphed,
                                                memory_format=layout)
                x = torch.randn(batch, 1, res, res, device=dev)
                n = min(steps, calls or steps)

                def run(velocity=velocity, x=x, n=n):
                    for _ in flow.shortcut(velocity, x, n):
                        pass
                t = seconds(run, dev, a.repeat) * steps / n
            rows.append(dict(model=f"few-step {steps}", variant="graphed" if graphed else "eager",
                             steps=steps, seconds=t,
                             how="all steps" if n == steps else f"{n} of {steps} calls timed, scaled",
                             peak=m.peak))
            del model, velocity
    return rows


# ---------------------------------------------------------------- output
def plot(results: list[dict], path: Path, title: str) -> bool:
    try:
        import matplotlib
        import matplotlib.ticker
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, batch in zip(axes, BATCHES):
        rows = [r for r in results if r["batch"] == batch]
        for key in dict.fromkeys((r["model"], r["variant"]) for r in rows):
            pts = sorted((r["res"], r["seconds_per_image"]) for r in rows
                         if (r["model"], r["variant"]) == key)
            ax.plot(*zip(*pts), marker="o", label=f"{key[0]} ({key[1]})")
        ax.set(xscale="log", yscale="log", xlabel="image side (px)", title=f"batch {batch}")
        ax.set_xticks(sorted({r["res"] for r in rows}), [str(s) for s in sorted({r["res"] for r in rows})])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())  # only the sides measured
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("seconds per image")
    axes[1].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="auto")
    ap.add_argument("--quick", action="store_true", help="32 and 64 px only, fewer timed steps")
    ap.add_argument("--res", default="", help="comma-separated sides (default 32,64,128,256)")
    ap.add_argument("--ar-steps", type=int, default=0,
                    help="AR steps timed at each end of the sequence (default 256; quick 32)")
    ap.add_argument("--repeat", type=int, default=0, help="timed runs per figure (default 3; quick 1)")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    ap.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                    help="cpu: CPU seconds of this process, for a shared CPU with --threads 1 "
                         "(what an idle core would take; wall time also counts others' turns)")
    ap.add_argument("--out", default="docs/resolution", help="path prefix of the .json and .png")
    a = ap.parse_args()
    global clock
    clock = CLOCKS[a.clock]
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = pick_device(a.device)
    sides = [int(s) for s in a.res.split(",")] if a.res else (QUICK_RES if a.quick else RES)
    a.ar_steps = a.ar_steps or (32 if a.quick else 256)
    a.repeat = a.repeat or (1 if a.quick else 3)
    name = device_name(dev)
    print(f"device: {name}  torch {torch.__version__}  (random weights; {a.clock} seconds per image)")
    missing = [m for m, v in (("tokenizer", TOKENIZER), ("token_ar", TOKEN_AR), ("maskgit", MASKGIT))
               if v is None]
    if missing:
        print(f"not on this branch (rows left out): desktopgen.nets.{', '.join(missing)}")
    print(f"\n{'res':>4s} {'batch':>5s}  {'model':22s} {'variant':8s} {'steps':>6s} "
          f"{'s/image':>10s} {'peak MiB':>9s}  how", flush=True)
    results = []
    for res in sides:
        for batch in BATCHES:
            for row in ar_rows(res, batch, dev, a) + diffusion_rows(res, batch, dev, a):
                row.update(res=res, batch=batch, seconds_per_image=row.pop("seconds") / batch,
                           peak_mib=None if row["peak"] is None else row.pop("peak") / 2**20)
                row.pop("peak", None)
                results.append(row)
                peak = "n/a" if row["peak_mib"] is None else f"{row['peak_mib']:.0f}"
                print(f"{res:4d} {batch:5d}  {row['model']:22s} {row['variant']:8s} {row['steps']:6d} "
                      f"{row['seconds_per_image']:10.4f} {peak:>9s}  {row['how']}", flush=True)
    out = Path(a.out + ("-quick" if a.quick else "") + f"-{dev.type}")
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"device": name, "torch": torch.__version__, "threads": torch.get_num_threads(), "clock": a.clock,
            "quick": a.quick, "ar_steps_timed": a.ar_steps, "repeat": a.repeat,
            "unet_form": graphs.unet_form() if dev.type == "cuda" else "fp32"}
    out.with_suffix(".json").write_text(json.dumps({"meta": meta, "rows": results}, indent=1) + "\n")
    print(f"\nwrote {out.with_suffix('.json')}")
    what = "CPU time" if a.clock == "cpu" else "Time"
    if plot(results, out.with_suffix(".png"), f"{what} per image vs resolution, {name}, random weights"):
        print(f"wrote {out.with_suffix('.png')}")
    else:
        print("no plot: matplotlib is not installed (pip install 'desktopgen[bench]')")


if __name__ == "__main__":
    main()
