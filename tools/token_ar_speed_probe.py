"""Where a raster token AR step spends its time, and what would make 196 steps fast (issue 9: 100
images in <= 0.05 s on an H200; a 14x14 code means 196 steps, where the 7x7 code's 49 took
0.045 s). Random weights (speed does not depend on training) or trained models. For each
--configs entry (layers x width x heads, or a model's name) one run prints, at --batch with
guidance 2 and previews off:
- the token sampler as shipped (a CUDA graph per step) and eager;
- the same with the decode step's attention as plain matmuls (q has length 1) instead of
  scaled_dot_product_attention's memory-efficient kernel;
- the step under torch.compile, replayed from the same per-step CUDA graph;
- the whole run (every step) captured as one CUDA graph (no host work between steps);
- the top CUDA kernels of a few eager steps (torch.profiler), and kernels per step.
On a CPU (--device cpu --batch 1) the rows are the CPU step as shipped (FilledStep), the module
path it replaced and the opt-in native GELU kernel, timed interleaved. Each row also says whether
its tokens equal the first row's (the variants must not change
what is sampled beyond bf16 rounding; exact equality is reported, not assumed).

    PYTHONPATH=. python tools/token_ar_speed_probe.py --device cuda [--batch 100]
        [--configs 8x256x8,4x256x8] [--seq 196] [--tokenizer fmnist-tokenizer-14]
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import contextmanager

import torch

from desktopgen import nets, sampling
from desktopgen.core.device import device_name, pick_device, synchronize
from desktopgen.core.requests import SampleRequest
from desktopgen.nets import pixel_ar
from desktopgen.sampling import ar, tokens


def matmul_attention(q, k, v, attn_mask=None, **_):
    """Attention of a length-1 query as two batched matmuls and a softmax (deterministic)."""
    s = (q @ k.transpose(-1, -2)) * (q.shape[-1] ** -0.5)
    if attn_mask is not None:
        s = s.masked_fill(~attn_mask, float("-inf"))
    return s.softmax(-1) @ v


@contextmanager
def patched(module, name, value):
    old = getattr(module, name)
    setattr(module, name, value)
    try:
        yield
    finally:
        setattr(module, name, old)


def compiled_capture(dec, device):
    """ar._capture with the step under torch.compile (inside the same CUDA graph)."""
    dec.step = torch.compile(dec.step, dynamic=False)
    return ar._capture(dec, device)


class WholeRun:
    """Every step of a run captured as one CUDA graph: replay() once does all `total` steps."""

    def __init__(self, dec, device, total):
        ar._capture(dec, device)  # warms up and resets, as the sampler does
        self.whole = torch.cuda.CUDAGraph()
        stream = torch.cuda.Stream(device)
        stream.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(stream):
            dec.step()
        torch.cuda.current_stream(device).wait_stream(stream)
        dec.reset()
        with torch.cuda.graph(self.whole):
            for _ in range(total):
                dec.step()
        dec.reset()


def run_whole(model, req, device):
    """A token run with all steps in one graph (no events between steps): codes (B, L)."""
    req = req.validate()
    dec = ar._Decoder(model, req, device, 2.0)
    whole = WholeRun(dec, device, model.config.seq_len)
    whole.whole.replay()
    tok = model.tokenizer
    g = model.config.grid
    return tok.decode(dec.pixels.view(-1, g, g)), dec.pixels.clone()


def timed(fn, dev, repeat):
    out = fn()
    secs = []
    for _ in range(repeat):
        synchronize(dev)
        t0 = time.perf_counter()
        out = fn()
        synchronize(dev)
        secs.append(time.perf_counter() - t0)
    return statistics.median(secs), out


def cpu_rows(model, req, dev, repeat):
    """CPU rows, timed interleaved (round-robin, median of `repeat`; a shared CPU's load moves
    under sequential timings): the module path (Block.decode_at per layer, what decode_step_at
    ran before FilledStep), FilledStep as shipped, and FilledStep with the native GELU kernel."""
    def module_path(self, token, y, p, cache):
        return type(self).decode_step_at_blocks(self, token, y, p, cache)

    def run():
        return sampling.run_to_end(tokens.sample(model, req, dev, preview_every=0)).extra["tokens"]

    variants = {"CPU module path (Block.decode_at)": (lambda: patched(type(model), "decode_step_at",
                                                                      module_path)),
                "CPU FilledStep (shipped)": (lambda: patched(pixel_ar.FilledStep, "NATIVE_GELU", False)),
                "CPU FilledStep + native GELU": (lambda: patched(pixel_ar.FilledStep, "NATIVE_GELU", True))}
    secs = {k: [] for k in variants}
    out = {}
    for _ in range(repeat + 1):  # the first round warms up
        for name, ctx in variants.items():
            with ctx():
                t0 = time.perf_counter()
                out[name] = run()
                secs[name].append(time.perf_counter() - t0)
    return [(name, statistics.median(secs[name][1:]), out[name]) for name in variants]


def probe(spec, tok, req, dev, dtype, a) -> None:
    """One --configs entry (LAYERSxWIDTHxHEADS, random weights; or a model's name): its rows and
    its kernel profile."""
    if "x" in spec and spec.replace("x", "").isdigit():
        n_layer, n_embd, n_head = map(int, spec.split("x"))
        torch.manual_seed(0)
        model = nets.build("token_ar", {"n_layer": n_layer, "n_embd": n_embd, "n_head": n_head,
                                        "seq_len": a.seq, "tokenizer": a.tokenizer})
        model = model.to(dev, dtype).eval().attach_tokenizer(tok)
    else:
        model = sampling.load("ar", spec, dev, sampler="tokens")[0]
    steps = model.config.seq_len

    def shipped(**kw):
        return lambda: sampling.run_to_end(tokens.sample(model, req, dev, preview_every=0, **kw))

    rows = []
    if dev.type == "cuda":
        base_t, base = timed(shipped(), dev, a.repeat)
        ref = base.extra["tokens"]
        rows.append(("per-step graph (shipped)", base_t, ref))
        t, out = timed(shipped(cuda_graph=False), dev, max(1, a.repeat // 2))
        rows.append(("eager", t, out.extra["tokens"]))
        with patched(pixel_ar, "attention", matmul_attention):
            t, out = timed(shipped(), dev, a.repeat)
            rows.append(("per-step graph, matmul attention", t, out.extra["tokens"]))
            t, out = timed(lambda: run_whole(model, req, dev), dev, a.repeat)
            rows.append(("whole-run graph, matmul attention", t, out[1].view(ref.shape).cpu()))
        t, out = timed(lambda: run_whole(model, req, dev), dev, a.repeat)
        rows.append(("whole-run graph", t, out[1].view(ref.shape).cpu()))
        if not a.no_compile:
            try:
                with patched(ar, "_capture", compiled_capture), \
                        patched(tokens.ar, "_capture", compiled_capture):
                    t0 = time.perf_counter()
                    t, out = timed(shipped(), dev, a.repeat)
                    rows.append((f"per-step graph, compiled step (first {time.perf_counter() - t0:.0f} s "
                                 f"incl. compile)", t, out.extra["tokens"]))
            except Exception as e:  # noqa: BLE001 (report, go on)
                print(f"  compile failed: {str(e)[:300]}")
    else:  # the CPU step (FilledStep) against the module path it replaced, and native GELU
        rows[:] = cpu_rows(model, req, dev, a.repeat)
        base_t, ref = rows[0][1], rows[0][2]
    params = sum(q.numel() for q in model.parameters()) / 1e6
    print(f"\n{spec}  ({params:.2f} M parameters)")
    for name, t, toks in rows:
        same = torch.equal(torch.as_tensor(toks).long().view(-1), torch.as_tensor(ref).long().view(-1))
        print(f"  {name:60s} {t * 1e3:8.1f} ms  {t * 1e3 / steps:6.3f} ms/step  "
              f"{base_t / t:5.2f}x  tokens {'==' if same else '!='} first row")
    if dev.type == "cuda":
        dec = ar._Decoder(model, req.validate(), dev, 2.0)
        for _ in range(3):
            dec.step()
        synchronize(dev)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
            for _ in range(10):
                dec.step()
            synchronize(dev)
        events = [e for e in prof.key_averages() if e.device_type == torch.autograd.DeviceType.CUDA]
        n = sum(e.count for e in events) / 10
        total = sum(e.self_device_time_total for e in events) / 10
        print(f"  eager step: {n:.0f} kernels, {total:.0f} us of GPU time per step")
        for e in sorted(events, key=lambda e: -e.self_device_time_total)[:a.top]:
            print(f"    {e.self_device_time_total / 10:8.1f} us  x{e.count / 10:4.1f}  {e.key[:90]}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--configs", default="8x256x8,4x256x8")
    p.add_argument("--seq", type=int, default=196)
    p.add_argument("--tokenizer", default="fmnist-tokenizer-14")
    p.add_argument("--no-compile", action="store_true")
    p.add_argument("--top", type=int, default=12)
    a = p.parse_args(argv)
    dev = pick_device(a.device)
    tok = sampling._load_tokenizer(a.tokenizer, dev)
    dtype = torch.bfloat16 if dev.type == "cuda" else torch.float32
    req = SampleRequest(family="ar", sampler="tokens", guidance=2.0, batch=a.batch, seed=7)
    print(f"device: {device_name(dev)}  torch {torch.__version__}  batch {a.batch}  guidance 2  "
          f"{a.seq} steps  tokenizer {a.tokenizer}")
    for spec in a.configs.split(","):
        probe(spec, tok, req, dev, dtype, a)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
