"""Where a warm 100-image token-AR run's wall time goes outside its steps, on the host's clock:
the sampler's generator driven as bench_engine.py drives it (preview_every=0), with the time of
the set-up (decoder and graph), each step's event, the tokenizer decode's call and its return, and
the run's end. The steps are queued asynchronously, so the last step's event comes once the GPU
has finished them (the token grid's copy to the host waits for it).

    PYTHONPATH=. python tools/token_run_timeline.py --device cuda [--batch 100] [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

from desktopgen import sampling
from desktopgen.core.device import device_name, pick_device, synchronize
from desktopgen.core.requests import SampleRequest
from desktopgen.sampling import ar, seeding, tokens


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--batch", type=int, default=100)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--model", default="fmnist-token-ar-14-6")
    p.add_argument("--profile-setup", action="store_true", help="also the host's ops in the decoder's "
                   "set-up (torch.profiler), by self CPU time")
    a = p.parse_args(argv)
    dev = pick_device(a.device)
    model = sampling.load("ar", a.model, dev, sampler="tokens")[0]
    req = SampleRequest(family="ar", model=a.model, sampler="tokens", batch=a.batch)
    req = sampling.with_defaults(req, model)
    marks: dict[str, float] = {}

    def wrap(owner, name, label):
        fn = getattr(owner, name)

        def timed(*args, **kw):
            marks.setdefault(label + " called", time.perf_counter())
            out = fn(*args, **kw)
            marks.setdefault(label + " returned", time.perf_counter())
            return out
        setattr(owner, name, timed)

    wrap(ar, "_Decoder", "decoder set-up")
    wrap(ar, "_step_graph", "graph (kept) and load")
    wrap(tokens, "decode_uint8", "tokenizer decode (queued)")
    rows: dict[str, list[float]] = {}
    for i in range(a.repeat + 1):
        marks.clear()
        synchronize(dev)
        t0 = time.perf_counter()
        gen = tokens.sample(model, req, dev, preview_every=0)
        try:
            while True:
                ev = next(gen)
                if ev.step in (1, 98, model.config.seq_len - 1, model.config.seq_len):
                    marks[f"step {ev.step} event"] = time.perf_counter()
        except StopIteration:
            marks["run's end"] = time.perf_counter()
        synchronize(dev)
        marks["synchronised"] = time.perf_counter()
        if i:  # the first run is the warm-up (capture, compile)
            for k, t in marks.items():
                rows.setdefault(k, []).append((t - t0) * 1e3)
    print(f"device: {device_name(dev)}  model {a.model}  batch {a.batch}  median of {a.repeat} warm runs, "
          f"ms since the sampler was called:")
    for k, v in sorted(rows.items(), key=lambda kv: statistics.median(kv[1])):
        print(f"  {statistics.median(v):8.2f}  {k}")
    if a.profile_setup:
        from torch.profiler import ProfilerActivity, profile

        ar._Decoder(model, req, dev, req.guidance)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(5):
                ar._Decoder(model, req, dev, req.guidance)
        print("the decoder's set-up, 5 times, host ops by self CPU time:")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=14))
        synchronize(dev)
        n = model.config.seq_len
        for label, fn in (("sample_seeds", lambda: seeding.sample_seeds(req.seed, 0, a.batch)),
                          ("uniforms", lambda: seeding.uniforms(req.seed, a.batch, n, dev)),
                          ("labels", req.labels),
                          ("decoder", lambda: ar._Decoder(model, req, dev, req.guidance))):
            fn()
            t0 = time.perf_counter()
            for _ in range(20):
                fn()
            print(f"  {label}: {(time.perf_counter() - t0) / 20 * 1e3:.3f} ms (host)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
