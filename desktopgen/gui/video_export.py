"""The video export choices: which side (or both side by side), size, frame rate, then the file."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QSpinBox,
)

from desktopgen.gui.theme import NAMES

FILTERS = "MP4 video (*.mp4);;GIF animation (*.gif);;WebP animation (*.webp)"


def ask_export(parent, families: list[str]) -> tuple[str, str, int, int] | None:
    """(path, which, size, fps) from the user, or None if cancelled. `which` is a family or
    "both"; the file's suffix picks the format."""
    dlg = QDialog(parent)
    dlg.setWindowTitle("Export video")
    form = QFormLayout(dlg)
    which = QComboBox()
    if len(families) > 1:
        which.addItem("Both, side by side", "both")
    for f in families:
        which.addItem(NAMES[f], f)
    size = QSpinBox(minimum=96, maximum=2048, value=384, singleStep=32, suffix=" px")
    size.setToolTip("Width of each side's grid (pixels stay crisp: whole-number upscaling).")
    fps = QSpinBox(minimum=1, maximum=60, value=8, suffix=" fps")
    form.addRow("Clips of", which)
    form.addRow("Size", size)
    form.addRow("Frame rate", fps)
    box = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
    box.accepted.connect(dlg.accept)
    box.rejected.connect(dlg.reject)
    form.addRow(box)
    if dlg.exec() != QDialog.Accepted:
        return None
    path, chosen = QFileDialog.getSaveFileName(parent, "Export video", "video.mp4", FILTERS)
    if not path:
        return None
    if not path.lower().endswith((".mp4", ".gif", ".webp")):
        path += "." + chosen.split("*.")[-1].rstrip(")") if chosen else ".mp4"
    return path, which.currentData(), size.value(), fps.value()
