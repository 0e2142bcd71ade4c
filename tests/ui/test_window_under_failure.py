"""The window when the server misbehaves: it stays responsive, says how long the kill has taken
and what it waits on, ends with a verdict by the deadline, and can be closed during a kill --
asking first, and recording the kill as interrupted when closed anyway."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from core.record import KillRecord, KillState
from core.report import CancelReport, Verdict
from core.secrets import KeyStore, SessionKeyStore
from core.simulator import Quirks, Simulator
from tests.ui.conftest import STALL_LIMIT_MS, WAIT_MS, WORKING_ORDERS, StallMeter
from ui.main_window import MainWindow


@pytest.fixture
def record(tmp_path: Path) -> Iterator[KillRecord]:
    with KillRecord(tmp_path / "kills.sqlite3") as kept:
        yield kept


@pytest.fixture
def make_window(
    simulator: Simulator, record: KillRecord, open_window: Callable[..., MainWindow]
) -> Callable[..., MainWindow]:
    def make(deadline_s: float = 30.0, **options: object) -> MainWindow:
        return open_window(simulator, deadline_s=deadline_s, window={"record": record, **options})

    return make


def connected(qtbot: QtBot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: window.model.working_count() == WORKING_ORDERS, timeout=WAIT_MS)


def test_a_hung_server_leaves_the_window_responsive_and_showing_what_the_kill_waits_on(
    qtbot: QtBot, simulator: Simulator, make_window: Callable[..., MainWindow]
) -> None:
    window = make_window()
    connected(qtbot, window)
    simulator.quirks = Quirks(hang=frozenset({"cancelallorder"}))
    with StallMeter() as meter:
        window.fire("button")
        qtbot.waitUntil(lambda: "s so far" in window.button.detail_line(), timeout=WAIT_MS)
        qtbot.wait(1200)  # the elapsed time keeps ticking while the server says nothing
    assert meter.longest_ms < STALL_LIMIT_MS, f"the UI thread stalled {meter.longest_ms:.0f} ms"
    line = window.button.detail_line()
    assert "waiting for" in line and simulator.url in line
    assert float(line.rsplit("·", 1)[1].split()[0]) >= 1.0  # "1.3 s so far"
    assert "deadline 30 s" in window.statusBar().currentMessage()


def test_closing_during_a_kill_asks_and_close_anyway_records_it_interrupted(
    qtbot: QtBot, simulator: Simulator, make_window: Callable[..., MainWindow], record: KillRecord
) -> None:
    window = make_window()
    connected(qtbot, window)
    simulator.quirks = Quirks(hang=frozenset({"cancelallorder"}))
    reports: list[CancelReport] = []
    window.killFinished.connect(reports.append)
    window.fire("button")
    qtbot.waitUntil(lambda: window.button.killing, timeout=WAIT_MS)

    window.close()
    assert window.isVisible() and window.close_question is not None  # it asked instead
    leave = window.close_question.findChild(QPushButton, "closeAnyway")
    assert leave is not None
    started = time.monotonic()
    leave.click()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)
    assert time.monotonic() - started < 2.0

    [report] = reports
    assert report.verdict is Verdict.UNVERIFIED and report.interrupted
    assert "closed during the kill" in " ".join(report.errors)
    [kill] = record.history()
    assert kill.state is KillState.INTERRUPTED


def test_keep_waiting_keeps_the_window_and_the_verdict_still_arrives(
    qtbot: QtBot, simulator: Simulator, make_window: Callable[..., MainWindow]
) -> None:
    window = make_window()
    connected(qtbot, window)
    simulator.quirks = Quirks(endpoint_delay_s={"cancelallorder": 1.5})
    window.fire("button")
    qtbot.waitUntil(lambda: window.button.killing, timeout=WAIT_MS)
    window.close()
    assert window.close_question is not None
    keep = window.close_question.findChild(QPushButton, "keepWaiting")
    assert keep is not None
    with qtbot.waitSignal(window.killFinished, timeout=WAIT_MS) as finished:
        keep.click()
    assert window.isVisible()
    assert finished.args[0].verdict is Verdict.FLAT


def test_a_kill_the_server_never_answers_has_its_verdict_by_the_deadline(
    qtbot: QtBot, simulator: Simulator, make_window: Callable[..., MainWindow]
) -> None:
    window = make_window(deadline_s=2.0)
    connected(qtbot, window)
    simulator.quirks = Quirks(hang=frozenset({"cancelallorder", "orderbook", "cancelorder"}))
    started = time.monotonic()
    with qtbot.waitSignal(window.killFinished, timeout=WAIT_MS) as finished:
        window.fire("button")
    took = time.monotonic() - started
    report: CancelReport = finished.args[0]
    assert report.verdict is Verdict.UNVERIFIED
    # Room for a loaded machine; still far short of the tens of seconds of a network timeout.
    assert took < 2.0 + 5.0, f"the verdict took {took:.1f} s with a 2 s deadline"


class SlowKeyring(SessionKeyStore):
    """A keyring waiting on its unlock prompt for a while, as a desktop's can for minutes."""

    def get(self, server: str) -> str | None:
        time.sleep(1.5)
        return super().get(server)


def test_a_slow_keyring_never_freezes_the_window(
    qtbot: QtBot, simulator: Simulator, make_window: Callable[..., MainWindow]
) -> None:
    slow = SlowKeyring()
    slow.set(simulator.url, simulator.apikey)

    def look_up() -> tuple[KeyStore, str | None, str]:
        return slow, slow.get(simulator.url), ""

    with StallMeter() as meter:
        window = make_window(apikey=None, key_lookup=look_up)
        assert window.warning().startswith("READING THE API KEY")
        qtbot.waitUntil(lambda: window.model.working_count() == WORKING_ORDERS, timeout=WAIT_MS)
    assert meter.longest_ms < STALL_LIMIT_MS, f"the UI thread stalled {meter.longest_ms:.0f} ms"
    assert window.key_store is slow
