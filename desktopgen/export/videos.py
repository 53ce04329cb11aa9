"""Generated videos as MP4 / GIF / WebP: one side's clips, or both sides side by side, upscaled.

Frame t of the file is frame t of every clip: each side's batch laid out as a grid (pixels.grid),
upscaled by a whole factor (crisp pixels), the sides left to right (composite.side_by_side). The
writing is clips.write_clip's: a generator of (done, total), atomic, close() cancels."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from desktopgen.export import composite, pixels
from desktopgen.export.clips import CLIP_FORMATS, write_clip
from desktopgen.export.images import ExportError, check_target

MAX_SIZE = 2048  # px, the longer side of one side's grid


def side_frame(clips: np.ndarray, t: int, size: int, family: str | None = None) -> np.ndarray:
    """(B, T, H, W) uint8 clips -> frame t of their grid as (h, w, 3) RGB, about `size` px wide,
    framed in the family's accent colour when given."""
    g = pixels.grid(clips[:, t])
    g = pixels.upscale(g, pixels.scale_for(g.shape, size))
    rgb = np.repeat(g[:, :, None], 3, axis=2)
    if family in composite.ACCENTS:
        rgb = np.pad(rgb, ((3, 3), (3, 3), (0, 0)))
        rgb[:3], rgb[-3:], rgb[:, :3], rgb[:, -3:] = (composite.ACCENTS[family],) * 4
    return rgb


def video_frames(sides: dict[str, np.ndarray], size: int = 384) -> Iterator[np.ndarray]:
    """The frames of the file: {family: clips (B, T, H, W)} in order, side by side, padded to a
    multiple of 16 px (H.264). Sides with fewer frames hold their last one."""
    frames = max(c.shape[1] for c in sides.values())
    for t in range(frames):
        panels = [side_frame(c, min(t, c.shape[1] - 1), size, f if len(sides) > 1 else None)
                  for f, c in sides.items()]
        yield composite.pad_to_multiple(composite.side_by_side(panels))


def export_video(path, sides: dict[str, np.ndarray], size: int = 384, fps: int = 8,
                 overwrite: bool = False) -> Iterator[tuple[int, int]]:
    """Check the target and the clips, then write them, yielding (done, total); one file frame per
    clip frame. Iterate to the end to write it; close() to cancel."""
    path = check_target(path, CLIP_FORMATS, overwrite)
    if not sides:
        raise ExportError("nothing to export: no side has made a video yet")
    for f, c in sides.items():
        if not (isinstance(c, np.ndarray) and c.ndim == 4 and c.dtype == np.uint8 and c.size):
            raise ExportError(f"{f}: clips must be a non-empty (batch, frames, height, width) uint8 array")
    if not 16 <= size <= MAX_SIZE:
        raise ExportError(f"size must be between 16 and {MAX_SIZE} px, not {size}")
    if not 1 <= fps <= 60:
        raise ExportError(f"frame rate must be between 1 and 60, not {fps}")
    total = max(c.shape[1] for c in sides.values())
    return write_clip(path, video_frames(sides, size), total, fps, overwrite)
