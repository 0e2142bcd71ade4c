"""What the window says, against the simulator over loopback: each sentence once per surface,
a count from a failed read said as old rather than as now, and every time on screen in IST,
labelled, like the broker's order times beside it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from core.market_time import ist, ist_clock
from core.record import KillRecord
from core.report import CancelReport, Verdict
from core.secrets import SessionKeyStore
from core.settings import FiringPolicy, Settings
from core.simulator import Quirks, Simulator
from tests.ui.conftest import WAIT_MS, WORKING_ORDERS
from ui import button_words
from ui.connection_state import ConnectionState
from ui.main_window import MainWindow

PROXY_502 = "The proxy or tunnel in front of OpenAlgo could not reach it (HTTP 502) — is OpenAlgo running?"
EVERY_ENDPOINT = frozenset({"cancelallorder", "orderbook", "cancelorder", "ping", "analyzer", "funds"})


@pytest.fixture
def record(tmp_path: Path) -> Iterator[KillRecord]:
    with KillRecord(tmp_path / "kills.sqlite3") as kept:
        yield kept


WindowOn = Callable[[Simulator], MainWindow]


@pytest.fixture
def window_on(qtbot: QtBot, record: KillRecord) -> Iterator[WindowOn]:
    made: list[MainWindow] = []

    def make(server: Simulator) -> MainWindow:
        store = SessionKeyStore()
        store.set(server.url, server.apikey)
        settings = Settings(host=server.url, firing_policy=FiringPolicy.IMMEDIATE, poll_interval_s=0.2)
        window = MainWindow(settings, store, apikey=server.apikey, persist=False, record=record)
        qtbot.addWidget(window)
        made.append(window)
        window.show()
        window.start()
        working = len(server.working_orders())
        qtbot.waitUntil(lambda: window.button.headline() == f"CANCEL ALL {working} WORKING ORDERS")
        return window

    yield make
    for window in made:
        window.close_anyway()


def kill(qtbot: QtBot, window: MainWindow) -> CancelReport:
    with qtbot.waitSignal(window.killFinished, timeout=WAIT_MS) as finished:
        window.button.click()
    assert finished.args is not None
    report: CancelReport = finished.args[0]
    return report


# -- one sentence once -------------------------------------------------------------------------


def test_a_502_is_said_once_in_the_results_and_once_on_the_connection_line(
    qtbot: QtBot, simulator: Simulator, window_on: WindowOn
) -> None:
    window = window_on(simulator)
    simulator.quirks.html_error = EVERY_ENDPOINT
    qtbot.waitUntil(lambda: PROXY_502 in window.connection_bar.text(), timeout=WAIT_MS)

    report = kill(qtbot, window)

    assert report.verdict is Verdict.UNVERIFIED  # a 502 on the cancel-all: it may have run
    assert window.results.toPlainText().count(PROXY_502) == 1
    assert window.connection_bar.text().count(PROXY_502) == 1
    assert PROXY_502 not in window.statusBar().currentMessage()
    assert PROXY_502 not in window.button.description()
    assert window.results.toPlainText().count(Verdict.UNVERIFIED.headline) == 1


def test_a_refused_kill_names_the_refusal_once_not_on_every_order(qtbot: QtBot, window_on: WindowOn) -> None:
    with Simulator(mode="live", orders=3, quirks=Quirks(semi_auto=True)) as live:
        window = window_on(live)

        report = kill(qtbot, window)

        assert report.verdict is Verdict.REFUSED
        shown = window.results.toPlainText()
        assert shown.count(report.message) == 1
        refused = [f for f in report.failures if f.reason == report.message]
        assert refused  # each order the server refused carries the refusal as its reason...
        assert shown.count("refused, as the server said above") == len(refused)  # ...said above
        window.close_anyway()


# -- a stale count -----------------------------------------------------------------------------


def test_while_the_server_is_unreachable_the_button_says_its_count_is_from_the_last_good_read(
    qtbot: QtBot, simulator: Simulator, window_on: WindowOn
) -> None:
    window = window_on(simulator)

    simulator.quirks.html_error = frozenset({"orderbook"})
    qtbot.waitUntil(lambda: window.button.headline() == "CANCEL ALL WORKING ORDERS", timeout=WAIT_MS)

    said = f"SERVER UNREACHABLE — {WORKING_ORDERS} working orders at the last good read, "
    assert window.warning().startswith(said)
    assert window.warning().endswith("s ago; a kill will still be tried")
    assert said in window.button.description()
    assert window.orders_title.text() == f"Working orders · {WORKING_ORDERS} at the last good read"

    simulator.quirks.html_error = frozenset()
    qtbot.waitUntil(lambda: window.button.headline() == f"CANCEL ALL {WORKING_ORDERS} WORKING ORDERS")
    assert window.warning() == ""
    assert window.orders_title.text() == f"Working orders · {WORKING_ORDERS}"


def state(*, reachable: bool | None, key_ok: bool | None, last_good: float, problem: str) -> ConnectionState:
    return ConnectionState(reachable, key_ok, "live", False, last_good, 5.0, problem or "Connected", problem)


def test_a_count_says_how_old_it_is_in_seconds_then_minutes() -> None:
    down = state(reachable=False, key_ok=None, last_good=1000.0, problem=PROXY_502)

    assert button_words.stale_count(down, 3, now=1025.0) == "3 working orders at the last good read, 25 s ago"
    assert (
        button_words.stale_count(down, 1, now=1000.0 + 180)
        == "1 working order at the last good read, 3 min ago"
    )


def test_a_fresh_count_and_a_single_failed_read_of_a_server_that_answers_are_not_called_old() -> None:
    fresh = state(reachable=True, key_ok=True, last_good=1000.0, problem="")
    rate_limited = state(reachable=True, key_ok=True, last_good=1000.0, problem="Too many requests.")

    assert button_words.stale_count(fresh, 3, now=1500.0) == ""
    assert button_words.stale_count(rate_limited, 3, now=1002.0) == ""
    assert button_words.stale_count(rate_limited, 3, now=1030.0).endswith("30 s ago")


# -- times --------------------------------------------------------------------------------------


@pytest.fixture
def far_from_india() -> Iterator[None]:
    """The computer's clock set to New York, so that its local time and IST differ by hours."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


def test_kill_times_are_shown_in_ist_and_labelled_whatever_the_computers_time_zone(
    qtbot: QtBot, simulator: Simulator, window_on: WindowOn, far_from_india: None
) -> None:
    window = window_on(simulator)

    report = kill(qtbot, window)

    clock = ist_clock(report.started_at)
    assert clock.endswith(" IST")
    local = time.strftime("%H:%M:%S", time.localtime(report.started_at))
    assert local not in clock  # New York is hours from IST: the window does not show local time
    assert f"Kill 1 · {clock} · FLAT" in window.results.toPlainText()
    assert window.button.verdict_line().startswith(f"Last kill {clock} · ")
    assert window.orders.times_note.text() == "times in IST"
    window.open_history()
    history = window.history_dialog
    assert history is not None
    assert history.table.horizontalHeaderItem(0).text() == "Time (IST)"
    assert history.table.item(0, 0).text() == ist(report.started_at).strftime("%Y-%m-%d %H:%M:%S")
    assert f"{ist(report.started_at).strftime('%Y-%m-%d')} {clock}" in history.details.toPlainText()
