"""The example picker of the mask editor: one thumbnail button per image in resources/examples
(Fashion-MNIST test images, named `<class>-test<index>.png`); a click asks the editor to open it
through the same safe import as a drop."""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from desktopgen import CLASS_NAMES

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "resources" / "examples"
THUMB = 28  # pixels of each thumbnail: six fit beside their label in the narrow dock


def example_paths(folder: Path = EXAMPLES_DIR) -> list[Path]:
    """The example images, sorted by name; empty where they were not installed."""
    return sorted(folder.glob("*.png")) if folder.is_dir() else []


def example_title(path: Path) -> str:
    """`ankle-boot-test0.png` -> "Ankle boot (Fashion-MNIST test image 0)"."""
    name, _, index = Path(path).stem.rpartition("-test")
    if not name or not index.isdigit():
        return Path(path).stem
    names = {re.sub(r"[^a-z0-9]+", "-", c.lower()): c for c in CLASS_NAMES}  # "T-shirt/top"
    return f"{names.get(name, name.replace('-', ' ').capitalize())} (Fashion-MNIST test image {index})"


class ExamplePicker(QWidget):
    """A row of thumbnails; `picked(path)` when one is clicked."""

    picked = Signal(str)

    def __init__(self, paths: list[Path] | None = None, parent=None):
        super().__init__(parent)
        self.paths = example_paths() if paths is None else list(paths)
        self.buttons: dict[str, QToolButton] = {}
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(3)
        label = QLabel("Examples")
        label.setToolTip("Fashion-MNIST test images to try inpainting on")
        row.addWidget(label)
        for p in self.paths:
            b = QToolButton()
            b.setObjectName(f"example-{p.stem}")
            pix = QPixmap(str(p))
            if not pix.isNull():  # nearest: the 28x28 pixels stay crisp
                b.setIcon(QIcon(pix.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                           Qt.TransformationMode.FastTransformation)))
            b.setIconSize(QSize(THUMB, THUMB))
            b.setAutoRaise(True)
            b.setToolTip(f"Inpaint this example: {example_title(p)}")
            b.clicked.connect(lambda _=False, path=str(p): self.picked.emit(path))
            row.addWidget(b)
            self.buttons[p.stem] = b
        row.addStretch(1)
        if not self.paths:  # not installed (a wheel without resources/): no empty row
            self.hide()
