"""Bad input from the GUI's side: numbers that are not finite cannot enter (typed, or from a
settings file), and a broken model folder is listed as unusable instead of stopping the app.
No worker runs here: the windows are built but never shown."""

from __future__ import annotations

import json
import math
import os

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QValidator
from PySide6.QtTest import QTest

from desktopgen.core.samplers import default_sampler
from desktopgen.gui import options
from desktopgen.gui.app import create_window
from desktopgen.gui.controls import ControlPanel
from desktopgen.gui.workers import running_threads

ROOT_MODELS = options.models_dir()


@pytest.fixture
def panel(qtbot):
    p = ControlPanel()
    qtbot.addWidget(p)
    return p


def type_into(spin, text: str):
    spin.lineEdit().selectAll()
    QTest.keyClicks(spin, text)
    QTest.keyClick(spin, Qt.Key_Return)
    spin.interpretText()


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1e999", "NaN"])
def test_typed_non_finite_numbers_do_not_enter(panel, text):
    spins = [panel.guidance_spin["diffusion"], panel.guidance_spin["ar"], panel.temperature_spin]
    for spin in spins:
        before = spin.value()
        type_into(spin, text)
        assert math.isfinite(spin.value()) and spin.minimum() <= spin.value() <= spin.maximum()
        assert spin.value() == before or text == "1e999"
    seed = panel.seed_spin
    seed.setValue(42)
    type_into(seed, text)
    assert isinstance(seed.value(), int) and 0 <= seed.value() <= seed.maximum()
    assert seed.value() == 42 or text == "1e999"  # keystrokes filtered: "1e999" leaves 1999
    assert panel.request_for("ar").seed == seed.value()
    assert math.isfinite(panel.request_for("ar").guidance)


def test_seed_field_takes_63_bit_seeds_and_nothing_else(panel):
    seed = panel.seed_spin
    type_into(seed, str(2**63 - 1))
    assert seed.value() == 2**63 - 1 and panel.request_for("diffusion").seed == 2**63 - 1
    for bad in (str(2**63), "-1", "12a", "1.5", "nan"):  # keystrokes that cannot fit are dropped
        seed.setValue(7)
        type_into(seed, bad)
        text = seed.lineEdit().text()
        assert text.isascii() and text.isdigit() and int(text) == seed.value(), bad
        assert 0 <= seed.value() <= 2**63 - 1
    assert seed.value() == 7  # "nan": nothing of it fits
    assert seed.validate("٣", 1)[0] == QValidator.Invalid  # an Arabic-Indic 3 (QTest types ASCII only)
    seed.setValue(2**63 - 1)
    seed.stepBy(5)  # the arrows stop at the ends
    assert seed.value() == 2**63 - 1
    seed.setValue(0)
    seed.stepBy(-1)
    assert seed.value() == 0


def test_non_finite_numbers_in_the_settings_file_fall_back_to_defaults(panel, tmp_path):
    path = tmp_path / "s.ini"
    path.write_text("[diffusion]\nguidance=nan\n[ar]\nguidance=inf\ntemperature=-inf\n"
                    "[run]\nseed=99999999999999999999999\nbatch=nan\n")
    panel.restore_settings(QSettings(str(path), QSettings.IniFormat))
    assert panel.guidance_spin["diffusion"].value() == default_sampler("diffusion").guidance
    assert panel.guidance_spin["ar"].value() == default_sampler("ar").guidance
    assert panel.temperature_spin.value() == 1.0
    assert panel.batch_spin.value() == 4 and panel.seed_spin.value() <= 2**63 - 1


@pytest.fixture
def models_dir(tmp_path, monkeypatch):
    """The shipped models plus broken folders: config.json a JSON list, card.json a number,
    config.json not JSON at all, weights missing."""
    root = tmp_path / "models"
    root.mkdir()
    for name in ("fmnist-diffusion", "fmnist-pixel-ar", "fmnist-classifier"):
        os.symlink(ROOT_MODELS / name, root / name)
    bad = {"list-config": ("[1, 2]", None), "number-card": ('{"arch": "unet"}', "3"),
           "garbage": ("{not json", None), "no-weights": ('{"arch": "pixel_ar"}', "{}")}
    for name, (config, card) in bad.items():
        (root / name).mkdir()
        (root / name / "config.json").write_text(config)
        if card is not None:
            (root / name / "card.json").write_text(card)
        if name != "no-weights":
            (root / name / "weights.safetensors").write_bytes(b"")
    monkeypatch.setenv("DESKTOPGEN_MODELS", str(root))
    return root


def test_broken_model_folders_are_listed_unusable_not_fatal(qtbot, tmp_path, models_dir):
    win = create_window(device="cpu", settings=QSettings(str(tmp_path / "s.ini"), QSettings.IniFormat))
    qtbot.addWidget(win)  # built without an exception: startup survives the broken folders
    reasons = {}
    for f in ("diffusion", "ar"):
        combo = win.controls.model_combo[f]
        assert combo.currentData() == options.DEFAULT_MODELS[f]  # the usable default is chosen
        for i in range(combo.count()):
            item = combo.model().item(i)
            if not item.isEnabled():
                reasons[(f, combo.itemData(i))] = combo.itemData(i, Qt.ToolTipRole)
                assert "unusable" in combo.itemText(i)
    assert "not a JSON object" in reasons[("diffusion", "list-config")]
    assert "not a JSON object" in reasons[("ar", "list-config")]  # no family known: in both
    assert "card.json is not a JSON object" in reasons[("diffusion", "number-card")]
    assert "not valid JSON" in reasons[("diffusion", "garbage")]
    assert "weights.safetensors is missing" in reasons[("ar", "no-weights")]
    assert ("diffusion", "fmnist-classifier") not in reasons  # a model for neither side: not listed
    assert options.list_models("diffusion") == ["fmnist-diffusion"]
    assert options.list_models("ar") == ["fmnist-pixel-ar"]
    win.close()
    assert not running_threads()


def test_samplers_whose_model_is_missing_are_greyed_not_offered(panel):
    """A sampler whose model is not in models/ (the flow samplers before fmnist-flow is trained)
    is listed greyed with the reason; the ones with a shipped model stay usable."""
    from desktopgen.core.samplers import samplers_for

    combo = panel.sampler_combo["diffusion"]
    present = {e.name for e in options.scan_models("diffusion") if e.usable}
    for i, spec in enumerate(samplers_for("diffusion")):
        usable = spec.default_model in present
        assert combo.model().item(i).isEnabled() == usable, spec.name
        if not usable:
            assert spec.default_model in combo.itemData(i, Qt.ToolTipRole)
    assert combo.model().item(0).isEnabled()  # the family's default always has its model


@pytest.mark.parametrize("arch, family", [("unet", "diffusion"), ("shortcut_unet", "diffusion"),
                                          ("inpaint_unet", "diffusion"), ("pixel_ar", "ar"),
                                          ("classifier", options.OTHER)])
def test_model_folders_get_the_engines_family(tmp_path, arch, family):
    """The window sorts folders by the engine's own arch table, new architectures included."""
    (tmp_path / "config.json").write_text(json.dumps({"arch": arch, "config": {}}))
    (tmp_path / "weights.safetensors").write_bytes(b"")
    assert options.read_model_folder(tmp_path).family == family


def test_a_model_folder_says_what_it_is_and_odd_cards_are_left_out(tmp_path):
    """The model list's tooltip: architecture, blocks x width, parameters and training, from the
    config and card; fields of the wrong type are skipped, never an error."""
    (tmp_path / "config.json").write_text(json.dumps(
        {"arch": "token_ar", "config": {"n_layer": 6, "n_embd": 256}}))
    (tmp_path / "card.json").write_text(json.dumps(
        {"parameters": 5304064, "steps": 23969, "wall_time_s": 438.0}))
    (tmp_path / "weights.safetensors").write_bytes(b"")
    assert options.read_model_folder(tmp_path).summary == \
        "token_ar, 6 blocks x 256, 5.3 M parameters, trained 23,969 steps (7.3 min)"
    (tmp_path / "card.json").write_text(json.dumps({"parameters": "many", "steps": True}))
    assert options.read_model_folder(tmp_path).summary == "token_ar, 6 blocks x 256"


def test_a_fine_tuned_models_training_sums_its_runs(tmp_path):
    """A fine-tune's card gives its last run's steps and time (the counter starts at 0): the
    tooltip sums the history's runs, and falls back to the card's own figures when an entry is odd."""
    (tmp_path / "config.json").write_text(json.dumps({"arch": "video_unet", "config": {}}))
    (tmp_path / "weights.safetensors").write_bytes(b"")
    card = {"parameters": 4747585, "steps": 3555, "wall_time_s": 810.2,
            "history": [{"steps": 1019, "wall_time_s": 378.5}, {"steps": 3555, "wall_time_s": 810.2}]}
    (tmp_path / "card.json").write_text(json.dumps(card))
    assert options.read_model_folder(tmp_path).summary == \
        "video_unet, 4.7 M parameters, trained 4,574 steps (19.8 min in 2 runs)"
    card["history"][0]["steps"] = "?"
    (tmp_path / "card.json").write_text(json.dumps(card))
    assert options.read_model_folder(tmp_path).summary == \
        "video_unet, 4.7 M parameters, trained 3,555 steps (13.5 min)"


def test_the_model_list_shows_each_models_summary_as_its_tooltip(panel):
    combo = panel.model_combo["ar"]
    entries = {e.name: e for e in options.scan_models("ar") if e.usable}
    assert entries
    for i in range(combo.count()):
        name = combo.itemData(i)
        if name in entries:
            assert combo.itemData(i, Qt.ToolTipRole) == f"{name}: {entries[name].summary}"
            assert "M parameters" in entries[name].summary
