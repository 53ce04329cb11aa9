"""Engine speed: time per step and per finished image, batch 1 and 64, peak memory, per family
and sampler, on the CPU and (when present) CUDA. Prints tables; not a test.

    python benchmarks/bench_engine.py --device cpu
    python benchmarks/bench_engine.py --device cpu --batches 1 --repeat 0 --samplers ddim  # quick
    python benchmarks/bench_engine.py --device cuda --reference   # + issue 10's batch-100 rows
    python benchmarks/bench_engine.py --only tokens               # issue 9's token AR rows alone
    python benchmarks/bench_engine.py --device cuda --batches 1 --samplers dpmpp-2m --compile
                                        # + the U-Net samplers under torch.compile (first run ~20 s)

Each figure is the median of --repeat runs after one warm-up run (the warm-up's own time, which
includes CUDA graph capture and kernel selection, is printed as "first run"). Rows marked
"before" run the code path that an optimisation replaced, in the same process, so that a shared,
noisy machine slows both alike. Few-step rows use random weights when fmnist-flow is not
trained yet (speed does not depend on the weights).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from desktopgen import nets, sampling
from desktopgen.core import checkpoints
from desktopgen.core.device import device_name, pick_device, synchronize
from desktopgen.core.requests import SampleRequest
from desktopgen.sampling import ar, diffusion, flow, maskgit, tokens


def timed(run, dev) -> tuple[float, int, float]:
    """Seconds, peak memory and CPU seconds of this process for one run; `run()` returns a
    sampler generator. On a shared CPU the CPU seconds (with one thread) are what the run would
    take on an idle core; the wall time then counts the other processes' turns too."""
    synchronize(dev)
    t0, c0 = time.perf_counter(), time.process_time()
    result = sampling.run_to_end(run())
    synchronize(dev)
    return time.perf_counter() - t0, result.peak_memory, time.process_time() - c0


def bench(run, steps: int, batch: int, dev, repeat: int) -> dict:
    first = timed(run, dev)
    runs = [timed(run, dev) for _ in range(repeat)] or [first]  # repeat 0: one cold run
    total = statistics.median(r[0] for r in runs)
    return {"first": first[0], "total": total, "per_step_ms": 1000 * total / steps,
            "per_image_s": total / batch, "peak_mib": max(r[1] for r in runs) / 2**20,
            "cpu_per_image_s": statistics.median(r[2] for r in runs) / batch}


def shipped(name: str) -> bool:
    """Whether the model's folder is whole (a trimmed checkout, e.g. the one sent to a GPU machine,
    may lack weights: those rows are skipped, the others still run)."""
    try:
        checkpoints.check_folder(name, verify=False)
        return True
    except checkpoints.CheckpointError:
        return False


def flow_model(dev):
    """fmnist-flow if trained, else a random-weight shortcut U-Net of the recipe's size."""
    if shipped("fmnist-flow"):
        return sampling.load("diffusion", "fmnist-flow", dev)[0], "fmnist-flow"
    torch.manual_seed(0)
    model = nets.build("shortcut_unet", {}).to(dev).eval()
    return model, "random weights"


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


def diffusers_unet_reference(dev, batch: int, steps: int, graphed: bool = False) -> float | None:
    """Seconds for `steps` guided calls (batch 2 x `batch`) of a diffusers UNet2DModel the size of
    our U-Net (64-128-128 channels, 2 blocks per level, attention at 7 x 7, 11 class embeddings),
    bf16 autocast on CUDA, channels-last; the solver's arithmetic is left out (it is tiny)."""
    try:
        from diffusers import UNet2DModel
    except ImportError:
        return None
    m = UNet2DModel(sample_size=28, in_channels=1, out_channels=1, block_out_channels=(64, 128, 128),
                    layers_per_block=2, down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
                    up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"), num_class_embeds=11,
                    norm_num_groups=32).to(dev).eval()
    if dev.type == "cuda":
        m = m.to(memory_format=torch.channels_last)
    x = torch.randn(2 * batch, 1, 28, 28, device=dev)
    y = torch.arange(2 * batch, device=dev) % 11
    t = torch.full((2 * batch,), 500.0, device=dev)
    cast = (lambda: torch.autocast("cuda", torch.bfloat16, cache_enabled=False)) if dev.type == "cuda" \
        else torch.no_grad

    def net(x_in, t_in):
        with cast():
            return m(x_in, t_in, class_labels=y).sample

    call = net
    if graphed and dev.type == "cuda":
        from desktopgen.sampling import graphs
        call = graphs.capture(net, (x, t), torch.channels_last)

    def run():
        synchronize(dev)
        t0 = time.perf_counter()
        with torch.no_grad():
            for _ in range(steps):
                call(x, t)
        synchronize(dev)
        return time.perf_counter() - t0
    run()
    return statistics.median(run() for _ in range(3))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="auto")
    ap.add_argument("--batches", default="1,64")
    ap.add_argument("--repeat", type=int, default=3, help="timed runs after the warm-up (0: none)")
    ap.add_argument("--samplers", default="dpmpp-2m,ddim,ddpm", help="diffusion samplers to time")
    ap.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    ap.add_argument("--reference", action="store_true", help="also the issues' batch-100 references")
    ap.add_argument("--reference-batch", type=int, default=100, help="(a smaller one: a smoke test)")
    ap.add_argument("--compile", action="store_true",
                    help="CUDA: also the U-Net samplers with torch.compile inside the graph")
    ap.add_argument("--token-model", default="", help="the token AR rows' model (default: the shipped one)")
    ap.add_argument("--only", choices=("", "tokens", "flow"), default="",
                    help="tokens: the token AR and MaskGIT rows alone; flow: the few-step rows alone")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = pick_device(a.device)
    batches = [int(b) for b in a.batches.split(",") if b]  # "": only the --reference rows
    print(f"device: {device_name(dev)}  torch {torch.__version__}")
    if a.only == "tokens":
        return token_rows(a, dev, batches)
    if a.only == "flow":
        return flow_rows(a, dev, batches)
    dm, _ = sampling.load("diffusion", "", dev)
    # the pixel AR rows need its model; without it (a trimmed checkout) they are skipped
    am = sampling.load("ar", "", dev)[0] if shipped("fmnist-pixel-ar") else None
    if am is None:
        print("fmnist-pixel-ar not found: its rows are skipped")
    fm, fm_name = flow_model(dev)
    header()

    def diff_run(req, **kw):
        return lambda: diffusion.sample(dm, sampling.with_defaults(req), dev, preview_every=0, **kw)

    def ar_run(req, **kw):
        return lambda: ar.sample(am, sampling.with_defaults(req), dev, preview_every=0, **kw)

    def flow_run(req, **kw):
        return lambda: flow.sample(fm, sampling.with_defaults(req), dev, preview_every=0, **kw)

    for b in batches:
        for s in a.samplers.split(","):
            req = SampleRequest(family="diffusion", sampler=s, batch=b)
            g = sampling.with_defaults(req).guidance
            row(f"diffusion {s} 20 steps g={g:g}", b, bench(diff_run(req), 20, b, dev, a.repeat))
            if dev.type == "cuda":
                row(f"diffusion {s} 20 steps g={g:g}, eager (no graph)", b,
                    bench(diff_run(req, cuda_graph=False), 20, b, dev, a.repeat))
                if a.compile:
                    r = bench(diff_run(req, compile=True), 20, b, dev, a.repeat)
                    row(f"diffusion {s} 20 steps g={g:g}, graph + torch.compile", b, r)
                    if b == 100 and s == "dpmpp-2m":
                        print(f"  target: the 20-step default, 100 images <= 0.15 s on an H200: "
                              f"compiled {r['total']:.3f} s ({r['total'] / 0.15:.2f}x the target)")
        few_step_rows(a, dev, b, fm_name, flow_run)
        if am is None:
            continue
        req = SampleRequest(family="ar", batch=b)
        row("pixel AR 784 steps g=1.5", b, bench(ar_run(req), 784, b, dev, a.repeat))
        if dev.type == "cuda":
            row("pixel AR g=1.5, eager (no CUDA graph)", b,
                bench(ar_run(req, cuda_graph=False), 784, b, dev, a.repeat))
        else:
            row("pixel AR g=1.5, before: static masked cache", b,
                bench(ar_run(req, filled_cache=False), 784, b, dev, a.repeat))
    if shipped("fmnist-token-ar-14-6"):
        token_rows(a, dev, batches)
    if a.reference:
        reference(a, dev, dm, am, fm, fm_name, diff_run, ar_run, flow_run)


def header() -> None:
    print(f"\n{'run':48s} {'batch':>5s} {'first s':>8s} {'total s':>8s} {'ms/step':>8s} "
          f"{'s/image':>9s} {'peak MiB':>9s} {'CPU s/image':>11s}", flush=True)


def row(name: str, b: int, r: dict) -> None:
    """One measured row, printed at once: a long CPU run still shows what it did."""
    print(f"{name:48s} {b:5d} {r['first']:8.3f} {r['total']:8.3f} {r['per_step_ms']:8.2f} "
          f"{r['per_image_s']:9.4f} {r['peak_mib']:9.1f} {r['cpu_per_image_s']:11.4f}", flush=True)


def batch_sizes(a, dev, batches) -> list[int]:
    """The batches, plus the reference batch on CUDA (the issues' H200 targets are at 100)."""
    return sorted({*batches, a.reference_batch} if dev.type == "cuda" else set(batches))


def few_step_rows(a, dev, b: int, fm_name: str, flow_run) -> None:
    """Few-step at 4 and 1 steps, graphed and (on CUDA) eager; at the reference batch on CUDA,
    issue 10's target: 100 images at <= 4 steps in <= 0.05 s."""
    for n in (4, 1):
        req = SampleRequest(family="diffusion", sampler="few-step", steps=n, batch=b)
        g = sampling.with_defaults(req).guidance
        r = bench(flow_run(req), n, b, dev, a.repeat)
        row(f"few-step {n} steps g={g:g} ({fm_name})", b, r)
        if dev.type == "cuda":
            row(f"few-step {n} steps g={g:g}, eager (no graph)", b,
                bench(flow_run(req, cuda_graph=False), n, b, dev, a.repeat))
            if getattr(a, "compile", False):
                row(f"few-step {n} steps g={g:g}, graph + torch.compile", b,
                    bench(flow_run(req, compile=True), n, b, dev, a.repeat))
            if b == 100 and n == 4:
                print(f"  target: 100 images at <= 4 steps <= 0.05 s on an H200: "
                      f"{r['total']:.3f} s ({r['total'] / 0.05:.2f}x the target)")


def flow_rows(a, dev, batches) -> None:
    """--only flow: the few-step rows alone, at the batches and the reference batch."""
    fm, fm_name = flow_model(dev)

    def flow_run(req, **kw):
        return lambda: flow.sample(fm, sampling.with_defaults(req), dev, preview_every=0, **kw)

    header()
    for b in batch_sizes(a, dev, batches):
        few_step_rows(a, dev, b, fm_name, flow_run)


def token_rows(a, dev, batches) -> None:
    """Issue 9: the raster token transformer (one step per code, then the tokenizer decodes), beside
    the issue's targets: 100 images on an H200 in <= 0.05 s; CPU batch 1 <= 0.3 s per image."""
    tm, card = sampling.load("ar", getattr(a, "token_model", ""), dev, sampler="tokens")
    print(f"\n{card['name']} ({card['parameters'] / 1e6:.1f}M parameters, tokenizer {tm.config.tokenizer})")
    header()

    def run(req, **kw):
        return lambda: tokens.sample(tm, req, dev, preview_every=0, **kw)

    for b in batch_sizes(a, dev, batches):
        req = sampling.with_defaults(SampleRequest(family="ar", sampler="tokens", batch=b), tm)
        r = bench(run(req), req.steps, b, dev, a.repeat)
        row(f"token AR {req.steps} steps + decode g={req.guidance:g}", b, r)
        if dev.type == "cuda":
            e = bench(run(req, cuda_graph=False), req.steps, b, dev, a.repeat)
            row(f"token AR g={req.guidance:g}, eager (no CUDA graph)", b, e)
            if b == 100:
                print(f"  target: 100 images <= 0.05 s on an H200: graphed {r['total']:.3f} s "
                      f"({r['total'] / 0.05:.2f}x the target), eager {e['total']:.3f} s")
        elif b == 1:
            print(f"  target: CPU batch 1 <= 0.3 s per image: {r['per_image_s']:.3f} s wall, "
                  f"{r['cpu_per_image_s']:.3f} CPU s ({r['per_image_s'] / 0.3:.2f}x the target)")
    if not shipped("fmnist-maskgit"):
        print("fmnist-maskgit not found: its rows are skipped")
        return
    mm, _ = sampling.load("ar", "", dev, sampler="maskgit")

    def mrun(req, **kw):
        return lambda: maskgit.sample(mm, sampling.with_defaults(req), dev, preview_every=0, **kw)

    default = sampling.with_defaults(SampleRequest(family="ar", sampler="maskgit")).steps
    for b in batch_sizes(a, dev, batches):
        for n in sorted({default, 8}, reverse=True):  # the default, and 8 (the schedule's low end)
            req = SampleRequest(family="ar", sampler="maskgit", steps=n, batch=b)
            full = sampling.with_defaults(req)
            r = bench(mrun(req), n, b, dev, a.repeat)
            row(f"MaskGIT {n} steps + decode g={full.guidance:g}", b, r)
            if dev.type == "cuda":
                e = bench(mrun(req, cuda_graph=False), n, b, dev, a.repeat)
                row(f"MaskGIT {n} steps g={full.guidance:g}, eager (no CUDA graph)", b, e)
                if b == 100:
                    print(f"  target: 100 images <= 0.03 s on an H200: graphed {r['total']:.3f} s "
                          f"({r['total'] / 0.03:.2f}x the target), eager {e['total']:.3f} s")


def reference(a, dev, dm, am, fm, fm_name, diff_run, ar_run, flow_run) -> None:
    """Issue 10's batch-100 figures: eager vs graphed vs a same-size diffusers UNet2DModel."""
    n = a.reference_batch
    print(f"\nissue references (batch {n}; issue 10 targets on an H200, batch 100: 4 steps "
          "<= 0.05 s, 20-step default <= 0.15 s):")
    for steps in (20, 4):
        req = SampleRequest(family="diffusion", sampler="ddim", steps=steps, guidance=2.0, batch=n)
        eager = bench(diff_run(req, cuda_graph=False), steps, n, dev, a.repeat)["total"]
        graph = bench(diff_run(req), steps, n, dev, a.repeat)["total"]
        print(f"  DDIM {steps} + guidance, {n} images: eager {eager:.3f} s, graphed {graph:.3f} s "
              f"({'CUDA graph' if dev.type == 'cuda' else 'no graph off CUDA'}), "
              f"ratio {eager / graph:.2f}x")
        for graphed in (False, True):
            ref = diffusers_unet_reference(dev, n, steps, graphed)
            what = "graphed" if graphed else "eager"
            print(f"    diffusers UNet2DModel (same size), {steps} guided calls, {what}: "
                  f"{'n/a (diffusers not installed)' if ref is None else f'{ref:.3f} s'}"
                  + ("" if ref is None else f"; ours graphed / theirs: {graph / ref:.2f}"))
    for steps in (4, 1):
        req = SampleRequest(family="diffusion", sampler="few-step", steps=steps, batch=n)
        g = sampling.with_defaults(req).guidance
        graph = bench(flow_run(req), steps, n, dev, a.repeat)["total"]
        eager = bench(flow_run(req, cuda_graph=False), steps, n, dev, a.repeat)["total"]
        print(f"  few-step {steps} steps g={g:g} ({fm_name}), {n} images: eager {eager:.3f} s, "
              f"graphed {graph:.3f} s ({'CUDA graph' if dev.type == 'cuda' else 'no graph off CUDA'})"
              + (f"; target <= 0.05 s: {graph / 0.05:.2f}x" if steps == 4 else ""))
    if am is None:
        return
    r = bench(ar_run(SampleRequest(family="ar", guidance=1.0, batch=n)), 784, n, dev, a.repeat)
    print(f"  pixel AR no guidance, {n} images: {r['total']:.3f} s (reference, 100: 3.1 s eager KV cache)")
    r = bench(ar_run(SampleRequest(family="ar", guidance=1.5, batch=n)), 784, n, dev, a.repeat)
    print(f"  pixel AR guidance 1.5, {n} images: {r['total']:.3f} s")
    hf = hf_gpt2_reference(dev, n)
    print(f"  HF transformers GPT-2 (same size) generate(), {n} x 784 tokens: "
          f"{'n/a (transformers not installed)' if hf is None else f'{hf:.3f} s'}")


if __name__ == "__main__":
    main()
