"""Video mode (issue 11), driven like a user would: offscreen, on the CPU, with tiny random-weight
video models saved in a temporary models folder (plus the shipped classifier, for the drift
figures). Every test fails if it leaves a worker thread running."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt

from desktopgen.gui.app import create_window
from desktopgen.gui.workers import running_threads

RUN_MS = 120_000
REPO_MODELS = Path(__file__).resolve().parents[1] / "models"


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """mfmnist-video-diffusion and mfmnist-video-ar of a few thousand random weights each."""
    import torch

    from desktopgen import nets
    from desktopgen.core import checkpoints

    root = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    tok = nets.build("tokenizer", {"quantizer": "fsq", "levels": [3, 3], "channels": 8, "blocks": 0})
    checkpoints.save_model(tok, root / "tok9", {})
    ar = nets.build("video_ar", {"n_layer": 1, "n_head": 2, "n_embd": 32, "vocab": 9, "frames": 4,
                                 "grid": 12, "tokenizer": "tok9"})
    checkpoints.save_model(ar.eval(), root / "mfmnist-video-ar", {})
    unet = nets.build("video_unet", {"channels": 8, "mults": [1, 1, 2], "blocks": 1, "temporal_res": [12],
                                     "head_dim": 8})
    with torch.no_grad():  # the zero-initialised output layers would give blank clips
        for p in unet.parameters():
            if not p.abs().sum():
                p.normal_(0, 0.1)
    checkpoints.save_model(unet.eval(), root / "mfmnist-video-diffusion", {})
    (root / "fmnist-classifier").symlink_to(REPO_MODELS / "fmnist-classifier")
    return root


@pytest.fixture
def models(tiny_models, monkeypatch):
    monkeypatch.setenv("DESKTOPGEN_MODELS", str(tiny_models))
    return tiny_models


@pytest.fixture(autouse=True)
def no_thread_left(qapp):
    yield
    left = running_threads()
    for t in left:
        t.quit()
        t.wait(30_000)
    assert not left, f"worker threads left running: {[t.objectName() for t in left]}"


@pytest.fixture
def settings_file(tmp_path, monkeypatch):
    path = tmp_path / "settings.ini"
    monkeypatch.setenv("DESKTOPGEN_SETTINGS", str(path))
    return path


def _window(qtbot, settings_file):
    win = create_window(device="cpu", settings=QSettings(str(settings_file), QSettings.IniFormat))
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.firstPainted, timeout=10_000):
        win.show()
    return win


@pytest.fixture
def window(qtbot, settings_file, models):
    win = _window(qtbot, settings_file)
    yield win
    win.close()


@pytest.fixture
def video(window):
    """The window in video mode, set up for a quick run: batch 1, 16 frames, 2 diffusion steps."""
    window.mode_switch.actions["video"].trigger()
    v = window.mode_switch.video
    v.seed_lock.setChecked(True)
    v.seed_spin.setValue(3)
    v.batch_spin.setValue(1)
    v.frames_spin.setValue(16)
    v.steps_spin.setValue(2)
    return v


def test_switching_modes_shows_each_page_and_is_remembered(qtbot, settings_file, models):
    win = _window(qtbot, settings_file)
    ms = win.mode_switch
    assert ms.mode == "image" and ms.stack.currentIndex() == 0 and ms.video is None  # built on first use
    ms.actions["video"].trigger()
    assert ms.mode == "video" and ms.stack.currentWidget() is ms.video and ms.video.isVisible()
    assert not win.menus.generate_action.isEnabled()  # Ctrl+Enter now makes videos
    ms.actions["image"].trigger()
    assert ms.stack.currentIndex() == 0 and win.menus.generate_action.isEnabled()
    ms.set_mode("video")
    win.close()
    again = _window(qtbot, settings_file)
    try:
        ms = again.mode_switch
        assert ms.mode == "video" and ms.stack.currentWidget() is ms.video
    finally:
        again.close()


def test_video_models_are_listed_per_side(video):
    assert video.model_combo["diffusion"].currentText() == "mfmnist-video-diffusion"
    assert video.model_combo["ar"].currentText() == "mfmnist-video-ar"
    assert [video.sampler_combo["diffusion"].itemData(i) for i in range(3)] == ["dpmpp-2m", "ddim", "ddpm"]
    for f, combo in video.model_combo.items():  # each model's tooltip says what it is
        tip = combo.itemData(combo.currentIndex(), Qt.ToolTipRole)
        assert tip.startswith(f"{combo.currentText()}: ") and "M parameters" in tip, (f, tip)


def test_a_video_run_ends_with_clips_on_both_sides_and_the_players_loop(qtbot, video):
    with qtbot.waitSignal(video.finished, timeout=RUN_MS):
        video.generate()
    for f, side in video.sides.items():
        assert side.clips is not None and side.clips.shape == (1, 16, 48, 48), f
        assert side.looping and side.made == 16
        assert side.player.image() is not None and side.film.image() is not None
        assert video.runner.sides[f].result.images.shape == (1, 16, 48, 48)
    for side in video.sides.values():  # the player's timer goes to the last frame and round again
        qtbot.waitUntil(lambda side=side: side.index == 15, timeout=5_000)
        qtbot.waitUntil(lambda side=side: side.index == 0, timeout=1_000)
        assert side.frame_label.text().endswith("(looping)")
    assert not video.cancel_button.isEnabled() and video.export_button.isEnabled()


def test_the_drift_plot_gets_one_point_per_frame(qtbot, video):
    updates = []
    video.runner.driftChanged.connect(lambda f, d: updates.append((f, d["frames"])))
    with qtbot.waitSignal(video.finished, timeout=RUN_MS):
        video.generate()
    for f in ("diffusion", "ar"):
        for word in ("consistency", "identity", "motion"):
            assert video.drift.points(word, f) == 16, (f, word)
    assert any(f == "ar" and n < 16 for f, n in updates)  # live: AR figures on its first frames


def test_cancel_stops_both_sides_and_keeps_what_was_made(qtbot, video):
    video.frames_spin.setValue(64)
    video.steps_spin.setValue(200)
    video.generate()
    qtbot.waitUntil(lambda: all(s.latest is not None for s in video.runner.sides.values()), timeout=RUN_MS)
    with qtbot.waitSignal(video.finished, timeout=30_000):
        video.cancel()
    assert not video.is_running()
    for s in video.runner.sides.values():
        assert s.cancelled and s.result is not None and not s.result.completed
        assert s.result.steps < {"diffusion": 1000, "ar": 64 * 144}[s.family]
    assert "Cancelled" in video.status.text()


@pytest.mark.parametrize("suffix", [".mp4", ".gif", ".webp"])
def test_export_writes_a_file_with_one_frame_per_clip_frame(qtbot, video, tmp_path, suffix):
    import imageio.v3 as iio

    with qtbot.waitSignal(video.finished, timeout=RUN_MS):
        video.generate()
    for which in ("both", "ar"):
        path = tmp_path / f"{which}{suffix}"
        job = video.export(str(path), which, size=104, fps=8)
        with qtbot.waitSignal(job.done, timeout=60_000):
            pass
        frames = np.stack(list(iio.imiter(path)))  # imread(index=None) reads one WebP frame only
        assert frames.shape[0] == 16, (which, frames.shape)
        width = 2 * 104 if which == "both" else 104
        assert frames.shape[2] >= width


def test_export_side_by_side_frames_are_the_clips_upscaled():
    from desktopgen.export.videos import side_frame, video_frames

    rng = np.random.default_rng(0)
    clips = rng.integers(0, 256, (1, 3, 48, 48), dtype=np.uint8)
    one = list(video_frames({"ar": clips}, size=104))  # the 52 px grid (2 px padding) upscaled 2x
    assert len(one) == 3
    assert np.array_equal(one[1][:104, :104, 0], np.repeat(np.repeat(np.pad(clips[0, 1], 2), 2, 0), 2, 1))
    both = list(video_frames({"diffusion": clips, "ar": clips}, size=104))
    assert both[0].shape[1] >= 2 * side_frame(clips, 0, 104).shape[1]


def test_export_refuses_bad_input_in_one_line(tmp_path):
    from desktopgen.export.images import ExportError
    from desktopgen.export.videos import export_video

    clips = np.zeros((1, 4, 48, 48), np.uint8)
    with pytest.raises(ExportError, match="must end in"):
        export_video(tmp_path / "x.avi", {"ar": clips})
    with pytest.raises(ExportError, match="nothing to export"):
        export_video(tmp_path / "x.mp4", {})
    with pytest.raises(ExportError, match="uint8"):
        export_video(tmp_path / "x.mp4", {"ar": clips.astype(float)})
    assert not os.listdir(tmp_path)


def test_opening_video_mode_does_not_import_torch(models):
    """The workers import torch on their threads when the window first paints; the GUI thread
    importing it at the same time broke the import ("RpcBackendOptions already defined")."""
    import subprocess

    code = ("import sys; from PySide6.QtCore import QSettings; from PySide6.QtWidgets import QApplication; "
            "app = QApplication([]); from desktopgen.gui.video_view import VideoMode; "
            "v = VideoMode(QSettings(sys.argv[1], QSettings.IniFormat)); "
            "assert v.model_combo['ar'].currentText() == 'mfmnist-video-ar'; "
            "print('torch' in sys.modules)")
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO_MODELS.parent)}
    out = subprocess.run([sys.executable, "-c", code, str(models / "s.ini")], env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-500:]
    assert out.stdout.strip() == "False"
