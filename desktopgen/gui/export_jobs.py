"""Export jobs off the UI thread: a QThread drives an export generator (desktopgen.export.clips),
forwarding its (done, total) progress, and stops it on cancel, which removes the temp file.

Like superqt's GeneratorWorker: the job is a plain generator; the worker loop checks for abort
between yields, because there is no Qt event loop inside the worker thread."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot


class ExportJob(QObject):
    """Runs `make()` (which returns the export generator) on a worker thread.

    Signals: progress(done, total), finished(message), failed(message), cancelled(). Exactly one of
    the last three is emitted, then `done`."""

    progress = Signal(int, int)
    finished = Signal(str)
    failed = Signal(str)
    cancelled = Signal()
    done = Signal()

    def __init__(self, make: Callable[[], Iterator[tuple[int, int]]], message: str = "exported"):
        super().__init__()
        self._make = make
        self._message = message
        self._abort = threading.Event()

    def cancel(self) -> None:
        """Thread-safe: the worker stops at its next frame and deletes the partial file."""
        self._abort.set()

    @Slot()
    def run(self) -> None:
        gen = None
        try:
            gen = self._make()
            for done, total in gen:
                # The last item comes after the file was renamed into place: a cancel pressed during
                # the final encode arrives too late to unwrite it, so the job reports the file.
                if self._abort.is_set() and done < total:
                    gen.close()  # GeneratorExit inside write_clip: temp file removed
                    self.cancelled.emit()
                    return
                self.progress.emit(done, total)
            late = " (it was complete before the cancel took effect)" if self._abort.is_set() else ""
            self.finished.emit(self._message + late)
        except Exception as e:  # shown to the user; the generator has already cleaned up
            if gen is not None:
                gen.close()
            self.failed.emit(str(e) or type(e).__name__)
        finally:
            self.done.emit()


def start_job(job: ExportJob, parent: QObject | None = None) -> QThread:
    """Move `job` to a new QThread and start it; the thread quits when the job is done.
    Keep a reference to both until `job.done` (the dialog does)."""
    thread = QThread(parent)
    job.moveToThread(thread)
    thread.started.connect(job.run)
    # Direct: quit() is thread-safe, and a queued call would never arrive while the GUI thread
    # blocks in thread.wait() (closing the dialog mid-export).
    job.done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    thread.start()
    return thread
