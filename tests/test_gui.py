"""The desktop window, driven like a user would: offscreen, on the CPU, with the shipped models.

Diffusion runs 4 steps at batch 1; the AR side runs its 784 pixel steps once in full and is
cancelled early elsewhere. Every test fails if it leaves a worker thread running.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QComboBox,
    QProgressBar,
    QPushButton,
    QSlider,
    QSpinBox,
    QWidget,
)

from desktopgen.core import samplers
from desktopgen.gui import options
from desktopgen.gui.app import create_window
from desktopgen.gui.canvas import Canvas, compose, grid_shape
from desktopgen.gui.workers import running_threads

RUN_TIMEOUT_MS = 240_000  # a full AR run on a busy 2-core CI machine


@pytest.fixture(autouse=True)
def no_thread_left(qapp):
    """Fail the test if any worker QThread is still running after it."""
    yield
    left = running_threads()
    for t in left:  # stop them so the next tests (and the interpreter's exit) stay sane
        t.quit()
        t.wait(30_000)
    assert not left, f"worker threads left running: {[t.objectName() for t in left]}"


@pytest.fixture
def settings_file(tmp_path, monkeypatch):
    path = tmp_path / "settings.ini"
    monkeypatch.setenv("DESKTOPGEN_SETTINGS", str(path))
    return path


@pytest.fixture
def window(qtbot, settings_file):
    win = create_window(device="cpu", settings=QSettings(str(settings_file), QSettings.IniFormat))
    qtbot.addWidget(win)
    win.controls.seed_lock.setChecked(True)
    win.controls.seed_spin.setValue(7)
    win.controls.batch_spin.setValue(1)
    win.controls.class_combo.setCurrentIndex(8)  # sneaker
    win.controls.steps_spin["diffusion"].setValue(4)
    with qtbot.waitSignal(win.firstPainted, timeout=10_000):
        win.show()
    yield win
    win.close()


def wait_idle(qtbot, win, timeout=RUN_TIMEOUT_MS):
    qtbot.waitUntil(lambda: not win.is_running(), timeout=timeout)


def wait_steps(qtbot, win, family, n, timeout=120_000):
    qtbot.waitUntil(lambda: win.plots is not None and win.plots.count(family) >= n, timeout=timeout)


def test_window_module_does_not_import_torch():
    """The window can appear before torch loads: building it imports neither torch nor the engine."""
    code = ("import os, sys; os.environ['QT_QPA_PLATFORM'] = 'offscreen';"
            "from desktopgen.gui.app import create_app, make_settings;"
            "from desktopgen.gui.window import MainWindow;"
            "app = create_app(); w = MainWindow(make_settings()); painted = [];"
            "w.firstPainted.connect(lambda: painted.append(1)); w.show();"
            "[app.processEvents() for _ in range(20)];"
            "bad = [m for m in ('torch', 'desktopgen.sampling', 'pyqtgraph') if m in sys.modules];"
            "print(bad, painted); sys.exit(1 if bad or not painted else 0)")
    env = dict(os.environ, DESKTOPGEN_SETTINGS=os.devnull + ".ini")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stdout + r.stderr


def test_gui_samplers_defaults_and_ranges_come_from_the_table(qtbot):
    from desktopgen.core import checkpoints
    from desktopgen.gui.controls import ControlPanel

    panel = ControlPanel()
    qtbot.addWidget(panel)
    for family in ("diffusion", "ar"):
        combo = panel.sampler_combo[family]
        table = samplers.samplers_for(family)
        assert [combo.itemData(i) for i in range(combo.count())] == [s.name for s in table]
        assert [combo.itemText(i) for i in range(combo.count())] == [  # each row names its model
            f"{s.label} — {s.default_model}" for s in table]
        for i, spec in enumerate(table):
            combo.setCurrentIndex(i)
            steps, guidance = panel.steps_spin[family], panel.guidance_spin[family]
            lo, hi = spec.steps_range.lo, spec.steps_range.hi
            if not spec.steps:  # fixed by the model: the chosen one's sequence length, in the range
                lo = hi = checkpoints.sequence_length(panel.model_name(family))
                assert spec.steps_range.lo <= lo <= spec.steps_range.hi
            assert (steps.minimum(), steps.maximum()) == (lo, hi)
            assert (guidance.minimum(), guidance.maximum()) == (spec.guidance_range.lo,
                                                                spec.guidance_range.hi)
            assert combo.toolTip() == spec.help
        default = samplers.default_sampler(family)
        assert options.DEFAULT_MODELS[family] == default.default_model
        assert options.DEFAULT_MODELS[family] == checkpoints.DEFAULT_MODELS[family]
        assert options.list_models(family)[0] == default.default_model
    fresh = ControlPanel()  # a new panel shows each family's default row
    qtbot.addWidget(fresh)
    for family in ("diffusion", "ar"):
        spec = samplers.default_sampler(family)
        assert fresh.sampler_combo[family].currentData() == spec.name
        assert fresh.guidance_spin[family].value() == spec.guidance
        assert fresh.steps_spin[family].value() == (spec.steps or spec.steps_range.hi)
        req = fresh.request_for(family)
        assert req.steps == spec.steps and req.guidance == spec.guidance
    ar = samplers.default_sampler("ar")
    assert fresh.temperature_spin.value() == ar.temperature
    assert (fresh.temperature_spin.minimum(), fresh.temperature_spin.maximum()) == (
        ar.temperature_range.lo, ar.temperature_range.hi)
    assert not fresh.steps_spin["ar"].isEnabled()  # fixed by the model


def test_launch_has_the_named_widgets(window):
    assert window.objectName() == "mainWindow"
    expected = {"diffusionCanvas": Canvas, "arCanvas": Canvas, "generateButton": QPushButton,
                "cancelButton": QPushButton, "classCombo": QComboBox, "seedSpin": QAbstractSpinBox,
                "batchSpin": QSpinBox, "diffusionSamplerCombo": QComboBox,
                "diffusionStepsSpin": QSpinBox, "arSamplerCombo": QComboBox,
                "timelineSlider": QSlider}
    for name, cls in expected.items():
        assert window.findChild(cls, name) is not None, name
    assert window.findChild(QWidget, "telemetryPlots") is not None  # built right after the first paint
    assert window.controls.class_combo.count() == 11
    default = samplers.default_sampler("diffusion").name
    assert window.controls.sampler_combo["diffusion"].currentData() == default
    for w in window.findChildren(QWidget):  # every control explains itself
        if isinstance(w, (QPushButton, QComboBox, QAbstractSpinBox, QSlider)) and w.objectName():
            assert w.toolTip(), w.objectName()
    keys = {a.text(): [s.toString() for s in a.shortcuts()] for a in window.actions()}
    assert "Ctrl+Return" in keys["&Generate both"] and "Ctrl+Enter" in keys["&Generate both"]
    assert keys["&Cancel"] == ["Esc"] and keys["&Quit"] == ["Ctrl+Q"]


def test_generate_both_sides_plots_and_timeline(qtbot, window):
    with qtbot.waitSignal(window.allIdle, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(window.controls.generate_button, Qt.LeftButton)
    res = window.current_results()
    for family, steps in (("diffusion", 4), ("ar", 784)):
        r = res[family]["result"]
        assert r is not None and r.completed, res[family]["error"]
        assert r.images.shape == (1, 28, 28) and r.steps == steps
        assert window.plots.count(family) == steps  # one point per step per side
        assert len(res[family]["trace"].steps) == steps
        assert res[family]["request"].seed == 7 and res[family]["request"].class_label == 7
        assert "MiB" in window.figures[family].text()
        assert window.findChild(QProgressBar, f"{family}Progress").value() == steps
    assert window.canvases["ar"].frames() is not None and window.canvases["ar"].frames().any()
    assert "CPU" in window.device_label.text()
    assert window.statusBar().currentMessage().startswith("Done.")
    # progress as % of each run by default: both curves end at 100; as steps: 4 and 784
    plots = window.plots
    assert plots.progress_mode() == "fraction"
    for family in ("diffusion", "ar"):
        assert plots.steps.curves[(family, "progress")].getData()[1][-1] == 100
    plots.set_progress_mode("steps")
    for family, steps in (("diffusion", 4), ("ar", 784)):
        assert plots.steps.curves[(family, "progress")].getData()[1][-1] == steps
    assert plots.memory_note.isVisible() and "same" in plots.memory_note.text()  # one process
    # the timeline replays both runs
    assert window.timeline.slider.isEnabled()
    window.timeline.slider.setValue(500)
    assert window.canvases["ar"]._position is not None and 300 < window.canvases["ar"]._position < 500
    assert "step" in window.timeline.label.text()
    # the diffusion canvas shows the predicted clean image or the noisy sample, as toggled
    window.timeline.slider.setValue(250)
    _, _, noisy, clean, _ = window.sides["diffusion"].trace.frame_at(0.25)
    window.controls.view_combo.setCurrentIndex(1)
    assert np.array_equal(window.canvases["diffusion"].frames(), noisy)
    window.controls.view_combo.setCurrentIndex(0)
    assert np.array_equal(window.canvases["diffusion"].frames(), clean)
    window.timeline.align_combo.setCurrentIndex(1)  # by wall time
    window.timeline.slider.setValue(0)
    assert "t = 0.00 s" in window.timeline.label.text()


def test_cancel_stops_both_sides_within_a_second(qtbot, window):
    window.controls.steps_spin["diffusion"].setValue(1000)
    window.generate()
    wait_steps(qtbot, window, "diffusion", 2)
    wait_steps(qtbot, window, "ar", 5)
    t0 = time.perf_counter()
    window.controls.cancel_button.click()
    wait_idle(qtbot, window, timeout=10_000)
    took = time.perf_counter() - t0
    assert took < 1.0, f"cancel took {took:.2f} s"
    for family in ("diffusion", "ar"):
        r = window.current_results()[family]["result"]
        assert r is not None and not r.completed
        assert "cancelled" in window.progress[family].format()
    for family in ("diffusion", "ar"):  # partial images: no time per image, and no "Done."
        assert "per image" not in window.figures[family].text()
        assert "cancelled" in window.figures[family].text()
    assert window.statusBar().currentMessage().startswith("Cancelled")
    n_ar = window.plots.count("ar")
    qtbot.wait(300)
    assert window.plots.count("ar") == n_ar  # no stale events after the cancel


def test_close_during_a_run_leaves_no_thread(qtbot, window):
    window.controls.steps_spin["diffusion"].setValue(1000)
    window.generate()
    wait_steps(qtbot, window, "ar", 3)
    t0 = time.perf_counter()
    window.close()
    assert time.perf_counter() - t0 < 5
    assert not running_threads()
    assert not window.runner.threads


def test_settings_round_trip(qtbot, settings_file):
    settings = QSettings(str(settings_file), QSettings.IniFormat)
    win = create_window(device="cpu", settings=settings)
    qtbot.addWidget(win)
    win.controls.class_combo.setCurrentIndex(3)
    win.controls.seed_spin.setValue(12345)
    win.controls.seed_lock.setChecked(True)
    win.controls.batch_spin.setValue(16)
    win.controls.sequential_check.setChecked(True)
    win.controls.sampler_combo["diffusion"].setCurrentIndex(win.controls.sampler_combo["diffusion"].findData("ddim"))
    win.controls.steps_spin["diffusion"].setValue(33)
    win.controls.guidance_spin["ar"].setValue(2.25)
    win.controls.temperature_spin.setValue(0.85)
    win.controls.topk_spin.setValue(40)
    win.controls.view_combo.setCurrentIndex(1)
    win.show()
    qtbot.waitExposed(win)
    win.resize(1111, 777)
    qtbot.waitUntil(lambda: win.width() == 1111)
    win.close()

    again = create_window(device="cpu", settings=QSettings(str(settings_file), QSettings.IniFormat))
    qtbot.addWidget(again)
    again.show()
    qtbot.waitExposed(again)
    assert again.controls.class_combo.currentIndex() == 3
    assert again.controls.seed_spin.value() == 12345 and again.controls.seed_lock.isChecked()
    assert again.controls.batch_spin.value() == 16 and again.controls.sequential_check.isChecked()
    assert again.controls.sampler_combo["diffusion"].currentData() == "ddim"
    assert again.controls.steps_spin["diffusion"].value() == 33
    assert again.controls.guidance_spin["ar"].value() == pytest.approx(2.25)
    assert again.controls.temperature_spin.value() == pytest.approx(0.85)
    assert again.controls.topk_spin.value() == 40
    assert again.controls.view_combo.currentData() == "noisy"
    # the offscreen screen is 800x600, so restoreGeometry clamps the size: check what was stored
    stored = QSettings(str(settings_file), QSettings.IniFormat).value("window/geometry")
    assert stored is not None and len(bytes(stored)) > 0
    again.close()


def test_worker_error_is_shown_and_recovered_from(qtbot, window):
    combo = window.controls.model_combo["ar"]
    combo.addItem("no-such-model")
    combo.setCurrentText("no-such-model")
    with qtbot.waitSignal(window.allIdle, timeout=RUN_TIMEOUT_MS):
        window.generate()
    res = window.current_results()
    assert "not found" in res["ar"]["error"] and res["ar"]["result"] is None
    assert "not found" in window.figures["ar"].text()
    assert "failed" in window.statusBar().currentMessage()
    assert res["diffusion"]["result"].completed  # the other side kept working
    # the next Generate works
    combo.setCurrentIndex(0)
    window.generate(("ar",))
    wait_steps(qtbot, window, "ar", 10)
    assert not window.current_results()["ar"]["error"]
    window.cancel()
    wait_idle(qtbot, window, timeout=10_000)


def test_one_at_a_time_runs_the_sides_in_sequence(qtbot, window):
    """Every diffusion step, then diffusion's end, then the first AR step: recorded as they come."""
    window.controls.sequential_check.setChecked(True)
    window.controls.steps_spin["diffusion"].setValue(20)  # long enough to overlap if it could
    log = []
    window.runner.stepped.connect(lambda ev: log.append(("step", ev.family)))
    window.runner.sideStarted.connect(lambda f: log.append(("start", f)))
    window.runFinished.connect(lambda f: log.append(("end", f)))
    window.generate()
    assert window.sides["diffusion"].running and not window.sides["ar"].running
    wait_steps(qtbot, window, "ar", 3)
    window.cancel()
    wait_idle(qtbot, window, timeout=10_000)
    end_d = log.index(("end", "diffusion"))
    assert log[0] == ("start", "diffusion") and log.index(("start", "ar")) == end_d + 1
    assert log[:end_d].count(("step", "diffusion")) == 20 and ("step", "ar") not in log[:end_d]
    assert ("step", "diffusion") not in log[end_d:]


def test_start_inpaint_sends_source_and_mask_to_both(qtbot, window):
    source = np.full((28, 28), 200, np.uint8)
    mask = np.zeros((28, 28), np.uint8)
    mask[10:18, 10:18] = 1
    window.start_inpaint(source, mask)
    wait_steps(qtbot, window, "ar", 3)
    window.cancel()
    wait_idle(qtbot, window, timeout=60_000)
    for family in ("diffusion", "ar"):
        req = window.current_results()[family]["request"]
        assert np.array_equal(np.asarray(req.mask), mask) and np.asarray(req.source).max() == 200
    assert window.canvases["ar"]._overlay is not None
    assert window.request_for("ar").mask is None  # a plain Generate afterwards is not an inpaint


def test_canvas_composes_grid_pending_pixels_and_overlay():
    assert grid_shape(1) == (1, 1) and grid_shape(64) == (8, 8) and grid_shape(5) == (2, 3)
    frames = np.full((5, 28, 28), 255, np.uint8)
    img = compose(frames, position=27)  # first row of pixels written
    assert img.shape == (2 * 29 - 1, 3 * 29 - 1, 3)
    assert (img[0, :28] == 255).all() and (img[1, :28] < 80).all()  # not yet generated: dim
    mask = np.zeros((28, 28), np.uint8)
    mask[5, 5] = 1
    over = compose(frames, overlay=mask)
    assert tuple(over[5, 5]) != (255, 255, 255) and tuple(over[5, 6]) == (255, 255, 255)


def test_dropped_image_opens_the_mask_editor_and_inpaints(qtbot, window, tmp_path):
    from PIL import Image
    from PySide6.QtCore import QMimeData, QPoint, QPointF, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    path = tmp_path / "shirt.png"
    img = np.zeros((28, 28), np.uint8)
    img[4:24, 6:22] = 220
    Image.fromarray(img).save(path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    enter = QDragEnterEvent(QPoint(50, 50), Qt.CopyAction, mime, Qt.LeftButton, Qt.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(window, QDropEvent(QPointF(50, 50), Qt.CopyAction, mime, Qt.LeftButton,
                                              Qt.NoModifier))
    editor = window._editor
    assert editor is not None and editor.source() is not None
    ctrl_o = [a for w in [window, *window.findChildren(QWidget)] for a in w.actions()
              if a.shortcut() == window.open_action.shortcut()]
    assert {id(a) for a in ctrl_o} == {id(window.open_action)}  # not ambiguous with the editor's
    for c in window.canvases.values():  # the dropped image is on both canvases before Inpaint
        assert c.frames() is not None and c.frames().reshape(28, 28).max() == 220
    editor.apply_preset("bottom-half")
    assert window.canvases["diffusion"]._overlay is not None  # the hole shows on the canvases
    with qtbot.waitSignal(window.runFinished, timeout=120_000, check_params_cb=lambda f: f == "diffusion"):
        assert editor.request_inpaint()
    window.cancel()
    wait_idle(qtbot, window, timeout=60_000)
    for family in ("diffusion", "ar"):
        req = window.current_results()[family]["request"]
        assert req.mask is not None and np.asarray(req.source).max() == 220


def test_export_and_open_actions_are_wired(window):
    texts = [a.text() for a in window.actions()]
    assert "&Export image…" in texts and "Export process &clip…" in texts and "&Open image…" in texts
    window.export()  # nothing generated yet: a message, no dialog
    assert "generate first" in window.statusBar().currentMessage()


def test_cancel_at_once_while_the_workers_load_ends_the_run(qtbot, window):
    """Generate then Esc at once, before the workers have loaded: the window goes idle."""
    assert not window.runner.is_loaded()  # the warm-up has only just been queued
    window.generate()
    window.cancel()
    with qtbot.waitSignal(window.allIdle, timeout=60_000):
        pass
    assert not window.is_running() and not window.controls.cancel_button.isEnabled()
    for family in ("diffusion", "ar"):
        assert "cancelled" in window.progress[family].format()
        assert window.current_results()[family]["result"] is None  # nothing was made


def test_title_names_the_app_once(window):
    """Qt appends the application's display name to the title bar: the title must not repeat it."""
    from desktopgen.gui.app import APP  # create_app() sets it as the display name

    shown = f"{window.windowTitle()} — {APP}"
    assert shown.count("DesktopGen") == 1, shown


def test_samples_are_numbered_from_one(qtbot, window):
    assert window.controls.first_spin.value() == 1 and window.controls.first_spin.minimum() == 1
    assert window.request_for("diffusion").first_index == 0
    assert "sample 1" in window.menus.send_actions["ar"].text()
