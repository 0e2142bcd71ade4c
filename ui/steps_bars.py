"""Two strips under the connection line for what a kill leaves running:

* :class:`GuardBar` -- the guard holding the account flat: its countdown, what it caught, and a
  hold-to-release button (ending it early is a deliberate act, like firing);
* :class:`HaltBar` -- HALTED, in large letters, with how to resume: resuming live trading is a
  hold plus a confirmation, and is recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QElapsedTimer, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QMessageBox, QPushButton, QWidget

from core.scope import duration

if TYPE_CHECKING:  # a guard's catches come after the window's first paint
    from core.guard import Catch

RELEASE_HOLD_MS = 1000
_HOLD_KEYS = (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter)


class HoldButton(QPushButton):
    """A button that acts only when held for ``hold_ms`` (mouse, Space or Enter); a short press
    does nothing and says so.

    Signals:
        held(): it was held long enough.
    """

    held = Signal()

    def __init__(self, text: str, hold_ms: int = RELEASE_HOLD_MS, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self._text = text
        self._hold_ms = hold_ms
        self._clock = QElapsedTimer()
        self._timer = QTimer(self)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._tick)
        self.setAutoDefault(False)

    def press(self) -> None:
        self._clock.start()
        self._timer.start()

    def release(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self.setText(f"{self._text} (hold {self._hold_ms / 1000:.0f} s)")

    def _tick(self) -> None:
        done = self._clock.elapsed() / self._hold_ms
        if done >= 1.0:
            self._timer.stop()
            self.setText(self._text)
            self.held.emit()
            return
        self.setText(f"{self._text} {done:.0%}")

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 -- Qt override
        if event.button() == Qt.MouseButton.LeftButton:
            self.press()
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 -- Qt override
        if event.button() == Qt.MouseButton.LeftButton:
            self.release()
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 -- Qt override
        if event.key() in _HOLD_KEYS and not event.isAutoRepeat():
            self.press()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 -- Qt override
        if event.key() in _HOLD_KEYS and not event.isAutoRepeat():
            self.release()
            return
        super().keyReleaseEvent(event)


class GuardBar(QFrame):
    """The guard at work: ``HOLDING FLAT · 4 min 12 s left · caught 7 orders · 0 working``.

    Signals:
        releaseRequested(): the trader held "Release" long enough.
    """

    releaseRequested = Signal()  # noqa: N815

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("guardBar")
        self.label = QLabel()
        self.label.setObjectName("guardText")
        self.release_button = HoldButton("Hold to release the guard")
        self.release_button.setObjectName("releaseGuard")
        self.release_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # Space never reaches it by accident
        self.release_button.held.connect(self.releaseRequested)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 4, 10, 4)
        row.addWidget(self.label, 1)
        row.addWidget(self.release_button)
        self.caught = 0
        self.failed = 0
        self.left_s = 0.0
        self.working = 0
        self.servers = 0
        self.setVisible(False)

    def started(self, seconds: float) -> None:
        if not self.servers:  # the first guard of a press (the window may be minimised)
            self.caught = self.failed = 0
            self.servers = 0
        self.servers += 1
        self.left_s = seconds
        self.working = 0
        self.setVisible(True)
        self._show()

    def tick(self, left_s: float, working: int) -> None:
        self.left_s, self.working = left_s, working
        self._show()

    def catch(self, catch: Catch) -> None:
        if catch.ok:
            self.caught += 1
        else:
            self.failed += 1
        self._show()

    def ended(self) -> None:
        self.servers = max(0, self.servers - 1)
        if not self.servers:
            self.setVisible(False)

    def text(self) -> str:
        return self.label.text()

    def _show(self) -> None:
        parts = [
            "HOLDING FLAT",
            f"{duration(self.left_s)} left",
            f"caught {self.caught}",
            f"{self.working} working in the last read",
        ]
        if self.failed:
            parts.append(f"{self.failed} could not be undone")
        self.label.setText(" · ".join(parts))


class HaltBar(QFrame):
    """HALTED, and how to resume.

    Signals:
        resumeRequested(str): the trader held "Resume" and confirmed, for this server.
    """

    resumeRequested = Signal(str)  # noqa: N815

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("haltBar")
        self.label = QLabel()
        self.label.setObjectName("haltText")
        self.label.setWordWrap(True)
        self.resume_button = HoldButton("Hold to resume live trading")
        self.resume_button.setObjectName("resumeLive")
        self.resume_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.resume_button.held.connect(self._confirm)
        row = QHBoxLayout(self)
        row.setContentsMargins(10, 6, 10, 6)
        row.addWidget(self.label, 1)
        row.addWidget(self.resume_button)
        self.halted: dict[str, str] = {}  # url -> its name
        self.question: QMessageBox | None = None
        self.setVisible(False)

    def halt(self, url: str, name: str) -> None:
        self.halted[url] = name
        self._show()

    def resumed(self, url: str) -> None:
        self.halted.pop(url, None)
        self._show()

    def text(self) -> str:
        return self.label.text()

    def _show(self) -> None:
        names = ", ".join(self.halted.values())
        self.label.setText(
            f"HALTED — {names}: in analyze mode, so every new order from any strategy, webhook or "
            "script goes to OpenAlgo's sandbox, not the broker. Resume live trading when it is safe."
        )
        self.setVisible(bool(self.halted))

    def _confirm(self) -> None:
        if not self.halted:
            return
        url, name = next(iter(self.halted.items()))
        question = QMessageBox(self)
        question.setObjectName("resumeQuestion")
        question.setIcon(QMessageBox.Icon.Warning)
        question.setWindowTitle("Resume live trading?")
        question.setText(
            f"Switch {name} back to LIVE mode? New orders from every strategy, webhook and script will "
            "reach the broker again."
        )
        go = question.addButton("Resume live trading", QMessageBox.ButtonRole.AcceptRole)
        go.setObjectName("confirmResume")
        stay = question.addButton("Stay halted", QMessageBox.ButtonRole.RejectRole)
        question.setDefaultButton(stay)
        question.setEscapeButton(stay)

        def answered() -> None:
            self.question = None
            if question.clickedButton() is go:
                self.resumeRequested.emit(url)

        question.finished.connect(answered)
        question.finished.connect(question.deleteLater)
        self.question = question
        question.open()
