"""A spin box for 64-bit seeds (the image panel's and the video panel's)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QAbstractSpinBox

from desktopgen.core.requests import MAX_SEED


class SeedSpin(QAbstractSpinBox):
    """A spin box for seeds up to 2^63 - 1 (QSpinBox stops at 2^31 - 1): digits only, never
    anything but a whole number in range."""

    valueChanged = Signal(object)  # int (Python's, so 64 bits fit)

    def __init__(self, maximum: int = MAX_SEED, parent=None):
        super().__init__(parent)
        self._max = maximum
        self._value = 0
        self.lineEdit().setText("0")
        self.lineEdit().textEdited.connect(self._edited)
        self.editingFinished.connect(lambda: self.lineEdit().setText(str(self._value)))

    def value(self) -> int:
        return self._value

    def maximum(self) -> int:
        return self._max

    def setValue(self, value: int) -> None:
        v = max(0, min(self._max, int(value)))
        if self.lineEdit().text() != str(v):
            self.lineEdit().setText(str(v))
        if v != self._value:
            self._value = v
            self.valueChanged.emit(v)

    def _edited(self, text: str) -> None:
        if text.isascii() and text.isdigit() and int(text) <= self._max:
            self._value = int(text)
            self.valueChanged.emit(self._value)

    def validate(self, text: str, pos: int):
        if not text:
            return QValidator.Intermediate, text, pos
        if text.isascii() and text.isdigit() and int(text) <= self._max:
            return QValidator.Acceptable, text, pos
        return QValidator.Invalid, text, pos

    def fixup(self, text: str) -> str:
        return str(self._value)

    def stepBy(self, steps: int) -> None:
        self.setValue(self._value + steps)
        self.selectAll()

    def stepEnabled(self):
        flags = QAbstractSpinBox.StepNone
        if self._value > 0:
            flags |= QAbstractSpinBox.StepDownEnabled
        if self._value < self._max:
            flags |= QAbstractSpinBox.StepUpEnabled
        return flags
