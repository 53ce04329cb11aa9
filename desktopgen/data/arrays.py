"""Safe import of a user's .npz of images: the shape and type are read from the .npy header
inside the zip and checked before a byte of pixels is decompressed; no pickle is ever loaded,
and every failure is one clear sentence (ArrayImportError)."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

SIZE = 28
MAX_FILE_BYTES = 512 * 2**20
NPY_MAGIC = b"\x93NUMPY"


class ArrayImportError(ValueError):
    """An array file that cannot be imported; the message is one sentence for the user."""


def _header(stream, name: str, member: str):
    """(shape, fortran_order, dtype) from a .npy header, read without touching its data."""
    try:
        version = npy_format.read_magic(stream)
        if version == (1, 0):
            return npy_format.read_array_header_1_0(stream)
        if version == (2, 0):
            return npy_format.read_array_header_2_0(stream)
    except (ValueError, EOFError, SyntaxError, TypeError, OSError, zlib.error) as e:
        raise ArrayImportError(f"`{member}` in {name} is not a readable array ({str(e)[:100]})") from None
    raise ArrayImportError(f"`{member}` in {name} is a .npy version {version} this app cannot read")


def load_images(path, key: str = "images", max_images: int = 10_000) -> np.ndarray:
    """The `key` array of an .npz as (N, 28, 28) uint8 with 1 <= N <= max_images."""
    p = Path(path)
    if p.is_dir():
        raise ArrayImportError(f"{p.name} is a folder, not an .npz file")
    if not p.is_file():
        raise ArrayImportError(f"{p} does not exist")
    size = p.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ArrayImportError(f"{p.name} is {size / 2**20:.0f} MB; files up to {MAX_FILE_BYTES // 2**20} MB "
                               "are accepted")
    with open(p, "rb") as f:
        head = f.read(6)
    if head == NPY_MAGIC:
        raise ArrayImportError(f"{p.name} is a .npy file (one bare array), not an .npz: save it with "
                               f"numpy.savez(path, {key}=array)")
    member = f"{key}.npy"
    try:
        with zipfile.ZipFile(p) as z:
            names = z.namelist()
            if member not in names:
                found = ", ".join(n.removesuffix(".npy") for n in names[:10]) or "nothing"
                more = f" and {len(names) - 10} more" if len(names) > 10 else ""
                raise ArrayImportError(f"{p.name} has no `{key}` array (it has: {found}{more})")
            with z.open(member) as stream:
                shape, fortran, dtype = _header(stream, p.name, key)
                if dtype.hasobject:
                    raise ArrayImportError(f"`{key}` in {p.name} holds Python objects (pickled data), "
                                           "which are never loaded: save plain uint8 pixels")
                if len(shape) != 3 or tuple(shape[1:]) != (SIZE, SIZE) or not 1 <= shape[0] <= max_images:
                    raise ArrayImportError(f"`{key}` in {p.name} must be (N, 28, 28) with 1 <= N <= "
                                           f"{max_images}, not {tuple(shape)}")
                if dtype.kind not in "iu":
                    raise ArrayImportError(f"`{key}` in {p.name} must be uint8 (0..255), not {dtype}")
                nbytes = int(np.prod(shape)) * dtype.itemsize  # bounded by the checks above
                data = stream.read(nbytes)
    except ArrayImportError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError,
            RuntimeError) as e:  # RuntimeError: an encrypted member
        if not zipfile.is_zipfile(p):
            raise ArrayImportError(f"{p.name} is not an .npz file (an .npz is a zip of arrays)") from None
        raise ArrayImportError(f"{p.name} is a damaged .npz ({str(e)[:100]})") from None
    if len(data) != nbytes:
        raise ArrayImportError(f"`{key}` in {p.name} is truncated ({len(data):,} of {nbytes:,} bytes)")
    a = np.frombuffer(data, dtype=dtype)
    a = a.reshape(shape[::-1]).transpose() if fortran else a.reshape(shape)
    if a.dtype != np.uint8:
        if a.min() < 0 or a.max() > 255:
            raise ArrayImportError(f"`{key}` in {p.name} must be uint8 (0..255), not {a.dtype}")
        a = a.astype(np.uint8)
    return np.ascontiguousarray(a)
