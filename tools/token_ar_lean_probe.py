"""Issue 9's H200 target (100 token-AR images of 196 steps in <= 0.05 s): the static decode step
as shipped (nets/pixel_ar.py StaticStep, `cache.lean`, the CUDA default since 2026-12-01 f)
against the module path it replaced (Block.decode per layer: PyTorch's memory-efficient attention
kernel with a boolean mask, two cache copies a layer), timed in one process, with the share of
tokens equal between them and, with --quality, accuracy / FD / KID of 1,000 samples each.
Tried in this probe's first form and not shipped (2026-12-01 f, H200, batch 100, guidance 1.4,
fmnist-token-ar-14): the lean step under torch.compile inside the same per-step CUDA graph
(default mode or max-autotune-no-cudagraphs: 0.52 s, 2.4x slower than uncompiled), the whole
decoder step compiled (0.51 s), and GELU as the fc GEMM's cuBLASLt epilogue (the tanh form:
0.135 s against 0.137 s, not worth changing the maths).

With --compile MODES, also the transformer steps alone (no decode) from the sampler's per-step
graph against the lean step under torch.compile (2026-12-01 f: 2.72 ms a step against 0.633 ms;
docs/speed.md says why).

    PYTHONPATH=. python tools/token_ar_lean_probe.py --device cuda --batch 100 [--quality N]
        [--compile reduce-overhead,default]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from desktopgen import sampling
from desktopgen.core.device import device_name, pick_device, synchronize
from desktopgen.core.requests import SampleRequest
from desktopgen.sampling import ar, tokens


def tokens_of(result):
    """The generated codes (token AR) or pixels (pixel AR) of a run."""
    return result.extra["tokens"] if "tokens" in result.extra else result.images


def set_lean(model, lean: bool) -> None:
    """Make the model's caches use the lean static step or the module path."""
    model.__dict__.pop("new_cache", None)
    old = model.new_cache

    def new_cache(*args, **kw):
        cache = old(*args, **kw)
        cache.lean = lean
        return cache

    model.new_cache = new_cache  # instance attribute shadows the method


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--model", default="fmnist-token-ar-14")
    p.add_argument("--guidance", type=float, default=-1.0, help="(<0: the sampler's default)")
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

    secs = {"module path (before)": [], "lean static step (shipped)": []}
    out = {}
    for r in range(a.repeat + 1):  # interleaved; the first round captures and warms up
        for name, lean in zip(secs, (False, True)):
            set_lean(model, lean)
            synchronize(dev)
            t0 = time.perf_counter()
            out[name] = run()
            synchronize(dev)
            if r:
                secs[name].append(time.perf_counter() - t0)
    base = statistics.median(secs["module path (before)"])
    ref = torch.as_tensor(tokens_of(out["module path (before)"]))
    for name, s in secs.items():
        med = statistics.median(s)
        same = (torch.as_tensor(tokens_of(out[name])) == ref).float().mean().item()
        print(f"  {name:30s} median {med * 1e3:7.1f} ms (best {min(s) * 1e3:6.1f})  "
              f"{med * 1e3 / steps:6.3f} ms/step  {base / med:5.2f}x  graph {out[name].extra['cuda_graph']}  "
              f"tokens equal to the module path's {same:.3f}")
    if a.compile:
        compiled_rows(model, req, dev, a)
    if a.quality:
        quality(model, a, dev)
    model.__dict__.pop("new_cache", None)
    return 0


def compiled_rows(model, req, dev, a) -> None:
    """The lean step's transformer steps alone (no tokenizer decode, no events), one decoder (one
    cache) reused across runs and reset between them, so that compiling happens once: `graph` is
    the sampler's per-step CUDA graph (the baseline), a mode name the lean step under
    torch.compile called eagerly (with reduce-overhead, inductor's own CUDA graphs), and
    'step:MODE' the decoder's whole step (sampling too) compiled."""
    from desktopgen.nets.pixel_ar import StaticStep

    set_lean(model, True)
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
    from desktopgen import metrics
    from desktopgen.core import checkpoints
    from desktopgen.data import fmnist
    from desktopgen.engine import real_floor, sample_images

    clf, _ = checkpoints.load_model("fmnist-classifier", dev)
    test_x, _ = fmnist.load("test")
    train_x, train_y = fmnist.load("train")
    _, test_feats = metrics.classify(clf, test_x, dev)
    floor = real_floor(clf, train_x, train_y, test_feats, a.quality, dev)
    print(f"quality, n {a.quality}, seed 0, guidance {a.guidance}; floor (real train vs test): accuracy "
          f"{floor['accuracy']:.3f} FD {floor['fd']:.3f} KID {floor['kid']:.5f}")
    for name, lean in (("module path", False), ("lean static step", True)):
        set_lean(model, lean)
        req = SampleRequest(family="ar", model=a.model, sampler="" if "pixel" in a.model else "tokens",
                            guidance=a.guidance, seed=0)
        images, labels, _ = sample_images(req, a.quality, 250, dev, model=model)
        q = metrics.quality(clf, images, labels, test_feats, dev)
        print(f"  {name:20s} accuracy {q['accuracy']:.3f} FD {q['fd']:.3f} KID {q['kid']:.5f}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
