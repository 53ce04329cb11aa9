"""Mask editor, offscreen: painting, undo/redo, presets, and drops of good and bad files carried by
synthetic QDropEvents (each bad drop gets a message and leaves image and mask untouched)."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("PySide6")
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QDragEnterEvent, QDropEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from desktopgen.gui.mask_editor import MaskEditor, ar_context_image, image_path_from_mime  # noqa: E402
from desktopgen.sampling import masks  # noqa: E402

EXAMPLES = sorted((Path(__file__).parents[1] / "resources" / "examples").glob("*.png"))


@pytest.fixture
def editor(qtbot):
    w = MaskEditor()
    qtbot.addWidget(w)
    w.resize(420, 640)
    w.show()
    return w


def _mime(*paths, urls=None):
    m = QMimeData()
    m.setUrls(urls if urls is not None else [QUrl.fromLocalFile(str(p)) for p in paths])
    return m


def _drop(widget, mime):
    """Drag-enter then drop, as the window system would send them."""
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    enter = QDragEnterEvent(QPoint(int(pos.x()), int(pos.y())), Qt.DropAction.CopyAction, mime,
                            Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, enter)
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, drop)
    return enter.isAccepted()


def _messages(editor):
    got = []
    editor.message.connect(got.append)
    return got


def test_good_drop_imports_and_shows_the_conversion(editor, test_set):
    msgs = _messages(editor)
    p = EXAMPLES[0]
    assert _drop(editor, _mime(p))
    idx = int(p.stem.rsplit("test", 1)[1])
    np.testing.assert_array_equal(editor.source(), test_set[0][idx])
    assert msgs and msgs[-1].startswith("Imported") and p.name in msgs[-1]
    assert editor.original.pixmap() is not None and not editor.original.pixmap().isNull()
    assert editor.inpaint_btn.isEnabled()


def _bad_files(tmp):
    (tmp / "empty.png").write_bytes(b"")
    (tmp / "notes.txt").write_text("not an image")
    (tmp / "cut.png").write_bytes(EXAMPLES[0].read_bytes()[:60])
    Image.new("L", (8000, 8000)).save(tmp / "bomb.png")
    (tmp / "folder").mkdir()
    return {
        "zero-size": (_mime(tmp / "empty.png"), "empty"),
        "non-image": (_mime(tmp / "notes.txt"), "not an image"),
        "truncated": (_mime(tmp / "cut.png"), "truncated or corrupt"),
        "bomb": (_mime(tmp / "bomb.png"), "megapixels"),
        "folder": (_mime(tmp / "folder"), "folder"),
        "several": (_mime(EXAMPLES[0], EXAMPLES[1]), "2 files"),
        "web link": (_mime(urls=[QUrl("https://example.com/a.png")]), "local files"),
    }


def test_each_bad_drop_gets_a_message_and_loses_nothing(editor, tmp_path):
    editor.open_file(str(EXAMPLES[1]))
    editor.apply_preset("top-half")
    before_src, before_mask = editor.source(), editor.mask()
    msgs = _messages(editor)
    for case, (mime, words) in _bad_files(tmp_path).items():
        n = len(msgs)
        _drop(editor, mime)
        assert len(msgs) == n + 1, case
        assert words in msgs[-1], (case, msgs[-1])
        np.testing.assert_array_equal(editor.source(), before_src)
        np.testing.assert_array_equal(editor.mask(), before_mask)


def test_drop_without_urls_is_ignored(editor):
    m = QMimeData()
    m.setText("hello")
    assert not _drop(editor, m)
    assert image_path_from_mime(m)[0] is None


def test_image_path_from_mime_for_the_window(tmp_path):
    p, err = image_path_from_mime(_mime(EXAMPLES[0]))
    assert p == str(EXAMPLES[0]) and err is None
    p, err = image_path_from_mime(_mime(tmp_path))
    assert p is None and "folder" in err


def _click(qtbot, editor, row, col, button=Qt.MouseButton.LeftButton):
    c = editor.canvas
    s = min(c.width(), c.height())
    x0, y0 = (c.width() - s) / 2, (c.height() - s) / 2
    pos = QPoint(int(x0 + (col + 0.5) * s / 28), int(y0 + (row + 0.5) * s / 28))
    qtbot.mouseClick(c, button, pos=pos)


def test_brush_eraser_undo_redo(qtbot, editor):
    editor.open_file(str(EXAMPLES[0]))
    editor.clear()
    assert editor.mask().sum() == 0
    changes = []
    editor.maskChanged.connect(changes.append)
    editor.size_box.setValue(3)
    _click(qtbot, editor, 5, 5)
    m1 = editor.mask()
    assert m1[5, 5] == 1 and 4 <= m1.sum() <= 12 and m1[20, 20] == 0
    assert changes and np.array_equal(changes[-1], m1)
    editor.eraser.setChecked(True)
    _click(qtbot, editor, 5, 5)
    assert editor.mask()[5, 5] == 0
    editor.undo()
    np.testing.assert_array_equal(editor.mask(), m1)
    editor.undo()
    assert editor.mask().sum() == 0
    editor.redo()
    np.testing.assert_array_equal(editor.mask(), m1)
    editor.invert()
    assert editor.mask().sum() == 784 - m1.sum()
    editor.undo()
    np.testing.assert_array_equal(editor.mask(), m1)


def test_soft_edge_dithers_the_rim(qtbot, editor):
    editor.clear()
    editor.size_box.setValue(8)
    editor._dab(14.0, 14.0)
    hard = editor.mask()
    editor.clear()
    editor.soft.setChecked(True)
    editor._dab(14.0, 14.0)
    soft = editor.mask()
    assert set(np.unique(soft)) <= {0, 1}  # still a 0/1 mask, as both samplers need
    assert soft[14, 14] == 1 and soft.sum() != hard.sum()
    d = np.hypot(*(np.mgrid[0:28, 0:28] + 0.5 - 14))
    ring = (d > 3.5) & (d < 5.5)
    assert 0 < soft[ring].mean() < 1  # a mixed rim, not a hard edge


def test_presets_and_inpaint_button(editor):
    got = []
    editor.inpaintRequested.connect(lambda: got.append(True))
    msgs = _messages(editor)
    editor.request_inpaint()
    assert not got and "image first" in msgs[-1]
    editor.open_file(str(EXAMPLES[2]))
    for name in masks.PRESETS:
        editor.preset_buttons[name].click()
        if name != "random-blocks":
            np.testing.assert_array_equal(editor.mask(), masks.preset(name))
    editor.clear()
    assert not editor.request_inpaint() and "covers no pixel" in msgs[-1] and not got
    editor.invert()  # everything: allowed, with a note that it is plain generation
    assert editor.request_inpaint() and "plain generation" in msgs[-1] and got
    editor.apply_preset("bottom-half")
    editor.class_combo.setCurrentIndex(0)
    ch = editor.request_changes()
    assert ch["class_label"] is None and ch["guidance"] == 0.0
    assert np.array_equal(np.array(ch["mask"]), masks.preset("bottom-half"))
    editor.class_combo.setCurrentIndex(4)  # dress
    assert editor.request_changes()["class_label"] == 3 and "guidance" not in editor.request_changes()


def test_set_image_from_a_result_and_ar_context(editor, test_set):
    shown = []
    editor.maskChanged.connect(shown.append)
    editor.set_image(test_set[0][3], "Sent result 1 to inpainting")
    assert len(shown) == 1 and np.array_equal(shown[0], editor.mask())  # the window draws the hole
    np.testing.assert_array_equal(editor.source(), test_set[0][3])
    editor.apply_preset("top-half")
    editor.set_ar_position(100)  # in the hole (top half): no known pixel is before it
    assert "sees 0 of 392" in editor.ar_label.text()
    editor.apply_preset("bottom-half")
    editor.set_ar_position(500)
    assert "sees 392 of 392" in editor.ar_label.text()
    img = ar_context_image(masks.preset("center-square"), 300)
    assert img.width() == 28 and img.pixelColor(300 % 28, 300 // 28).red() == 255  # current pixel


def test_grab_shows_image_and_red_mask(editor, qtbot, tmp_path):
    editor.open_file(str(EXAMPLES[0]))
    editor.apply_preset("center-square")
    pix = editor.grab()
    assert pix.save(str(tmp_path / "shot.png"))
    c = editor.canvas
    img = c.grab().toImage()
    centre = img.pixelColor(c.width() // 2, c.height() // 2)
    corner = img.pixelColor(c.width() // 2 - min(c.width(), c.height()) // 2 + 2, c.height() // 2)
    assert centre.red() > centre.green() + 30  # masked centre is tinted red
    assert abs(corner.red() - corner.green()) < 10  # unmasked border stays grey


def _odd_files(tmp, base):
    """Odd but valid images: each must import (with a note where something was done)."""
    big = np.kron(base, np.ones((2, 2), np.uint8))
    Image.fromarray(big.astype(np.uint16) * 257).save(tmp / "deep.png")  # 16-bit
    Image.fromarray(big, "L").convert("CMYK").save(tmp / "print.tif")
    Image.fromarray(big, "L").convert("P").save(tmp / "pal.png")
    # a light object on transparency (a dark one would be composited on white, then inverted)
    light = np.where(big > 0, np.maximum(big, 150), 0).astype(np.uint8)
    rgba = np.stack([light] * 3 + [np.where(big > 0, 255, 0).astype(np.uint8)], -1)
    Image.fromarray(rgba, "RGBA").save(tmp / "alpha.png")
    frames = [Image.fromarray(big, "L").convert("P"), Image.fromarray(255 - big, "L").convert("P")]
    frames[0].save(tmp / "anim.gif", save_all=True, append_images=frames[1:], duration=50)
    Image.fromarray(255 - big, "L").convert("RGB").save(tmp / "darkonlight.jpg", quality=98)
    return ["deep.png", "print.tif", "pal.png", "alpha.png", "anim.gif", "darkonlight.jpg"]


def test_odd_modes_dropped_all_import_close_to_the_original(editor, tmp_path, test_set):
    base = test_set[0][0]
    msgs = _messages(editor)
    for name in _odd_files(tmp_path, base):
        _drop(editor, _mime(tmp_path / name))
        assert msgs[-1].startswith("Imported " + name), msgs[-1]
        want = np.where(base > 0, np.maximum(base, 150), 0) if name == "alpha.png" else base
        err = np.abs(editor.source().astype(int) - want.astype(int)).mean()
        assert err < 6, (name, err)  # same picture, light on dark, back at 28x28
    assert "first of 2 frames" in msgs[-2] and "inverted" in msgs[-1]


def test_huge_declared_size_drop(editor, tmp_path):
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    (tmp_path / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                                        + chunk(b"IDAT", zlib.compress(b"\0" * 99)) + chunk(b"IEND", b""))
    msgs = _messages(editor)
    _drop(editor, _mime(tmp_path / "huge.png"))
    assert msgs[-1].startswith("Cannot import") and "pixels" in msgs[-1]
    assert editor.source() is None


def test_shortcuts_undo_redo_open(editor):
    keys = {a.text(): a.shortcut().toString() for a in editor.actions()}
    assert keys["Undo mask"] == "Ctrl+Z" and keys["Redo mask"] == "Ctrl+Shift+Z"
    assert keys["Open image"] == "Ctrl+O"
    editor.apply_preset("top-half")
    editor.apply_preset("left-half")
    next(a for a in editor.actions() if a.text() == "Undo mask").trigger()
    np.testing.assert_array_equal(editor.mask(), masks.preset("top-half"))
    next(a for a in editor.actions() if a.text() == "Redo mask").trigger()
    np.testing.assert_array_equal(editor.mask(), masks.preset("left-half"))
