"""Process clips: one side's generation, or both sides racing, as MP4 (H.264), GIF or WebP.

A clip is built from one or two RunTraces. Writing is a generator that yields (frames done, total)
so a GUI job can show progress and cancel: closing the generator (or any error, or SIGTERM in the
CLI) removes the temporary file, and the target only ever appears complete (desktopgen.core.atomic);
the last yield comes before the file is published, so a cancel never follows a written file."""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from desktopgen.core import atomic
from desktopgen.core.trace import RunTrace
from desktopgen.export import composite
from desktopgen.export.images import ExportError, check_target

CLIP_FORMATS = (".mp4", ".gif", ".webp")
ALIGNS = ("time", "progress")
MAX_HELD_BYTES = 3 * 2**30  # GIF / WebP frames held for Pillow's encoder
HEADER_FOOTER = composite.HEADER + composite.FOOTER


@dataclass(frozen=True)
class ClipOptions:
    """How a clip looks and how long it lasts."""

    align: str = "time"  # "time": wall clock, the faster side finishes and waits; "progress": same fraction
    fps: int = 15
    max_seconds: float = 10.0  # cap on the generation part; a longer run is shown as a time-lapse
    seconds: float | None = None  # exact length of the generation part (None: real time, capped)
    min_seconds: float = 2.0  # a 0.2 s run becomes a 2 s slow motion, not three frames
    hold: float = 1.0  # seconds the final frame stays on screen after the end
    size: int = 256  # pixels of each side's image (square)
    index: int | None = None  # which sample of the batch; None = the batch grid
    clean: bool = False  # diffusion: show the predicted clean image instead of the noisy sample

    def validate(self) -> ClipOptions:
        if self.align not in ALIGNS:
            raise ExportError(f"align must be time or progress, not {self.align!r}")
        if not 1 <= self.fps <= 60:
            raise ExportError(f"fps must be between 1 and 60, not {self.fps}")
        if not 0.5 <= self.max_seconds <= 600:
            raise ExportError(f"the duration cap must be between 0.5 and 600 s, not {self.max_seconds}")
        if self.seconds is not None and not 0.5 <= self.seconds <= 600:
            raise ExportError(f"the duration must be between 0.5 and 600 s, not {self.seconds}")
        if not 0 <= self.hold <= 30:
            raise ExportError(f"the final hold must be between 0 and 30 s, not {self.hold}")
        if not 32 <= self.size <= 2048:
            raise ExportError(f"the size must be between 32 and 2048 pixels, not {self.size}")
        return self


@dataclass(frozen=True)
class ClipSide:
    """One side of a clip: its trace and its labels."""

    family: str
    trace: RunTrace
    title: str = ""
    subtitle: str = ""  # e.g. "dpmpp-2m 20 steps"

    @classmethod
    def of(cls, trace: RunTrace, request=None) -> ClipSide:
        sub = ""
        if request is not None:  # steps from the trace where the request left the default (0)
            sub = f"{request.sampler or trace.family} {request.steps or trace.total} steps"
        return cls(trace.family, trace, composite.FAMILY_TITLES.get(trace.family, trace.family), sub)


def timeline(sides: list[ClipSide], opts: ClipOptions) -> tuple[int, int, float, float]:
    """(generation frames, hold frames, clip seconds of generation, real seconds they cover)."""
    real = max((s.trace.duration for s in sides), default=0.0)
    if opts.seconds is not None:
        length = opts.seconds
    else:  # real time, but never a blink nor longer than the cap
        length = min(max(real, opts.min_seconds), opts.max_seconds)
    n_run = max(2, round(length * opts.fps))
    return n_run, round(opts.hold * opts.fps), length, real


def _mem_at(trace: RunTrace, step: int) -> tuple[int, int]:
    i = max(0, bisect.bisect_right(trace.steps, step) - 1)
    if not trace.mem_allocated:
        return 0, 0
    return trace.mem_allocated[i], trace.mem_peak[i]


def _panel(side: ClipSide, opts: ClipOptions, frame, clock: float | None, speed: float) -> composite.Panel:
    step, elapsed, preview, clean, position = frame
    batch = clean if (opts.clean and clean is not None) else preview
    tr = side.trace
    done = step >= tr.total
    shown = elapsed if clock is None or done else min(clock, tr.duration)
    mem, peak = _mem_at(tr, step)
    first = f"step {step}/{tr.total}   {shown * 1000:,.0f} ms" + ("   done" if done else "")
    unit = "GPU" if tr.mem_kind == "cuda" else "RSS"
    second = f"{unit} {mem / 2**20:,.0f} MiB, peak {peak / 2**20:,.0f} MiB"
    if speed and abs(speed - 1) > 0.05:
        second += f"   {speed:.2g}x time-lapse" if speed > 1 else f"   {1 / speed:.2g}x slow motion"
    return composite.Panel(side.family, side.title, composite.batch_image(batch, opts.index),
                           (first, second), step / max(1, tr.total), done, side.subtitle)


def iter_frames(sides: list[ClipSide], opts: ClipOptions) -> Iterator[np.ndarray]:
    """The clip's RGB frames, at a fixed frame rate: each frame samples every trace at one clip
    time, so a 784-step AR run becomes fps x seconds frames, not 784 near-identical ones."""
    n_run, n_hold, length, real = timeline(sides, opts)
    speed = real / length if (opts.align == "time" and length) else 0.0
    for k in range(n_run + n_hold):
        f = min(1.0, k / (n_run - 1))
        panels = []
        for side in sides:
            if opts.align == "time":
                clock = f * real
                fr = side.trace.frame_at_time(clock) if f < 1 else side.trace.frames[-1]
            else:
                clock = None
                fr = side.trace.frame_at(f) if f < 1 else side.trace.frames[-1]
            panels.append(_panel(side, opts, fr, clock, speed))
        yield composite.compose(panels, opts.size)


def frame_count(sides: list[ClipSide], opts: ClipOptions) -> int:
    n_run, n_hold, _, _ = timeline(sides, opts)
    return n_run + n_hold


def _mp4_writer(tmp: str, fps: int):
    import imageio.v2 as iio

    # yuv420p + faststart: plays in browsers, phones and chat apps; frames are already padded to
    # 16 px, so macro_block_size=1 only stops imageio from second-guessing the size.
    return iio.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264", quality=8,
                          pixelformat="yuv420p", macro_block_size=1,
                          output_params=["-movflags", "+faststart"], ffmpeg_log_level="error")


def frame_durations(n: int, fps: int, unit: int = 1) -> list[int]:
    """Per-frame delays in ms, whole multiples of `unit` (GIF: 10 ms, WebP: 1 ms), that add up to
    n / fps as closely as the unit allows: frame i starts at i / fps rounded to the unit, so the
    rounding never accumulates (a fixed round(1000 / fps) made a "10 s" 15-fps GIF 9.92 s)."""
    ticks = [round(i * 1000 / (fps * unit)) for i in range(n + 1)]
    return [(b - a) * unit for a, b in zip(ticks, ticks[1:])]


def _one_palette(frames: list[Image.Image]) -> list[Image.Image]:
    """Map every frame to one 256-colour palette taken from a few spread frames: mostly greys
    plus two accents, so nothing is lost, and it is ~6x faster and ~2.5x smaller than a
    palette per frame. No dithering: it would speckle the crisp pixels."""
    picks = [frames[round(i * (len(frames) - 1) / 4)] for i in range(5)]
    sample = Image.fromarray(np.concatenate([np.asarray(f) for f in picks]))
    palette = sample.quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    return [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]


def write_clip(path, frames: Iterator[np.ndarray], total: int, fps: int,
               overwrite: bool = False) -> Iterator[tuple[int, int]]:
    """Write frames to `path` (format from its suffix), yielding (done, total + 1) after each frame
    and once more when encoded, just before the file is published: closing the generator at any
    yield (cancel) leaves nothing behind, and no yield comes after the file appears. Without
    `overwrite` the publish never replaces a file, even one created while encoding."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CLIP_FORMATS:
        raise ExportError(f"unknown clip format {suffix!r}")
    tmp = atomic.new_temp(path)
    writer = None
    try:
        pil_frames: list[Image.Image] = []
        if suffix == ".mp4":
            writer = _mp4_writer(str(tmp), fps)
        for i, frame in enumerate(frames):
            if writer is not None:
                writer.append_data(frame)
            else:  # GIF / WebP: Pillow writes all frames at once at the end
                pil_frames.append(Image.fromarray(frame, mode="RGB"))
            yield i + 1, total + 1  # the last unit is the final encode
        if writer is not None:
            writer.close()
            writer = None
        elif suffix == ".gif":
            pil_frames = _one_palette(pil_frames)
            pil_frames[0].save(tmp, format="GIF", save_all=True, append_images=pil_frames[1:],
                               duration=frame_durations(len(pil_frames), fps, 10), loop=0)
        else:
            pil_frames[0].save(tmp, format="WEBP", save_all=True, append_images=pil_frames[1:],
                               duration=frame_durations(len(pil_frames), fps), loop=0, lossless=False,
                               quality=90, method=4)
        del pil_frames
        yield total + 1, total + 1  # encoded; a cancel here still leaves nothing
    except BaseException as e:  # GeneratorExit (cancel) and SystemExit (SIGTERM) included
        if writer is not None:
            try:
                writer.close()
            except Exception:
                pass
        atomic.discard(tmp)
        if isinstance(e, OSError) and not isinstance(e, (ExportError, atomic.WriteError)):
            raise atomic.WriteError(e.errno, f"cannot write {path}: {e.strerror or e}") from e
        raise
    try:
        atomic.publish(tmp, path, overwrite)
    except atomic.TargetExistsError as e:
        raise ExportError(str(e)) from None


def export_clip(path, sides: list[ClipSide], opts: ClipOptions = ClipOptions(),
                overwrite: bool = False) -> Iterator[tuple[int, int]]:
    """Check the target, then write the clip of one side or a side-by-side composite of several,
    yielding (done, total). Iterate to the end to write it; close() to cancel."""
    path = check_target(path, CLIP_FORMATS, overwrite)
    opts.validate()
    if not sides or any(not s.trace.frames for s in sides):
        raise ExportError("nothing to export: a side has no recorded frames")
    if path.suffix.lower() in (".gif", ".webp"):  # Pillow encodes these from frames held in memory
        h = HEADER_FOOTER + opts.size
        w = len(sides) * (opts.size + 2 * composite.MARGIN + 4)
        need = frame_count(sides, opts) * (h + 16) * (w + 16) * 3
        if need > MAX_HELD_BYTES:
            raise ExportError(f"a {path.suffix[1:].upper()} this long and large needs {need / 2**30:.1f} GiB "
                              "of memory to encode: lower the size, frame rate or duration, or choose MP4")
    return write_clip(path, iter_frames(sides, opts), frame_count(sides, opts), opts.fps, overwrite)


def write_clip_now(path, sides: list[ClipSide], opts: ClipOptions = ClipOptions(), overwrite: bool = False,
                   progress=None) -> Path:
    """Write a whole clip (CLI, scripts); `progress(done, total)` is called along the way."""
    for done, total in export_clip(path, sides, opts, overwrite):
        if progress is not None:
            progress(done, total)
    return Path(path)
