"""Recall in the window: generate, export, drop the PNG back, generate again: the same pixels,
bit for bit (np.array_equal), for both families, inpainting and a seed beyond 32 bits included.
And a recipe that cannot be restored says what it could not restore, never a traceback.

The diffusion checks run by default (4 steps on the CPU); the AR ones are marked slow.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image, PngImagePlugin
from PySide6.QtCore import QMimeData, QPoint, QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from desktopgen.core.requests import SampleRequest
from desktopgen.export.images import RECIPE_KEY, export_image
from desktopgen.gui.app import create_window
from desktopgen.gui.workers import running_threads

BIG_SEED = 3_000_000_000  # over 2^31 - 1, where a QSpinBox stops
RUN_TIMEOUT_MS = 240_000


@pytest.fixture
def window(qtbot, tmp_path):
    win = create_window(device="cpu", settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(win)
    c = win.controls
    c.seed_lock.setChecked(True)
    c.class_combo.setCurrentIndex(0)  # any: sample i gets class (first_index + i) % 10
    c.steps_spin["diffusion"].setValue(4)
    with qtbot.waitSignal(win.firstPainted, timeout=10_000):
        win.show()
    yield win
    win.close()
    assert not running_threads()


def drop(window, path) -> str:
    """Drop `path` on the window as the window system would; returns the status-bar message."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    QApplication.sendEvent(window, QDragEnterEvent(QPoint(50, 50), Qt.CopyAction, mime,
                                                   Qt.LeftButton, Qt.NoModifier))
    QApplication.sendEvent(window, QDropEvent(QPointF(50, 50), Qt.CopyAction, mime, Qt.LeftButton,
                                              Qt.NoModifier))
    return window.statusBar().currentMessage()


def run(qtbot, window, families):
    with qtbot.waitSignal(window.allIdle, timeout=RUN_TIMEOUT_MS):
        window.generate(families)
    res = window.current_results()
    for f in families:
        assert res[f]["result"] is not None and res[f]["result"].completed, res[f]["error"]
    return res


def inpaint(qtbot, window, source, mask, families=("diffusion", "ar"), **changes):
    with qtbot.waitSignal(window.allIdle, timeout=RUN_TIMEOUT_MS):
        window.start_inpaint(source, mask, families, **changes)
    return window.current_results()


def scramble(window):
    """Controls far from any recipe, so a recall has everything to restore."""
    c = window.controls
    c.seed_spin.setValue(5)
    c.batch_spin.setValue(3)
    c.first_spin.setValue(1)
    c.class_combo.setCurrentIndex(4)
    c.steps_spin["diffusion"].setValue(9)
    c.guidance_spin["diffusion"].setValue(7.5)


def hole():
    source = np.tile(np.arange(28, dtype=np.uint8) * 9, (28, 1))
    mask = np.zeros((28, 28), np.uint8)
    mask[6:20, 8:22] = 1
    return source, mask


def test_exported_sample_regenerates_bit_for_bit_with_a_big_seed(qtbot, window, tmp_path):
    c = window.controls
    c.seed_spin.setValue(BIG_SEED)
    c.batch_spin.setValue(2)
    assert c.seed_spin.value() == BIG_SEED  # not clamped to 2^31 - 1
    first = run(qtbot, window, ("diffusion",))["diffusion"]
    assert first["request"].seed == BIG_SEED
    png = export_image(tmp_path / "d.png", {"diffusion": (first["request"], first["result"])},
                       index=1, size=None)
    scramble(window)
    assert drop(window, png).startswith("Restored the settings of d.png")
    assert c.seed_spin.value() == BIG_SEED and c.batch_spin.value() == 1
    assert c.first_spin.value() == 2  # sample #2 of the batch (first_index 1)
    again = run(qtbot, window, ("diffusion",))["diffusion"]
    assert again["request"].seed == BIG_SEED and again["request"].first_index == 1
    assert np.array_equal(again["result"].images[0], first["result"].images[1])
    assert np.array_equal(np.asarray(Image.open(png)), again["result"].images[0])


def test_exported_inpainting_regenerates_bit_for_bit(qtbot, window, tmp_path):
    window.controls.seed_spin.setValue(BIG_SEED)
    window.controls.batch_spin.setValue(1)
    source, mask = hole()
    first = inpaint(qtbot, window, source, mask, ("diffusion",), resample=2, jump=1)["diffusion"]
    assert first["request"].resample == 2 and first["request"].mask is not None
    png = export_image(tmp_path / "i.png", {"diffusion": (first["request"], first["result"])},
                       size=None)
    run(qtbot, window, ("diffusion",))  # a plain run in between: no inpainting pending
    scramble(window)
    assert drop(window, png).startswith("Restored the settings of i.png")
    editor = window._editor  # the recalled image and hole are shown for editing
    assert np.array_equal(editor.source(), source) and np.array_equal(editor.mask(), mask)
    again = run(qtbot, window, ("diffusion",))["diffusion"]
    assert again["request"].resample == 2
    assert np.array_equal(np.asarray(again["request"].mask), mask)
    assert np.array_equal(again["result"].images, first["result"].images)
    assert window.request_for("diffusion").mask is None  # one Generate, then plain again


@pytest.mark.slow
def test_both_families_inpainted_regenerate_bit_for_bit_from_a_composite(qtbot, window, tmp_path):
    window.controls.seed_spin.setValue(BIG_SEED)
    window.controls.batch_spin.setValue(1)
    source, mask = hole()
    first = inpaint(qtbot, window, source, mask)
    png = export_image(tmp_path / "both.png", {f: (first[f]["request"], first[f]["result"])
                                               for f in ("diffusion", "ar")})
    scramble(window)
    assert drop(window, png).startswith("Restored the settings of both.png")
    again = run(qtbot, window, ("diffusion", "ar"))
    for f in ("diffusion", "ar"):
        assert again[f]["request"].seed == BIG_SEED and again[f]["request"].mask is not None
        assert np.array_equal(again[f]["result"].images, first[f]["result"].images), f


@pytest.mark.slow
def test_exported_ar_sample_regenerates_bit_for_bit(qtbot, window, tmp_path):
    window.controls.seed_spin.setValue(BIG_SEED)
    window.controls.batch_spin.setValue(2)
    window.controls.temperature_spin.setValue(0.9)
    first = run(qtbot, window, ("ar",))["ar"]
    png = export_image(tmp_path / "a.png", {"ar": (first["request"], first["result"])}, index=1,
                       size=None)
    scramble(window)
    window.controls.temperature_spin.setValue(1.5)
    assert drop(window, png).startswith("Restored the settings of a.png")
    again = run(qtbot, window, ("ar",))["ar"]
    assert np.array_equal(again["result"].images[0], first["result"].images[1])


def png_with_recipe(path, text: str):
    info = PngImagePlugin.PngInfo()
    info.add_text(RECIPE_KEY, text)
    Image.new("L", (28, 28)).save(path, pnginfo=info)
    return path


def test_unknown_model_and_sampler_are_reported_not_skipped(window, tmp_path):
    req = SampleRequest("diffusion", model="fmnist-diffusion-v9", sampler="euler-a", steps=4,
                        guidance=1.333, seed=11, batch=1)
    png = png_with_recipe(tmp_path / "m.png", json.dumps({"request": req.to_dict()}))
    msg = drop(window, png)
    assert not msg.startswith("Restored the settings"), msg
    assert "fmnist-diffusion-v9" in msg and "not installed" in msg and "euler-a" in msg
    assert "guidance 1.333" in msg  # the panel holds two decimals: not exact, so it says so
    assert window.controls.seed_spin.value() == 11  # what could be restored was


def test_non_finite_guidance_in_a_recipe_is_refused(window, tmp_path):
    window.controls.guidance_spin["diffusion"].setValue(3.0)
    text = '{"request": {"family": "diffusion", "guidance": NaN, "seed": 1}}'
    msg = drop(window, png_with_recipe(tmp_path / "nan.png", text))
    assert msg.startswith("Cannot restore the settings of nan.png") and "NaN" in msg, msg
    assert window.controls.guidance_spin["diffusion"].value() == 3.0


def test_a_recipe_nested_100000_deep_gives_a_clear_message(window, tmp_path):
    text = '{"request": ' + "[" * 100_000 + "]" * 100_000 + "}"
    msg = drop(window, png_with_recipe(tmp_path / "deep.png", text))
    assert msg.startswith("Cannot restore the settings of deep.png"), msg
    assert window._editor is None  # not taken for an image to inpaint either


def test_what_the_recipe_itself_cannot_say_is_reported(window, tmp_path):
    """A hand-written recipe naming only a seed restores it, and says the rest are defaults."""
    text = '{"request": {"family": "diffusion", "seed": 5}}'
    msg = drop(window, png_with_recipe(tmp_path / "short.png", text))
    assert msg.startswith("Restored short.png except:") and "does not say" in msg, msg
    assert window.controls.seed_spin.value() == 5
