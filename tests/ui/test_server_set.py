"""One press, several servers, in the window's lanes: each server's verdict arrives on its own, a
hung server never holds up the others, and the press ends with the most urgent verdict."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack

import pytest
from pytestqt.qtbot import QtBot

from core.report import CancelReport, PressReport, Verdict
from core.settings import Server
from core.simulator import Quirks, Simulator
from tests.ui.conftest import WAIT_MS
from ui.lanes import Lanes
from ui.server_set import ServerSet


@pytest.fixture
def three() -> Iterator[list[Simulator]]:
    with ExitStack() as stack:
        yield [stack.enter_context(Simulator(orders=5, seed=i)) for i in range(3)]


def server_set(sims: list[Simulator], deadline_s: float = 30.0) -> ServerSet:
    def lanes(server: Server, key: str) -> Lanes:
        return Lanes(server.url, key, strategy=server.strategy, poll_interval_s=0.2, deadline_s=deadline_s)

    servers = ServerSet(lanes)
    servers.set_servers([(Server(sim.url, f"S{i}"), sim.apikey) for i, sim in enumerate(sims)])
    servers.start()
    return servers


def test_one_press_fires_every_server_and_ends_flat(qtbot: QtBot, three: list[Simulator]) -> None:
    servers = server_set(three)
    try:
        finished: list[str] = []
        servers.serverFinished.connect(lambda url, report: finished.append(url))
        with qtbot.waitSignal(servers.pressFinished, timeout=WAIT_MS) as done:
            servers.fire("button")
        press: PressReport = done.args[0]
        assert press.verdict is Verdict.FLAT
        assert sorted(finished) == sorted(sim.url for sim in three)
        assert [r.server for r in press.reports] == [sim.url for sim in three]
        assert all(sim.working_orders() == [] for sim in three)
    finally:
        servers.stop()


def test_a_hung_server_never_delays_the_others(qtbot: QtBot, three: list[Simulator]) -> None:
    # Order, not wall-clock: with a deadline far off, the live servers' verdicts must come while
    # the hung one is still waiting -- however slow the machine.
    three[1].quirks = Quirks(hang=frozenset({"cancelallorder", "orderbook"}))
    servers = server_set(three, deadline_s=20.0)
    try:
        arrived: dict[str, CancelReport] = {}
        servers.serverFinished.connect(arrived.setdefault)
        servers.fire("hotkey")
        live = (three[0].url, three[2].url)
        qtbot.waitUntil(lambda: all(url in arrived for url in live), timeout=WAIT_MS)
        assert three[1].url not in arrived and servers.kill_in_flight
        assert all(arrived[url].verdict is Verdict.FLAT for url in live)
        with qtbot.waitSignal(servers.pressFinished, timeout=WAIT_MS) as done:
            servers.interrupt("the test is over")
        press: PressReport = done.args[0]
        assert {r.server: r.verdict for r in press.reports}[three[1].url] is Verdict.UNVERIFIED
        assert press.verdict is Verdict.UNVERIFIED
    finally:
        servers.stop()
