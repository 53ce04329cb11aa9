"""Moving Fashion-MNIST clips: one garment at its native 28x28 on a black canvas, moving at a
constant integer velocity and bouncing off the borders (like Moving MNIST).

A clip is fixed by (seed, index): its start and velocity come from numpy's Generator seeded with
[seed, index], never from global state. The garment's top-left corner follows a triangle wave
between 0 and size - 28 on each axis, so it always lies fully inside the canvas, moves by exactly
its velocity between bounces and reflects at a wall (a move that would cross the wall is folded
back, as a ball's would be).
"""

from __future__ import annotations

import numpy as np

GARMENT = 28
SIZE = 48
FRAMES = 16
SPEEDS = (1, 2, 3)  # pixels per frame on each axis, either sign, never 0 (both axes move)


def reflect(u, span: int):
    """Fold positions onto [0, span] (a triangle wave of period 2 * span); numpy or torch."""
    u = u % (2 * span)
    return span - abs(span - u)


def clip_motion(seed: int, index, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(start (N, 2), velocity (N, 2)) int64 as (y, x) of the garment's top-left corner, for the
    clips (seed, index[i])."""
    index = np.asarray(index, dtype=np.int64).reshape(-1)
    span = size - GARMENT
    if span < 1:
        raise ValueError(f"the canvas must be larger than {GARMENT} pixels, not {size}")
    if seed < 0 or (index < 0).any():
        raise ValueError("seed and indices must be non-negative")
    start = np.empty((len(index), 2), np.int64)
    velocity = np.empty((len(index), 2), np.int64)
    speeds = np.array(SPEEDS, np.int64)
    for i, k in enumerate(index):
        rng = np.random.default_rng([int(seed), int(k)])
        start[i] = rng.integers(0, span + 1, size=2)
        velocity[i] = rng.choice(speeds, size=2) * rng.choice(np.array([-1, 1]), size=2)
    return start, velocity


def positions(start: np.ndarray, velocity: np.ndarray, frames: int, size: int = SIZE) -> np.ndarray:
    """Top-left corners (N, frames, 2) int64 (y, x) of clips with these starts and velocities."""
    t = np.arange(frames, dtype=np.int64)[None, :, None]  # (1, T, 1)
    return reflect(start[:, None, :] + velocity[:, None, :] * t, size - GARMENT)


def render(images: np.ndarray, corners: np.ndarray, size: int = SIZE) -> np.ndarray:
    """Paste each garment (N, 28, 28) uint8 at its corners (N, T, 2) on black: (N, T, size, size)."""
    n, frames = corners.shape[:2]
    out = np.zeros((n, frames, size, size), np.uint8)
    offs = np.arange(GARMENT)
    rows = corners[..., 0, None] + offs  # (N, T, 28)
    cols = corners[..., 1, None] + offs
    ni = np.arange(n)[:, None, None, None]
    ti = np.arange(frames)[None, :, None, None]
    out[ni, ti, rows[..., :, None], cols[..., None, :]] = images[:, None]
    return out


def make_clips(images: np.ndarray, seed: int, index, frames: int = FRAMES, size: int = SIZE) -> np.ndarray:
    """Clips (N, frames, size, size) uint8 of the garments `images` (N, 28, 28) uint8; clip i
    depends only on (seed, index[i]) and images[i]."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (GARMENT, GARMENT) or images.dtype != np.uint8:
        raise ValueError(f"images must be (N, 28, 28) uint8, not {images.shape} {images.dtype}")
    index = np.asarray(index, dtype=np.int64).reshape(-1)
    if len(index) != len(images):
        raise ValueError(f"{len(images)} images but {len(index)} indices")
    if frames < 1:
        raise ValueError(f"frames must be at least 1, not {frames}")
    start, velocity = clip_motion(seed, index, size)
    return render(images, positions(start, velocity, frames, size), size)


def clip_dataset(images: np.ndarray, labels: np.ndarray, seed: int, index, frames: int = FRAMES,
                 size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    """(clips, labels) for the clips `index` of a split: clip k shows garment k % len(images)."""
    index = np.asarray(index, dtype=np.int64).reshape(-1)
    which = index % len(images)
    return make_clips(images[which], seed, index, frames, size), labels[which]


def random_clips_torch(images, frames: int = FRAMES, size: int = SIZE, generator=None):
    """Training batches on the fly, on the images' device: garments (B, 28, 28) uint8 tensor ->
    clips (B, frames, size, size) uint8, with random starts and velocities drawn from the torch
    `generator` (same distribution as `make_clips`, not the same clips)."""
    import torch

    b, dev = images.shape[0], images.device
    span = size - GARMENT
    start = torch.randint(0, span + 1, (b, 2), generator=generator, device=dev)
    speed = torch.randint(SPEEDS[0], SPEEDS[-1] + 1, (b, 2), generator=generator, device=dev)
    sign = torch.randint(0, 2, (b, 2), generator=generator, device=dev) * 2 - 1
    t = torch.arange(frames, device=dev)[None, :, None]
    corners = reflect(start[:, None] + (speed * sign)[:, None] * t, span)  # (B, T, 2)
    offs = torch.arange(GARMENT, device=dev)
    rows = (corners[..., 0, None] + offs)[..., :, None]  # (B, T, 28, 1)
    cols = (corners[..., 1, None] + offs)[..., None, :]  # (B, T, 1, 28)
    flat = (rows * size + cols).reshape(b, frames, -1)  # (B, T, 784) canvas indices
    out = torch.zeros(b, frames, size * size, dtype=torch.uint8, device=dev)
    out.scatter_(2, flat, images.reshape(b, 1, -1).expand(b, frames, -1))
    return out.view(b, frames, size, size)
