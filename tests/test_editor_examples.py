"""The mask editor's example picker (issue 8: "or pick an example" needs a picker): one thumbnail
per image in resources/examples; a click opens it in the editor through the safe import."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from desktopgen.gui.examples import ExamplePicker, example_paths, example_title
from desktopgen.gui.mask_editor import MaskEditor

EXAMPLES = sorted((Path(__file__).parents[1] / "resources" / "examples").glob("*.png"))


@pytest.fixture
def editor(qtbot):
    w = MaskEditor()
    qtbot.addWidget(w)
    w.show()
    return w


def test_the_picker_shows_every_example(editor):
    assert len(EXAMPLES) == 6 and example_paths() == EXAMPLES
    assert editor.examples.isVisible() and "example" in editor.info.text()
    assert sorted(editor.examples.buttons) == [p.stem for p in EXAMPLES]
    for b in editor.examples.buttons.values():
        assert not b.icon().isNull() and b.toolTip().startswith("Inpaint this example")


@pytest.mark.parametrize("stem", [p.stem for p in EXAMPLES])
def test_a_click_loads_that_example(qtbot, editor, test_set, stem):
    got = []
    editor.message.connect(got.append)
    with qtbot.waitSignal(editor.imageChanged, timeout=5000):
        qtbot.mouseClick(editor.examples.buttons[stem], Qt.MouseButton.LeftButton)
    index = int(stem.rsplit("test", 1)[1])
    assert np.array_equal(editor.source(), test_set[0][index])
    assert got and got[-1].startswith("Imported") and stem in got[-1]
    assert editor.inpaint_btn.isEnabled() and not editor.original.pixmap().isNull()


def test_titles_and_a_missing_folder(qtbot, tmp_path):
    assert example_title(Path("ankle-boot-test0.png")) == "Ankle boot (Fashion-MNIST test image 0)"
    assert example_title(Path("t-shirt-top-test19.png")).startswith("T-shirt/top (")
    assert example_title(Path("new-thing-test3.png")).startswith("New thing (")
    assert example_title(Path("odd.png")) == "odd"
    assert example_paths(tmp_path / "absent") == []
    empty = ExamplePicker([])
    qtbot.addWidget(empty)
    assert empty.isHidden() and not empty.buttons


def test_open_starts_in_pictures_then_the_last_folder(editor, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".config").mkdir(parents=True)
    (home / "Bilder").mkdir()
    (home / ".config" / "user-dirs.dirs").write_text('XDG_PICTURES_DIR="$HOME/Bilder"\n')
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.chdir(tmp_path)
    asked = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        lambda parent, caption, folder, filters: asked.append(folder) or ("", ""))
    editor.open_dialog()
    assert asked == [str(home / "Bilder")]
    editor.open_file(str(EXAMPLES[0]))
    editor.open_dialog()
    assert asked[-1] == str(EXAMPLES[0].parent)
