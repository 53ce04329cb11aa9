"""Log every step of one video run as it happens (for runs too long to finish in one sitting).

Joint video diffusion at 64 frames and batch 64 took ~4 hours on this project's 2-core CPU (1 h 39 min
since the CPU runs the network two rows at a time).
Each line is written and flushed when its step ends: step, block, seconds since the run began and
the step's own seconds, with the load average. So a run stopped early still shows what its first
block and the steps of the next ones cost.

    PYTHONPATH=. python tools/video_step_log.py --family diffusion --frames 64 --batch 64 \
        --device cpu --log benchmarks/results/cpu-.../video-steps.tsv
"""

from __future__ import annotations

import argparse
import os
import time

from desktopgen.core.requests import SampleRequest
from desktopgen.export.images import save_npz
from desktopgen.sampling import run_to_end, video


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--family", choices=("diffusion", "ar"), default="diffusion")
    p.add_argument("--frames", type=int, default=64)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--log", required=True, help="TSV file, one line per step")
    p.add_argument("--out", help=".npz for the clips made (videos, labels), as `desktopgen video` writes")
    a = p.parse_args()
    model, card = video.load(a.family, "", a.device)
    mod = video.module(a.family)
    req = SampleRequest(family=a.family, model=card.get("name", ""), batch=a.batch, seed=a.seed).validate()
    if hasattr(mod, "with_defaults"):
        req = mod.with_defaults(req)
    per_block = getattr(req, "steps", 0) or 1
    with open(a.log, "w", buffering=1) as f:
        f.write(f"# {a.family} {card.get('name')} frames {a.frames} batch {a.batch} device {a.device} "
                f"steps per block {per_block}\nstep\tblock\telapsed_s\tstep_s\tload1\n")
        last = [0.0]
        t0 = time.perf_counter()

        def on_event(e) -> None:
            now = time.perf_counter() - t0
            f.write(f"{e.step}\t{(e.step - 1) // per_block + 1}\t{now:.2f}\t{now - last[0]:.2f}\t"
                    f"{os.getloadavg()[0]:.2f}\n")
            last[0] = now

        result = run_to_end(mod.sample_video(model, req, a.frames, a.device, 0), on_event)
        f.write(f"# done: {result.elapsed:.1f} s, {result.elapsed / a.batch:.2f} s per clip, "
                f"peak memory {result.peak_memory / 2**20:.0f} MiB ({result.mem_kind})\n")
    if a.out:
        save_npz(a.out, overwrite=True, videos=result.images, labels=result.labels)


if __name__ == "__main__":
    main()
