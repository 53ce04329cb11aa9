"""Video drift and speed for both families (issue 11). Prints tables and writes JSON; not a test.

For each family whose video sampler and model are present (AR: helper vidar's
desktopgen.sampling.video_ar), at each clip length (--frames, default 16 and 64):
- drift per frame index (desktopgen/metrics/drift.py): class consistency, identity, motion error,
  and FD against real test-split clips at the same frame index; n clips, class i mod 10;
- beside them the floor: real clips (test split) measured the same way, and the FD of real
  train-split clips against the test-split ones;
- time per clip at batch 1 and 64 for 16 and 64 frames (after one warm-up run), peak memory;
- peak memory against frames (batch 1 and --batch).

    python benchmarks/eval_video.py --device cuda --n 256 --out /tmp/eval_video.json
    python benchmarks/eval_video.py --device cpu --n 8 --frames 16 --no-timing   # a quick look
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from desktopgen.core import checkpoints  # noqa: E402
from desktopgen.core.device import device_name, pick_device, synchronize  # noqa: E402
from desktopgen.core.jsonable import jsonable  # noqa: E402
from desktopgen.core.requests import SampleRequest  # noqa: E402
from desktopgen.data import fmnist, moving  # noqa: E402
from desktopgen.metrics import drift  # noqa: E402
from desktopgen.sampling import video  # noqa: E402

REAL_SEED = 20261130  # the clips (test split) every family is compared with


def ints(text: str) -> list[int]:
    return [int(v) for v in text.split(",") if v]


def real_clips(split: str, n: int, frames: int, data=None):
    images, labels = fmnist.load(split, data)
    return moving.clip_dataset(images, labels, REAL_SEED, np.arange(n), frames)


def request(family: str, a, batch: int) -> SampleRequest:
    kw = {"steps": a.steps, "guidance": a.guidance} if family == "diffusion" else {
        "temperature": a.temperature}
    return SampleRequest(family=family, seed=a.seed, batch=batch, **kw)


def print_drift(name: str, d: dict, every: int) -> None:
    fd = d.get("fd")
    print(f"\n{name}: n={d['n']}, {d['frames']} frames; "
          f"min class consistency {d['min_class_consistency']:.3f}, "
          f"mean identity {d['mean_identity']:.3f}, mean motion error {d['mean_motion_error']:.2f} px, "
          f"mean speed {d['mean_speed']:.2f} px/frame")
    print(f"{'frame':>5} {'class':>7} {'identity':>9} {'motion px':>10}" + (f" {'FD':>8}" if fd else ""))
    for t in range(d["frames"]):
        if t % every and t != d["frames"] - 1:
            continue
        line = (f"{t + 1:5d} {d['class_consistency'][t]:7.3f} {d['identity'][t]:9.3f} "
                f"{d['motion_error'][t]:10.3f}")
        print(line + (f" {fd[t]:8.2f}" if fd else ""))


def timed(family, model, card, a, dev, frames: int, batch: int) -> dict:
    req = request(family, a, batch)
    synchronize(dev)
    t0 = time.perf_counter()
    _, _, info = video.sample_videos(family, model, card, req, batch, frames, batch, dev)
    synchronize(dev)
    s = time.perf_counter() - t0
    return {"frames": frames, "batch": batch, "seconds": s, "seconds_per_clip": s / batch,
            "peak_mib": info["peak_memory"] / 2**20, "mem_kind": info["mem_kind"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--families", default="diffusion,ar")
    p.add_argument("--n", type=int, default=256, help="clips per family and length for the drift")
    p.add_argument("--frames", type=ints, default=[16, 64])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--steps", type=int, default=0, help="diffusion steps per block (0: the sampler's)")
    p.add_argument("--guidance", type=float, default=-1.0, help="(<0: the sampler's default)")
    p.add_argument("--temperature", type=float, default=1.0, help="AR")
    p.add_argument("--classifier", default="fmnist-classifier")
    p.add_argument("--data", default=None)
    p.add_argument("--no-drift", action="store_true")
    p.add_argument("--no-timing", action="store_true")
    p.add_argument("--timing-frames", type=ints, default=[16, 64])
    p.add_argument("--timing-batches", type=ints, default=[1, 64])
    p.add_argument("--memory-frames", type=ints, default=[8, 16, 32, 48, 64])
    p.add_argument("--no-memory", action="store_true",
                   help="skip the memory-against-frames runs (the timing rows keep their peaks)")
    p.add_argument("--every", type=int, default=0,
                   help="print every k-th frame (0: all up to 16 frames, else every 4th)")
    p.add_argument("--out", default=None, help="JSON file for every figure")
    a = p.parse_args()

    dev = pick_device(a.device)
    clf, _ = checkpoints.load_model(a.classifier, dev)
    results: dict = {"device": device_name(dev), "n": a.n, "seed": a.seed, "real_seed": REAL_SEED,
                     "families": {}, "real": {}}
    print(f"device {device_name(dev)}; classifier {a.classifier}; n {a.n} clips; frames {a.frames}")

    reference = {}
    if not a.no_drift:
        for frames in a.frames:
            test_clips, test_labels = real_clips("test", a.n, frames, a.data)
            train_clips, _ = real_clips("train", a.n, frames, a.data)
            reference[frames] = test_clips
            d = drift.drift(test_clips, test_labels, clf, dev)
            d["fd_floor"] = drift.drift(train_clips, test_labels, clf, dev, reference=test_clips)["fd"]
            results["real"][str(frames)] = d
            print_drift("real clips (test split; FD floor = train vs test clips)",
                        {**d, "fd": d["fd_floor"]}, a.every or (1 if frames <= 16 else 4))

    for family in [f for f in a.families.split(",") if f]:
        fam: dict = {"drift": {}, "timing": [], "memory": []}
        try:
            model, card = video.load(family, "", dev)
        except Exception as e:  # noqa: BLE001 - a missing sampler or model skips the family
            print(f"\n{family}: skipped ({e})")
            results["families"][family] = {"skipped": str(e)}
            continue
        fam["model"], fam["model_sha256"] = card.get("name"), card.get("sha256")
        if not a.no_drift:
            for frames in a.frames:
                req = request(family, a, min(a.batch, a.n))
                t0 = time.perf_counter()
                videos, labels, info = video.sample_videos(family, model, card, req, a.n, frames, a.batch,
                                                           dev)
                gen_s = time.perf_counter() - t0
                d = drift.drift(videos, labels, clf, dev, reference=reference[frames])
                d |= {"generation_seconds": gen_s, "sampler": info["extra"],
                      "request": info["request"].to_dict()}
                fam["drift"][str(frames)] = d
                print_drift(f"{family} ({card.get('name')})", d, a.every or (1 if frames <= 16 else 4))
        if not a.no_timing:
            timed(family, model, card, a, dev, min(a.timing_frames), 1)  # warm-up
            print(f"\n{family}: time per clip (after a warm-up run)")
            print(f"{'frames':>6} {'batch':>6} {'s/clip':>9} {'total s':>8} {'peak MiB':>9}")
            for frames in a.timing_frames:
                for batch in a.timing_batches:
                    r = timed(family, model, card, a, dev, frames, batch)
                    fam["timing"].append(r)
                    print(f"{frames:6d} {batch:6d} {r['seconds_per_clip']:9.3f} {r['seconds']:8.2f} "
                          f"{r['peak_mib']:9.0f}")
        if not (a.no_timing or a.no_memory):
            print(f"{family}: peak memory ({'CUDA allocated' if dev.type == 'cuda' else 'process RSS'}) "
                  "against frames")
            for batch in sorted({1, a.batch}):
                for frames in a.memory_frames:
                    r = timed(family, model, card, a, dev, frames, batch)
                    fam["memory"].append(r)
                    print(f"  frames {frames:3d} batch {batch:3d}: {r['peak_mib']:8.0f} MiB, "
                          f"{r['seconds']:.2f} s")
        results["families"][family] = fam

    if a.out:
        Path(a.out).write_text(json.dumps(jsonable(results), indent=1) + "\n")
        print(f"\nwrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
