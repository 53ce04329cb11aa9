"""Quality metrics with the project's own classifier: accuracy, FD, KID, and AR NLL in bits/dim."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def _batches(images: np.ndarray, bs: int):
    for i in range(0, len(images), bs):
        yield images[i : i + bs]


@torch.no_grad()
def classify(classifier, images: np.ndarray, device="cpu", bs: int = 500):
    """images (N, 28, 28) uint8 -> (predicted labels (N,), features (N, D) float64)."""
    preds, feats = [], []
    for chunk in _batches(images, bs):
        x = torch.as_tensor(chunk, device=device).float()[:, None] / 127.5 - 1
        f = classifier.features(x)
        preds.append(classifier.head(f).argmax(-1).cpu())
        feats.append(f.double().cpu())
    return torch.cat(preds).numpy(), torch.cat(feats).numpy()


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (Heusel et al. 2017)."""
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    # tr(sqrtm(s1 s2)) = sum of sqrt(eigenvalues of sqrt(s1) s2 sqrt(s1)), a symmetric PSD matrix
    ev, vec = np.linalg.eigh(s1)
    root1 = (vec * np.sqrt(ev.clip(min=0))) @ vec.T
    tr_covmean = np.sqrt(np.linalg.eigvalsh(root1 @ s2 @ root1).clip(min=0)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def kid(f1: np.ndarray, f2: np.ndarray, subsets: int = 50, subset_size: int = 1000, seed: int = 0):
    """Kernel Inception Distance (Bińkowski et al. 2018): unbiased MMD² with the cubic polynomial
    kernel, averaged over random subsets. Returns (mean, std)."""
    rng = np.random.default_rng(seed)
    d = f1.shape[1]
    m = min(subset_size, len(f1), len(f2))
    vals = []
    for _ in range(subsets):
        x = f1[rng.choice(len(f1), m, replace=False)]
        y = f2[rng.choice(len(f2), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        vals.append(
            (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
            + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
            - 2 * kxy.mean()
        )
    return float(np.mean(vals)), float(np.std(vals))


@torch.no_grad()
def nll_bits_per_dim(model, images: np.ndarray, labels: np.ndarray | None, device="cpu", bs: int = 250):
    """Mean negative log-likelihood of the images under the pixel AR model, in bits per pixel.
    labels None = the null class (unconditional)."""
    total, count = 0.0, 0
    for i in range(0, len(images), bs):
        px = torch.as_tensor(images[i : i + bs], device=device).long().flatten(1)
        if labels is None:
            y = torch.full((len(px),), model.config.num_classes, device=device)
        else:
            y = torch.as_tensor(labels[i : i + bs], device=device)
        logits = model(px, y).float()
        total += F.cross_entropy(logits.reshape(-1, logits.shape[-1]), px.reshape(-1), reduction="sum").item()
        count += px.numel()
    return total / count / math.log(2)


def quality(classifier, images, labels, ref_feats, device="cpu") -> dict:
    """Class accuracy, FD and KID of generated images against reference features."""
    preds, feats = classify(classifier, images, device)
    out = {"n": int(len(images)), "accuracy": float((preds == labels).mean()),
           "fd": frechet_distance(feats, ref_feats)}
    out["kid"], out["kid_std"] = kid(feats, ref_feats, subset_size=min(1000, len(images)))
    return out
