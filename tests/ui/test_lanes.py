"""The poll lane and the kill lane against the simulator over loopback: real threads, real HTTP.

Qt warnings fail these tests, so a lane that stops untidily (a timer killed from the wrong thread,
a thread destroyed while running) shows up here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import replace

import httpx
import pytest
from pytestqt.qtbot import QtBot

from core.client import make_http_client
from core.report import CancelReport, KillProgress, Verdict
from core.simulator import Quirks, Simulator
from tests.conftest import open_lock_files
from tests.ui.conftest import STALL_LIMIT_MS, LanesFactory, StallMeter
from ui.connection_state import ConnectionState, ConnectionTest
from ui.lanes import Lanes

pytestmark = pytest.mark.qt_log_level_fail("WARNING")

KILL_MS = 20_000
POLL_MS = 5_000
WRONG_KEY = "f" * 64


def connected(state: ConnectionState) -> bool:
    return state.connected


def wait_connected(qtbot: QtBot, lanes: Lanes) -> None:
    qtbot.waitUntil(lambda: lanes.connection.connected, timeout=POLL_MS)


def working_ids(simulator: Simulator) -> set[str]:
    return {str(row["orderid"]) for row in simulator.working_orders()}


def test_polling_delivers_the_book_and_a_connected_state(qtbot: QtBot, lanes_factory: LanesFactory) -> None:
    lanes = lanes_factory(start=False)
    with (
        qtbot.waitSignal(lanes.bookUpdated, timeout=POLL_MS) as book,
        qtbot.waitSignal(lanes.connectionChanged, check_params_cb=connected, timeout=POLL_MS) as change,
    ):
        lanes.start()

    assert len(book.args[0].working) == 25
    state: ConnectionState = change.args[0]
    assert (state.reachable, state.key_ok, state.mode, state.semi_auto) == (True, True, "analyze", False)
    assert state.last_good is not None and state.rtt_ms is not None
    assert state.sentence.startswith("Connected · key accepted · ANALYZE")


def test_a_wrong_key_is_reported_as_rejected_without_showing_it(
    qtbot: QtBot, lanes_factory: LanesFactory
) -> None:
    lanes = lanes_factory(apikey=WRONG_KEY, start=False)
    with qtbot.waitSignal(
        lanes.connectionChanged, check_params_cb=lambda s: s.key_ok is False, timeout=POLL_MS
    ) as change:
        lanes.start()

    state: ConnectionState = change.args[0]
    assert state.reachable is True
    assert state.sentence.startswith("The server rejected the API key")
    assert WRONG_KEY not in repr(state)


def test_a_stopped_server_is_reported_unreachable(
    qtbot: QtBot, simulator: Simulator, lanes_factory: LanesFactory
) -> None:
    lanes = lanes_factory()
    wait_connected(qtbot, lanes)
    host = simulator.url

    with qtbot.waitSignal(
        lanes.connectionChanged, check_params_cb=lambda s: s.reachable is False, timeout=POLL_MS
    ) as change:
        simulator.stop()

    state: ConnectionState = change.args[0]
    assert state.key_ok is None
    assert host in state.sentence
    assert state.last_good is not None  # the bar can still say how old the book on screen is


def test_the_connection_line_says_how_old_the_last_good_update_is() -> None:
    state = ConnectionState(True, True, "live", False, last_good=100.0, rtt_ms=3.2, sentence="")
    assert state.describe(now=100.4) == "Connected · key accepted · LIVE · updated just now · 3 ms"
    assert state.describe(now=112.0) == "Connected · key accepted · LIVE · updated 12 s ago · 3 ms"
    refused = replace(state, semi_auto=True).describe(now=100.0)
    assert refused.endswith("Semi-Auto: OpenAlgo will refuse a kill until it is switched to Auto")


def test_a_failing_server_is_polled_less_often_until_it_recovers(
    qtbot: QtBot, simulator: Simulator, lanes_factory: LanesFactory
) -> None:
    simulator.quirks = Quirks(broker_error=frozenset({"orderbook"}))
    lanes = lanes_factory(poll_interval_s=0.05)

    qtbot.wait(1500)  # every 50 ms that would be 30 reads; doubling gives about 5
    assert simulator.stats.requests.get("orderbook", 0) <= 10
    assert lanes.connection.reachable is True
    assert "error" in lanes.connection.sentence

    simulator.quirks = Quirks()
    with qtbot.waitSignal(lanes.bookUpdated, timeout=15_000):
        pass
    wait_connected(qtbot, lanes)


def test_a_rate_limited_poll_says_so_and_keeps_the_key_accepted(
    qtbot: QtBot, simulator: Simulator, lanes_factory: LanesFactory
) -> None:
    simulator.quirks = Quirks(api_rate_limit=1)
    lanes = lanes_factory(poll_interval_s=0.05)

    with qtbot.waitSignal(
        lanes.connectionChanged, check_params_cb=lambda s: "rate limit" in s.sentence, timeout=POLL_MS
    ) as change:
        pass

    state: ConnectionState = change.args[0]
    assert (state.reachable, state.key_ok) == (True, True)
    assert state.describe() == state.sentence  # the bar keeps saying so as it refreshes


def test_fire_cancels_every_working_order_and_reports_flat(
    qtbot: QtBot, simulator: Simulator, lanes_factory: LanesFactory
) -> None:
    lanes = lanes_factory()
    wait_connected(qtbot, lanes)
    before = working_ids(simulator)
    progress: list[KillProgress] = []
    lanes.killProgress.connect(progress.append)

    with (
        qtbot.waitSignal(lanes.killStarted, timeout=KILL_MS) as started,
        qtbot.waitSignal(lanes.killFinished, timeout=KILL_MS) as finished,
    ):
        lanes.fire("button")

    report: CancelReport = finished.args[0]
    assert started.args == ["button"]
    assert report.verdict is Verdict.FLAT
    assert (report.trigger, report.mode, report.joined) == ("button", "analyze", 0)
    assert set(report.canceled) == before
    assert simulator.working_orders() == []
    assert progress[0].phase == "cancel_all"
    with qtbot.waitSignal(lanes.bookUpdated, check_params_cb=lambda b: not b.working, timeout=POLL_MS):
        pass


def test_the_ui_thread_keeps_running_during_a_slow_kill(
    qtbot: QtBot, simulator: Simulator, lanes_factory: LanesFactory
) -> None:
    lanes = lanes_factory()
    wait_connected(qtbot, lanes)
    simulator.quirks = Quirks(reply_delay_s=2.0)
    with StallMeter() as meter, qtbot.waitSignal(lanes.killFinished, timeout=KILL_MS) as finished:
        lanes.fire("hotkey")
    simulator.quirks = Quirks()

    assert finished.args[0].verdict is Verdict.FLAT
    assert meter.longest_ms < STALL_LIMIT_MS, f"the UI thread stalled {meter.longest_ms:.0f} ms"


def test_a_second_fire_during_a_kill_joins_it(
    qtbot: QtBot, simulator: Simulator, lanes_factory: LanesFactory
) -> None:
    lanes = lanes_factory()
    wait_connected(qtbot, lanes)
    simulator.quirks = Quirks(endpoint_delay_s={"cancelallorder": 1.0})
    started: list[str] = []
    reports: list[CancelReport] = []
    lanes.killStarted.connect(started.append)
    lanes.killFinished.connect(reports.append)

    with qtbot.waitSignal(lanes.killFinished, timeout=KILL_MS):
        lanes.fire("button")
        qtbot.waitUntil(lambda: simulator.stats.cancelall_in_flight == 1, timeout=POLL_MS)
        assert lanes.kill_in_flight
        lanes.fire("hotkey")
        lanes.fire("tray")
    # Polling resumes only once no kill is left to run, so a second kill would show by now.
    with qtbot.waitSignal(lanes.bookUpdated, timeout=POLL_MS):
        pass

    assert started == ["button"]
    assert [r.joined for r in reports] == [2]
    assert simulator.stats.cancelall_calls == 1
    assert simulator.stats.max_concurrent_cancelall == 1


def test_polling_pauses_while_a_kill_runs_and_resumes_after(
    qtbot: QtBot, simulator: Simulator, lanes_factory: LanesFactory
) -> None:
    sent: list[tuple[str, str, float]] = []

    def record(request: httpx.Request) -> None:
        lane = threading.current_thread().name
        sent.append((lane, request.url.path.rstrip("/").rsplit("/", 1)[-1], time.perf_counter()))

    def recording_client() -> httpx.Client:
        client = make_http_client()
        client.event_hooks["request"] = [record]
        return client

    lanes = lanes_factory(poll_interval_s=0.05, http_factory=recording_client)
    wait_connected(qtbot, lanes)
    simulator.quirks = Quirks(endpoint_delay_s={"cancelallorder": 1.0})

    with qtbot.waitSignal(lanes.killFinished, timeout=KILL_MS) as finished:
        lanes.fire("button")
    report: CancelReport = finished.args[0]
    with qtbot.waitSignal(lanes.bookUpdated, timeout=POLL_MS):
        pass

    kill = [at for lane, endpoint, at in sent if lane == "kill-lane" and endpoint != "ping"]
    polls = [at for lane, endpoint, at in sent if lane == "poll-lane" and endpoint == "orderbook"]
    assert len(kill) == 1 + sum(1 for e in report.exchanges if e.endpoint == "orderbook")
    assert [at for at in polls if kill[0] <= at <= kill[-1]] == []
    assert any(at > kill[-1] for at in polls)  # and polling came back


def test_test_connection_reports_the_broker_and_the_mode(qtbot: QtBot, lanes_factory: LanesFactory) -> None:
    lanes = lanes_factory()
    with qtbot.waitSignal(lanes.connectionTested, timeout=POLL_MS) as tested:
        lanes.test_connection()

    result: ConnectionTest = tested.args[0]
    assert (result.ok, result.mode) == (True, "analyze")
    assert result.broker
    assert "ANALYZE mode" in result.sentence


def test_test_connection_with_a_wrong_key_says_it_was_rejected(
    qtbot: QtBot, lanes_factory: LanesFactory
) -> None:
    lanes = lanes_factory(apikey=WRONG_KEY)
    with qtbot.waitSignal(lanes.connectionTested, timeout=POLL_MS) as tested:
        lanes.test_connection()

    result: ConnectionTest = tested.args[0]
    assert result.ok is False
    assert result.sentence.startswith("The server rejected the API key")


def test_reconfiguring_with_the_right_key_connects_and_kills_with_it(
    qtbot: QtBot, simulator: Simulator, lanes_factory: LanesFactory
) -> None:
    lanes = lanes_factory(apikey=WRONG_KEY)
    qtbot.waitUntil(lambda: lanes.connection.key_ok is False, timeout=POLL_MS)

    with qtbot.waitSignal(lanes.connectionChanged, check_params_cb=connected, timeout=POLL_MS):
        lanes.reconfigure(simulator.url, simulator.apikey, "Desk", 0.1, 30.0)
    with qtbot.waitSignal(lanes.killFinished, timeout=KILL_MS) as finished:
        lanes.fire("button")

    report: CancelReport = finished.args[0]
    assert (report.verdict, report.strategy) == (Verdict.FLAT, "Desk")


def test_a_kill_refused_for_semi_auto_mode_shows_on_the_connection(
    qtbot: QtBot, simulator: Simulator, lanes_factory: LanesFactory
) -> None:
    simulator.set_mode("live")
    simulator.quirks = Quirks(semi_auto=True)
    lanes = lanes_factory()
    wait_connected(qtbot, lanes)

    with (
        qtbot.waitSignal(lanes.connectionChanged, check_params_cb=lambda s: s.semi_auto, timeout=KILL_MS),
        qtbot.waitSignal(lanes.killFinished, timeout=KILL_MS) as finished,
    ):
        lanes.fire("button")

    assert finished.args[0].verdict is Verdict.REFUSED
    assert "Semi-Auto" in lanes.connection.describe()
    assert len(simulator.working_orders()) == 25


def test_stop_ends_both_threads_and_closes_both_clients(qtbot: QtBot, lanes_factory: LanesFactory) -> None:
    lanes = lanes_factory()
    wait_connected(qtbot, lanes)

    lanes.stop()
    lanes.stop()  # a second stop is harmless
    lanes.fire("button")  # and so is a press after it

    assert not lanes.poll_lane.alive
    assert not lanes.kill_lane.alive
    assert lanes.poll_lane.http.is_closed
    assert lanes.kill_lane.http.is_closed
    assert not lanes.kill_in_flight


def test_stop_closes_the_kill_lock_file_so_the_data_directory_can_be_removed(
    qtbot: QtBot, lanes_factory: LanesFactory
) -> None:
    # Windows refuses to delete a file that is open: with the lock file left open, the
    # self-test's scratch directory (and a trader's data directory) could not be removed.
    lanes = lanes_factory()
    wait_connected(qtbot, lanes)
    with qtbot.waitSignal(lanes.killFinished, timeout=KILL_MS):
        lanes.fire("button")
    assert len(open_lock_files()) == 1  # kept open between kills: the next press is faster

    lanes.stop()

    assert open_lock_files() == []


def test_a_lane_never_started_closes_its_clients_on_stop(lanes_factory: Callable[..., Lanes]) -> None:
    lanes = lanes_factory(start=False)
    lanes.stop()
    assert lanes.poll_lane.http.is_closed
    assert lanes.kill_lane.http.is_closed


def test_the_kill_lane_connects_again_as_soon_as_the_server_drops_its_idle_connection(
    qtbot: QtBot, simulator: Simulator, lanes_factory: LanesFactory
) -> None:
    # gunicorn closes a kept-alive connection after 2 idle seconds, long before the 30 s
    # keep-warm ping: the lane must see the drop and connect again, so that the next press
    # does not wait for a new connection.
    simulator.quirks.idle_close_s = 1.0
    lanes = lanes_factory(poll_interval_s=60.0)  # the poll lane's own connection stays out of it
    wait_connected(qtbot, lanes)
    # The first ping opens the connection; the second is the lane connecting again after the drop.
    qtbot.waitUntil(lambda: simulator.stats.requests.get("ping", 0) >= 2, timeout=5_000)

    connections = simulator.stats.connections
    with qtbot.waitSignal(lanes.killFinished, timeout=KILL_MS) as finished:
        lanes.fire("button")

    assert finished.args[0].verdict is Verdict.FLAT
    assert simulator.stats.connections == connections  # the press used the connection made for it
