"""Launch parameters of the Triton decode step (nets/triton_step.py, TritonStep.META), timed on
the GPU: from the shipped settings, one parameter changed at a time, the 196 steps of a token-AR
run (batch --batch, the shipped guidance) as per-step CUDA graph replays, median of --repeat.
Then the run's other costs, each alone: the sampler's per-step memory read (MemoryProbe.read),
a graph replay's host cost, the decoder's set-up, and the tokenizer's decode of the finished codes
(as shipped, and under bf16 autocast).

    PYTHONPATH=. python tools/triton_step_tune.py --device cuda [--batch 100] [--model fmnist-token-ar-14]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

import torch

from desktopgen import sampling
from desktopgen.core.device import MemoryProbe, device_name, pick_device, synchronize
from desktopgen.core.flags import DECODE_FORM_ENV
from desktopgen.core.requests import SampleRequest
from desktopgen.nets import triton_step
from desktopgen.nets.pixel_ar import KVCache
from desktopgen.sampling import ar, tokens
from desktopgen.sampling.tokens import decode_uint8, to_uint8

VARIANTS = {  # one key's values, or {key: value, ...} changed together
    "pdl": [False],
    "attend_bt": [64],
    "qkv_warps": [4],
    "before": [{"pdl": False, "attend_bt": 64, "qkv_warps": 4}],  # the settings of 2026-12-01 g-h
}


def time_steps(model, req, dev, repeat) -> float:
    """Median seconds of a run's steps (graph replays) with TritonStep.META as it is now."""
    dec = ar._Decoder(model, req, dev, req.guidance)
    graph = ar._capture(dec, dev)
    assert isinstance(dec.cache.static, triton_step.TritonStep)
    return timed_reset(dec, lambda: [graph.replay() for _ in range(model.config.seq_len)], dev, repeat)


def timed(fn, dev, n) -> float:
    fn()
    synchronize(dev)
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    synchronize(dev)
    return (time.perf_counter() - t0) / n


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--model", default="fmnist-token-ar-14-6")
    p.add_argument("--write-best", default="", help="write the settings that beat the shipped ones "
                   "together, if they still do (JSON, for tools/with_triton_meta.py)")
    p.add_argument("--no-variants", action="store_true", help="the run's other costs only")
    a = p.parse_args(argv)
    dev = pick_device(a.device)
    KVCache.LEAN, KVCache.TRITON = True, True
    model = sampling.load("ar", a.model, dev, sampler="tokens")[0]
    req = sampling.with_defaults(SampleRequest(family="ar", model=a.model, sampler="tokens", guidance=-1.0,
                                               batch=a.batch, seed=7), model).validate()
    steps = model.config.seq_len
    print(f"device: {device_name(dev)}  torch {torch.__version__}  model {a.model}  batch {a.batch}  "
          f"guidance {req.guidance}  {steps} steps")
    meta = triton_step.TritonStep.META
    base_meta = dict(meta)
    base = time_steps(model, req, dev, a.repeat)
    print(f"  shipped {base_meta}: {base * 1e3:.2f} ms ({base * 1e6 / steps:.1f} us a step)", flush=True)
    best = {}
    for key, values in ({} if a.no_variants else VARIANTS).items():
        for v in values:
            change = v if isinstance(v, dict) else {key: v}
            label = " ".join(f"{k}={x}" for k, x in change.items())
            meta.clear(), meta.update(base_meta, **change)
            try:
                t = time_steps(model, req, dev, a.repeat)
            except Exception as e:  # noqa: BLE001 (a launch setting the kernel cannot take: report, go on)
                print(f"  {label}: failed ({type(e).__name__}: {str(e)[:120]})")
                continue
            mark = " <" if t < base * 0.98 else ""
            print(f"  {label}: {t * 1e3:.2f} ms ({t * 1e6 / steps:.1f} us a step){mark}", flush=True)
            if t < best.get(key, (base, None))[0] * 0.98:
                best[key] = (t, change)
    meta.clear(), meta.update(base_meta)
    for _, change in best.values():
        meta.update(change)
    together = {}
    if best:
        t = time_steps(model, req, dev, a.repeat)
        print(f"  every better setting together {dict(meta)}: {t * 1e3:.2f} ms "
              f"({t * 1e6 / steps:.1f} us a step)")
        if t < base * 0.98:
            together = {k: v for k, v in meta.items() if base_meta[k] != v}
    if a.write_best:
        Path(a.write_best).write_text(json.dumps(together))
        print(f"  wrote {together} to {a.write_best}")
    meta.clear(), meta.update(base_meta)

    print("other costs of a run:")
    probe = MemoryProbe(dev)
    print(f"  MemoryProbe.read: {timed(probe.read, dev, 200) * 1e6:.1f} us")
    dec = ar._Decoder(model, req, dev, req.guidance)
    graph = ar._capture(dec, dev)
    setup = timed(lambda: ar._Decoder(model, req, dev, req.guidance), dev, 5)
    print(f"  decoder set-up: {setup * 1e3:.2f} ms")
    t0 = time.perf_counter()
    for _ in range(steps):
        graph.replay()
    host = time.perf_counter() - t0
    synchronize(dev)
    done = time.perf_counter() - t0
    print(f"  {steps} replays: host {host * 1e3:.2f} ms, done after {done * 1e3:.2f} ms")
    for k in (1, 7, 14, 28, 49):  # graphs of k steps each (pos lives on the device: replayable)
        if steps % k:
            continue
        dk = ar._Decoder(model, req, dev, req.guidance)
        t0 = time.perf_counter()
        gk = ar._capture(dk, dev, k)
        made = time.perf_counter() - t0
        t = timed_reset(dk, lambda gk=gk, k=k: [gk.replay() for _ in range(steps // k)], dev, a.repeat)
        print(f"  {steps // k} replays of a {k}-step graph: {t * 1e3:.2f} ms (capture {made * 1e3:.0f} ms)")
        del gk, dk
    g = model.config.grid
    codes = dec.pixels.view(-1, g, g)
    tok = model.tokenizer
    print(f"  tokenizer decode: {timed(lambda: tok.decode(codes), dev, 10) * 1e3:.2f} ms, to uint8 on the "
          f"host: {timed(lambda: to_uint8(tok.decode(codes)), dev, 10) * 1e3:.2f} ms")
    for form in tokens.DECODE_FORMS:  # the sampler's decode to the host, in each form
        os.environ[DECODE_FORM_ENV] = form
        print(f"  decode_uint8 to the host, form {form}: graphed "
              f"{timed(lambda: decode_uint8(tok, codes).cpu(), dev, 20) * 1e3:.2f} ms, eager "
              f"{timed(lambda: decode_uint8(tok, codes, cuda_graph=False).cpu(), dev, 20) * 1e3:.2f} ms")
    os.environ.pop(DECODE_FORM_ENV)
    qz = tok.quantizer.lookup(codes.long())
    print(f"  decoder network alone: {timed(lambda: tok.decoder(qz), dev, 10) * 1e3:.2f} ms; under bf16 "
          f"autocast: {timed(lambda: autocast(tok.decoder, qz, dev), dev, 10) * 1e3:.2f} ms")
    return 0


def timed_reset(dec, fn, dev, repeat) -> float:
    """Median seconds of fn() from a reset decoder."""
    secs = []
    for _ in range(repeat):
        dec.reset()
        synchronize(dev)
        t0 = time.perf_counter()
        fn()
        synchronize(dev)
        secs.append(time.perf_counter() - t0)
    return statistics.median(secs)


def autocast(net, z, dev):
    with torch.autocast(dev.type, dtype=torch.bfloat16):
        return net(z)


if __name__ == "__main__":
    raise SystemExit(main())
