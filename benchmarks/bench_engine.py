"""Engine speed: time per step and per finished image, batch 1 and 64, peak memory, per family
and sampler, on the CPU and (when present) CUDA. Prints tables; not a test.

    python benchmarks/bench_engine.py --device cpu
    python benchmarks/bench_engine.py --device cuda --reference   # + same-size HF GPT-2 generate()
    python benchmarks/bench_engine.py --only tokens               # the token AR rows alone

Each figure is the median of --repeat runs after one warm-up run (the warm-up's own time, which
includes CUDA graph capture and kernel selection, is printed as "first run").
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from desktopgen import nets, sampling
from desktopgen.core.device import device_name, pick_device, synchronize
from desktopgen.core.requests import SampleRequest


def timed(model, req, dev, **kw) -> tuple[float, int]:
    synchronize(dev)
    t0 = time.perf_counter()
    direct = sampling.tokens.sample if isinstance(model, nets.TokenAR) else sampling.ar.sample
    gen = sampling.sample(model, req, dev, preview_every=0) if not kw else \
        direct(model, sampling.with_defaults(req), dev, preview_every=0, **kw)
    result = sampling.run_to_end(gen)
    synchronize(dev)
    return time.perf_counter() - t0, result.peak_memory


def bench(model, req, dev, repeat: int, **kw) -> dict:
    first = timed(model, req, dev, **kw)
    runs = [timed(model, req, dev, **kw) for _ in range(repeat)] or [first]  # repeat 0: one cold run
    first = first[0]
    total = statistics.median(r[0] for r in runs)
    steps = sampling.with_defaults(req).steps
    return {"first": first, "total": total, "per_step_ms": 1000 * total / steps,
            "per_image_s": total / req.batch, "peak_mib": max(r[1] for r in runs) / 2**20}


def hf_gpt2_reference(dev, batch: int) -> float | None:
    """Seconds for HF transformers generate() of 784 tokens with a GPT-2 the size of our AR model."""
    try:
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError:
        return None
    cfg = GPT2Config(vocab_size=267, n_positions=785, n_embd=256, n_layer=8, n_head=8)
    m = GPT2LMHeadModel(cfg).to(dev).eval()
    if dev.type == "cuda":
        m = m.to(torch.bfloat16)
    prompt = torch.full((batch, 1), 256, device=dev)
    def run():
        synchronize(dev)
        t0 = time.perf_counter()
        with torch.no_grad():
            m.generate(prompt, max_new_tokens=784, min_new_tokens=784, do_sample=True, use_cache=True,
                       pad_token_id=0)
        synchronize(dev)
        return time.perf_counter() - t0
    run()
    return statistics.median(run() for _ in range(2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batches", default="1,64")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs after the warm-up (0: none)")
    ap.add_argument("--samplers", default="dpmpp-2m,ddim,ddpm", help="diffusion samplers to time")
    ap.add_argument("--reference", action="store_true", help="also the issue's batch-100 references")
    ap.add_argument("--only", choices=("", "tokens"), default="", help="tokens: the token AR rows alone")
    a = ap.parse_args()
    dev = pick_device(a.device)
    batches = [int(b) for b in a.batches.split(",")]
    print(f"device: {device_name(dev)}  torch {torch.__version__}")
    if a.only == "tokens":
        return token_rows(dev, batches, a.repeat)
    dm, _ = sampling.load("diffusion", "", dev)
    am, _ = sampling.load("ar", "", dev)
    print(f"\n{'run':40s} {'batch':>5s} {'first s':>8s} {'total s':>8s} {'ms/step':>8s} "
          f"{'s/image':>9s} {'peak MiB':>9s}", flush=True)

    def row(name, b, r):  # printed as soon as measured: a long CPU run still shows what it did
        print(f"{name:40s} {b:5d} {r['first']:8.3f} {r['total']:8.3f} {r['per_step_ms']:8.2f} "
              f"{r['per_image_s']:9.4f} {r['peak_mib']:9.1f}", flush=True)

    for b in batches:
        for s in a.samplers.split(","):
            req = SampleRequest(family="diffusion", sampler=s, batch=b)
            row(f"diffusion {s} 20 steps g=2", b, bench(dm, req, dev, a.repeat))
        req = SampleRequest(family="ar", batch=b)
        row("pixel AR 784 steps g=1.5", b, bench(am, req, dev, a.repeat))
        if dev.type == "cuda":
            row("pixel AR g=1.5, eager (no CUDA graph)", b, bench(am, req, dev, a.repeat, cuda_graph=False))
    if a.reference:
        print("\nissue references (batch 100):")
        r = bench(dm, SampleRequest(family="diffusion", sampler="ddim", steps=20, guidance=2.0,
                                    batch=100), dev, a.repeat)
        print(f"  DDIM 20 + guidance, 100 images: {r['total']:.3f} s (reference: 0.37 s eager)")
        r = bench(am, SampleRequest(family="ar", guidance=1.0, batch=100), dev, a.repeat)
        print(f"  pixel AR no guidance, 100 images: {r['total']:.3f} s (reference: 3.1 s eager KV cache)")
        r = bench(am, SampleRequest(family="ar", guidance=1.5, batch=100), dev, a.repeat)
        print(f"  pixel AR guidance 1.5, 100 images: {r['total']:.3f} s")
        hf = hf_gpt2_reference(dev, 100)
        print(f"  HF transformers GPT-2 (same size) generate(), 100 x 784 tokens: "
              f"{'n/a (transformers not installed)' if hf is None else f'{hf:.3f} s'}")


def token_rows(dev, batches, repeat: int) -> None:
    """Issue 9: the raster token transformer (49 steps, then the tokenizer decodes), beside the
    issue's targets: 100 images on an H200 in <= 0.05 s; CPU batch 1 <= 0.3 s per image."""
    tm, card = sampling.load("ar", "", dev, sampler="tokens")
    print(f"\n{card['name']} ({card['parameters'] / 1e6:.1f}M parameters, tokenizer "
          f"{tm.config.tokenizer})")
    print(f"{'run':40s} {'batch':>5s} {'first s':>8s} {'total s':>8s} {'ms/step':>8s} "
          f"{'s/image':>9s} {'peak MiB':>9s}", flush=True)
    for b in sorted({*batches, 100} if dev.type == "cuda" else set(batches)):
        req = SampleRequest(family="ar", sampler="tokens", batch=b)
        r = bench(tm, req, dev, repeat)
        print(f"{'token AR 49 steps + decode g=2':40s} {b:5d} {r['first']:8.3f} {r['total']:8.3f} "
              f"{r['per_step_ms']:8.2f} {r['per_image_s']:9.4f} {r['peak_mib']:9.1f}", flush=True)
        if dev.type == "cuda":
            e = bench(tm, req, dev, repeat, cuda_graph=False)
            print(f"{'  the same, eager (no CUDA graph)':40s} {b:5d} {e['first']:8.3f} {e['total']:8.3f} "
                  f"{e['per_step_ms']:8.2f} {e['per_image_s']:9.4f} {e['peak_mib']:9.1f}", flush=True)
        if dev.type == "cuda" and b == 100:
            print(f"  target: 100 images <= 0.05 s on an H200: {r['total']:.3f} s "
                  f"({r['total'] / 0.05:.2f}x the target)")
        if dev.type == "cpu" and b == 1:
            print(f"  target: CPU batch 1 <= 0.3 s per image: {r['per_image_s']:.3f} s "
                  f"({r['per_image_s'] / 0.3:.2f}x the target)")


if __name__ == "__main__":
    main()
