"""Where the 20-step diffusion default spends its time, and what torch.compile would gain (issue 10:
100 images in <= 0.15 s on an H200; 0.21 s graphed): one run prints
- the sampler at --batch, graphed and eager (as benchmarks/bench_engine.py times it);
- the top CUDA kernels of one eager run (torch.profiler), by GPU time;
- the same sampler with the U-Net's forward under torch.compile (each --modes entry), replayed
  from the same CUDA graph, and how far its images are from the uncompiled ones;
- (--forms) the whole sampler, graphed, in each U-Net form of sampling/graphs.py (precision and
  layout), its time and its images against the first form's;
- (--variants) one guided U-Net call (batch 2 x --batch) replayed from a CUDA graph in each
  precision and layout: bf16 autocast or bf16 weights, channels-last or NCHW; time per call and
  how far its output is from the fp32 call's.

    PYTHONPATH=. python tools/unet_speed_probe.py [--batch 100] [--modes default] [--variants]
        [--forms] [--device cuda]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from desktopgen import sampling
from desktopgen.core.device import device_name, pick_device, synchronize
from desktopgen.core.requests import SampleRequest
from desktopgen.sampling import diffusion, graphs


def timed(run, dev, repeat: int) -> tuple[float, torch.Tensor]:
    out = sampling.run_to_end(run())  # warm-up (and capture)
    secs = []
    for _ in range(repeat):
        synchronize(dev)
        t0 = time.perf_counter()
        out = sampling.run_to_end(run())
        synchronize(dev)
        secs.append(time.perf_counter() - t0)
    return statistics.median(secs), torch.as_tensor(out.images).float()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--modes", default="default", help="torch.compile modes, comma-separated ('' none)")
    p.add_argument("--device", default="auto")
    p.add_argument("--top", type=int, default=20)
    p.add_argument("--variants", action="store_true", help="time one U-Net call per precision/layout")
    p.add_argument("--forms", action="store_true",
                   help="the whole sampler in each of graphs.UNET_FORMS, graphed, one run")
    a = p.parse_args(argv)
    dev = pick_device(a.device)
    model, card = sampling.load("diffusion", "", dev)
    req = sampling.with_defaults(SampleRequest(family="diffusion", batch=a.batch))
    print(f"device: {device_name(dev)}  torch {torch.__version__}  model {card['name']}  "
          f"{req.sampler} {req.steps} steps, guidance {req.guidance:g}, batch {a.batch}")

    def run(**kw):
        return lambda: diffusion.sample(model, req, dev, preview_every=0, **kw)

    base, ref = timed(run(), dev, a.repeat)
    eager, _ = timed(run(cuda_graph=False), dev, a.repeat)
    print(f"graphed {base:.4f} s  eager {eager:.4f} s  ({eager / base:.2f}x)", flush=True)

    if dev.type == "cuda":
        acts = [torch.profiler.ProfilerActivity.CPU, torch.profiler.ProfilerActivity.CUDA]
        with torch.profiler.profile(activities=acts) as prof:
            sampling.run_to_end(run(cuda_graph=False)())
            synchronize(dev)
        print(prof.key_averages().table(sort_by="self_cuda_time_total", row_limit=a.top), flush=True)

    if a.variants and dev.type == "cuda":
        variants(model, a.batch, dev, a.repeat)
    if a.forms and dev.type == "cuda":
        start = graphs.unet_form()
        first = None
        for form in graphs.UNET_FORMS:
            graphs.set_unet_form(form)
            secs, imgs = timed(run(), dev, a.repeat)
            first = imgs if first is None else first
            d = (imgs - first).abs()
            print(f"form {form:14s} graphed {secs:.4f} s ({base / secs:.2f}x the first graphed run); "
                  f"images vs {graphs.UNET_FORMS[0]}: mean |diff| {d.mean():.3f}, max {d.max():.0f} "
                  f"(0-255)", flush=True)
        graphs.set_unet_form(start)

    forward = model.forward
    for mode in [m for m in a.modes.split(",") if m]:
        graphs._captures.pop(model, None)  # the next run captures the compiled call afresh
        model.forward = torch.compile(forward, mode=mode, dynamic=False)
        t0 = time.perf_counter()
        try:
            secs, imgs = timed(run(), dev, a.repeat)
        except Exception as e:  # noqa: BLE001 (report the mode and go on)
            print(f"compile {mode}: failed: {type(e).__name__}: {str(e)[:300]}", flush=True)
            continue
        finally:
            model.forward = forward
            graphs._captures.pop(model, None)
        diff = (imgs - ref).abs()
        print(f"compile {mode}: graphed {secs:.4f} s ({base / secs:.2f}x the uncompiled graph; "
              f"compile + warm-up {time.perf_counter() - t0 - secs * a.repeat:.0f} s); images vs "
              f"uncompiled: mean |diff| {diff.mean():.3f}, max {diff.max():.0f} (0-255)", flush=True)
    return 0


def variants(model, batch: int, dev, repeat: int) -> None:
    """One guided U-Net call at batch 2 x `batch`, each precision and layout, from a CUDA graph."""
    import copy

    gen = torch.Generator(device=dev).manual_seed(0)
    x = torch.randn(2 * batch, 1, 28, 28, device=dev, generator=gen)
    t = torch.full((2 * batch,), 500.0, device=dev)
    y = torch.arange(2 * batch, device=dev) % 11
    fp32 = copy.deepcopy(model).float().to(memory_format=torch.contiguous_format).eval()
    tf32 = torch.backends.cudnn.allow_tf32
    torch.backends.cudnn.allow_tf32 = False  # the reference in true fp32
    with torch.no_grad():
        ref = fp32(x, t, y).float()
    torch.backends.cudnn.allow_tf32 = tf32

    def weights_in(dtype, layout):
        m = copy.deepcopy(fp32).to(dtype).to(memory_format=layout)  # the net casts its inputs

        def fn(x, t, y):
            return m(x, t, y).float()
        return fn

    def autocast_in(layout):
        m = copy.deepcopy(fp32).to(memory_format=layout)

        def fn(x, t, y):
            with torch.autocast("cuda", dtype=torch.bfloat16, cache_enabled=False):
                return m(x, t, y).float()
        return fn

    cl, nchw = torch.channels_last, torch.contiguous_format
    table = {
        "fp32 NCHW (cuDNN TF32 as default)": (lambda x, t, y: fp32(x, t, y), nchw),
        "autocast bf16, channels-last (shipped)": (autocast_in(cl), cl),
        "autocast bf16, NCHW": (autocast_in(nchw), nchw),
        "bf16 weights, channels-last": (weights_in(torch.bfloat16, cl), cl),
        "bf16 weights, NCHW": (weights_in(torch.bfloat16, nchw), nchw),
        "fp16 weights, NCHW": (weights_in(torch.float16, nchw), nchw),
        "fp16 weights, channels-last": (weights_in(torch.float16, cl), cl),
    }
    print(f"one guided U-Net call, batch {2 * batch}, CUDA graph; x 20 = a 20-step run's network time")
    for name, (fn, layout) in table.items():
        try:
            call = graphs.GraphedCall(fn, (x, t, y), layout)
            with torch.no_grad():
                out = call(x, t, y).clone()
            secs = []
            for _ in range(repeat):
                synchronize(dev)
                t0 = time.perf_counter()
                for _ in range(20):
                    call(x, t, y)
                synchronize(dev)
                secs.append(time.perf_counter() - t0)
            d = (out - ref).abs()
            print(f"  {name:40s} 20 calls {statistics.median(secs):.4f} s   |out - fp32| mean "
                  f"{d.mean():.2e} max {d.max():.2e} (|fp32| mean {ref.abs().mean():.2e})", flush=True)
        except Exception as e:  # noqa: BLE001 (report the variant and go on)
            print(f"  {name:40s} failed: {type(e).__name__}: {str(e)[:200]}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
