"""One guided call of the image U-Net on 200 rows (a batch of 100 doubled for guidance) against
the same rows split into calls of 100, 50, 25, 8 and 2; argv[1]: threads."""
import sys
import time

import torch

from desktopgen.core import checkpoints

torch.set_num_threads(int(sys.argv[1]))
for name in ["fmnist-diffusion", "fmnist-flow"]:
    try:
        m, card = checkpoints.load_model(name, "cpu")
    except Exception as e:  # noqa: BLE001 - a model missing from the device tree
        print(name, e)
        continue
    m.eval()
    if name == "fmnist-flow":  # its forward also takes the step size: not timed here
        print(name, "skipped (shortcut signature)")
        continue
    n = 200
    x, t = torch.randn(n, 1, 28, 28), torch.full((n,), 500.0)
    y = torch.cat([torch.arange(100) % 10, torch.full((100,), 10)])

    def run(r, m=m, x=x, t=t, y=y, n=n):
        return torch.cat([m(x[i:i + r], t[i:i + r], y[i:i + r]) for i in range(0, n, r)])

    res = {}
    for r in [200, 100, 50, 25, 8, 2]:
        with torch.no_grad():
            out = run(r)
            ts = []
            for _ in range(3):
                t0 = time.perf_counter()
                run(r)
                ts.append(time.perf_counter() - t0)
        res[r] = (min(ts), out)
    for r, (b, o) in res.items():
        print(name, sys.argv[1], "threads rows", r, f"{b:.3f}s", f"{b / res[200][0]:.2f}x",
              torch.equal(o, res[200][1]), flush=True)
