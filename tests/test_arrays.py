"""`inpaint --images`: an .npz is judged from the .npy header inside the zip before any pixel is
decompressed, and every bad file gets one sentence (never a traceback, never 'pickled data'
for a file that holds none)."""

from __future__ import annotations

import io
import tracemalloc
import zipfile

import numpy as np
import pytest
from numpy.lib import format as npy_format

from desktopgen.data.arrays import ArrayImportError, load_images


def _npz_with_header(path, shape, dtype=np.uint8, data: bytes = b"", key="images.npy"):
    """A zip whose member's .npy header declares `shape` but holds only `data`."""
    buf = io.BytesIO()
    npy_format.write_array_header_1_0(buf, {"descr": npy_format.dtype_to_descr(np.dtype(dtype)),
                                            "fortran_order": False, "shape": shape})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(key, buf.getvalue() + data)
    return path


def test_good_files_load_exactly(tmp_path):
    a = np.random.default_rng(0).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    np.savez_compressed(tmp_path / "a.npz", images=a)
    assert np.array_equal(load_images(tmp_path / "a.npz"), a)
    np.savez(tmp_path / "f.npz", images=np.asfortranarray(a))  # column-major on disk
    assert np.array_equal(load_images(tmp_path / "f.npz"), a)
    np.savez(tmp_path / "i.npz", images=a.astype(np.int64))  # whole numbers 0..255 are fine
    out = load_images(tmp_path / "i.npz")
    assert out.dtype == np.uint8 and np.array_equal(out, a)


def test_npy_renamed_npz(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 28, 28), np.uint8))
    (tmp_path / "x.npy").rename(tmp_path / "x.npz")
    with pytest.raises(ArrayImportError, match=r"x.npz is a .npy file .*numpy.savez"):
        load_images(tmp_path / "x.npz")


def test_huge_declared_shape_is_refused_from_the_header(tmp_path):
    p = _npz_with_header(tmp_path / "h.npz", (10**9, 28, 28), data=b"\0" * 100)
    with pytest.raises(ArrayImportError, match=r"1 <= N <= 10000, not \(1000000000, 28, 28\)"):
        load_images(p)


def test_too_many_images_are_refused_before_decompressing(tmp_path):
    """20,000 images (15 MB of pixels, a few kB compressed): refused without inflating them."""
    np.savez_compressed(tmp_path / "many.npz", images=np.zeros((20_000, 28, 28), np.uint8))
    tracemalloc.start()
    try:
        with pytest.raises(ArrayImportError, match="not \\(20000, 28, 28\\)"):
            load_images(tmp_path / "many.npz")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2 * 2**20, peak  # the old loader decompressed all 15 MB first


@pytest.mark.parametrize("content,words", [
    (b"\x00\x01garbage that is no zip at all" * 10, "not an .npz file"),
    (b"PK\x03\x04" + b"\xff" * 200, "not an .npz file"),
    (b"", "not an .npz file"),
])
def test_garbage_is_not_called_pickled(tmp_path, content, words):
    p = tmp_path / "g.npz"
    p.write_bytes(content)
    with pytest.raises(ArrayImportError) as e:
        load_images(p)
    assert words in str(e.value) and "pickle" not in str(e.value)


def test_other_bad_contents(tmp_path):
    np.savez(tmp_path / "obj.npz", images=np.array([None, 1], dtype=object))
    with pytest.raises(ArrayImportError, match="Python objects"):
        load_images(tmp_path / "obj.npz")
    np.savez(tmp_path / "f.npz", images=np.zeros((2, 28, 28), np.float32))
    with pytest.raises(ArrayImportError, match="uint8"):
        load_images(tmp_path / "f.npz")
    np.savez(tmp_path / "neg.npz", images=np.full((2, 28, 28), -1, np.int16))
    with pytest.raises(ArrayImportError, match="uint8"):
        load_images(tmp_path / "neg.npz")
    np.savez(tmp_path / "other.npz", pictures=np.zeros((2, 28, 28), np.uint8))
    with pytest.raises(ArrayImportError, match=r"no `images` array \(it has: pictures\)"):
        load_images(tmp_path / "other.npz")
    p = _npz_with_header(tmp_path / "short.npz", (3, 28, 28), data=b"\0" * 100)
    with pytest.raises(ArrayImportError, match="truncated"):
        load_images(p)
    with zipfile.ZipFile(tmp_path / "bad_header.npz", "w") as z:
        z.writestr("images.npy", b"\x93NUMPY\x01\x00\x10\x00{'descr': nope}  \n")
    with pytest.raises(ArrayImportError, match="not a readable array"):
        load_images(tmp_path / "bad_header.npz")
    with pytest.raises(ArrayImportError, match="does not exist"):
        load_images(tmp_path / "missing.npz")
    with pytest.raises(ArrayImportError, match="folder"):
        load_images(tmp_path)
