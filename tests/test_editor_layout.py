"""Issue 8: with the inpainting dock open, a 1280x800 window keeps everything legible: it fits the
screen (nothing cut at the bottom), the canvases stay large, the dock is narrow, every editor
control is on screen, and the plots keep their width. (resources/screenshot-inpaint.png shows it.)"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect, QSettings
from PySide6.QtWidgets import QApplication, QLabel, QWidget

from desktopgen.gui.mask_editor import EDITOR_WIDTH
from desktopgen.gui.workers import running_threads

W, H = 1280, 800


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    from desktopgen.gui.app import create_window

    path = tmp_path / "settings.ini"
    monkeypatch.setenv("DESKTOPGEN_SETTINGS", str(path))
    win = create_window(device="cpu", settings=QSettings(str(path), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.firstPainted, timeout=10_000):
        win.show()
    win.ensure_plots()
    yield win
    win.close()
    for t in running_threads():
        t.quit()
        t.wait(30_000)


def _on_window(win, w: QWidget) -> QRect:
    return QRect(w.mapTo(win, QPoint(0, 0)), w.size())


def test_1280x800_with_the_dock_open_stays_legible(qtbot, window):
    editor = window.mask_editor()
    editor.open_file(str(editor.examples.paths[0]))
    window.resize(W, H)
    qtbot.waitUntil(lambda: window.size().width() == W, timeout=5000)
    QApplication.processEvents()
    assert window.minimumSizeHint().height() <= H and window.height() == H  # nothing cut off
    assert editor.minimumSizeHint().width() <= EDITOR_WIDTH  # its rows fit the narrow dock
    dock = window._editor_dock
    assert dock.isVisible() and dock.width() <= 330
    screen = window.rect()
    for c in window.canvases.values():  # each side: at least 10 screen pixels per image pixel
        assert c.width() >= 280 and c.height() >= 280, c.size()
    for cap in (window.findChild(QLabel, f"{f}Caption") for f in window.canvases):
        # one line each, not wrapped (the device: in its tooltip)
        assert cap.heightForWidth(cap.width()) < 1.5 * cap.fontMetrics().lineSpacing(), cap.text()
    assert editor.canvas.width() >= 260 and editor.canvas.height() >= 260
    controls = [editor.inpaint_btn, editor.class_combo, editor.jump_box, editor.ar_slider,
                editor.size_box, editor.soft, editor.invert_combo, editor.redo_btn,
                *editor.preset_buttons.values(), *editor.examples.buttons.values()]
    for w in controls:  # every control of the editor is on screen, whole
        assert w.isVisible() and screen.contains(_on_window(window, w)), w
    for w in controls[:8]:
        assert w.width() >= min(w.sizeHint().width(), 60), (w, w.width(), w.sizeHint())
    for pl in window.plots.plots:  # three plots in a row, each still a readable size
        assert pl.widget.width() >= 290 and pl.widget.height() >= 180, pl.widget.size()
        assert screen.contains(_on_window(window, pl.widget))


@pytest.mark.parametrize("kind", ["process", "cuda"])
def test_plot_titles_are_whole_at_1280x800_with_the_dock_open(qtbot, window, kind):
    window.mask_editor()
    window.resize(W, H)
    qtbot.waitUntil(lambda: window.size().width() == W, timeout=5000)
    window.plots.set_memory_kind(kind)
    QApplication.processEvents()
    for pl in window.plots.plots:
        title = pl.item.titleLabel
        assert title.item.boundingRect().width() <= pl.widget.width(), (title.text, pl.widget.width())
