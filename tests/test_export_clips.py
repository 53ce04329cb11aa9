"""Process clips: every format reads back with the right frame count, size and first/last frames;
time vs progress alignment; long AR runs are subsampled; cancel and errors leave no file."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import pytest
from export_helpers import fake_trace
from PIL import Image, ImageSequence

from desktopgen.export.clips import (
    ClipOptions,
    ClipSide,
    export_clip,
    frame_count,
    frame_durations,
    iter_frames,
    write_clip,
    write_clip_now,
)
from desktopgen.export.images import ExportError


def race_sides():
    # diffusion: 20 steps in 0.5 s; AR: 784 steps in 2 s, previews kept every 8 steps
    return [ClipSide.of(fake_trace("diffusion", 20, 0.5)), ClipSide.of(fake_trace("ar", 784, 2.0, every=8))]


def read_frames(path) -> np.ndarray:
    if str(path).endswith(".webp"):  # imageio's pillow plugin reads one WebP frame only
        return np.stack([np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(Image.open(path))])
    return iio.imread(path, index=None)


def mad(a, b) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


@pytest.mark.parametrize("suffix", [".mp4", ".gif", ".webp"])
def test_composite_clip_reads_back(tmp_path, suffix):
    sides, opts = race_sides(), ClipOptions(fps=8, size=96, hold=0.5)
    expected = list(iter_frames(sides, opts))
    assert len(expected) == frame_count(sides, opts) == 16 + 4  # 2 s real time at 8 fps + hold
    path = write_clip_now(tmp_path / f"race{suffix}", sides, opts)
    frames = read_frames(path)
    assert frames.shape[1:] == expected[0].shape  # RGB, size kept (padded to 16 px for H.264)
    assert expected[0].shape[0] % 16 == 0 and expected[0].shape[1] % 16 == 0
    if suffix == ".mp4":
        assert len(frames) == len(expected)
        meta = iio.immeta(path)  # what players need: H.264, yuv420p, the chosen frame rate
        assert meta["codec"] == "h264" and meta["pix_fmt"].startswith("yuv420p") and meta["fps"] == 8
    else:  # Pillow merges identical consecutive frames (the final hold) into one longer frame
        assert len(expected) - 4 <= len(frames) <= len(expected)
    tol = {".mp4": 4.0, ".gif": 3.0, ".webp": 3.0}[suffix]
    assert mad(frames[0], expected[0]) < tol and mad(frames[-1], expected[-1]) < tol
    # and the comparison can tell frames apart: first vs last differ by far more than tol
    assert mad(frames[0], expected[-1]) > 3 * tol
    assert [p.name for p in tmp_path.iterdir()] == [f"race{suffix}"]  # no temp file left


def test_gif_timing_matches_fps(tmp_path):
    sides, opts = race_sides(), ClipOptions(fps=10, size=64, hold=1.0)
    path = write_clip_now(tmp_path / "r.gif", sides, opts)
    img = Image.open(path)
    total_ms = sum(f.info["duration"] for f in ImageSequence.Iterator(img))
    assert abs(total_ms - 1000 * frame_count(sides, opts) / 10) <= 20


def test_time_alignment_lets_the_faster_side_wait():
    sides = race_sides()
    opts = ClipOptions(fps=10, size=64, hold=0, align="time")
    frames = list(iter_frames(sides, opts))
    assert len(frames) == 20  # AR's 2 s at 10 fps
    w = frames[0].shape[1] // 2
    # halfway: diffusion (0.5 s) is long done, AR (2 s) is not: left halves identical from
    # 0.5 s on, right halves still changing
    diff_left = mad(frames[10][:, :w], frames[-1][:, :w])
    diff_right = mad(frames[10][:, w:], frames[-1][:, w:])
    assert diff_left < 0.5 and diff_right > 2


def test_progress_alignment_moves_both_sides_together():
    sides = race_sides()
    opts = ClipOptions(fps=10, size=64, hold=0, align="progress")
    frames = list(iter_frames(sides, opts))
    w = frames[0].shape[1] // 2
    assert mad(frames[10][:, :w], frames[-1][:, :w]) > 2  # diffusion still in progress at 50 %
    assert mad(frames[10][:, w:], frames[-1][:, w:]) > 2


def test_long_ar_run_is_subsampled():
    side = ClipSide.of(fake_trace("ar", 784, 60.0, batch=1, every=1))
    opts = ClipOptions(fps=15, max_seconds=10, hold=1)
    # a minute of 784 steps becomes a 10 s time-lapse at 15 fps, not 784 frames
    assert frame_count([side], opts) == 150 + 15


def test_single_sample_clip_shows_that_sample(tmp_path):
    tr = fake_trace("diffusion", 10, 1.0, batch=4)
    opts = ClipOptions(fps=5, size=56, hold=0, index=3)
    path = write_clip_now(tmp_path / "one.webp", [ClipSide.of(tr)], opts)
    last = read_frames(path)[-1]
    from desktopgen.export.composite import HEADER, MARGIN
    tile = last[HEADER : HEADER + 56, MARGIN : MARGIN + 56, 0]
    assert abs(int(np.median(tile)) - (255 - 30)) <= 3  # sample 3 is 30 darker than sample 0


def test_cancel_leaves_no_file(tmp_path):
    gen = export_clip(tmp_path / "c.mp4", race_sides(), ClipOptions(fps=30, size=64))
    for done, _total in gen:
        if done == 5:
            break
    assert any(p.name.startswith(".c.") for p in tmp_path.iterdir())  # the temp file exists mid-way
    gen.close()
    assert list(tmp_path.iterdir()) == []


def test_clip_target_and_option_errors(tmp_path):
    sides = race_sides()
    (tmp_path / "x.mp4").write_bytes(b"old")
    with pytest.raises(ExportError, match="exists"):
        export_clip(tmp_path / "x.mp4", sides)
    with pytest.raises(ExportError, match="does not exist"):
        export_clip(tmp_path / "no" / "x.mp4", sides)
    with pytest.raises(ExportError, match="must end in"):
        export_clip(tmp_path / "x.avi", sides)
    with pytest.raises(ExportError, match="fps"):
        export_clip(tmp_path / "y.mp4", sides, ClipOptions(fps=0))
    with pytest.raises(ExportError, match="align"):
        export_clip(tmp_path / "y.mp4", sides, ClipOptions(align="random"))
    assert [p.name for p in tmp_path.iterdir()] == ["x.mp4"]


def test_encoder_failure_removes_temp_file(tmp_path, monkeypatch):
    import desktopgen.export.clips as clips

    class Broken:
        def __init__(self, *a, **k):
            pass

        def append_data(self, frame):
            raise OSError(28, "No space left on device")

        def close(self):
            pass

    monkeypatch.setattr(clips, "_mp4_writer", lambda tmp, fps: Broken())
    with pytest.raises(OSError, match="No space"):
        write_clip_now(tmp_path / "x.mp4", race_sides(), ClipOptions(fps=5, size=64))
    assert list(tmp_path.iterdir()) == []


def test_huge_gif_is_refused_up_front(tmp_path):
    opts = ClipOptions(fps=60, max_seconds=600, seconds=600, size=2048)
    with pytest.raises(ExportError, match="choose MP4"):
        export_clip(tmp_path / "huge.gif", race_sides(), opts)
    export_clip(tmp_path / "huge.mp4", race_sides(), opts).close()  # MP4 streams: allowed
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_cancel_after_the_final_encode_leaves_no_file(tmp_path, suffix):
    """The last yield comes after the encode and before the publish: a cancel there writes nothing,
    and no yield follows a published file (the GUI would say 'cancelled' about a written one)."""
    target = tmp_path / f"c{suffix}"
    gen = export_clip(target, race_sides(), ClipOptions(fps=4, size=32, seconds=1, hold=0))
    done, total = list(gen)[-1]
    assert done == total and target.exists()  # iterated to the end: published
    target.unlink()
    gen = export_clip(target, race_sides(), ClipOptions(fps=4, size=32, seconds=1, hold=0))
    for done, total in gen:
        if done == total:
            gen.close()
            break
    assert list(tmp_path.iterdir()) == []


def test_clip_created_meanwhile_is_kept(tmp_path):
    """The target is checked at the start; a file appearing during the encode is not replaced."""
    target = tmp_path / "r.gif"
    gen = export_clip(target, race_sides(), ClipOptions(fps=4, size=32, seconds=1, hold=0))
    next(gen)
    target.write_bytes(b"someone else's")
    with pytest.raises(ExportError, match="appeared while writing"):
        for _ in gen:
            pass
    assert target.read_bytes() == b"someone else's" and [p.name for p in tmp_path.iterdir()] == ["r.gif"]
    # with overwrite it is replaced, as asked
    gen = export_clip(target, race_sides(), ClipOptions(fps=4, size=32, seconds=1, hold=0), overwrite=True)
    list(gen)
    assert target.read_bytes()[:3] == b"GIF"


@pytest.mark.parametrize("suffix, unit", [(".gif", 10), (".webp", 1)])
@pytest.mark.parametrize("n, fps", [(150, 15), (10, 7), (61, 30)])
def test_gif_and_webp_last_exactly_frames_over_fps(tmp_path, suffix, unit, n, fps):
    # GIF delays are whole 1/100 s, WebP's whole ms: a fixed round(1000 / fps) per frame drifts
    # (a "10 s" 15-fps GIF lasted 9.92 s); the file must last n / fps, to its unit
    frames = [np.zeros((16, 16, 3), np.uint8) for _ in range(n)]
    for i, f in enumerate(frames):  # a white pixel walks the frame, so no two consecutive are merged
        f[i // 16 % 16, i % 16] = 255
    path = tmp_path / f"c{suffix}"
    for _ in write_clip(path, iter(frames), n, fps):
        pass
    durations = [f.load() and f.info["duration"] for f in ImageSequence.Iterator(Image.open(path))]
    assert len(durations) == n
    assert sum(durations) == unit * round(1000 * n / (fps * unit))
    assert max(durations) - min(durations) <= unit  # spread evenly, not one long last frame


def test_frame_durations_sum_to_the_exact_length():
    assert frame_durations(150, 15, 10) == [70, 60, 70] * 50  # 10 s as 1/100-s GIF delays
    assert sum(frame_durations(10, 7)) == 1429 and sum(frame_durations(10, 7, 10)) == 1430
