"""`desktopgen` with no subcommand: build the QApplication and show the main window.

The window is shown and painted before torch is imported: the workers import torch and load
their models on their own threads, started after the first paint.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")  # before anything imports pyqtgraph

from desktopgen.gui.settings import APP, ORG, SETTINGS_ENV, make_settings  # noqa: F401 (re-exported)

GIL_SWITCH_S = 0.001  # the GUI thread waits at most this for the GIL when a worker runs Python


def create_app(argv: list[str] | None = None):
    from PySide6.QtWidgets import QApplication

    # Workers run Python between torch ops (most of an AR step at batch 1); with the default 5 ms
    # switch interval every GIL hand-back to the GUI thread can wait 5 ms, several times a frame.
    sys.setswitchinterval(GIL_SWITCH_S)
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv if argv is None else argv)
    from desktopgen.gui import gc_guard

    gc_guard.install()  # cycles freed on a worker thread deadlock Qt: collect on this one only
    app.setOrganizationName(ORG)
    app.setApplicationName(APP)
    app.setApplicationDisplayName(APP)  # Qt appends it to every window title
    _apply_theme(app)
    return app


def _apply_theme(app) -> None:
    """A dark Fusion palette: the images and plots read best on a dark background."""
    from PySide6.QtGui import QColor, QPalette

    app.setStyle("Fusion")
    pal = QPalette()
    base, window, text = QColor(30, 30, 36), QColor(40, 40, 47), QColor(225, 225, 232)
    for role, color in ((QPalette.Window, window), (QPalette.Base, base),
                        (QPalette.AlternateBase, window), (QPalette.Button, QColor(52, 52, 61)),
                        (QPalette.WindowText, text), (QPalette.Text, text), (QPalette.ButtonText, text),
                        (QPalette.ToolTipBase, QColor(250, 250, 240)),
                        (QPalette.ToolTipText, QColor(20, 20, 20)),
                        (QPalette.Highlight, QColor(59, 139, 235)),
                        (QPalette.HighlightedText, QColor(255, 255, 255))):
        pal.setColor(role, color)
    pal.setColor(QPalette.Disabled, QPalette.Text, QColor(120, 120, 128))
    pal.setColor(QPalette.Disabled, QPalette.ButtonText, QColor(120, 120, 128))
    app.setPalette(pal)


def create_window(device: str = "auto", settings=None):
    """The main window, with its workers started after it has painted once."""
    from desktopgen.gui.window import MainWindow

    win = MainWindow(settings=settings if settings is not None else make_settings(), device=device)
    win.firstPainted.connect(win.start_workers)
    return win


def main() -> int:
    from desktopgen.gui.qt_libs import check_qt_platform

    problem = check_qt_platform()  # Qt would abort, blaming the wrong library
    if problem:
        print(problem, file=sys.stderr)
        return 1
    app = create_app()
    win = create_window(os.environ.get("DESKTOPGEN_DEVICE", "auto"))
    win.show()
    _close_on_signals(win)
    return app.exec()


def _close_on_signals(win) -> None:
    """Ctrl+C in the terminal, or SIGTERM, closes the window the normal way (settings saved,
    workers stopped) instead of killing the process mid-run."""
    import signal

    from PySide6.QtCore import QTimer

    def close(*_):
        win.close()

    signal.signal(signal.SIGINT, close)
    signal.signal(signal.SIGTERM, close)
    wake = QTimer(win)  # Python handlers run only when the interpreter gets control
    wake.timeout.connect(lambda: None)
    wake.start(250)


if __name__ == "__main__":
    sys.exit(main())
