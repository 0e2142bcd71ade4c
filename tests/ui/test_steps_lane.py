"""The guard and the halt after a window's kill, on their own lane: catches come out as they
happen, the guard ends early when released, and the halt is read back -- against the simulator."""

from __future__ import annotations

import threading
import time

import pytest
from pytestqt.qtbot import QtBot

from core.client import OpenAlgoClient, make_http_client
from core.guard import Catch, Guard, GuardReport
from core.kill import KillSwitch
from core.report import CancelReport, Verdict
from core.scope import KillScope
from core.simulator import Quirks, Simulator
from tests.ui.conftest import WAIT_MS
from ui.steps_lane import StepsLane


def killed(sim: Simulator) -> CancelReport:
    with make_http_client() as http:
        return KillSwitch(OpenAlgoClient(sim.url, sim.apikey, http)).fire("test")


def test_the_guard_reports_each_catch_and_ends_flat(qtbot: QtBot) -> None:
    with Simulator(orders=3, runaway_rate=4.0, seed=2) as sim:
        lane = StepsLane(make_http_client())
        lane.configure(sim.url, sim.apikey, "KillSwitch")
        caught: list[Catch] = []
        ticks: list[tuple[float, int]] = []
        lane.caught.connect(caught.append)
        lane.guardTick.connect(lambda left, working: ticks.append((left, working)))
        report = killed(sim)
        with qtbot.waitSignal(lane.finished, timeout=WAIT_MS) as finished:
            assert lane.after(report, KillScope(guard_s=2.0), None)
        sim.stop_runaway()
        final: CancelReport = finished.args[0]
        lane.stop()
    assert final.guard is not None and len(final.guard.caught) >= 4
    assert [c.orderid for c in caught if c.ok] == list(final.guard.caught)
    assert ticks and ticks[-1][0] < ticks[0][0]  # the countdown counts down


def test_releasing_the_guard_ends_it_early(qtbot: QtBot) -> None:
    with Simulator(orders=2, seed=2) as sim:
        lane = StepsLane(make_http_client())
        lane.configure(sim.url, sim.apikey, "KillSwitch")
        report = killed(sim)
        started = time.monotonic()
        with qtbot.waitSignal(lane.guardStarted, timeout=WAIT_MS):
            lane.after(report, KillScope(guard_s=600.0), None)
        with qtbot.waitSignal(lane.finished, timeout=WAIT_MS) as finished:
            lane.release("released by the trader")
        lane.stop()
    assert time.monotonic() - started < 10
    held = finished.args[0].guard
    assert held.stopped_early == "released by the trader" and held.outcome == "flat"


def test_the_halt_is_read_back_and_resume_returns_to_live(qtbot: QtBot) -> None:
    with Simulator(orders=2, seed=2, mode="live") as sim:
        lane = StepsLane(make_http_client())
        lane.configure(sim.url, sim.apikey, "KillSwitch")
        report = killed(sim)
        assert report.verdict is Verdict.FLAT
        with qtbot.waitSignal(lane.finished, timeout=WAIT_MS) as finished:
            lane.after(report, KillScope(halt=True), None)
        halted = finished.args[0].halt
        assert halted is not None and halted.halted and sim.mode == "analyze"
        with qtbot.waitSignal(lane.resumed, timeout=WAIT_MS) as resumed:
            lane.resume_live()
        assert resumed.args[0].halted is False and sim.mode == "live"
        lane.stop()


def test_a_guard_that_fails_inside_ends_unverified_never_holding(
    qtbot: QtBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fault inside the guard cannot be caused from outside (it would be a bug), so this one
    # test makes Guard.run raise; everything else is real. The app's crash path is
    # threading.excepthook (ui.crash_report); here a list stands in for its dialog.
    def broken(self: Guard) -> GuardReport:
        raise RuntimeError("a bug in the guard")

    crashes: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: crashes.append(args.exc_value))

    with Simulator(orders=2, seed=2) as sim:
        lane = StepsLane(make_http_client())
        lane.configure(sim.url, sim.apikey, "KillSwitch")
        report = killed(sim)
        assert report.verdict is Verdict.FLAT
        monkeypatch.setattr(Guard, "run", broken)
        with qtbot.waitSignal(lane.finished, timeout=WAIT_MS) as finished:
            lane.after(report, KillScope(guard_s=60.0), None)
        lane.stop()
    final: CancelReport = finished.args[0]
    assert final.verdict is Verdict.UNVERIFIED
    assert final.guard is not None and "not watching the account" in final.guard.stopped_early
    assert [str(exc) for exc in crashes] == ["a bug in the guard"]  # shown, not swallowed


def test_the_windows_guard_keeps_the_closing_orders_the_kill_left_resting(qtbot: QtBot) -> None:
    # A circuit limit holds the kill's closing order unfilled; the guard that follows in the
    # window must not cancel it (and place another), or the close is undone.
    with Simulator(orders=0, positions=1, mode="live", seed=3, quirks=Quirks(closing_orders_rest=1.0)) as sim:
        with make_http_client() as http:
            scope = KillScope(close_positions=True)
            report = KillSwitch(OpenAlgoClient(sim.url, sim.apikey, http), scope=scope).fire("test")
        assert report.flatten is not None and report.flatten.closers
        lane = StepsLane(make_http_client())
        lane.configure(sim.url, sim.apikey, "KillSwitch")
        with qtbot.waitSignal(lane.finished, timeout=WAIT_MS):
            lane.after(report, KillScope(close_positions=True, guard_s=2.0), None)
        lane.stop()
        cancelled = [o["orderid"] for o in sim.all_orders() if o["order_status"] == "cancelled"]
        working = sim.working_orders()
    assert not set(cancelled) & set(report.flatten.closers), "the guard cancelled the kill's closer"
    assert [o["orderid"] for o in working] == list(report.flatten.closers)
