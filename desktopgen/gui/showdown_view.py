"""The Showdown window: runs desktopgen.showdown's runner on a QThread, shows each claim's
progress, then its verdict with its figure beside it; Cancel stops at the runner's next check
(the partial report stays); "Open report" and "Save report..." write the same HTML as the CLI."""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QThread, QUrl, Signal, Slot
from PySide6.QtGui import QDesktopServices, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

VERDICT_COLORS = {"holds": "#2e7d32", "does not hold": "#c62828", "mixed": "#ef6c00",
                  "not measured here": "#757575"}


class ShowdownWorker(QObject):
    """Runs `run(settings, claims, cancel, on_progress, on_claim, on_start)` (the engine's
    runner.run, or a test's fake) on its thread and forwards the callbacks as signals."""

    claimStarted = Signal(int, object)  # index, ClaimResult
    progress = Signal(int, float, str)  # index, fraction, text
    claimDone = Signal(int, object)  # index, ClaimResult
    finished = Signal(object)  # Report (complete or partial)
    failed = Signal(str)  # one line

    def __init__(self, run, settings, claims):
        super().__init__()
        self.run_fn, self.settings, self.claims = run, settings, claims
        self.cancel = threading.Event()

    @Slot()
    def run(self):
        try:
            rep = self.run_fn(self.settings, self.claims, self.cancel,
                              on_progress=lambda i, f, t: self.progress.emit(i, f, t),
                              on_claim=lambda i, r: self.claimDone.emit(i, r),
                              on_start=lambda i, r: self.claimStarted.emit(i, r))
        except Exception as e:  # noqa: BLE001 - shown in the window, never a crash
            self.failed.emit(f"{type(e).__name__}: {' '.join(str(e).split())[:200]}")
        else:
            self.finished.emit(rep)


class ClaimRow(QFrame):
    """One claim: title, progress bar, verdict and reason on the left; its figure on the right."""

    def __init__(self, title: str, claim: str):
        super().__init__()
        self.setFrameShape(QFrame.StyledPanel)
        left = QVBoxLayout()
        self.title = QLabel(f"<b>{title}</b>")
        self.claim = QLabel(f"<i>{claim}</i>")
        self.claim.setWordWrap(True)
        self.bar = QProgressBar()
        self.bar.setRange(0, 100)
        self.bar.setFormat("waiting")
        self.bar.setTextVisible(True)
        self.verdict = QLabel("")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextSelectableByMouse)
        for w in (self.title, self.claim, self.bar, self.verdict):
            left.addWidget(w)
        left.addStretch(1)
        self.figure = QLabel()
        self.figure.setMinimumWidth(320)
        self.figure.setAlignment(Qt.AlignCenter)
        lay = QHBoxLayout(self)
        lay.addLayout(left, 2)
        lay.addWidget(self.figure, 3)

    def set_progress(self, fraction: float, text: str) -> None:
        self.bar.setValue(int(fraction * 100))
        self.bar.setFormat(f"%p%  {text[:60]}")

    def set_result(self, res) -> None:
        self.bar.setValue(100 if res.status == "done" else self.bar.value())
        self.bar.setFormat(res.status)
        color = VERDICT_COLORS.get(res.verdict, "#757575")
        self.verdict.setText(f'<span style="background:{color};color:white;padding:2px">'
                             f"&nbsp;{res.verdict}&nbsp;</span> {_escape(res.reason)}")
        if res.figure_png:
            pm = QPixmap()
            pm.loadFromData(res.figure_png, "PNG")
            self.figure.setPixmap(pm.scaledToWidth(520, Qt.SmoothTransformation))


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class ShowdownWindow(QWidget):
    """Run / Cancel / Open report / Save report..., one ClaimRow per claim. `run` and `claims`
    default to the engine's runner and claim list (imported when the window opens)."""

    reportReady = Signal(object)

    def __init__(self, parent=None, run=None, claims=None):
        super().__init__(parent, Qt.Window)
        self.setWindowTitle("DesktopGen Showdown")
        self.resize(1100, 800)
        if run is None or claims is None:
            from desktopgen import showdown
            from desktopgen.showdown import runner
            run = run or runner.run
            claims = list(showdown.CLAIMS) if claims is None else claims
        self.run_fn, self.claims = run, list(claims)
        self.report, self.thread, self.worker, self.saved_path = None, None, None, None

        self.quick = QCheckBox("Quick (small n, low resolutions: minutes on a CPU)")
        self.quick.setChecked(True)
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda", "mps"])
        self.run_button = QPushButton("Run the Showdown")
        self.cancel_button = QPushButton("Cancel")
        self.open_button = QPushButton("Open report")
        self.save_button = QPushButton("Save report…")
        self.cancel_button.setEnabled(False)
        self.open_button.setEnabled(False)
        self.save_button.setEnabled(False)
        self.run_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button.clicked.connect(self.open_report)
        self.save_button.clicked.connect(self.save_report_dialog)
        top = QHBoxLayout()
        for w in (self.quick, QLabel("Device:"), self.device, self.run_button, self.cancel_button,
                  self.open_button, self.save_button):
            top.addWidget(w)
        top.addStretch(1)

        self.rows = [ClaimRow(m.TITLE, m.CLAIM) for m in self.claims]
        inner = QWidget()
        col = QVBoxLayout(inner)
        for r in self.rows:
            col.addWidget(r)
        col.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        self.status = QLabel("Each claim of the write-ups, measured on this machine.")
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(scroll, 1)
        lay.addWidget(self.status)

    # Running ---------------------------------------------------------------------------------
    def running(self) -> bool:
        return self.thread is not None and self.thread.isRunning()

    def start(self) -> None:
        if self.running():
            return
        from desktopgen.showdown.base import Settings

        settings = Settings.for_run(self.quick.isChecked(), self.device.currentText())
        for r in self.rows:
            r.bar.setValue(0)
            r.bar.setFormat("waiting")
            r.verdict.setText("")
            r.figure.clear()
        self.report = None
        self.thread = QThread(self)
        self.worker = ShowdownWorker(self.run_fn, settings, self.claims)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.run)
        # Bound methods of this (GUI-thread) QObject, never lambdas: PySide runs a lambda slot
        # on the emitting thread, and widgets touched from the worker thread hang or crash Qt.
        self.worker.claimStarted.connect(self._claim_started)
        self.worker.progress.connect(self._progress)
        self.worker.claimDone.connect(self._claim_done)
        self.worker.finished.connect(self._finished)
        self.worker.failed.connect(self._failed)
        for sig in (self.worker.finished, self.worker.failed):
            sig.connect(self.thread.quit)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText("Running…")
        self.thread.start()

    def cancel(self) -> None:
        if self.worker is not None and self.running():
            self.worker.cancel.set()
            self.status.setText("Cancelling at the next check…")

    def _claim_started(self, i, _res) -> None:
        self.rows[i].set_progress(0.0, "starting")

    def _progress(self, i, fraction, text) -> None:
        self.rows[i].set_progress(fraction, text)

    def _claim_done(self, i, res) -> None:
        self.rows[i].set_result(res)

    def _finished(self, rep) -> None:
        self.report = rep
        for r, res in zip(self.rows, rep.claims):
            if res.status != "done":
                r.set_result(res)
        self._idle()
        state = "done" if rep.complete else "cancelled: a partial report"
        self.status.setText(f"Showdown {state} in {rep.seconds:.0f} s.")
        self.reportReady.emit(rep)

    def _failed(self, message: str) -> None:
        self._idle()
        self.status.setText(f"The Showdown could not run: {message}")

    def _idle(self) -> None:
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        have = self.report is not None
        self.open_button.setEnabled(have)
        self.save_button.setEnabled(have)

    # Report ----------------------------------------------------------------------------------
    def save_report(self, path) -> Path | None:
        """Write the HTML (and its JSON) to `path`; a one-line message in the status bar on failure."""
        from desktopgen.showdown import report as rep

        try:
            html_path, _ = rep.write(self.report, path, overwrite=True)
        except (OSError, ValueError) as e:
            self.status.setText(f"Could not save the report: {' '.join(str(e).split())[:200]}")
            return None
        self.saved_path = html_path
        self.status.setText(f"Saved {html_path} and its .json")
        return html_path

    def save_report_dialog(self) -> None:
        if self.report is None:
            return
        path, _ = QFileDialog.getSaveFileName(self, "Save the Showdown report", "showdown.html",
                                              "HTML (*.html)")
        if path:
            if not path.lower().endswith((".html", ".htm")):
                path += ".html"
            self.save_report(path)

    def open_report(self) -> None:
        """Show the report in the browser: the saved file, or a fresh one in a temporary folder."""
        if self.report is None:
            return
        path = self.saved_path
        if path is None:
            path = self.save_report(Path(tempfile.mkdtemp(prefix="desktopgen-showdown-")) / "showdown.html")
        if path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    def closeEvent(self, event) -> None:
        if self.running():
            self.worker.cancel.set()
            self.thread.quit()
            self.thread.wait(60_000)  # the runner stops at its next check (a step or a point)
        super().closeEvent(event)
