"""Top-vs-bottom coherence: does the bottom half of an image show the same garment as its top?

Each half is classified on its own by a 5-nearest-neighbour vote among the same half of the 10k
real test images (pixel space, so no network trained on whole images judges half images). An
image is coherent when both halves get the same class. Real images give the floor; a generator
whose bottom drifts away from its top scores below it. Beside it: how often each half alone
matches the prompt (the class asked for), which says which half drifted.
"""

from __future__ import annotations

import numpy as np

K = 5


def _flat(images: np.ndarray) -> np.ndarray:
    return images.reshape(len(images), -1).astype(np.float32) / 255.0


def knn_labels(queries: np.ndarray, refs: np.ndarray, ref_labels: np.ndarray, k: int = K,
               chunk: int = 256) -> np.ndarray:
    """Majority label of the k nearest refs (squared Euclidean) of each query; (N,) int64."""
    q, r = _flat(queries), _flat(refs)
    r2 = (r * r).sum(1)
    classes = int(ref_labels.max()) + 1
    out = []
    for i in range(0, len(q), chunk):
        d = r2[None, :] - 2 * q[i : i + chunk] @ r.T  # |q|^2 is the same for every ref: dropped
        near = np.argpartition(d, k - 1, axis=1)[:, :k]
        votes = np.zeros((len(near), classes), np.int64)
        np.add.at(votes, (np.arange(len(near))[:, None], ref_labels[near]), 1)
        out.append(votes.argmax(1))
    return np.concatenate(out) if out else np.zeros(0, np.int64)


def coherence(images: np.ndarray, prompts: np.ndarray, ref_images: np.ndarray,
              ref_labels: np.ndarray) -> dict:
    """Half agreement of (N, 28, 28) uint8 images: {n, halves_agree, top_matches_prompt,
    bottom_matches_prompt} (fractions); prompts < 0 (no class asked) count as no match."""
    h = images.shape[1] // 2
    top = knn_labels(images[:, :h], ref_images[:, :h], ref_labels)
    bottom = knn_labels(images[:, h:], ref_images[:, h:], ref_labels)
    n = len(images)
    frac = (lambda m: float(m.mean()) if n else float("nan"))
    return {"n": int(n), "halves_agree": frac(top == bottom),
            "top_matches_prompt": frac(top == prompts), "bottom_matches_prompt": frac(bottom == prompts)}
