"""Where the 20-step diffusion default spends its time, and what torch.compile would gain (issue 10:
100 images in <= 0.15 s on an H200; 0.21 s graphed): one run prints
- the sampler at --batch, graphed and eager (as benchmarks/bench_engine.py times it);
- the top CUDA kernels of one eager run (torch.profiler), by GPU time;
- the same sampler with the U-Net's forward under torch.compile (each --modes entry), replayed
  from the same CUDA graph, and how far its images are from the uncompiled ones.

    PYTHONPATH=. python tools/unet_speed_probe.py [--batch 100] [--modes default] [--device cuda]
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


if __name__ == "__main__":
    raise SystemExit(main())
