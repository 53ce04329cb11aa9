"""Where the app keeps its settings: one QSettings for the window, its dialogs and the tests."""

from __future__ import annotations

import os

ORG, APP = "DesktopGen", "DesktopGen"
SETTINGS_ENV = "DESKTOPGEN_SETTINGS"  # an .ini path: tests and benchmarks never touch the user's
COMPILE_KEY = "engine/compile"  # torch.compile of the U-Net call on CUDA (sampling/graphs.py)
TOKEN_GRID_KEY = "view/token_grid"  # the AR canvas shows the token codes beside the images


def make_settings():
    """The app's QSettings: `$DESKTOPGEN_SETTINGS` (an ini file) if set, else the user's."""
    from PySide6.QtCore import QSettings

    path = os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(path, QSettings.IniFormat)
    return QSettings(ORG, APP)
