"""Fashion-MNIST IDX gz reader (Debian's `dataset-fashion-mnist`), with clear errors."""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np

DEFAULT_DIR = "/usr/share/datasets/fashion-mnist"
FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", 60000),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", 10000),
}
HINT = ("install it with `apt-get install dataset-fashion-mnist` (files go to "
        f"{DEFAULT_DIR}) or pass --data DIR / set DESKTOPGEN_DATA")


class DatasetError(RuntimeError):
    pass


def data_dir(path: str | os.PathLike | None = None) -> Path:
    return Path(path or os.environ.get("DESKTOPGEN_DATA") or DEFAULT_DIR)


def _read_idx(path: Path, expect_dims: int) -> np.ndarray:
    if not path.is_file():
        raise DatasetError(f"Fashion-MNIST file {path} is missing; {HINT}")
    try:
        with gzip.open(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise DatasetError(f"Fashion-MNIST file {path} is truncated or corrupt ({e}); {HINT}") from None
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08 or raw[3] != expect_dims:
        raise DatasetError(f"{path} is not an IDX file of {expect_dims} dimension(s) of bytes; {HINT}")
    dims = struct.unpack(f">{expect_dims}I", raw[4 : 4 + 4 * expect_dims])
    body = raw[4 + 4 * expect_dims :]
    if len(body) != int(np.prod(dims)):
        raise DatasetError(
            f"{path} is truncated: header says {dims}, body has {len(body)} bytes; {HINT}"
        )
    return np.frombuffer(body, dtype=np.uint8).reshape(dims).copy()  # writable


def load(split: str = "train", path: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Return (images (N, 28, 28) uint8, labels (N,) int64) of the `train` or `test` split."""
    if split not in FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    folder = data_dir(path)
    img_name, lab_name, n = FILES[split]
    images = _read_idx(folder / img_name, 3)
    labels = _read_idx(folder / lab_name, 1).astype(np.int64)
    if images.shape != (n, 28, 28) or labels.shape != (n,):
        raise DatasetError(f"unexpected shapes in {folder}: {images.shape}, {labels.shape}; {HINT}")
    return images, labels
