"""The confirm policy's question before a kill: one dialog at a time (asked again, it comes
forward), saying exactly what would be cancelled and where; only its "Cancel all orders" fires."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QWidget

from ui.panic_button import ConfirmKillDialog

MODES = {"live": "LIVE — real orders at the broker", "analyze": "ANALYZE — OpenAlgo's sandbox"}


def question(headline: str, host: str, mode: str) -> str:
    """The question, e.g. "Cancel all 25 working orders on http://… (ANALYZE — OpenAlgo's sandbox)?"."""
    return f"{headline.capitalize()} on {host} ({MODES.get(mode, 'mode not known yet')})?"


class ConfirmStep(QObject):
    """Asks over ``window``; ``dialog`` is the open question, or None."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self.dialog: ConfirmKillDialog | None = None

    def ask(self, what: str, fire: Callable[[], None]) -> None:
        """Ask ``what``; ``fire()`` runs only if the trader confirms."""
        if self.dialog is not None and self.dialog.isVisible():
            self.dialog.raise_()
            self.dialog.activateWindow()
            return
        dialog = ConfirmKillDialog(what, self._window)
        dialog.accepted.connect(fire)
        dialog.finished.connect(dialog.deleteLater)
        dialog.finished.connect(self._closed)
        self.dialog = dialog
        dialog.open()

    def close(self) -> None:
        if self.dialog is not None:
            self.dialog.reject()

    def _closed(self) -> None:
        self.dialog = None
