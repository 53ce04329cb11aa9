"""This wave's 1,000-sample quality rows on a CPU (no device time was left for them): one JSON per
model under --out, each row with the floor beside it, as `desktopgen eval --json` writes them.

    PYTHONPATH=. python tools/cpu_evals.py --out benchmarks/results/cpu-2026-11-30 [--only NAME,...]

A run is keyed by name; finished ones are skipped (rerun with --redo NAME). On a 2-core CPU one
U-Net setting (20 steps, guidance: 40 network calls per image) takes ~40 min for 1,000 images."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

# name: (family, model, [(sampler, steps, guidance)]); guidance -1 = the sampler's default
RUNS = {
    "diffusion-retrain": ("diffusion", "/tmp/m/fmnist-diffusion-r",
                          [("dpmpp-2m", 20, 2.0), ("dpmpp-2m", 20, 1.5)]),
    "few-step": ("diffusion", "fmnist-flow", [("few-step", 4, -1), ("few-step", 1, -1)]),
    "few-step-2": ("diffusion", "fmnist-flow", [("few-step", 2, -1)]),
    "few-step-g2": ("diffusion", "fmnist-flow", [("few-step", 4, 2.0), ("few-step", 1, 2.0)]),
    "flow": ("diffusion", "fmnist-flow", [("flow-euler", 20, -1), ("flow-heun", 10, -1)]),
    "maskgit": ("ar", "fmnist-maskgit", [("maskgit", 10, -1)]),
    "maskgit-8-12": ("ar", "fmnist-maskgit", [("maskgit", 8, -1), ("maskgit", 12, -1)]),
    "token-ar": ("ar", "fmnist-token-ar", [("tokens", 0, -1)]),
    "diffusion-shipped-g1.5": ("diffusion", "fmnist-diffusion", [("dpmpp-2m", 20, 1.5)]),
    "diffusion-shipped-g2": ("diffusion", "fmnist-diffusion", [("dpmpp-2m", 20, 2.0)]),
}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True)
    p.add_argument("--only", default="")
    p.add_argument("--redo", default="")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--batch", type=int, default=250)
    a = p.parse_args(argv)
    from desktopgen.core.jsonable import jsonable
    from desktopgen.engine import EvalConfig, evaluate

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    names = [n for n in (a.only.split(",") if a.only else RUNS)]
    for name in names:
        path = out / f"{name}.json"
        if path.exists() and name not in a.redo.split(","):
            print(f"= {name}: done ({path})", flush=True)
            continue
        family, model, settings = RUNS[name]
        t0 = time.perf_counter()
        cfg = EvalConfig(family=family, model=model, sampler=settings[0][0], rows=tuple(settings),
                         n=a.n, batch=a.batch, seed=0, classifier="fmnist-classifier", device="cpu")
        print(f"# {name}: {settings}", flush=True)  # one setup (data, test features, floor) for all
        merged = evaluate(cfg)
        merged["wall_s"] = time.perf_counter() - t0
        merged["command"] = f"PYTHONPATH=. python tools/cpu_evals.py --out {a.out} --only {name}"
        path.write_text(json.dumps(jsonable(merged), indent=1))
        print(f"wrote {path} ({merged['wall_s']:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
