"""The export dialog offscreen: image and clip exports, asking before overwriting, progress and
cancel of a long clip (no file left), errors in the status line, shortcuts, recall from PNG."""

from __future__ import annotations

import numpy as np
import pytest
from export_helpers import fake_trace
from PIL import Image

from desktopgen.core.events import RunResult
from desktopgen.core.requests import SampleRequest
from desktopgen.export.clips import ClipOptions, ClipSide, frame_count
from desktopgen.export.recall import read_recipe
from desktopgen.gui.export_dialog import ExportDialog, install_export_actions, recall_from_png


def make_results():
    out = {}
    for fam, steps, secs in (("diffusion", 20, 0.4), ("ar", 784, 1.6)):
        req = SampleRequest(fam, model=f"m-{fam}", model_sha256="cd" * 32, sampler="dpmpp-2m" if fam ==
                            "diffusion" else "pixel", steps=steps, guidance=2.0, batch=4, seed=11,
                            class_label=3)
        tr = fake_trace(fam, steps, secs, batch=4, every=1 if fam == "diffusion" else 8)
        res = RunResult(fam, tr.frames[-1][2], np.full(4, 3), steps, secs, 2**28, "process", "cpu")
        out[fam] = (req, res, tr)
    return out


@pytest.fixture(autouse=True)
def own_settings(tmp_path, monkeypatch):
    """The dialog remembers folders in the app's settings: never the user's in tests."""
    monkeypatch.setenv("DESKTOPGEN_SETTINGS", str(tmp_path.parent / f"{tmp_path.name}-settings.ini"))


@pytest.fixture
def dialog(qtbot, tmp_path):
    d = ExportDialog(None, make_results(), folder=tmp_path)
    qtbot.addWidget(d)
    yield d
    if d.running:
        d.cancel_export()
    assert d.wait(20000)


def test_image_export_one_sample(dialog, tmp_path):
    dialog.image_side.setCurrentIndex(dialog.image_side.findData("ar"))
    dialog.image_what.setCurrentIndex(1)
    assert dialog.image_index.minimum() == 1  # samples are numbered from 1 where the user sees them
    dialog.image_index.setValue(3)  # the third sample: index 2
    dialog.image_size.setValue(56)
    dialog.image_path.edit.setText(str(tmp_path / "one.png"))
    dialog.export_button.click()
    img = Image.open(tmp_path / "one.png")
    assert img.size == (56, 56)
    recipe = read_recipe(tmp_path / "one.png")
    assert recipe.batch_index == 2 and recipe.request.family == "ar" and recipe.request.first_index == 2
    assert "Wrote" in dialog.status.text()


def test_format_choice_changes_suffix_and_both_sides_default(dialog, tmp_path):
    assert dialog.image_side.currentData() == "both"
    dialog.image_format.setCurrentText("WebP")
    assert dialog.image_path.edit.text().endswith(".webp")
    dialog.export_button.click()
    p = next(tmp_path.glob("*.webp"))
    assert set(read_recipe(p).requests) == {"diffusion", "ar"}


def test_asks_before_overwriting(dialog, tmp_path):
    target = tmp_path / "x.png"
    target.write_bytes(b"keep")
    dialog.image_path.edit.setText(str(target))
    asked = []
    dialog.confirm_overwrite = lambda p: asked.append(p) or False
    dialog.export_button.click()
    assert asked == [target] and target.read_bytes() == b"keep"
    assert "exists" in dialog.status.text()
    dialog.confirm_overwrite = lambda p: True
    dialog.export_button.click()
    assert read_recipe(target).requests.keys() == {"diffusion", "ar"}


def test_unwritable_path_shows_clear_error(dialog, tmp_path):
    dialog.image_path.edit.setText(str(tmp_path / "no" / "such" / "x.png"))
    dialog.export_button.click()
    assert "does not exist" in dialog.status.text() and "failed" in dialog.status.text()


def test_clip_export_runs_off_the_ui_thread(dialog, qtbot, tmp_path):
    dialog.tabs.setCurrentIndex(1)
    dialog.clip_format.setCurrentText("GIF")
    dialog.clip_fps.setValue(5)
    dialog.clip_size.setValue(48)
    dialog.clip_align.setCurrentIndex(1)  # progress
    path = tmp_path / "race.gif"
    dialog.clip_path.edit.setText(str(path))
    with qtbot.waitSignal(dialog.progress.valueChanged, timeout=20000):
        dialog.export_button.click()
    assert dialog.wait(20000)
    qtbot.waitUntil(lambda: not dialog.cancel_button.isEnabled(), timeout=5000)
    assert path.exists() and dialog.last_path == path
    assert dialog.progress.value() == 100
    frames = Image.open(path).n_frames
    sides = [ClipSide.of(r[2], r[0]) for r in make_results().values()]
    assert 2 <= frames <= frame_count(sides, ClipOptions(fps=5, align="progress"))


def test_cancel_long_clip_leaves_no_file(dialog, qtbot, tmp_path):
    dialog.tabs.setCurrentIndex(1)
    dialog.clip_fps.setValue(60)
    dialog.clip_max.setValue(600)
    dialog.clip_size.setValue(512)
    dialog.clip_path.edit.setText(str(tmp_path / "long.mp4"))
    # the fake runs last 1.6 s; stretch them so the clip would be long: cap, fps and size are high
    results = make_results()
    for _, _, tr in results.values():
        tr.elapsed[:] = [e * 300 for e in tr.elapsed]
        tr.frames[:] = [(s, e * 300, p, c, pos) for s, e, p, c, pos in tr.frames]
    dialog.results = results
    dialog.export_button.click()
    assert dialog.running and dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.progress.value() >= 1 or any(tmp_path.iterdir()), timeout=20000)
    with qtbot.waitSignal(dialog._job.cancelled, timeout=20000):
        dialog.cancel_button.click()
    assert dialog.wait(20000)
    qtbot.waitUntil(lambda: "Cancelled" in dialog.status.text(), timeout=5000)
    assert list(tmp_path.iterdir()) == []
    assert dialog.export_button.isEnabled() and not dialog.cancel_button.isEnabled()


def test_closing_mid_export_cancels(qtbot, tmp_path):
    d = ExportDialog(None, make_results(), tab="clip", folder=tmp_path)
    qtbot.addWidget(d)
    d.clip_fps.setValue(60)
    d.clip_max.setValue(600)
    d.clip_path.edit.setText(str(tmp_path / "c.webp"))
    for _, _, tr in d.results.values():
        tr.frames[:] = [(s, e * 300, p, c, pos) for s, e, p, c, pos in tr.frames]
        tr.elapsed[:] = [e * 300 for e in tr.elapsed]
    d.export_button.click()
    d.reject()
    assert not d.running and list(tmp_path.iterdir()) == []


def test_without_results_nothing_to_export(qtbot):
    d = ExportDialog(None, {})
    qtbot.addWidget(d)
    assert not d.export_button.isEnabled() and "generate first" in d.status.text()


def test_shortcuts_and_recall(qtbot, tmp_path):
    from PySide6.QtWidgets import QMainWindow

    w = QMainWindow()
    qtbot.addWidget(w)
    image, clip = install_export_actions(w, make_results)
    assert image.shortcut().toString() == "Ctrl+S" and clip.shortcut().toString() == "Ctrl+Shift+S"
    plain = tmp_path / "plain.png"
    Image.new("L", (4, 4)).save(plain)
    assert recall_from_png(plain) is None
    d = ExportDialog(None, make_results(), folder=tmp_path)
    qtbot.addWidget(d)
    d.image_path.edit.setText(str(tmp_path / "r.png"))
    d.export_button.click()
    recipe = recall_from_png(tmp_path / "r.png")
    assert recipe.requests["diffusion"] == make_results()["diffusion"][0]


def test_accepts_the_windows_results_form(qtbot, tmp_path):
    """The main window's current_results(): dicts, with a side still running (result None)."""
    res = make_results()
    window_form = {"diffusion": {"request": res["diffusion"][0], "result": res["diffusion"][1],
                                 "trace": res["diffusion"][2], "card": {}, "error": ""},
                   "ar": {"request": res["ar"][0], "result": None, "trace": res["ar"][2], "card": {},
                          "error": ""}}
    d = ExportDialog(None, window_form, folder=tmp_path)
    qtbot.addWidget(d)
    assert list(d.results) == ["diffusion"] and d.image_side.count() == 1
    d.image_path.edit.setText(str(tmp_path / "w.png"))
    d.export_button.click()
    assert read_recipe(tmp_path / "w.png").request == res["diffusion"][0]


def test_clip_write_error_is_reported_and_leaves_nothing(dialog, qtbot, tmp_path, monkeypatch):
    import desktopgen.export.clips as clips

    class FullDisk:
        def append_data(self, frame):
            raise OSError(28, "No space left on device")

        def close(self):
            pass

    monkeypatch.setattr(clips, "_mp4_writer", lambda tmp, fps: FullDisk())
    dialog.tabs.setCurrentIndex(1)
    dialog.clip_size.setValue(48)
    dialog.clip_path.edit.setText(str(tmp_path / "x.mp4"))
    dialog.export_button.click()
    assert dialog.wait(20000)
    qtbot.waitUntil(lambda: "No space left" in dialog.status.text(), timeout=5000)
    assert "failed" in dialog.status.text() and dialog.export_button.isEnabled()
    assert list(tmp_path.iterdir()) == []
