"""Issue 9's H200 target (100 token-AR images of 196 steps in <= 0.05 s): the decode step as
shipped (nets/triton_step.py, the CUDA default since 2026-12-01 g) against StaticStep (the lean
step before it, 2026-12-01 f) and the module path (Block.decode per layer: PyTorch's
memory-efficient attention kernel with a boolean mask, two cache copies a layer), timed
interleaved in one process, with the share of tokens equal to the module path's, each path's
first (cold: capture, compile) run, and, with --quality, accuracy / FD / KID of N samples.
--breakdown times a run's parts apart (set-up, capture, steps, decode) and profiles the kernels
of a step, for StaticStep and the Triton step.
Tried in this probe's first form and not shipped (2026-12-01 f, H200, batch 100, guidance 1.4,
fmnist-token-ar-14): the lean step under torch.compile inside the same per-step CUDA graph
(default mode or max-autotune-no-cudagraphs: 0.52 s, 2.4x slower than uncompiled), the whole
decoder step compiled (0.51 s), and GELU as the fc GEMM's cuBLASLt epilogue (the tanh form:
0.135 s against 0.137 s, not worth changing the maths).

With --compile MODES, also the transformer steps alone (no decode) from the sampler's per-step
graph against StaticStep under torch.compile (2026-12-01 f: 2.72 ms a step against 0.633 ms;
docs/speed.md says why).

    PYTHONPATH=. python tools/token_ar_lean_probe.py --device cuda --batch 100 [--quality N]
        [--breakdown] [--compile reduce-overhead,default] [--model fmnist-pixel-ar]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from desktopgen import sampling
from desktopgen.core.device import device_name, pick_device, synchronize
from desktopgen.core.requests import SampleRequest
from desktopgen.nets.pixel_ar import KVCache, StaticStep
from desktopgen.sampling import ar, tokens


def tokens_of(result):
    """The generated codes (token AR) or pixels (pixel AR) of a run."""
    return result.extra["tokens"] if "tokens" in result.extra else result.images


PATHS = {"module path (before)": (False, False), "lean static step": (True, False),
         "triton step": (True, True)}


def set_lean(lean: bool | None, triton: bool | None = None) -> None:
    """Every new cache on the module path (lean False), StaticStep (lean, not triton) or the
    Triton step (both); None: the default."""
    KVCache.LEAN, KVCache.TRITON = lean, triton


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--model", default="fmnist-token-ar-14-6")
    p.add_argument("--guidance", type=float, default=-1.0, help="(<0: the sampler's default)")
    p.add_argument("--quality-paths", default="lean", help="'all': also score the module path")
    p.add_argument("--breakdown", action="store_true", help="also time a run's parts (set-up, capture, "
                   "steps, decode) apart")
    p.add_argument("--quality", type=int, default=0, help="also score N samples (seed 0) of each path")
    p.add_argument("--compile", default="", help="torch.compile modes to time the lean step under, one "
                   "decoder reused (e.g. reduce-overhead,default); 'step:' before a mode compiles the "
                   "decoder's whole step (sampling too)")
    a = p.parse_args(argv)
    dev = pick_device(a.device)
    pixel = "pixel" in a.model  # the pixel AR (784 steps) runs the same static step
    model = sampling.load("ar", a.model, dev, sampler="" if pixel else "tokens")[0]
    module = ar if pixel else tokens
    req = sampling.with_defaults(SampleRequest(family="ar", model=a.model, sampler="" if pixel else "tokens",
                                               guidance=a.guidance, batch=a.batch, seed=7), model)
    a.guidance = req.guidance
    steps = model.config.seq_len
    print(f"device: {device_name(dev)}  torch {torch.__version__}  model {a.model}  batch {a.batch}  "
          f"guidance {a.guidance}  {steps} steps")

    def run():
        return sampling.run_to_end(module.sample(model, req, dev, preview_every=0, filled_cache=False))

    secs = {name: [] for name in PATHS}
    out = {}
    for _ in range(a.repeat + 1):  # interleaved; the first round captures and warms up
        for name, flags in PATHS.items():
            set_lean(*flags)
            synchronize(dev)
            t0 = time.perf_counter()
            out[name] = run()
            synchronize(dev)
            secs[name].append(time.perf_counter() - t0)
    first = {name: s.pop(0) for name, s in secs.items()}  # the first round: capture (and compile)
    base = statistics.median(secs["module path (before)"])
    ref = torch.as_tensor(tokens_of(out["module path (before)"]))
    for name, s in secs.items():
        med = statistics.median(s)
        same = (torch.as_tensor(tokens_of(out[name])) == ref).float().mean().item()
        print(f"  {name:30s} median {med * 1e3:7.1f} ms (best {min(s) * 1e3:6.1f})  "
              f"{med * 1e3 / steps:6.3f} ms/step  {base / med:5.2f}x  graph {out[name].extra['cuda_graph']}  "
              f"tokens equal to the module path's {same:.3f}; first run {first[name] * 1e3:.0f} ms")
    if a.breakdown:
        breakdown(model, req, dev, a)
    if a.compile:
        compiled_rows(model, req, dev, a)
    if a.quality:
        quality(model, a, dev)
    set_lean(None, None)
    return 0


def breakdown(model, req, dev, a) -> None:
    """A run's parts timed apart (median of --repeat), through StaticStep and the Triton step: the
    decoder's set-up (cache, seeded uniforms), the CUDA graph's capture (two eager warm-up steps,
    capture, reset; for Triton also packing the weights), the steps as graph replays, and the
    tokenizer's decode of the finished codes to uint8 images on the host."""
    from desktopgen.sampling.tokens import to_uint8

    steps, g = model.config.seq_len, model.config.grid
    for name in ("lean static step", "triton step"):
        set_lean(*PATHS[name])
        parts: dict[str, list[float]] = {"set-up": [], "capture": [], "steps": [], "decode": []}

        def clock(part, fn, parts=parts):
            synchronize(dev)
            t0 = time.perf_counter()
            out = fn()
            synchronize(dev)
            parts[part].append(time.perf_counter() - t0)
            return out

        for _ in range(a.repeat + 1):
            dec = clock("set-up", lambda: ar._Decoder(model, req, dev, req.guidance))
            graph = clock("capture", lambda dec=dec: ar._capture(dec, dev))
            clock("steps", lambda graph=graph: [graph.replay() for _ in range(steps)])
            codes = dec.pixels.view(-1, g, g)
            clock("decode", lambda codes=codes: to_uint8(model.tokenizer.decode(codes)))
        total = 0.0
        print(f"  parts of a run through the {name}:")
        for part, s in parts.items():
            med = statistics.median(s[1:])
            total += med
            print(f"    {part:8s} median {med * 1e3:7.2f} ms (best {min(s[1:]) * 1e3:6.2f})")
        print(f"    together {total * 1e3:7.1f} ms; {parts['steps'][-1] * 1e3 / steps:.3f} ms a step")
        kernel_profile(ar._Decoder(model, req, dev, req.guidance), dev)
    set_lean(None, None)


def kernel_profile(dec, dev, n: int = 10, top: int = 8) -> None:
    """CUDA kernels of n eager steps (after 100 warm-up steps, halfway through a run): how many
    a step launches, their GPU time a step, and the top ones."""
    for _ in range(100):
        dec.step()
    synchronize(dev)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        for _ in range(n):
            dec.step()
        synchronize(dev)
    events = [e for e in prof.key_averages() if e.device_type == torch.autograd.DeviceType.CUDA]
    count = sum(e.count for e in events) / n
    total = sum(e.self_device_time_total for e in events) / n
    print(f"    eager step: {count:.0f} kernels, {total:.0f} us of GPU time a step")
    for e in sorted(events, key=lambda e: -e.self_device_time_total)[:top]:
        print(f"      {e.self_device_time_total / n:8.1f} us  x{e.count / n:4.1f}  {e.key[:80]}")


def compiled_rows(model, req, dev, a) -> None:
    """The lean step's transformer steps alone (no tokenizer decode, no events), one decoder (one
    cache) reused across runs and reset between them, so that compiling happens once: `graph` is
    the sampler's per-step CUDA graph (the baseline), a mode name the lean step under
    torch.compile called eagerly (with reduce-overhead, inductor's own CUDA graphs), and
    'step:MODE' the decoder's whole step (sampling too) compiled."""
    set_lean(True, False)  # StaticStep (torch.compile of the Triton step is not a thing)
    steps = model.config.seq_len
    for spec in ["graph", *a.compile.split(",")]:
        whole, mode = spec.startswith("step:"), spec.removeprefix("step:")
        dec = ar._Decoder(model, req, dev, req.guidance)
        graph = None
        try:
            if spec == "graph":
                graph = ar._capture(dec, dev)
            elif whole:
                dec.step = torch.compile(dec.step, mode=mode, dynamic=False)
            else:
                fn = torch.compile(StaticStep.of(model, dec.cache).__call__, mode=mode, fullgraph=True,
                                   dynamic=False)
                model.decode_step = lambda token, y, pos, cache, fn=fn: fn(token, y, pos)
            secs, t_first = [], time.perf_counter()
            for r in range(a.repeat + 2):
                dec.reset()
                synchronize(dev)
                t0 = time.perf_counter()
                for _ in range(steps):
                    graph.replay() if graph is not None else dec.step()
                synchronize(dev)
                if r >= 2:
                    secs.append(time.perf_counter() - t0)
                elif r == 1:
                    print(f"  {spec}: first two runs {time.perf_counter() - t_first:.1f} s", flush=True)
            med = statistics.median(secs)
            print(f"  transformer steps only, {spec:26s} median {med * 1e3:7.1f} ms "
                  f"(best {min(secs) * 1e3:6.1f})  {med * 1e3 / steps:6.3f} ms/step", flush=True)
        except Exception as e:  # noqa: BLE001 (report, go on)
            print(f"  {spec} failed: {type(e).__name__}: {str(e)[:300]}")
        finally:
            model.__dict__.pop("decode_step", None)


def quality(model, a, dev) -> None:
    """tools/quality_rows.py's row (accuracy, FD, KID of --quality samples at seed 0, beside the
    floor) through each step in turn."""
    sys.path.insert(0, str(Path(__file__).parent))
    import quality_rows

    for name, flags in PATHS.items():
        if name.startswith("module") and a.quality_paths != "all":
            continue
        print(f"quality through the {name}:", flush=True)
        set_lean(*flags)
        quality_rows.main(["--family", "ar", "--sampler", "" if "pixel" in a.model else "tokens",
                           "--model", a.model, "--rows", f"{a.guidance}:0", "--n", str(a.quality),
                           "--batch", "250", "--device", str(dev)])


if __name__ == "__main__":
    raise SystemExit(main())
