"""Headless engine facade: batched sampling and the quality table, for the CLI and benchmarks."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from desktopgen import sampling
from desktopgen.core import checkpoints
from desktopgen.core.device import device_name, pick_device
from desktopgen.core.requests import SampleRequest
from desktopgen.export import record


def sample_images(req: SampleRequest, n: int, batch: int = 64, device="auto", model=None,
                  preview_every: int = 0, on_event=None, trace=None):
    """Generate n images in chunks of `batch`; sample i depends only on (seed, i).
    `on_event(StepEvent)` is called at every step of every chunk (progress); a RunTrace given as
    `trace` records the first chunk's previews (the material of a process clip).
    Returns (images (n, 28, 28) uint8, labels (n,) int64, info dict); info["request"] has the
    defaults filled, info["first_request"] is the first chunk's request."""
    dev = pick_device(device) if isinstance(device, str) else device
    card = {}
    if model is None:
        model, card = sampling.load(req.family, req.model, dev, sampler=req.sampler)
    req = sampling.with_defaults(req.with_(model=card.get("name", req.model),
                                           model_sha256=card.get("sha256", req.model_sha256)), model)
    images, labels, t0, peak, kind, first = [], [], time.perf_counter(), 0, "process", None
    for start in range(0, n, batch):
        chunk = req.with_(batch=min(batch, n - start), first_index=start)
        every, hook = preview_every, on_event
        if first is None:
            first = chunk
            if trace is not None:
                every = record.preview_every(req.steps)
                hook = _both(trace.add, on_event)
        result = sampling.run_to_end(sampling.sample(model, chunk, dev, every), hook)
        images.append(result.images)
        labels.append(result.labels)
        peak, kind = max(peak, result.peak_memory), result.mem_kind
    info = {"elapsed": time.perf_counter() - t0, "device": device_name(dev), "peak_memory": peak,
            "mem_kind": kind, "request": req, "card": card, "first_request": first}
    return np.concatenate(images), np.concatenate(labels), info


def _both(f, g):
    return f if g is None else (lambda ev: (f(ev), g(ev)))


@dataclass(frozen=True)
class EvalConfig:
    """What `evaluate` measures: a family's model (or the classifier alone) against the test set."""

    family: str  # "diffusion" | "ar" | "classifier"
    model: str = ""
    sampler: str = ""
    steps: int = 0
    guidance: float = -1.0
    temperature: float = 1.0
    top_k: int = 0
    class_label: int | None = None
    seed: int = 0
    n: int = 1000  # generated (and floor) images; the 10k test images are always all used
    batch: int = 500
    sweep: bool = False  # every sampler x steps x guidance
    rows: tuple = ()  # explicit (sampler, steps, guidance) settings, in place of the one or the sweep
    classifier: str = "fmnist-classifier"
    data: str | None = None  # Fashion-MNIST folder (None: the default)
    device: str = "auto"

    def warnings(self) -> list[str]:
        """What the user should know before reading the table."""
        if self.n < RELIABLE_N and self.family != "classifier":
            return [f"n={self.n} is small: FD and KID mean little below n={RELIABLE_N} (FD is biased "
                    "upwards, KID can be negative, and the floor can read worse than the model); "
                    f"compare models at one n of {RELIABLE_N} or more"]
        return []


RELIABLE_N = 1000


def _sweep_configs(family: str, a: EvalConfig) -> list[dict]:
    if a.rows:
        return [{"sampler": sm, "steps": st, "guidance": g, "temperature": a.temperature, "top_k": a.top_k}
                for sm, st, g in a.rows]
    if not a.sweep:
        return [{"sampler": a.sampler, "steps": a.steps, "guidance": a.guidance,
                 "temperature": a.temperature, "top_k": a.top_k}]
    if family == "diffusion":
        grid = [(s, st, g) for s, steps in (("ddim", (10, 20, 50)), ("dpmpp-2m", (10, 20, 50)),
                                              ("ddpm", (50, 250)))
                for st in steps for g in (1.0, 2.0, 3.0)]
        return [{"sampler": s, "steps": st, "guidance": g, "temperature": 1.0, "top_k": 0}
                for s, st, g in grid]
    if a.sampler == "maskgit":  # MaskGIT: steps x guidance x temperature
        return [{"sampler": "maskgit", "steps": st, "guidance": g, "temperature": t, "top_k": 0}
                for st in (8, 10, 12) for g in (1.0, 2.0, 3.0) for t in (1.0, 0.9)]
    return [{"sampler": a.sampler or "pixel", "steps": 0, "guidance": g, "temperature": t, "top_k": 0}
            for g in (1.0, 1.5, 2.0, 3.0) for t in (1.0, 0.9)]


def real_floor(clf, train_x, train_y, test_feats, n: int, dev) -> dict:
    """The floor beside every quality row: n real train images (a fixed pick) scored against the
    test images' features as generated ones are."""
    from desktopgen import metrics

    pick = np.random.default_rng(0).choice(len(train_x), n, replace=False)
    return metrics.quality(clf, train_x[pick], train_y[pick], test_feats, dev)


def evaluate(a: EvalConfig, on_event=None) -> dict:
    """Print the quality table (see DESIGN.md "Quality"): generated samples against the 10k test
    images, beside the floor of real train images against the same test images. Returns the
    table as a dict (JSON-ready; see the CLI's --json and --update-card)."""
    from desktopgen import metrics
    from desktopgen.data import fmnist

    dev = pick_device(a.device)
    clf, clf_card = checkpoints.load_model(a.classifier, dev)
    test_x, test_y = fmnist.load("test", a.data)
    train_x, train_y = fmnist.load("train", a.data)
    test_pred, test_feats = metrics.classify(clf, test_x, dev)
    floor = real_floor(clf, train_x, train_y, test_feats, a.n, dev)
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
            images, labels, info = sample_images(req, a.n, a.batch, dev, model=model, on_event=on_event)
            q = metrics.quality(clf, images, labels, test_feats, dev)
            r = info["request"]
            q |= {"sampler": r.sampler, "steps": r.steps, "guidance": r.guidance,
                  "temperature": r.temperature, "top_k": r.top_k,
                  "seconds_per_image": info["elapsed"] / a.n, "default": not a.sweep and not a.rows and not (
                      a.sampler or a.steps or a.guidance >= 0 or a.temperature != 1 or a.top_k)}
            results["rows"].append(q)
            name = f"{r.sampler} {r.steps} steps g={r.guidance:g}" + (
                f" T={r.temperature:g}" if a.family == "ar" else "")
            print(f"{name:34s} {q['n']:5d} {q['accuracy']:6.3f} {q['fd']:8.3f} {q['kid']:9.5f} "
                  f"{q['seconds_per_image']:8.5f}", flush=True)
        from desktopgen.nets import TokenAR

        if isinstance(model, TokenAR):  # NLL of its tokenizer's codes, not of pixels
            from desktopgen.metrics.tokens import token_nll

            results["nll_bits_per_token"] = token_nll(model.float(), test_x, test_y, dev)
            results["tokenizer"] = model.config.tokenizer
            print("NLL bits/token: test (class-conditional) {test_conditional_bits_per_token:.4f}, "
                  "test (null class) {test_unconditional_bits_per_token:.4f}"
                  .format(**results["nll_bits_per_token"]))
        elif a.family == "ar" and type(model).__name__ == "PixelAR":  # bits/dim of pixels only
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
    results["model"] = model_name
    results["warnings"] = a.warnings()
    return results
