"""Quality rows for one model at several (guidance, seed) settings, without the NLL pass that
`desktopgen eval` adds for AR models (on a CPU it takes longer than the sampling): accuracy, FD
and KID of --n samples against the 10k test images, beside the floor, as `desktopgen eval` prints
them. Used to tell a guidance setting's effect from FD's sampling noise (several seeds).

    PYTHONPATH=. python tools/quality_rows.py --family ar --sampler tokens --model fmnist-token-ar-14 \
        --rows 1.4:0,1.4:1,1.35:0 [--n 1000] [--batch 256] [--device cpu] [--json out.json]
"""

from __future__ import annotations

import argparse
import json

from desktopgen import metrics, sampling
from desktopgen.core import checkpoints
from desktopgen.core.device import device_name, pick_device
from desktopgen.core.requests import SampleRequest
from desktopgen.data import fmnist
from desktopgen.engine import real_floor, sample_images


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--family", default="ar")
    p.add_argument("--sampler", default="")
    p.add_argument("--model", default="")
    p.add_argument("--steps", type=int, default=0)
    p.add_argument("--rows", required=True, help="GUIDANCE:SEED,... (e.g. 1.4:0,1.4:1)")
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    dev = pick_device(a.device)
    clf, _ = checkpoints.load_model("fmnist-classifier", dev)
    test_x, _ = fmnist.load("test")
    train_x, train_y = fmnist.load("train")
    _, test_feats = metrics.classify(clf, test_x, dev)
    floor = real_floor(clf, train_x, train_y, test_feats, a.n, dev)
    model, card = sampling.load(a.family, a.model, dev, sampler=a.sampler)
    print(f"{card['name']} on {device_name(dev)}; floor (real train vs test, n={a.n}): "
          f"accuracy {floor['accuracy']:.3f}, FD {floor['fd']:.3f}, KID {floor['kid']:.5f}", flush=True)
    rows = []
    for item in a.rows.split(","):
        g, seed = item.split(":")
        req = SampleRequest(family=a.family, model=card["name"], sampler=a.sampler, steps=a.steps,
                            guidance=float(g), seed=int(seed))
        images, labels, info = sample_images(req, a.n, a.batch, dev, model=model)
        q = metrics.quality(clf, images, labels, test_feats, dev)
        r = info["request"]
        q |= {"sampler": r.sampler, "steps": r.steps, "guidance": r.guidance, "seed": r.seed,
              "seconds_per_image": info["elapsed"] / a.n}
        rows.append(q)
        print(f"{r.sampler} {r.steps} steps g={r.guidance:g} seed {r.seed}: n {q['n']} accuracy "
              f"{q['accuracy']:.3f} FD {q['fd']:.3f} KID {q['kid']:.5f}", flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"model": card["name"], "device": device_name(dev), "floor": floor, "rows": rows},
                      f, indent=1, default=float)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
