"""The results pane on its own: what a big kill's report lists, and what it leaves to History."""

from __future__ import annotations

import time

from pytestqt.qtbot import QtBot

from core.replies import CancelFailure
from core.report import CancelReport, Verdict
from ui.results_pane import MAX_LISTED, ResultsPane


def big_kill(cancelled: int, failed: int = 0) -> CancelReport:
    return CancelReport(
        verdict=Verdict.ORDERS_REMAIN if failed else Verdict.FLAT,
        mode="analyze",
        trigger="button",
        server="http://127.0.0.1:5000",
        strategy="KillSwitch",
        started_at=time.time(),
        message="All open orders cancelled",
        canceled_by_server=tuple(f"S{n:05d}" for n in range(cancelled)),
        failures=tuple(CancelFailure(f"F{n:05d}", "rejected by the exchange") for n in range(failed)),
    )


def test_a_kill_of_ten_thousand_orders_lists_the_first_ones_and_counts_the_rest(qtbot: QtBot) -> None:
    pane = ResultsPane(history=True)
    qtbot.addWidget(pane)

    pane.add_report(big_kill(10_000, failed=120))

    shown = pane.toPlainText()
    assert "Cancelled by the server (10,000)" in shown
    assert shown.count("#S") == MAX_LISTED
    assert f"… and {10_000 - MAX_LISTED:,} more (full list in History / Export)" in shown
    assert "Failed to cancel (120)" in shown
    assert shown.count("rejected by the exchange") == MAX_LISTED
    assert "#S00000" in shown


def test_without_a_kill_record_the_pane_does_not_point_to_a_history(qtbot: QtBot) -> None:
    pane = ResultsPane(history=False)
    qtbot.addWidget(pane)

    pane.add_report(big_kill(MAX_LISTED + 1))

    shown = pane.toPlainText()
    assert "… and 1 more (not listed here)" in shown
    assert "History" not in shown


def test_a_kill_small_enough_to_list_is_listed_whole(qtbot: QtBot) -> None:
    pane = ResultsPane()
    qtbot.addWidget(pane)

    pane.add_report(big_kill(MAX_LISTED))

    shown = pane.toPlainText()
    assert shown.count("#S") == MAX_LISTED
    assert "more (" not in shown
