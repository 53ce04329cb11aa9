"""DDIM 20 steps, guidance 2, batch 100 on the CPU: one U-Net call per step against CPU_ROWS rows
per call, alternating in one process; the images compared."""
import time

import numpy as np
import torch

from desktopgen.core import checkpoints
from desktopgen.core.requests import SampleRequest
from desktopgen.sampling import diffusion, run_to_end

torch.set_num_threads(2)
m, _ = checkpoints.load_model("fmnist-diffusion", "cpu")
m.eval()
req = SampleRequest(family="diffusion", sampler="ddim", steps=20, batch=100, seed=0, guidance=2.0)
out = {}
for rows in [None, 50, None, 50]:
    diffusion.CPU_ROWS = rows
    t0 = time.perf_counter()
    r = run_to_end(diffusion.sample(m, req, "cpu", preview_every=0))
    dt = time.perf_counter() - t0
    out.setdefault(rows, []).append((dt, r.images))
    print(f"rows per call {rows or 'all (200)'}: {dt:.1f} s", flush=True)
a, b = out[None][0][1], out[50][0][1]
print("same images:", np.array_equal(a, b), "pixels differing:", int((a != b).sum()), "of", a.size)
print(f"ratio (best of 2): {min(t for t, _ in out[50]) / min(t for t, _ in out[None]):.2f}x")
