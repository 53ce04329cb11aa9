import sys, time, torch
from desktopgen.core import checkpoints
torch.set_num_threads(int(sys.argv[1]))
for name in ["fmnist-diffusion", "fmnist-flow"]:
    try:
        m, card = checkpoints.load_model(name, "cpu")
    except Exception as e:
        print(name, e); continue
    m.eval()
    n = 200
    x = torch.randn(n, 1, 28, 28); t = torch.full((n,), 500.); y = torch.cat([torch.arange(100) % 10, torch.full((100,), 10)])
    args = (x, t, y)
    import inspect
    if "d" in inspect.signature(m.forward).parameters:
        args = (x, t / 1000, torch.full((n,), 0.25), y) if False else None
    if args is None:
        print(name, "skipped (shortcut signature)"); continue
    res = {}
    for r in [200, 100, 50, 25, 8, 2]:
        with torch.no_grad():
            out = torch.cat([m(x[i:i+r], t[i:i+r], y[i:i+r]) for i in range(0, n, r)])
            ts = []
            for _ in range(3):
                t0 = time.perf_counter(); torch.cat([m(x[i:i+r], t[i:i+r], y[i:i+r]) for i in range(0, n, r)]); ts.append(time.perf_counter() - t0)
        res[r] = (min(ts), out)
    for r, (b, o) in res.items():
        print(name, sys.argv[1], "threads rows", r, f"{b:.3f}s", f"{b/res[200][0]:.2f}x", torch.equal(o, res[200][1]), flush=True)
