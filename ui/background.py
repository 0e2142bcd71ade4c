"""Work that must not block the UI thread (the OS keyring, which may wait minutes on an unlock
prompt; a connection test), run on a daemon thread with its outcome handed back to the UI thread:

    Background(lambda: store.get(host), done=use_key, failed=say_why, parent=window).start()

``done(result)`` or ``failed(exception)`` runs on the thread that made the ``Background`` (the UI
thread), never both, and never after :meth:`Background.cancel` or once ``parent`` is gone. The
thread is a daemon: a keyring prompt nobody answers never holds up the app's exit.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from PySide6.QtCore import QObject, Qt, Signal

log = logging.getLogger(__name__)

T = TypeVar("T")


class _Outcome(QObject):
    finished = Signal(bool, object)


class Background(QObject, Generic[T]):
    """One piece of background work and what to do with its outcome (module docstring)."""

    def __init__(
        self,
        work: Callable[[], T],
        *,
        done: Callable[[T], object],
        failed: Callable[[Exception], object] | None = None,
        parent: QObject | None = None,
        name: str = "background",
    ) -> None:
        super().__init__(parent)
        self._work = work
        self._done = done
        self._failed = failed
        self._name = name
        self._cancelled = False
        self._outcome = _Outcome(self)
        self._outcome.finished.connect(self._deliver, Qt.ConnectionType.QueuedConnection)
        self.running = False

    def start(self) -> Background[T]:
        self.running = True
        threading.Thread(target=self._run, name=self._name, daemon=True).start()
        return self

    def cancel(self) -> None:
        """Forget the outcome: neither ``done`` nor ``failed`` will run."""
        self._cancelled = True

    def _run(self) -> None:
        try:
            result: object = self._work()
            ok = True
        except Exception as exc:  # handed to ``failed`` on the UI thread
            result, ok = exc, False
        with contextlib.suppress(RuntimeError):  # the parent was deleted meanwhile
            self._outcome.finished.emit(ok, result)

    def _deliver(self, ok: bool, result: object) -> None:
        self.running = False
        if self._cancelled:
            return
        if ok:
            self._done(result)  # type: ignore[arg-type]
        elif self._failed is not None:
            assert isinstance(result, Exception)
            self._failed(result)
        else:
            log.error("background work %s failed", self._name, exc_info=result)  # type: ignore[arg-type]
        self.deleteLater()
