"""Image | Video for the main window (issue 11): a segmented control in a toolbar and a View menu,
a stacked central widget whose second page is video mode (gui/video_view.py, built on first use),
and the mode remembered in settings."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu, QStackedWidget, QToolBar

MODES = ("image", "video")


class ModeSwitch:
    """Image | Video for a MainWindow: a segmented control in a toolbar and a View menu (Ctrl+1 /
    Ctrl+2, Ctrl+Shift+V toggles), a stacked central widget, the mode remembered in settings. The
    video page is built on first use. In video mode the image page's run and export actions give
    their shortcuts to the video page's."""

    def __init__(self, window):
        self.window, self.video = window, None
        self.stack = QStackedWidget()
        self.stack.addWidget(window.takeCentralWidget())
        window.setCentralWidget(self.stack)
        bar = QToolBar("Mode", window)
        bar.setObjectName("modeToolBar")
        bar.setMovable(False)
        window.addToolBar(Qt.TopToolBarArea, bar)
        group = QActionGroup(window)
        group.setExclusive(True)
        view = QMenu("&View", window)
        mb = window.menuBar()
        mb.insertMenu(mb.actions()[-1], view)  # before Help
        self.actions = {}
        for mode, key in zip(MODES, ("Ctrl+1", "Ctrl+2")):
            a = QAction(mode.capitalize(), window, checkable=True)
            a.setShortcut(QKeySequence(key))
            a.setToolTip(f"{mode.capitalize()} mode ({key}; Ctrl+Shift+V switches)")
            a.triggered.connect(lambda _=False, m=mode: self.set_mode(m))
            group.addAction(a)
            bar.addAction(a)
            view.addAction(a)
            window.addAction(a)
            self.actions[mode] = a
        bar.widgetForAction(self.actions["image"]).setObjectName("imageModeButton")
        bar.widgetForAction(self.actions["video"]).setObjectName("videoModeButton")
        toggle = QAction("Switch image / video", window, shortcut=QKeySequence("Ctrl+Shift+V"))
        toggle.triggered.connect(lambda: self.set_mode("image" if self.mode == "video" else "video"))
        view.addAction(toggle)
        window.addAction(toggle)
        self._video_actions = []
        for text, key, slot in (
                ("Generate videos", ["Ctrl+Return", "Ctrl+Enter"], lambda: self.video.generate()),
                ("Cancel videos", ["Esc"], lambda: self.video.cancel()),
                ("Export video…", ["Ctrl+S"], lambda: self.video.export_dialog())):
            a = QAction(text, window, enabled=False)
            a.setShortcuts([QKeySequence(k) for k in key])
            a.triggered.connect(slot)
            window.addAction(a)
            self._video_actions.append(a)
        m = window.menus
        self._image_actions = [m.generate_action, m.cancel_action, m.export_action, m.export_clip_action]
        self.mode = "image"
        self.set_mode("video" if window.settings.value("window/mode", "image") == "video" else "image")

    def set_mode(self, mode: str) -> None:
        if mode == "video" and self.video is None:
            w = self.window
            from desktopgen.gui.video_view import VideoMode

            self.video = VideoMode(w.settings, w.device, w.runner)
            self.stack.addWidget(self.video)
        self.mode = mode
        self.actions[mode].setChecked(True)
        if self.video is not None:
            self.stack.setCurrentWidget(self.video if mode == "video" else self.stack.widget(0))
        for a in self._image_actions:
            a.setEnabled(mode == "image")
        for a in self._video_actions:
            a.setEnabled(mode == "video")
        self.window.settings.setValue("window/mode", mode)

    def save_settings(self) -> None:
        if self.video is not None:
            self.video.save_settings()

    def stop_workers(self) -> None:
        if self.video is not None:
            self.video.stop_workers()
