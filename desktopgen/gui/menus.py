"""The menu bar and its keyboard shortcuts. Each action only emits a signal; the window decides
what it does. Actions are also added to the window itself, so shortcuts work with the menu hidden.
"""

from __future__ import annotations

import os
import sys

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMessageBox

from desktopgen.core.flags import COMPILE_ENV, env_flag
from desktopgen.gui.canvas import overlay_toggle
from desktopgen.gui.settings import COMPILE_KEY
from desktopgen.gui.theme import FAMILIES, NAMES
from desktopgen.gui.token_overlay import token_grid_toggle


class Menus(QObject):
    """File, Image and Help menus of `window` (a QMainWindow); the mask toggle acts on `canvases`."""

    openRequested = Signal()
    exportRequested = Signal(str)  # "image" | "clip"
    quitRequested = Signal()
    generateRequested = Signal()
    cancelRequested = Signal()
    rollRequested = Signal()
    inpaintPanelRequested = Signal()
    sendRequested = Signal(str)  # family whose result goes to inpainting

    def __init__(self, window, canvases=()):
        super().__init__(window)
        canvases = list(canvases)

        def action(text, signal, shortcuts=(), tip=""):
            a = QAction(text, window)
            if shortcuts:
                a.setShortcuts([QKeySequence(s) for s in shortcuts])
            if tip:
                a.setToolTip(tip)
            a.triggered.connect(lambda _=False: signal.emit())
            window.addAction(a)  # shortcuts work even with the menu bar hidden
            return a

        fm = window.menuBar().addMenu("&File")
        self.open_action = action("&Open image…", self.openRequested, [QKeySequence.Open],
                                  "Open an image to inpaint (mask editor)")
        self.export_action = QAction("&Export image…", window)
        self.export_action.setShortcut(QKeySequence("Ctrl+S"))
        self.export_action.triggered.connect(lambda: self.exportRequested.emit("image"))
        self.export_clip_action = QAction("Export process &clip…", window)
        self.export_clip_action.setShortcut(QKeySequence("Ctrl+Shift+S"))
        self.export_clip_action.triggered.connect(lambda: self.exportRequested.emit("clip"))
        for a in (self.open_action, self.export_action, self.export_clip_action):
            fm.addAction(a)
            window.addAction(a)
        fm.addSeparator()
        self.quit_action = action("&Quit", self.quitRequested, ["Ctrl+Q"])
        fm.addAction(self.quit_action)

        im = window.menuBar().addMenu("&Image")
        self.image_menu = im
        self.generate_action = action("&Generate both", self.generateRequested,
                                      ["Ctrl+Return", "Ctrl+Enter"])
        self.cancel_action = action("&Cancel", self.cancelRequested, [QKeySequence(Qt.Key_Escape)])
        self.dice_action = action("New random &seed", self.rollRequested, ["Ctrl+R"])
        for a in (self.generate_action, self.cancel_action, self.dice_action):
            im.addAction(a)
        im.addSeparator()
        self.inpaint_panel_action = QAction("&Inpainting panel", window)
        self.inpaint_panel_action.setToolTip("Paint a hole in an image and let both models fill it")
        self.inpaint_panel_action.triggered.connect(lambda: self.inpaintPanelRequested.emit())
        im.addAction(self.inpaint_panel_action)
        self.mask_overlay_action = overlay_toggle(window, canvases)  # Ctrl+M: show/hide the hole
        im.addAction(self.mask_overlay_action)
        window.addAction(self.mask_overlay_action)
        # Ctrl+T: the AR canvas shows the token codes beside the images (kept in the settings)
        self.token_grid_action = token_grid_toggle(window, canvases, getattr(window, "settings", None))
        im.addAction(self.token_grid_action)
        window.addAction(self.token_grid_action)
        im.addSeparator()
        self.compile_action = compile_toggle(window, getattr(window, "settings", None))
        im.addAction(self.compile_action)
        self.send_actions = {}
        for f in FAMILIES:
            a = QAction(f"Send {NAMES[f].lower()} result (sample 1) to inpainting", window)
            a.triggered.connect(lambda _=False, fam=f: self.sendRequested.emit(fam))
            im.addAction(a)
            self.send_actions[f] = a

        sm = window.menuBar().addMenu("&Showdown")
        self.showdown_action = QAction("Run the &Showdown…", window)
        self.showdown_action.setToolTip("Measure each claim of the diffusion-vs-AR write-ups here")
        self.showdown_action.triggered.connect(lambda: self.open_showdown(window))
        sm.addAction(self.showdown_action)
        self.showdown_window = None

        hm = window.menuBar().addMenu("&Help")
        about = QAction("&About DesktopGen", window)
        about.triggered.connect(lambda: show_about(window))
        hm.addAction(about)

    def open_showdown(self, window):
        """The Showdown window (one per main window; raised if already open)."""
        from desktopgen.gui.showdown_view import ShowdownWindow

        if self.showdown_window is None:
            self.showdown_window = ShowdownWindow(window)
        self.showdown_window.show()
        self.showdown_window.raise_()
        return self.showdown_window


def compile_toggle(parent, settings=None) -> QAction:
    """The checkable "Compile the U-Net (CUDA)" action: torch.compile of the diffusion and flow
    samplers' network call (sampling/graphs.py), kept in `settings` (COMPILE_KEY) and applied to
    the runs that start after it changes. It never imports torch (the window appears before torch
    loads): the choice travels as $DESKTOPGEN_COMPILE, which graphs reads when the workers import
    it, and goes to graphs directly once it is loaded. On the CPU it does nothing."""
    env = env_flag(COMPILE_ENV)
    saved = settings.value(COMPILE_KEY, None) if settings is not None else None
    on = env if saved is None else saved in (True, "true", "1", 1)
    act = QAction("Compile the U-Net (CUDA)", parent)
    act.setObjectName("compileAction")
    act.setCheckable(True)
    act.setToolTip("torch.compile the diffusion U-Net on a CUDA GPU: about 20 s of compiling at the "
                   "first run of each batch size, then the 20-step sampler runs 2-3x faster. "
                   "Does nothing on the CPU.")
    act.setStatusTip(act.toolTip())

    def apply(value: bool) -> None:
        os.environ[COMPILE_ENV] = "1" if value else "0"
        graphs = sys.modules.get("desktopgen.sampling.graphs")
        if graphs is not None:
            graphs.set_compile(value)

    def toggled(value: bool) -> None:
        apply(value)
        if settings is not None:
            settings.setValue(COMPILE_KEY, bool(value))

    act.setChecked(on)
    apply(on)
    act.toggled.connect(toggled)
    return act


def show_about(parent) -> None:
    from desktopgen import __version__

    QMessageBox.about(parent, "About DesktopGen",
                      f"DesktopGen {__version__}\n\nA diffusion model and an autoregressive model "
                      "draw Fashion-MNIST clothes side by side, live, on your own machine.")
