"""While a kill runs: how long it has taken and what it is waiting on, ticking on the button and
in the status bar; and the question a trader is asked on closing the window meanwhile."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QMessageBox, QStatusBar, QWidget

from core.report import KillProgress
from ui.panic_button import PanicButton

if TYPE_CHECKING:
    from ui.lanes import Lanes

CHECK_THE_BOOK = "some orders may have been cancelled and others not — check the order book in OpenAlgo."
ELAPSED_TICK_MS = 200


class RunningKill(QObject):
    """The running kill's clock and the close-during-a-kill question of one window.

    ``lanes()`` gives the window's current lanes (they are replaced when the server changes).
    """

    def __init__(
        self,
        window: QWidget,
        button: PanicButton,
        status_bar: QStatusBar,
        lanes: Callable[[], Lanes | None],
    ) -> None:
        super().__init__(window)
        self._window = window
        self._button = button
        self._status = status_bar
        self._lanes = lanes
        self._progress: KillProgress | None = None
        self._trigger = ""
        self.question: QMessageBox | None = None
        self._timer = QTimer(self)
        self._timer.setInterval(ELAPSED_TICK_MS)
        self._timer.timeout.connect(self._show)

    def started(self, trigger: str) -> None:
        self._trigger = trigger
        self._progress = None
        self._timer.start()
        self._show()

    def progressed(self, progress: KillProgress) -> None:
        self._progress = progress
        self._show()

    def finished(self) -> None:
        """The verdict is in: stop ticking, and take back a question asked meanwhile."""
        self._timer.stop()
        self._progress = None
        if self.question is not None:
            self.question.reject()

    def stop(self) -> None:
        self._timer.stop()
        if self.question is not None:
            self.question.reject()

    def elapsed_text(self) -> str:
        """How long the running kill has taken ("3.2 s so far"), or "" when none runs."""
        lanes = self._lanes()
        kill = lanes.one.current if lanes is not None else None
        if kill is None:
            return ""
        return f"{time.perf_counter() - kill.triggered_at:.1f} s so far"

    def _show(self) -> None:
        elapsed = self.elapsed_text()
        if not elapsed:
            return
        doing = self._progress.text if self._progress is not None else "Sending cancel-all…"
        self._button.set_elapsed(elapsed)
        lanes = self._lanes()
        deadline = f" · deadline {lanes.deadline_s:g} s" if lanes is not None else ""
        self._status.showMessage(f"Kill running ({self._trigger}) · {elapsed}{deadline} · {doing}")

    def ask_to_close(self, close_anyway: Callable[[], None]) -> None:
        """Ask whether to close during the kill (non-blocking); "Close anyway" calls
        ``close_anyway``. Asked once: a second close raises the open question."""
        if self.question is not None:
            self.question.raise_()
            return
        question = QMessageBox(self._window)
        question.setObjectName("closeDuringKill")
        question.setIcon(QMessageBox.Icon.Warning)
        question.setWindowTitle("A kill is running")
        question.setText(
            f"A kill is running ({self.elapsed_text() or 'just started'}). Closing now stops waiting "
            f"for its verdict: {CHECK_THE_BOOK.capitalize()}"
        )
        question.setInformativeText("The kill will be recorded as interrupted.")
        keep = question.addButton("Keep waiting", QMessageBox.ButtonRole.RejectRole)
        leave = question.addButton("Close anyway", QMessageBox.ButtonRole.DestructiveRole)
        question.setDefaultButton(keep)
        question.setEscapeButton(keep)
        leave.setObjectName("closeAnyway")
        keep.setObjectName("keepWaiting")

        def answered() -> None:
            self.question = None
            if question.clickedButton() is leave:
                close_anyway()

        question.finished.connect(answered)
        question.finished.connect(question.deleteLater)
        self.question = question
        question.open()
