"""The AR side's token samplers in the window (issue 9): the sampler list offers pixels, tokens
and MaskGIT, each with its model; the token grid is drawn over the decoded images (done cells
clear, pending ones hatched, MaskGIT's committed ones tinted by confidence); Ctrl+T shows the
codes as colours and is remembered; inpainting runs with both token samplers. Tiny untrained
models in a temporary models folder ($DESKTOPGEN_MODELS): the pictures are noise, the plumbing
is real. Pixels are read back from the rendered canvas (grab())."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import QObject, QSettings, Qt, Slot
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QWidget

from desktopgen import nets
from desktopgen.core import checkpoints, samplers
from desktopgen.gui.app import create_window
from desktopgen.gui.canvas import OUTLINE
from desktopgen.gui.controls import ControlPanel
from desktopgen.gui.settings import TOKEN_GRID_KEY
from desktopgen.gui.token_overlay import (
    TokenCanvas,
    code_colors,
    compose_codes,
    confidence_colors,
    token_grid_toggle,
)
from desktopgen.gui.workers import running_threads

TINY = {
    "fmnist-tokenizer": ("tokenizer", {"channels": 8, "blocks": 0}),  # FSQ, 1000 codes
    "fmnist-tokenizer-14": ("tokenizer", {"channels": 8, "blocks": 0, "down": 2}),  # 14x14 codes
    "fmnist-token-ar-14-6": ("token_ar", {"n_layer": 1, "n_head": 2, "n_embd": 32, "dropout": 0.0,
                                        "seq_len": 196, "tokenizer": "fmnist-tokenizer-14"}),
    "fmnist-token-ar": ("token_ar", {"n_layer": 1, "n_head": 2, "n_embd": 32, "dropout": 0.0}),  # 7x7
    "fmnist-maskgit": ("maskgit", {"n_layer": 1, "n_head": 2, "n_embd": 32, "dropout": 0.0}),
    "fmnist-pixel-ar": ("pixel_ar", {"n_layer": 1, "n_head": 2, "n_embd": 32}),
    "fmnist-diffusion": ("unet", {"channels": 32, "mults": [1], "blocks": 1, "attn_res": []}),
}
STEPS = {"pixel": 784, "tokens": 196, "maskgit": 10}
RUN_TIMEOUT_MS = 120_000


@pytest.fixture(scope="module")
def models_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    for name, (arch, config) in TINY.items():
        torch.manual_seed(0)
        checkpoints.save_model(nets.build(arch, config), root / name, {"note": "test stand-in"})
    return root


@pytest.fixture
def models(models_root, monkeypatch):
    monkeypatch.setenv("DESKTOPGEN_MODELS", str(models_root))
    return models_root


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


def open_window(qtbot, settings_file):
    win = create_window(device="cpu", settings=QSettings(str(settings_file), QSettings.IniFormat))
    qtbot.addWidget(win)
    win.controls.seed_lock.setChecked(True)
    win.controls.seed_spin.setValue(7)
    win.controls.batch_spin.setValue(2)
    win.controls.class_combo.setCurrentIndex(8)
    with qtbot.waitSignal(win.firstPainted, timeout=10_000):
        win.show()
    return win


@pytest.fixture
def window(qtbot, models, settings_file):
    win = open_window(qtbot, settings_file)
    yield win
    win.close()


def choose(combo, data) -> None:
    i = combo.findData(data)
    assert i >= 0, data
    combo.setCurrentIndex(i)


def run_ar(qtbot, window) -> None:
    with qtbot.waitSignal(window.allIdle, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(window.controls.side_generate["ar"], Qt.LeftButton)


def pixel(img, x: float, y: float) -> tuple[int, int, int]:
    c = QColor(img.pixel(int(x), int(y)))
    return c.red(), c.green(), c.blue()


def cell_mean(canvas: TokenCanvas, img, i: int, ty: int, tx: int, panel: int = 0) -> np.ndarray:
    """Mean RGB of the inner half of token cell (ty, tx) of image i, as rendered."""
    r = canvas.cell_rect(canvas.image_rect(), i, ty, tx, panel)
    xs = np.linspace(r.left() + r.width() / 4, r.right() - r.width() / 4, 6)
    ys = np.linspace(r.top() + r.height() / 4, r.bottom() - r.height() / 4, 6)
    return np.mean([pixel(img, x, y) for x in xs for y in ys], axis=0)


def cell_centre(canvas: TokenCanvas, img, i: int, ty: int, tx: int, panel: int = 0):
    r = canvas.cell_rect(canvas.image_rect(), i, ty, tx, panel)
    return pixel(img, r.center().x(), r.center().y())


def make_canvas(qtbot, batch: int = 1) -> TokenCanvas:
    c = TokenCanvas("AR", QColor("#ff3b5c"))
    qtbot.addWidget(c)
    c.resize(300, 300)
    c.set_frames(np.full((batch, 28, 28), 200, np.uint8), None)
    return c


# --- the sampler list -----------------------------------------------------------------------
def test_ar_sampler_list_offers_pixels_tokens_and_maskgit_each_with_its_model(qtbot, models):
    panel = ControlPanel()
    qtbot.addWidget(panel)
    combo = panel.sampler_combo["ar"]
    assert [combo.itemData(i) for i in range(combo.count())] == ["pixel", "tokens", "maskgit"]
    for name, model in (("tokens", "fmnist-token-ar-14-6"), ("maskgit", "fmnist-maskgit"),
                        ("pixel", "fmnist-pixel-ar"), ("maskgit", "fmnist-maskgit")):
        choose(combo, name)
        spec = samplers.get_sampler(name)
        assert combo.currentText() == f"{spec.label} — {model}"
        assert combo.model().item(combo.currentIndex()).isEnabled()
        req = panel.request_for("ar")
        assert (req.sampler, req.model) == (name, model)
    assert panel.steps_spin["ar"].isEnabled()  # MaskGIT: 1 to 49 steps
    assert panel.steps_spin["ar"].value() == samplers.get_sampler("maskgit").steps  # not 784 -> 49
    choose(combo, "tokens")
    steps = panel.steps_spin["ar"]
    assert not steps.isEnabled() and steps.value() == 196 and panel.request_for("ar").steps == 0
    choose(panel.model_combo["ar"], "fmnist-token-ar")  # the 7x7 model fixes 49 steps, and says so
    assert combo.currentData() == "tokens" and not steps.isEnabled() and steps.value() == 49
    assert panel.guidance_spin["ar"].value() == 2.0  # the table's default at 49 steps
    choose(panel.model_combo["ar"], "fmnist-token-ar-14-6")
    assert steps.value() == 196 and panel.guidance_spin["ar"].value() == 1.4
    assert "token" in panel.temperature_spin.toolTip() and "codes" in panel.topk_spin.toolTip()
    choose(combo, "pixel")
    assert "pixel" in panel.temperature_spin.toolTip() and "256" in panel.topk_spin.toolTip()


def test_token_samplers_are_greyed_without_their_models(qtbot, tmp_path, monkeypatch):
    torch.manual_seed(0)
    checkpoints.save_model(nets.build("pixel_ar", TINY["fmnist-pixel-ar"][1]),
                           tmp_path / "fmnist-pixel-ar", {})
    monkeypatch.setenv("DESKTOPGEN_MODELS", str(tmp_path))
    panel = ControlPanel()
    qtbot.addWidget(panel)
    combo = panel.sampler_combo["ar"]
    for name in ("tokens", "maskgit"):
        item = combo.model().item(combo.findData(name))
        assert not item.isEnabled()
        assert samplers.get_sampler(name).default_model in item.toolTip()


# --- the overlay, drawn -------------------------------------------------------------------------
def test_overlay_draws_done_cells_clear_and_pending_cells_hatched(qtbot):
    c = make_canvas(qtbot)
    tokens = np.full((1, 7, 7), -1)
    tokens.flat[:10] = 5  # raster: the first 10 tokens are made
    c.set_tokens(tokens, None, position=9)
    img = c.grab().toImage()
    assert np.allclose(cell_centre(c, img, 0, 0, 3), (200, 200, 200))  # done: the image itself
    assert np.allclose(cell_centre(c, img, 0, 1, 2), (200, 200, 200))  # the 10th token
    pending = cell_mean(c, img, 0, 4, 4)
    assert pending.max() < 130  # dimmed (and hatched) over the same grey
    assert cell_mean(c, img, 0, 1, 3).max() < 130  # the 11th: not made yet
    c.set_tokens(None)  # a plain canvas again
    img = c.grab().toImage()
    assert np.allclose(cell_centre(c, img, 0, 4, 4), (200, 200, 200))


def test_the_fresh_token_is_boxed_in_the_marker_colour(qtbot):
    c = make_canvas(qtbot)
    tokens = np.full((1, 7, 7), -1)
    tokens.flat[:10] = 5
    c.set_tokens(tokens, None, position=9)
    img = c.grab().toImage()
    r = c.cell_rect(c.image_rect(), 0, 1, 2)
    edge = pixel(img, r.left() + 0.5, r.center().y())
    assert edge[0] > 200 and edge[1] < 120  # red
    r = c.cell_rect(c.image_rect(), 0, 0, 2)
    assert pixel(img, r.left() + 0.5, r.center().y())[1] > 150  # an older token: no red box


def test_maskgit_confidence_tints_committed_cells_and_hatches_masked_ones(qtbot):
    c = make_canvas(qtbot)
    tokens = np.full((1, 7, 7), -1)
    tokens[0, 0, 0], tokens[0, 0, 1] = 3, 4
    conf = np.zeros((1, 7, 7), np.float32)
    conf[0, 0, 1] = 1.0
    c.set_tokens(tokens, conf)
    img = c.grab().toImage()
    unsure, sure = cell_centre(c, img, 0, 0, 0), cell_centre(c, img, 0, 0, 1)
    assert unsure[0] > unsure[1] + 20 and unsure[0] > unsure[2] + 20  # red tint: unsure
    assert sure[1] > sure[0] + 20 and sure[1] > sure[2]  # green tint: sure
    assert cell_mean(c, img, 0, 3, 3).max() < 130  # masked: dimmed and hatched
    # committed since the last grid: boxed; the rest not
    tokens2 = tokens.copy()
    tokens2[0, 3, 3] = 7
    c.set_tokens(tokens2, conf)
    assert c._fresh[0, 3, 3] and c._fresh.sum() == 1


def test_an_inpainting_jobs_known_tokens_are_not_tinted(qtbot):
    c = make_canvas(qtbot)
    hole = np.zeros((28, 28), np.uint8)
    hole[:, 14:] = 1  # touches token columns 3 to 6
    c.set_overlay(hole, OUTLINE)
    c.set_tokens(np.zeros((1, 7, 7), int), np.full((1, 7, 7), 1e-3, np.float32))
    img = c.grab().toImage()
    assert np.allclose(cell_centre(c, img, 0, 2, 1), (200, 200, 200))  # kept: exactly the source
    tinted = cell_centre(c, img, 0, 2, 3)
    assert tinted[0] > tinted[1] + 20  # in the hole: red, unsure


def test_palette_is_fixed_by_code_index_and_confidence_ramp_runs_red_to_green():
    codes = np.arange(1000)
    colours = code_colors(codes)
    assert np.array_equal(colours, code_colors(codes.copy()))  # fixed
    assert len({tuple(x) for x in colours}) > 900  # nearly all codes look different
    assert (np.abs(colours[1:].astype(int) - colours[:-1]).sum(1) > 60).all()  # neighbours differ
    assert tuple(code_colors([-1])[0]) == (30, 30, 38)
    red, yellow, green = confidence_colors([0.0, 0.03, 1.0])  # a log scale: 0.03 is halfway
    assert red[0] > red[1] + 100 and green[1] > green[0] + 100 and min(yellow[:2]) > 190
    grid = compose_codes(np.arange(2 * 49).reshape(2, 7, 7))
    assert grid.shape == (28, 57, 3) and tuple(grid[0, 0]) == tuple(code_colors([0])[0])
    assert tuple(grid[27, 29 + 27]) == tuple(code_colors([97])[0])


def test_toggle_shows_codes_as_colours_beside_the_image_and_is_remembered(qtbot, tmp_path):
    st = QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)
    host = QWidget()
    qtbot.addWidget(host)
    c = make_canvas(qtbot, batch=2)
    tokens = np.arange(2 * 49).reshape(2, 7, 7) % 1000
    tokens[1, 6, 6] = -1
    c.set_tokens(tokens)
    act = token_grid_toggle(host, [c], st)
    assert not act.isChecked() and act.shortcut().toString() == "Ctrl+T" and act.toolTip()
    r = c.image_rect()
    assert r.width() / r.height() < 2.1  # two 28x28 images side by side
    act.trigger()
    r = c.image_rect()
    assert c.token_grid_visible() and r.width() / r.height() > 4  # and their codes beside them
    img = c.grab().toImage()
    for i, ty, tx in ((0, 0, 0), (0, 3, 5), (1, 2, 6)):
        assert cell_centre(c, img, i, ty, tx, panel=1) == tuple(code_colors([tokens[i, ty, tx]])[0])
    assert cell_mean(c, img, 1, 6, 6, panel=1).max() < 130  # pending: dark, hatched
    assert np.allclose(cell_centre(c, img, 0, 0, 0, panel=0), (200, 200, 200))  # image still left
    assert st.value(TOKEN_GRID_KEY) in (True, "true")
    c2 = make_canvas(qtbot)
    assert token_grid_toggle(host, [c2], QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat)) \
        .isChecked() and c2.token_grid_visible()
    act.trigger()
    assert not c.token_grid_visible() and st.value(TOKEN_GRID_KEY) in (False, "false")


# --- in the window, with tiny models ----------------------------------------------------------
@pytest.mark.parametrize("sampler", ["pixel", "tokens", "maskgit"])
def test_each_ar_sampler_runs_to_the_end_and_shows_the_final_image(qtbot, window, sampler):
    choose(window.controls.sampler_combo["ar"], sampler)
    run_ar(qtbot, window)
    side = window.current_results()["ar"]
    r = side["result"]
    assert r is not None and r.completed, side["error"]
    assert r.steps == STEPS[sampler] and side["request"].model == samplers.get_sampler(sampler).default_model
    canvas = window.canvases["ar"]
    assert np.array_equal(canvas.frames(), r.images)
    tokens, _ = canvas.tokens()
    if sampler == "pixel":
        assert tokens is None and not window.views["ar"].legend.isVisible()
    else:
        grid = {"tokens": 14, "maskgit": 7}[sampler]  # the 14x14 token model, the 7x7 MaskGIT
        assert tokens.shape == (2, grid, grid) and (tokens >= 0).all()  # the finished grid
        assert window.views["ar"].legend.isVisible()
        assert canvas._position is None  # a token index is never taken for a pixel's


class Grabber(QObject):
    """At the AR side's first previewed step from `at` on (token AR skips decoding some steps on
    a CPU), draws the window and keeps what the AR canvas shows."""

    def __init__(self, window, at: int):
        super().__init__()
        self.window, self.at, self.seen = window, at, None
        window.runner.stepped.connect(self.on_step)

    @Slot(object)
    def on_step(self, ev):
        if ev.family == "ar" and ev.step >= self.at and ev.preview is not None and self.seen is None:
            self.window._redraw()
            c = self.window.canvases["ar"]
            tokens, conf = c.tokens()
            self.seen = (None if tokens is None else tokens.copy(), conf, c.grab().toImage(), ev)


def test_maskgit_confidence_overlay_is_present_mid_run(qtbot, window):
    choose(window.controls.sampler_combo["ar"], "maskgit")
    window.controls.steps_spin["ar"].setValue(8)
    grab = Grabber(window, at=3)
    run_ar(qtbot, window)
    tokens, conf, img, ev = grab.seen
    assert np.array_equal(tokens, ev.tokens) and conf is not None
    assert (tokens < 0).any() and (tokens >= 0).any()  # some committed, the least sure masked
    c = window.canvases["ar"]
    i, ty, tx = np.argwhere(tokens < 0)[0]
    assert cell_mean(c, img, i, ty, tx).max() < 130  # masked: hatched
    assert "probability" in window.views["ar"].legend.text()


def test_tokens_appear_one_by_one_mid_run(qtbot, window):
    choose(window.controls.sampler_combo["ar"], "tokens")
    grab = Grabber(window, at=20)
    run_ar(qtbot, window)
    tokens, conf, img, ev = grab.seen
    n, grid = ev.step, tokens.shape[-1]
    assert tokens.shape == (2, 14, 14)  # the default token model's grid
    assert 20 <= n < 196 and conf is None and ((tokens >= 0).reshape(2, -1).sum(1) == n).all()
    assert (tokens.reshape(2, -1)[:, :n] >= 0).all()  # in raster order
    c = window.canvases["ar"]
    ty, tx = divmod(n, grid)  # the next token: pending, hatched
    assert cell_mean(c, img, 0, ty, tx).max() < 130


def test_timeline_replays_a_token_run_by_tokens_not_pixels(qtbot, window):
    choose(window.controls.sampler_combo["ar"], "tokens")
    run_ar(qtbot, window)
    window.timeline.slider.setValue(window.timeline.slider.maximum() // 2)
    c = window.canvases["ar"]
    tokens, _ = c.tokens()
    assert c._position is None  # not a pixel index: the image is not dimmed past pixel ~24
    assert tokens is not None and (tokens < 0).any() and (tokens >= 0).any()
    final = window.current_results()["ar"]["result"].extra["tokens"]
    assert np.array_equal(tokens[tokens >= 0], final[tokens >= 0])


def test_timeline_shows_maskgit_codes_only_on_its_finished_images(qtbot, window):
    choose(window.controls.sampler_combo["ar"], "maskgit")
    run_ar(qtbot, window)
    c, slider = window.canvases["ar"], window.timeline.slider
    slider.setValue(slider.maximum() // 3)
    assert c.tokens()[0] is None and c._position is None  # its order of commits is not kept
    slider.setValue(slider.maximum())
    final = window.current_results()["ar"]["result"]
    assert np.array_equal(c.tokens()[0], final.extra["codes"]) and np.array_equal(c.frames(), final.images)


@pytest.mark.parametrize("sampler", ["tokens", "maskgit"])
def test_inpainting_with_a_token_sampler_from_the_mask_editor(qtbot, window, sampler):
    choose(window.controls.sampler_combo["ar"], sampler)
    window.controls.steps_spin["diffusion"].setValue(2)
    source = np.full((28, 28), 180, np.uint8)
    mask = np.zeros((28, 28), np.uint8)
    mask[8:20, 8:20] = 1
    editor = window.mask_editor()
    editor.set_image(source, "test source")
    editor.set_mask(mask, undoable=False)
    with qtbot.waitSignal(window.allIdle, timeout=RUN_TIMEOUT_MS):
        qtbot.mouseClick(editor.inpaint_btn, Qt.LeftButton)
    side = window.current_results()["ar"]
    r, req = side["result"], side["request"]
    assert r is not None and r.completed, side["error"]
    assert req.sampler == sampler and np.array_equal(np.asarray(req.mask), mask)
    assert np.array_equal(r.images[:, mask == 0], np.broadcast_to(source[mask == 0], (2, 28 * 28 - 144)))
    assert editor.ar_position == -1  # no pixel index from a token run
    overlay, _ = window.canvases["ar"].overlay()
    assert overlay is not None  # the hole stays outlined


def test_token_grid_action_is_in_the_image_menu_and_remembered(qtbot, models, settings_file):
    win = open_window(qtbot, settings_file)
    act = win.menus.token_grid_action
    assert act in win.menus.image_menu.actions() and act in win.actions()
    assert not act.isChecked()
    act.trigger()
    assert win.canvases["ar"].token_grid_visible()
    assert not hasattr(win.canvases["diffusion"], "token_grid_visible")
    win.close()
    win2 = open_window(qtbot, settings_file)
    assert win2.menus.token_grid_action.isChecked() and win2.canvases["ar"].token_grid_visible()
    win2.close()
