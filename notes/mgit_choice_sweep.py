"""MaskGIT settings sweep beyond `desktopgen eval --sweep`: the choice temperature too (it is not
a request field). Prints accuracy / FD / KID per (choice temperature, steps, guidance).

    python notes/mgit_choice_sweep.py --device cuda --n 1000 [--model fmnist-maskgit]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from desktopgen import metrics, sampling
from desktopgen.core import checkpoints
from desktopgen.core.device import pick_device
from desktopgen.core.requests import SampleRequest
from desktopgen.data import fmnist
from desktopgen.sampling import maskgit


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="auto")
    ap.add_argument("--model", default="fmnist-maskgit")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--batch", type=int, default=250)
    ap.add_argument("--choice", default="0,1,2,4.5")
    ap.add_argument("--steps", default="8,10,12")
    ap.add_argument("--guidance", default="1,2,3")
    a = ap.parse_args()
    dev = pick_device(a.device)
    model, card = sampling.load("ar", a.model, dev)
    clf, _ = checkpoints.load_model("fmnist-classifier", dev)
    test_x, _ = fmnist.load("test")
    _, feats = metrics.classify(clf, test_x, dev)
    print(f"{'choice T':>8s} {'steps':>5s} {'g':>4s} {'acc':>6s} {'FD':>8s} {'KID':>9s} {'s':>7s}")
    for ct in map(float, a.choice.split(",")):
        for steps in map(int, a.steps.split(",")):
            for g in map(float, a.guidance.split(",")):
                t0, images, labels = time.perf_counter(), [], []
                for start in range(0, a.n, a.batch):
                    req = SampleRequest(family="ar", model=card["name"], sampler="maskgit", steps=steps,
                                        guidance=g, batch=min(a.batch, a.n - start), first_index=start)
                    gen = maskgit.sample(model, sampling.with_defaults(req), dev, preview_every=0,
                                         choice_temperature=ct)
                    result = sampling.run_to_end(gen)
                    images.append(result.images)
                    labels.append(result.labels)
                q = metrics.quality(clf, np.concatenate(images), np.concatenate(labels), feats, dev)
                print(f"{ct:8.2f} {steps:5d} {g:4.1f} {q['accuracy']:6.3f} {q['fd']:8.3f} "
                      f"{q['kid']:9.5f} {time.perf_counter() - t0:7.2f}", flush=True)


if __name__ == "__main__":
    main()
