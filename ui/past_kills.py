"""The window's side of the kill record: kills an earlier run never finished, said once at start,
and the History dialog (non-modal, one at a time, refreshed after each kill)."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QStatusBar, QWidget

from core.market_time import ist_when
from core.one_kill import ServerLocks, running_now
from core.record import KillRecord
from ui.history_dialog import HistoryDialog, PathChooser
from ui.results_pane import ResultsPane

log = logging.getLogger(__name__)


def interrupted_sentence(server: str, started_at: float, now: float | None = None) -> str:
    """What the trader reads about a kill that ended before its verdict (its time in IST)."""
    when = ist_when(started_at, now)
    return (
        f"The kill on {server} started at {when} was interrupted before its verdict (the app was "
        "closed, stopped or crashed) — check the order book in OpenAlgo."
    )


def announce_interrupted_kills(record: KillRecord) -> list[str]:
    """Mark kills an earlier run began but never finished; one sentence for each not yet told to
    a window. Raises sqlite3.Error when the record cannot be read."""
    # A kill another process is running now (a script's cancel-all) is not interrupted.
    record.mark_interrupted(running_now(ServerLocks(record.path.parent / "locks"), record.path))
    kills = record.unannounced_interruptions("window")
    record.mark_announced((k.kill_id for k in kills), "window")
    sentences = [interrupted_sentence(kill.server, kill.started_at) for kill in kills]
    for sentence in sentences:
        log.warning("%s", sentence)
    return sentences


class HistoryWindow(QObject):
    """Opens the History dialog of ``record`` over ``window`` and keeps it current."""

    def __init__(self, record: KillRecord, window: QWidget, choose_path: Callable[[], PathChooser]) -> None:
        super().__init__(window)
        self.record = record
        self.dialog: HistoryDialog | None = None
        self._window = window
        self._choose_path = choose_path  # read at each export: tests replace the window's chooser

    def open(self) -> None:
        """Open the history (non-modal); raise it if already open."""
        if self.dialog is not None:
            self.dialog.refresh()
            self.dialog.raise_()
            self.dialog.activateWindow()
            return
        dialog = HistoryDialog(self.record, choose_path=self._export_path, parent=self._window)
        dialog.finished.connect(lambda _result: self._closed(dialog))
        self.dialog = dialog
        dialog.show()

    def refresh(self) -> None:
        if self.dialog is not None:
            self.dialog.refresh()

    def _export_path(self, parent: QWidget, caption: str, suggested: str, file_filter: str) -> str:
        return self._choose_path()(parent, caption, suggested, file_filter)

    def _closed(self, dialog: HistoryDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None
        dialog.deleteLater()


def show_interrupted_kills(record: KillRecord | None, results: ResultsPane, status: QStatusBar) -> list[str]:
    """Tell the trader, above the results and in the status bar, about each kill an earlier run
    began but never finished; the sentences said."""
    if record is None:
        return []
    try:
        sentences = announce_interrupted_kills(record)
    except sqlite3.Error:
        log.exception("could not read the kill record at start-up")
        status.showMessage("The kill record could not be read; past kills are not shown.")
        return []
    for sentence in sentences:
        results.add_notice(sentence)
    if sentences:
        status.showMessage(sentences[-1])
    return sentences
