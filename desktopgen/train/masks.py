"""Random inpainting masks for training, made on the device a batch at a time (1 = generate).

A mix of the editor's presets (desktopgen/sampling/masks.py), random rectangles, brush-like
strokes and, for a fraction, the whole image (nothing known: plain generation).
"""

from __future__ import annotations

import torch

from desktopgen.sampling import masks as presets

SIZE = presets.SIZE
SHARES = {"preset": 0.3, "rectangles": 0.3, "strokes": 0.3, "full": 0.1}  # sums to 1
FIXED_PRESETS = tuple(p for p in presets.PRESETS if p != "random-blocks")  # rectangles cover it


def _grid(device) -> tuple[torch.Tensor, torch.Tensor]:
    """Pixel-centre coordinates (28, 28) each: rows, columns."""
    r = torch.arange(SIZE, device=device, dtype=torch.float32)
    return torch.meshgrid(r, r, indexing="ij")


def preset_masks(n: int, gen: torch.Generator, device) -> torch.Tensor:
    """(n, 28, 28) float: one of the fixed presets each (bottom half, centre square...)."""
    table = torch.stack([torch.as_tensor(presets.preset(p), dtype=torch.float32)
                         for p in FIXED_PRESETS]).to(device)
    return table[torch.randint(0, len(table), (n,), device=device, generator=gen)]


def rectangle_masks(n: int, gen: torch.Generator, device, most: int = 4) -> torch.Tensor:
    """(n, 28, 28): the union of 1..`most` axis-aligned rectangles of 4..20 px a side."""
    rows, cols = _grid(device)
    size = torch.randint(4, 21, (n, most, 2), device=device, generator=gen).float()
    corner = torch.rand(n, most, 2, device=device, generator=gen) * (SIZE - size + 1)
    corner = corner.floor()
    inside = ((rows >= corner[..., 0, None, None]) & (rows < (corner + size)[..., 0, None, None])
              & (cols >= corner[..., 1, None, None]) & (cols < (corner + size)[..., 1, None, None]))
    used = torch.arange(most, device=device) < torch.randint(
        1, most + 1, (n, 1), device=device, generator=gen)  # (n, most)
    return (inside & used[..., None, None]).any(1).float()


def stroke_masks(n: int, gen: torch.Generator, device, strokes: int = 2, points: int = 24) -> torch.Tensor:
    """(n, 28, 28): 1..`strokes` brush strokes, each a wandering path of `points` dabs of
    radius 1.5..3.5 px (a mouse drag in the mask editor)."""
    start = torch.rand(n, strokes, 1, 2, device=device, generator=gen) * SIZE
    heading = torch.rand(n, strokes, 1, device=device, generator=gen) * 2 * torch.pi
    turn = torch.randn(n, strokes, points, device=device, generator=gen) * 0.5
    angle = heading + turn.cumsum(-1)
    step = torch.stack([angle.sin(), angle.cos()], dim=-1) * 1.5
    path = (start + step.cumsum(2)).clamp(0, SIZE - 1)  # (n, strokes, points, 2)
    radius = 1.5 + 2 * torch.rand(n, strokes, 1, device=device, generator=gen)
    rows, cols = _grid(device)
    d2 = ((rows.reshape(1, 1, 1, -1) - path[..., 0:1]) ** 2
          + (cols.reshape(1, 1, 1, -1) - path[..., 1:2]) ** 2)  # (n, strokes, points, 784)
    hit = (d2.amin(2) <= radius**2)  # (n, strokes, 784)
    used = torch.arange(strokes, device=device) < torch.randint(
        1, strokes + 1, (n, 1), device=device, generator=gen)
    return (hit & used[..., None]).any(1).reshape(n, SIZE, SIZE).float()


def training_masks(n: int, gen: torch.Generator, device) -> torch.Tensor:
    """(n, 1, 28, 28) float 0/1 masks, each kind drawn with its SHARES probability; never empty."""
    kinds = torch.multinomial(torch.tensor(list(SHARES.values()), device=device), n,
                              replacement=True, generator=gen)
    candidates = torch.stack([preset_masks(n, gen, device), rectangle_masks(n, gen, device),
                              stroke_masks(n, gen, device),
                              torch.ones(n, SIZE, SIZE, device=device)])  # (4, n, 28, 28)
    return candidates[kinds, torch.arange(n, device=device)][:, None]
