"""User-image import: every supported mode comes out 28x28 uint8 light-on-dark; every bad file gets
one clear ImageImportError and nothing else."""

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktopgen.data.images import ImageImportError, load_image, pick_one

EXAMPLES = sorted((Path(__file__).parents[1] / "resources" / "examples").glob("*.png"))


def _shirt(h=40, w=30, light_bg=False) -> np.ndarray:
    """A bright rectangle on black (or a dark one on white)."""
    a = np.zeros((h, w), np.uint8)
    a[h // 4 : 3 * h // 4, w // 4 : 3 * w // 4] = 220
    return 255 - a if light_bg else a


def test_examples_ship_and_come_back_exactly(test_set):
    x, _ = test_set
    assert len(EXAMPLES) >= 6
    for p in EXAMPLES:
        idx = int(p.stem.rsplit("test", 1)[1])
        r = load_image(p)
        assert r.array.dtype == np.uint8 and r.array.shape == (28, 28)
        assert not r.inverted
        np.testing.assert_array_equal(r.array, x[idx], err_msg=p.name)


def test_28x28_grey_is_kept_exactly(tmp_path, test_set):
    im = test_set[0][5]
    Image.fromarray(im, "L").save(tmp_path / "a.png")
    np.testing.assert_array_equal(load_image(tmp_path / "a.png").array, im)


def test_aspect_kept_and_padded_with_background(tmp_path):
    a = np.zeros((20, 80), np.uint8)
    a[:, :] = 200  # a wide bright bar: fills the width, padded above and below
    a[0, 0] = 0
    Image.fromarray(a, "L").save(tmp_path / "wide.png")
    r = load_image(tmp_path / "wide.png", invert=False, pad_value=0)
    assert r.array.shape == (28, 28)
    rows = r.array.mean(axis=1)
    assert rows[:9].max() == 0 and rows[-9:].max() == 0  # 80x20 -> 28x7: padding rows stay black
    assert rows[12:16].min() > 150
    assert "aspect kept" in r.message


def test_dark_on_light_is_inverted_auto_and_on_request(tmp_path):
    Image.fromarray(_shirt(light_bg=True), "L").save(tmp_path / "d.png")
    r = load_image(tmp_path / "d.png")
    assert r.inverted and "inverted" in r.message
    assert r.array[0, 0] < 10 and r.array[14, 14] > 200  # black background, light object
    r2 = load_image(tmp_path / "d.png", invert=False)
    assert not r2.inverted and r2.array[0, 0] > 245
    Image.fromarray(_shirt(), "L").save(tmp_path / "l.png")
    assert not load_image(tmp_path / "l.png").inverted
    assert load_image(tmp_path / "l.png", invert=True).array[0, 0] > 245


@pytest.mark.parametrize("mode", ["RGB", "CMYK", "P", "1", "I;16", "RGBA", "LA", "I", "F"])
def test_modes(tmp_path, mode):
    a = _shirt(28, 28)
    if mode == "I;16":
        im = Image.fromarray(a.astype(np.uint16) * 257)  # uint16 -> mode I;16
        suffix = ".png"
    elif mode in ("I", "F"):
        im = Image.fromarray((a.astype(np.int32) * 257) if mode == "I" else (a / 255.0).astype(np.float32))
        suffix = ".tif"
    else:
        im = Image.fromarray(a, "L").convert(mode)
        suffix = ".tif" if mode == "CMYK" else ".png"
    path = tmp_path / f"m{suffix}"
    im.save(path)
    r = load_image(path)
    assert r.array.shape == (28, 28) and r.array.dtype == np.uint8
    assert r.array[0, 0] < 10, mode  # background stays dark
    assert r.array[14, 14] > 150, mode  # object stays light
    if mode in ("I;16", "I"):
        assert abs(int(r.array[14, 14]) - 220) <= 1  # 16-bit scaled, not clipped


def test_rgba_dark_object_on_transparent_stays_visible(tmp_path):
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[7:21, 7:21] = (30, 30, 30, 255)  # a dark object; everything else fully transparent
    Image.fromarray(rgba, "RGBA").save(tmp_path / "t.png")
    r = load_image(tmp_path / "t.png")
    assert r.array[14, 14] > 200 and r.array[0, 0] < 10  # composited on white, then inverted


def test_animated_gif_takes_the_first_frame(tmp_path):
    frames = [Image.fromarray(_shirt(28, 28), "L").convert("P"),
              Image.fromarray(np.full((28, 28), 255, np.uint8), "L").convert("P")]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=100)
    r = load_image(tmp_path / "a.gif")
    assert r.frames == 2 and "first of 2 frames" in r.message
    assert r.array[0, 0] < 10 and r.array[14, 14] > 150


def test_exif_orientation_is_applied(tmp_path):
    a = np.zeros((20, 40), np.uint8)
    a[:, :20] = 255  # left half bright
    im = Image.fromarray(a, "L")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    im.save(tmp_path / "o.jpg", exif=exif, quality=95)
    r = load_image(tmp_path / "o.jpg", invert=False)
    assert "EXIF" in r.message
    # shown rotated clockwise, the bright half is on top
    assert r.array[:14].mean() > r.array[14:].mean() + 50


def _png_header_only(path, w, h):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))


@pytest.mark.parametrize("make, words", [
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_text("hello, not an image\n"), "not an image"),
    (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40), "corrupt"),
    (lambda p: _png_header_only(p, 20000, 20000), "pixels"),
    (lambda p: _png_header_only(p, 7000, 7000), "megapixels"),
])
def test_bad_files_get_one_clear_error(tmp_path, make, words):
    p = tmp_path / "bad.png"
    make(p)
    with pytest.raises(ImageImportError, match=words):
        load_image(p)


def test_truncated_png_and_jpeg(tmp_path, test_set):
    big = np.kron(test_set[0][0], np.ones((8, 8), np.uint8))
    for suffix in (".png", ".jpg"):
        full = tmp_path / f"full{suffix}"
        Image.fromarray(big, "L").save(full)
        cut = tmp_path / f"cut{suffix}"
        cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
        with pytest.raises(ImageImportError, match="truncated or corrupt"):
            load_image(cut)


def test_real_decompression_bomb_is_refused_before_decoding(tmp_path):
    Image.new("L", (8000, 8000)).save(tmp_path / "bomb.png")  # 64 Mpx of zeros, a few dozen KB
    assert (tmp_path / "bomb.png").stat().st_size < 200_000
    with pytest.raises(ImageImportError, match="8000x8000"):
        load_image(tmp_path / "bomb.png")


def test_folder_missing_and_several(tmp_path):
    with pytest.raises(ImageImportError, match="folder"):
        load_image(tmp_path)
    with pytest.raises(ImageImportError, match="does not exist"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageImportError, match="2 files"):
        pick_one([tmp_path / "a.png", tmp_path / "b.png"])
    with pytest.raises(ImageImportError, match="folder"):
        pick_one([tmp_path])
    assert pick_one([tmp_path / "a.png"]) == tmp_path / "a.png"
