"""Joint video diffusion on a CPU: seconds per clip of one guided network call over a batch,
made `rows` rows at a time (video_diffusion.CPU_ROWS picks 2). Not a test: prints a table.

A guided call doubles the batch (2 rows a clip). On a CPU a big batch's activations spill out of
the caches, so the whole batch in one call costs more per clip than a few rows at a time. Each
split's output is compared with the whole call's ("same bits"): every layer works row by row,
so they differ only where the kernels chosen for another shape round differently.

    python benchmarks/bench_video_rows.py                       # shipped model, 8 clips, 2 threads
    python benchmarks/bench_video_rows.py --clips 8 --rows 1,2,4,16 --threads 4
"""

from __future__ import annotations

import argparse
import time

import torch

from desktopgen.sampling import video_diffusion


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="", help="video diffusion model (default: the shipped one)")
    p.add_argument("--clips", type=int, default=8, help="clips in the batch (2 rows each: guidance)")
    p.add_argument("--rows", default="1,2,4,16", help="rows per network call, comma-separated")
    p.add_argument("--frames", type=int, default=video_diffusion.BLOCK)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    model, card = video_diffusion.load(a.model, "cpu")
    model.eval()
    n = 2 * a.clips
    g = torch.Generator().manual_seed(0)
    x = torch.randn((n, a.frames, 48, 48), generator=g)
    t = torch.full((n,), 500.0)
    y = torch.cat([torch.arange(a.clips) % 10, torch.full((a.clips,), 10)])
    print(f"# {card.get('name')}: {a.clips} clips ({n} rows) x {a.frames} frames, "
          f"{torch.get_num_threads()} threads, best of {a.repeat} after one warm call")
    print("rows per call\tcall s\ts per clip\tvs whole batch\tsame bits")
    results, ref = {}, None
    for r in sorted({int(s) for s in a.rows.split(",")} | {n}, reverse=True):
        net = model.conditioned(rows=r)
        with torch.no_grad():
            out = net(x, t, y)
            times = []
            for _ in range(a.repeat):
                t0 = time.perf_counter()
                net(x, t, y)
                times.append(time.perf_counter() - t0)
        ref = out if ref is None else ref
        results[r] = (min(times), torch.equal(out, ref))
    whole = results[n][0]
    for r, (best, same) in sorted(results.items()):
        print(f"{r}\t{best:.3f}\t{best / a.clips:.3f}\t{best / whole:.2f}x\t{same}")


if __name__ == "__main__":
    main()
