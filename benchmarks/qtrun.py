"""Running a benchmark script beside a live Qt event loop.

The UI thread sits in its event loop, as in the app; a plain *driver* thread runs the benchmark
and asks the UI thread to do things (``UiThread.call``) exactly as a mouse event or a hotkey's
queued signal would, so the UI thread is never blocked by the benchmark's own waiting.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication

T = TypeVar("T")


def application() -> QApplication:
    """The process's QApplication, offscreen unless a platform was chosen."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = QApplication.instance()
    if app is None:
        app = QApplication(["benchmarks"])
    assert isinstance(app, QApplication)
    return app


class UiThread(QObject):
    """Runs callables on the thread that owns this object (the UI thread) for a driver thread."""

    _run = Signal(object)
    _quit = Signal()

    def __init__(self) -> None:
        super().__init__()
        self._run.connect(self._on_run, Qt.ConnectionType.QueuedConnection)

    @Slot(object)
    def _on_run(self, job: Any) -> None:
        job()

    def call(self, fn: Callable[[], T], timeout_s: float = 30.0) -> T:
        """Run ``fn`` on the UI thread through its event loop; wait for and return its result."""
        done = threading.Event()
        box: dict[str, Any] = {}

        def job() -> None:
            try:
                box["value"] = fn()
            except BaseException as exc:
                box["error"] = exc
            finally:
                done.set()

        self._run.emit(job)
        if not done.wait(timeout_s):
            raise TimeoutError("the UI thread did not run the call in time")
        if "error" in box:
            raise box["error"]
        return box["value"]  # type: ignore[no-any-return]

    def post(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the UI thread soon; do not wait."""
        self._run.emit(fn)

    def drive(self, script: Callable[[], T]) -> T:
        """Run ``script`` on a driver thread while this (UI) thread runs its event loop."""
        loop = QEventLoop()
        self._quit.connect(loop.quit, Qt.ConnectionType.QueuedConnection)
        box: dict[str, Any] = {}

        def driver() -> None:
            try:
                box["value"] = script()
            except BaseException as exc:
                box["error"] = exc
            finally:
                self._quit.emit()

        thread = threading.Thread(target=driver, name="benchmark-driver", daemon=True)
        thread.start()
        loop.exec()
        thread.join()
        self._quit.disconnect(loop.quit)
        if "error" in box:
            raise box["error"]
        return box["value"]  # type: ignore[no-any-return]


def spin(seconds: float) -> None:
    """Let the event loop run for ``seconds`` on this (UI) thread."""
    loop = QEventLoop()
    QTimer.singleShot(max(0, round(seconds * 1000)), loop.quit)
    loop.exec()
