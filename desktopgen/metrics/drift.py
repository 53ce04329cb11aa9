"""Video drift, per frame index: does each frame keep the class, the garment and the motion?

For clips (N, T, 48, 48) uint8 of prompts (N,), with the project's classifier:
- class consistency[t]: the share of clips whose frame t, cropped 28x28 around its intensity
  centroid, the classifier puts in the prompt's class;
- identity[t]: mean cosine similarity of the classifier's features of crop t and crop 0;
- motion error[t]: mean distance (pixels) between the centroid at frame t and the best track of
  constant velocity with bounces (see `fit_tracks`); 0 for every real clip;
- fd[t] (with reference clips): Fréchet distance of the classifier features of the crops at
  frame t against those of real clips at frame t.
Engine code: torch and numpy, no Qt.
"""

from __future__ import annotations

import numpy as np
import torch

from desktopgen.data.moving import GARMENT, reflect
from desktopgen.metrics import frechet_distance

MAX_SPEED = 4.0  # px/frame searched by the track fit (the data's is at most 3)


def centroids(videos: np.ndarray) -> np.ndarray:
    """(N, T, 2) float64 (y, x) intensity centroids; a black frame gets the canvas centre."""
    v = np.asarray(videos, dtype=np.float64)
    size = v.shape[-1]
    mass = v.sum(axis=(-1, -2))
    r = np.arange(size, dtype=np.float64)
    ys = (v.sum(-1) * r).sum(-1)
    xs = (v.sum(-2) * r).sum(-1)
    safe = np.where(mass > 0, mass, 1.0)
    c = np.stack([ys / safe, xs / safe], axis=-1)
    return np.where((mass > 0)[..., None], c, (size - 1) / 2)


def crops(videos: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """(N, T, 28, 28) uint8: the 28x28 window whose centre is nearest each centroid, kept inside
    the canvas."""
    n, t, size, _ = videos.shape
    corner = np.clip(np.rint(centres - (GARMENT - 1) / 2).astype(np.int64), 0, size - GARMENT)
    offs = np.arange(GARMENT)
    rows = (corner[..., 0, None] + offs)[..., :, None]  # (N, T, 28, 1)
    cols = (corner[..., 1, None] + offs)[..., None, :]  # (N, T, 1, 28)
    return videos[np.arange(n)[:, None, None, None], np.arange(t)[None, :, None, None], rows, cols]


def _track_sse(tracks: torch.Tensor, p0: torch.Tensor, v: torch.Tensor, span: int):
    """For tracks (M, T) and candidates p0, v (M, K): the least-squares offset g (M, K) of
    g + reflect(p0 + v t) and its sum of squared residuals (M, K)."""
    t = torch.arange(tracks.shape[1], dtype=tracks.dtype, device=tracks.device)
    wave = reflect(p0[..., None] + v[..., None] * t, span)  # (M, K, T)
    g = (tracks[:, None, :] - wave).mean(-1)
    res = tracks[:, None, :] - wave - g[..., None]
    return g, (res**2).sum(-1)


def fit_tracks(tracks: np.ndarray, span: int, max_speed: float = MAX_SPEED, chunk: int = 8) -> np.ndarray:
    """Best fit of each 1D track (M, T) by g + reflect(p0 + v t, span), the path of a garment
    moving at a constant velocity v (|v| <= max_speed px/frame) between walls `span` apart
    (reflect: a triangle wave, data/moving.py), in least squares over (g, p0, v): a grid over
    p0 (0.25 px) and v (0.1 px/frame), then three finer grids around the best (10x each).
    Returns the fitted tracks (M, T)."""
    x = torch.as_tensor(np.asarray(tracks, np.float64))
    M, T = x.shape
    if T < 3:  # two points are always on a constant-velocity path
        return x.numpy().copy()
    p_grid = torch.arange(0, 8 * span, dtype=torch.float64) / 4  # [0, 2 span): the whole period
    v_grid = torch.arange(-round(max_speed * 10), round(max_speed * 10) + 1, dtype=torch.float64) / 10
    P, V = torch.meshgrid(p_grid, v_grid, indexing="ij")
    P, V = P.reshape(1, -1), V.reshape(1, -1)
    out = np.empty((M, T))
    t = torch.arange(T, dtype=torch.float64)
    for i in range(0, M, chunk):
        tr = x[i : i + chunk]
        m = len(tr)
        _, sse = _track_sse(tr, P.expand(m, -1), V.expand(m, -1), span)
        best = sse.argmin(1)
        p, v = P[0, best], V[0, best]  # (m,)
        dp, dv = 0.25, 0.1
        for _ in range(3):  # refine: +-2 grid steps around the best, 10x finer
            k = torch.arange(-20, 21, dtype=torch.float64) / 10
            cp = (p[:, None, None] + dp * k[None, :, None]).expand(-1, 41, 41).reshape(m, -1)
            cv = (v[:, None, None] + dv * k[None, None, :]).expand(-1, 41, 41).reshape(m, -1)
            cp, cv = torch.cat([cp, p[:, None]], 1), torch.cat([cv, v[:, None]], 1)  # keep the best
            _, sse = _track_sse(tr, cp, cv, span)
            best = sse.argmin(1)
            rows = torch.arange(m)
            p, v = cp[rows, best], cv[rows, best]
            dp, dv = dp / 10, dv / 10
        g, _ = _track_sse(tr, p[:, None], v[:, None], span)
        out[i : i + m] = (g + reflect(p[:, None] + v[:, None] * t, span)).numpy()
    return out


def motion_errors(centres: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """(errors (N, T) px: distance from each centroid to its clip's fitted track, speeds (N,)
    px/frame of the fitted track's slope magnitude)."""
    n, t, _ = centres.shape
    tracks = centres.transpose(0, 2, 1).reshape(n * 2, t)  # (y track, x track) per clip
    fitted = fit_tracks(tracks, size - GARMENT).reshape(n, 2, t).transpose(0, 2, 1)
    err = np.sqrt(((centres - fitted) ** 2).sum(-1))
    speed = np.abs(np.diff(fitted, axis=1)).mean(axis=(1, 2)) if t > 1 else np.zeros(n)
    return err, speed


@torch.no_grad()
def _classify(classifier, crops_u8: np.ndarray, device, bs: int = 1024):
    """(N, T, 28, 28) uint8 -> (predictions (N, T), features (N, T, D) float64)."""
    n, t = crops_u8.shape[:2]
    flat = crops_u8.reshape(n * t, GARMENT, GARMENT)
    preds, feats = [], []
    for i in range(0, len(flat), bs):
        x = torch.as_tensor(flat[i : i + bs], device=device).float()[:, None] / 127.5 - 1
        f = classifier.features(x)
        preds.append(classifier.head(f).argmax(-1).cpu())
        feats.append(f.double().cpu())
    return torch.cat(preds).numpy().reshape(n, t), torch.cat(feats).numpy().reshape(n, t, -1)


def drift(videos: np.ndarray, labels, classifier, device="cpu", reference: np.ndarray | None = None) -> dict:
    """The drift figures per frame index (lists of T floats) and their summaries; `reference`:
    real clips (M, >= T, 48, 48) for the per-frame FD (None: no FD)."""
    videos = np.asarray(videos)
    if videos.ndim != 4 or videos.dtype != np.uint8 or videos.shape[-1] != videos.shape[-2]:
        raise ValueError(f"videos must be (N, T, H, H) uint8, not {videos.shape} {videos.dtype}")
    n, t, size, _ = videos.shape
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != n:
        raise ValueError(f"{n} videos but {len(labels)} labels")
    c = centroids(videos)
    preds, feats = _classify(classifier, crops(videos, c), device)
    unit = feats / np.maximum(np.linalg.norm(feats, axis=-1, keepdims=True), 1e-12)
    identity = (unit * unit[:, :1]).sum(-1)  # (N, T)
    err, speed = motion_errors(c, size)
    consistency = (preds == labels[:, None]).mean(0)
    out = {
        "n": int(n), "frames": int(t),
        "class_consistency": consistency.tolist(),
        "identity": identity.mean(0).tolist(),
        "motion_error": err.mean(0).tolist(),
        "min_class_consistency": float(consistency.min()),
        "mean_identity": float(identity.mean()),
        "mean_motion_error": float(err.mean()),
        "mean_speed": float(speed.mean()),
        "motion_definition": "mean over clips of the distance (px) between the intensity centroid at "
                             "frame t and the least-squares fit of g + reflect(p0 + v t) per axis "
                             f"(constant velocity, |v| <= {MAX_SPEED:g}, bouncing between walls "
                             f"{size - GARMENT} px apart)",
    }
    if reference is not None:
        ref = np.asarray(reference)[:, :t]
        if ref.shape[1] < t:
            raise ValueError(f"the reference clips have {ref.shape[1]} frames, fewer than {t}")
        _, ref_feats = _classify(classifier, crops(ref, centroids(ref)), device)
        out["fd"] = [frechet_distance(feats[:, k], ref_feats[:, k]) for k in range(t)]
    return out
