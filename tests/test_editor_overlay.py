"""The inpainting mask on the window's canvases (issue 8): red over the image about to be inpainted,
an outline (no tint) over an inpainting job's results, gone on plain generations, and a toggle."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QCheckBox, QSlider, QSpinBox

from desktopgen.gui.canvas import OUTLINE, TINT, Canvas, compose, mask_outline
from desktopgen.gui.workers import running_threads

RUN_TIMEOUT_MS = 240_000


@pytest.fixture(autouse=True)
def no_thread_left(qapp):
    yield
    left = running_threads()
    for t in left:
        t.quit()
        t.wait(30_000)
    assert not left, f"worker threads left running: {[t.objectName() for t in left]}"


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    from desktopgen.gui.app import create_window

    path = tmp_path / "settings.ini"
    monkeypatch.setenv("DESKTOPGEN_SETTINGS", str(path))
    win = create_window(device="cpu", settings=QSettings(str(path), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    named(win, QCheckBox, "seedLock").setChecked(True)  # by name: the window may be split in parts
    named(win, QSpinBox, "batchSpin").setValue(1)
    named(win, QSpinBox, "diffusionStepsSpin").setValue(4)
    with qtbot.waitSignal(win.firstPainted, timeout=10_000):
        win.show()
    yield win
    win.close()


def named(win, kind, name):
    w = win.findChild(kind, name)
    assert w is not None, name
    return w


def _hole():
    mask = np.zeros((28, 28), np.uint8)
    mask[8:20, 6:22] = 1
    return mask


def _cancel_once_started(qtbot, win):
    """Cancel after both sides have made a step (a job cancelled before its worker picked it up is
    never answered: see the report on workers.py), then wait until both are idle."""
    qtbot.waitUntil(lambda: all(win.plots.count(f) >= 1 for f in win.canvases), timeout=RUN_TIMEOUT_MS)
    win.cancel()
    qtbot.waitUntil(lambda: not win.is_running(), timeout=60_000)


def _drawn(canvas: Canvas) -> np.ndarray:
    """The RGB image the canvas paints (before scaling), as an array."""
    img = canvas._qimage().convertToFormat(QImage.Format.Format_RGB888)
    h, w = img.height(), img.width()
    return np.frombuffer(img.constBits(), np.uint8).reshape(h, img.bytesPerLine())[:, :3 * w].reshape(h, w, 3)


def test_canvas_tints_a_source_and_outlines_a_job_untouched(qtbot):
    c = Canvas("t")
    qtbot.addWidget(c)
    frames = np.full((2, 28, 28), 200, np.uint8)
    c.set_frames(frames)
    c.set_overlay(_hole(), TINT)
    assert not np.array_equal(_drawn(c), compose(frames))  # the hole is red
    c.set_overlay(_hole(), OUTLINE)
    assert np.array_equal(_drawn(c), compose(frames))  # results: every pixel as generated
    c.set_overlay_visible(False)
    c.set_overlay(_hole(), TINT)
    assert c.overlay()[0] is None and np.array_equal(_drawn(c), compose(frames))  # toggled off
    c.set_overlay_visible(True)
    assert c.overlay()[0] is not None
    c.clear("new run")
    assert c.overlay()[0] is None  # a new run: the old mask no longer applies
    with pytest.raises(ValueError):
        c.set_overlay(_hole(), "blink")


def test_mask_outline_is_the_border_of_the_hole():
    m = np.zeros((28, 28), np.uint8)
    m[2:4, 5:8] = 1  # 2 rows x 3 columns: perimeter of 2 * (2 + 3) unit edges
    segs = mask_outline(m)
    assert len(segs) == 10 and set(segs) >= {(5, 2, 6, 2), (8, 3, 8, 4), (5, 4, 6, 4), (5, 2, 5, 3)}
    assert mask_outline(np.ones((28, 28))) and len(mask_outline(np.ones((28, 28)))) == 4 * 28


def test_mask_shows_only_while_it_applies_with_a_toggle(qtbot, window, test_set):
    act = named(window, QAction, "maskOverlayAction")
    assert act.isCheckable() and act.isChecked() and act.shortcut().toString() == "Ctrl+M"
    menus = [a.menu() for a in window.menuBar().actions() if a.menu() is not None]
    assert act.toolTip() and any(act in m.actions() for m in menus)  # in a menu, e.g. Image
    editor = window.mask_editor()
    box = editor.findChild(QCheckBox, "maskOverlayCheck")
    assert box is not None and box.isChecked() and box.toolTip() == act.toolTip()
    editor.set_image(test_set[0][0], "example")
    editor.set_mask(_hole())
    canvases = window.canvases.values()
    for c in canvases:  # the image to inpaint, with its hole in red
        assert c.overlay()[1] == TINT and np.array_equal(c.overlay()[0], _hole())
    window.activateWindow()
    QTest.keyClick(window, Qt.Key.Key_M, Qt.KeyboardModifier.ControlModifier)  # Ctrl+M: hidden...
    assert all(c.overlay()[0] is None for c in canvases)
    assert not box.isChecked()
    box.click()  # ...and back, from the editor's check box
    assert all(c.overlay()[0] is not None for c in canvases)

    with qtbot.waitSignal(window.runFinished, timeout=RUN_TIMEOUT_MS,
                          check_params_cb=lambda f: f == "diffusion"):
        assert editor.request_inpaint()
    _cancel_once_started(qtbot, window)
    assert editor.ar_position == -1  # the live AR context ended with the run
    for f, c in window.canvases.items():  # results: outlined, never tinted
        assert np.array_equal(c.overlay()[0], _hole()) and c.overlay()[1] == OUTLINE
        assert np.array_equal(_drawn(c), compose(c.frames(), None)), f

    editor.apply_preset("bottom-half")  # a new hole: previewed in red on the image to inpaint...
    for c in canvases:
        assert c.overlay()[1] == TINT and c.frames().shape == (1, 28, 28)
    named(window, QSlider, "timelineSlider").setValue(500)  # ...but a replay shows the job's own hole
    for f, c in window.canvases.items():
        assert np.array_equal(c.overlay()[0], _hole()) and c.overlay()[1] == OUTLINE
        assert np.array_equal(_drawn(c), compose(c.frames(), c._position)), f

    window.generate()  # a plain generation: no mask on it
    assert all(c.overlay()[0] is None for c in canvases)
    editor.apply_preset("top-half")  # editing the mask mid-run does not paint it on the run
    assert all(c.overlay()[0] is None for c in canvases)
    _cancel_once_started(qtbot, window)
    assert all(c.overlay()[0] is None for c in canvases)
