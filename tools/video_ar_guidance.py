"""Class consistency of the video AR model's clips against its guidance (and temperature): the
drift measure (desktopgen.metrics.drift) per setting, on the first `--frames` frames only (the
first frame is where the model loses the class; a 1-frame clip is 144 token steps, cheap on a CPU).

    PYTHONPATH=. python tools/video_ar_guidance.py --n 256 --frames 1 --guidance 1.5,2,3,4 [--device cpu]

Clip i depends only on (seed, i): every setting sees the same noise streams.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from desktopgen import sampling
from desktopgen.core import checkpoints
from desktopgen.core.requests import SampleRequest
from desktopgen.metrics.drift import drift
from desktopgen.sampling import video_ar


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=256)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--frames", type=int, default=1)
    p.add_argument("--guidance", default="1.5,2,3,4")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    dev = torch.device(a.device)
    model, card = video_ar.load("", dev)
    clf, _ = checkpoints.load_model("fmnist-classifier", dev)
    clf.eval()
    rows = []
    for g in (float(x) for x in a.guidance.split(",")):
        t0 = time.perf_counter()
        clips, labels = [], []
        for i0 in range(0, a.n, a.batch):
            b = min(a.batch, a.n - i0)
            req = SampleRequest(family="ar", model=card["name"], seed=a.seed, batch=b,
                                first_index=i0, guidance=g, temperature=a.temperature)
            res = sampling.run_to_end(video_ar.sample_video(model, req, frames=a.frames, device=dev,
                                                            preview_every=0))
            clips.append(res.images)
            labels.append(res.labels)
        videos, labels = np.concatenate(clips), np.concatenate(labels)
        d = drift(videos, labels, clf, dev)
        cc = d["class_consistency"]
        row = {"guidance": g, "temperature": a.temperature, "n": a.n, "frames": a.frames,
               "class_consistency": cc, "min": float(min(cc)), "mean": float(np.mean(cc)),
               "mean_identity": d["mean_identity"], "mean_motion_error": d["mean_motion_error"],
               "seconds": round(time.perf_counter() - t0, 1)}
        rows.append(row)
        print(f"guidance {g:g} T {a.temperature:g}: class consistency frame 1 {cc[0]:.3f}, "
              f"min {row['min']:.3f}, mean {row['mean']:.3f}, identity {d['mean_identity']:.3f}, "
              f"motion error {d['mean_motion_error']:.2f} px (n={a.n}, {a.frames} frames, "
              f"{row['seconds']:.0f} s)", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"model": card["name"], "device": str(dev), "rows": rows}, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
