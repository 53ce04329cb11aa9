"""Headless engine facade: batched sampling and the quality table, for the CLI and benchmarks."""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from desktopgen import sampling
from desktopgen.core import checkpoints
from desktopgen.core.device import device_name, pick_device
from desktopgen.core.requests import RequestError, SampleRequest
from desktopgen.data.fmnist import DatasetError

USER_ERRORS = (RequestError, checkpoints.CheckpointError, DatasetError, ValueError, RuntimeError,
               OSError)


def sample_images(req: SampleRequest, n: int, batch: int = 64, device="auto", progress=False,
                  model=None, preview_every: int = 0):
    """Generate n images in chunks of `batch`; sample i depends only on (seed, i).
    Returns (images (n, 28, 28) uint8, labels (n,) int64, info dict)."""
    dev = pick_device(device) if isinstance(device, str) else device
    card = {}
    if model is None:
        model, card = sampling.load(req.family, req.model, dev, sampler=req.sampler)
    req = sampling.with_defaults(req.with_(model=card.get("name", req.model),
                                           model_sha256=card.get("sha256", req.model_sha256)))
    images, labels, t0, peak, kind = [], [], time.perf_counter(), 0, "process"
    for start in range(0, n, batch):
        chunk = req.with_(batch=min(batch, n - start), first_index=start)
        result = sampling.run_to_end(sampling.sample(model, chunk, dev, preview_every))
        images.append(result.images)
        labels.append(result.labels)
        peak, kind = max(peak, result.peak_memory), result.mem_kind
        if progress:
            done = start + chunk.batch
            el = time.perf_counter() - t0
            print(f"\r{done}/{n} images, {el:.1f}s, ETA {el / done * (n - done):.0f}s",
                  end="" if done < n else "\n", file=sys.stderr, flush=True)
    info = {"elapsed": time.perf_counter() - t0, "device": device_name(dev), "peak_memory": peak,
            "mem_kind": kind, "request": req, "card": card}
    return np.concatenate(images), np.concatenate(labels), info


def _sweep_configs(family: str, a) -> list[dict]:
    if not a.sweep:
        return [{"sampler": a.sampler, "steps": a.steps, "guidance": a.guidance,
                 "temperature": a.temperature, "top_k": a.top_k}]
    if family == "diffusion":
        grid = [(s, st, g) for s, steps in (("ddim", (10, 20, 50)), ("dpmpp-2m", (10, 20, 50)),
                                              ("ddpm", (50, 250)))
                for st in steps for g in (1.0, 2.0, 3.0)]
        return [{"sampler": s, "steps": st, "guidance": g, "temperature": 1.0, "top_k": 0}
                for s, st, g in grid]
    return [{"sampler": "pixel", "steps": 0, "guidance": g, "temperature": t, "top_k": 0}
            for g in (1.0, 1.5, 2.0, 3.0) for t in (1.0, 0.9)]


def evaluate(a) -> dict:
    """Print the quality table (see DESIGN.md "Quality"): generated samples against the 10k test
    images, beside the floor of real train images against the same test images."""
    from desktopgen import metrics
    from desktopgen.data import fmnist

    dev = pick_device(a.device)
    clf, clf_card = checkpoints.load_model(a.classifier, dev)
    test_x, test_y = fmnist.load("test", a.data)
    train_x, train_y = fmnist.load("train", a.data)
    test_pred, test_feats = metrics.classify(clf, test_x, dev)
    rng = np.random.default_rng(0)
    pick = rng.choice(len(train_x), a.n, replace=False)
    floor = metrics.quality(clf, train_x[pick], train_y[pick], test_feats, dev)
    results = {"classifier": a.classifier,
               "classifier_test_accuracy": float((test_pred == test_y).mean()),
               "floor_train_vs_test": floor, "device": device_name(dev), "rows": []}
    acc = results["classifier_test_accuracy"]
    print(f"classifier {a.classifier}: accuracy on the 10k test images {acc:.4f}")
    header = f"{'setting':34s} {'n':>5s} {'acc':>6s} {'FD':>8s} {'KID':>9s} {'s/img':>8s}"
    print(header)
    print(f"{'floor: real train vs test':34s} {floor['n']:5d} {floor['accuracy']:6.3f} "
          f"{floor['fd']:8.3f} {floor['kid']:9.5f} {'':>8s}")
    model_name = a.model
    if a.family in ("diffusion", "ar"):
        model, card = sampling.load(a.family, a.model, dev, sampler=a.sampler)
        model_name = card["name"]
        for cfg in _sweep_configs(a.family, a):
            req = SampleRequest(family=a.family, model=model_name, sampler=cfg["sampler"],
                                steps=cfg["steps"], guidance=cfg["guidance"],
                                temperature=cfg["temperature"], top_k=cfg["top_k"],
                                class_label=a.class_label, seed=a.seed)
            images, labels, info = sample_images(req, a.n, a.batch, dev, model=model)
            q = metrics.quality(clf, images, labels, test_feats, dev)
            r = info["request"]
            q |= {"sampler": r.sampler, "steps": r.steps, "guidance": r.guidance,
                  "temperature": r.temperature, "top_k": r.top_k,
                  "seconds_per_image": info["elapsed"] / a.n, "default": not a.sweep and not (
                      a.sampler or a.steps or a.guidance >= 0 or a.temperature != 1 or a.top_k)}
            results["rows"].append(q)
            name = f"{r.sampler} {r.steps} steps g={r.guidance:g}" + (
                f" T={r.temperature:g}" if a.family == "ar" else "")
            print(f"{name:34s} {q['n']:5d} {q['accuracy']:6.3f} {q['fd']:8.3f} {q['kid']:9.5f} "
                  f"{q['seconds_per_image']:8.5f}", flush=True)
        if a.family == "ar":
            nll = {"test_conditional": metrics.nll_bits_per_dim(model.float(), test_x, test_y, dev),
                   "test_unconditional": metrics.nll_bits_per_dim(model.float(), test_x, None, dev),
                   "train_conditional_10k": metrics.nll_bits_per_dim(model.float(), train_x[:10000],
                                                                     train_y[:10000], dev)}
            results["nll_bits_per_dim"] = nll
            print("NLL bits/dim: test (class-conditional) {test_conditional:.4f}, test (null class) "
                  "{test_unconditional:.4f}, train 10k (class-conditional) {train_conditional_10k:.4f}"
                  .format(**nll))
    else:
        model_name = a.classifier
        tr_pred, _ = metrics.classify(clf, train_x, dev)
        results["classifier_train_accuracy"] = float((tr_pred == train_y).mean())
        print(f"classifier train accuracy {results['classifier_train_accuracy']:.4f}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(results, f, indent=2)
    if a.update_card:
        folder = checkpoints.resolve(model_name)
        card = checkpoints.read_card(str(folder))
        card["metrics"] = results
        checkpoints.atomic_write_text(folder / checkpoints.CARD, json.dumps(card, indent=2) + "\n")
        print(f"updated {folder / checkpoints.CARD}")
    return results
