"""When the window hears that a kill started: once its cancel-all is on the wire, or at once
when the request cannot get out, and always before the kill's progress and its report."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from pytestqt.qtbot import QtBot

from core.client import make_http_client
from core.report import CancelReport, KillProgress, Verdict
from core.simulator import Simulator
from tests.ui.conftest import LanesFactory

pytestmark = pytest.mark.qt_log_level_fail("WARNING")

KILL_MS = 20_000
POLL_MS = 5_000


def test_a_kill_is_announced_before_its_progress_and_its_report(
    qtbot: QtBot, lanes_factory: LanesFactory
) -> None:
    lanes = lanes_factory()
    qtbot.waitUntil(lambda: lanes.connection.connected, timeout=POLL_MS)
    seen: list[str] = []
    lanes.killStarted.connect(lambda trigger: seen.append(f"started by {trigger}"))
    lanes.killProgress.connect(lambda progress: seen.append(progress.phase))
    lanes.killFinished.connect(lambda report: seen.append(report.verdict.value))

    with qtbot.waitSignal(lanes.killFinished, timeout=KILL_MS):
        lanes.fire("button")

    assert seen[0] == "started by button"
    assert seen[1] == "cancel_all"
    assert seen[-1] == Verdict.FLAT.value
    assert seen.count("started by button") == 1


def test_a_kill_whose_request_cannot_get_out_still_shows_that_it_started(
    qtbot: QtBot, lanes_factory: LanesFactory
) -> None:
    # A mock transport, because a real network that swallows a request cannot be made to order
    # here: its cancel-all never reaches the wire (so no trace says it did) until released.
    released = threading.Event()

    def network(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/cancelallorder"):
            released.wait(30)
            raise httpx.ConnectError("no route to host", request=request)
        return httpx.Response(503, text="unavailable")

    lanes = lanes_factory(
        http_factory=lambda: make_http_client(transport=httpx.MockTransport(network)),
        poll_interval_s=5.0,
    )
    progress: list[KillProgress] = []
    lanes.killProgress.connect(progress.append)

    try:
        with qtbot.waitSignal(lanes.killStarted, timeout=KILL_MS) as started:
            lanes.fire("hotkey")
        qtbot.waitUntil(lambda: bool(progress), timeout=POLL_MS)
        assert started.args == ["hotkey"]
        assert not released.is_set() and lanes.kill_in_flight  # announced while still stuck
        assert progress[0].text.startswith("Sending cancel-all to ")  # not "sent": it never went out
    finally:
        with qtbot.waitSignal(lanes.killFinished, timeout=KILL_MS) as finished:
            released.set()

    report: CancelReport = finished.args[0]
    assert report.verdict is not Verdict.FLAT


def test_a_burst_of_progress_reaches_the_window_as_its_latest_count(
    qtbot: QtBot, simulator: Simulator, lanes_factory: LanesFactory
) -> None:
    # Cancel-all leaves every order working, and the deadline passes long before the sweep (10
    # cancels a second) gets through 300: every order left says "failed" within milliseconds.
    # One queued update each kept the window busy for ~15 ms in a row. A window slower than the
    # kill (here 5 ms per update) must hear the burst as a few updates, the last with the final
    # count.
    simulator.add_random_orders(300 - len(simulator.working_orders()))
    simulator.quirks.cancelall_skips_pricetypes = frozenset({"MARKET", "LIMIT", "SL", "SL-M"})
    lanes = lanes_factory(deadline_s=1.5)
    qtbot.waitUntil(lambda: lanes.connection.connected, timeout=POLL_MS)
    sweeping: list[KillProgress] = []

    def slow_window(progress: KillProgress) -> None:
        if progress.phase == "sweeping":
            sweeping.append(progress)
        time.sleep(0.005)

    lanes.killProgress.connect(slow_window)

    with qtbot.waitSignal(lanes.killFinished, timeout=KILL_MS) as finished:
        lanes.fire("button")

    report: CancelReport = finished.args[0]
    assert report.verdict is Verdict.ORDERS_REMAIN and len(report.failures) > 200
    assert sweeping and sweeping[-1].done == sweeping[-1].total  # the last count, not a stale one
    assert len(sweeping) < 60  # one per order swept in time (~15) and a few for the burst, not 300


def test_a_kill_given_up_on_never_speaks_for_the_next_press(
    qtbot: QtBot, lanes_factory: LanesFactory
) -> None:
    # The first cancel-all is held past every timeout and the kill's deadline, so the window
    # gives that kill its verdict without it. No real server can stall httpx like that: the
    # transport stands in for a bug that leaves the kill thread stuck. Everything else goes to
    # the simulator.
    released = threading.Event()
    held: list[httpx.Request] = []
    simulator_transport = httpx.HTTPTransport()

    def network(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/cancelallorder") and not held:
            held.append(request)
            released.wait(30)
            raise httpx.ConnectError("no route to host", request=request)
        return simulator_transport.handle_request(request)

    lanes = lanes_factory(
        http_factory=lambda: make_http_client(transport=httpx.MockTransport(network)), deadline_s=1.0
    )
    qtbot.waitUntil(lambda: lanes.connection.connected, timeout=POLL_MS)
    try:
        with qtbot.waitSignal(lanes.killFinished, timeout=KILL_MS) as given_up:
            lanes.fire("button")
        assert given_up.args[0].verdict is Verdict.UNVERIFIED

        seen: list[str] = []
        lanes.killStarted.connect(lambda trigger: seen.append(f"started by {trigger}"))
        lanes.killProgress.connect(lambda progress: seen.append(progress.phase))
        with qtbot.waitSignal(lanes.killFinished, timeout=KILL_MS) as finished:
            lanes.fire("hotkey")  # waits behind the stuck kill
            qtbot.wait(100)
            released.set()  # the stuck kill goes on to read the book, unheard
    finally:
        released.set()
        lanes.stop()
        simulator_transport.close()

    assert finished.args[0].verdict is Verdict.FLAT
    assert seen[0] == "started by hotkey"
    assert seen[1] == "cancel_all", seen  # this press's own first step, not the old kill's reading
    assert seen.count("reading_book") == 1, seen
