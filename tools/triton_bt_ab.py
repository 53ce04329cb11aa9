"""A/B of the Triton attention's block of slots (TritonStep.META attend_bt) on the GPU, interleaved
in one process: the steps of a 100-image token-AR run (graph replays) and the sampler's whole
warm run, medians of --rounds, for each value of --bts.

    PYTHONPATH=. python tools/triton_bt_ab.py --device cuda [--bts 64,32] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from desktopgen import sampling
from desktopgen.core.device import device_name, pick_device, synchronize
from desktopgen.core.requests import SampleRequest
from desktopgen.nets import triton_step
from desktopgen.sampling import tokens
from tools.triton_step_tune import time_steps


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto")
    p.add_argument("--bts", default="64,32")
    p.add_argument("--rounds", type=int, default=7)
    a = p.parse_args(argv)
    dev = pick_device(a.device)
    model = sampling.load("ar", "fmnist-token-ar-14", dev, sampler="tokens")[0]
    req = sampling.with_defaults(SampleRequest(family="ar", sampler="tokens", guidance=-1.0, batch=100,
                                               seed=7), model).validate()
    bts = [int(b) for b in a.bts.split(",")]
    meta = triton_step.TritonStep.META
    shipped = meta["attend_bt"]
    steps: dict[int, list[float]] = {b: [] for b in bts}
    runs: dict[int, list[float]] = {b: [] for b in bts}
    print(f"device: {device_name(dev)}  torch {torch.__version__}  token AR 14x14, batch 100")
    for r in range(a.rounds + 1):
        for b in bts:
            meta["attend_bt"] = b
            s = time_steps(model, req, dev, 1)
            synchronize(dev)
            t0 = time.perf_counter()
            sampling.run_to_end(tokens.sample(model, req, dev, preview_every=0))
            synchronize(dev)
            if r:  # round 0 warms up (compiles, captures)
                steps[b].append(s)
                runs[b].append(time.perf_counter() - t0)
    meta["attend_bt"] = shipped
    for b in bts:
        print(f"  attend_bt={b}: steps median {statistics.median(steps[b]) * 1e3:.2f} ms, whole run median "
              f"{statistics.median(runs[b]) * 1e3:.2f} ms (best {min(runs[b]) * 1e3:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
