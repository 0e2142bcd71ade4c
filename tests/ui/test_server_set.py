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


def test_a_second_press_after_one_server_answered_fires_it_again_and_waits_for_it(
    qtbot: QtBot, three: list[Simulator]
) -> None:
    fast, hung = three[0], three[1]
    hung.quirks = Quirks(hang=frozenset({"cancelallorder", "orderbook"}))
    servers = server_set([fast, hung], deadline_s=4.0)
    try:
        presses: list[PressReport] = []
        reports: list[tuple[str, Verdict]] = []
        servers.pressFinished.connect(presses.append)
        servers.serverFinished.connect(lambda url, report: reports.append((url, report.verdict)))
        servers.fire("button")
        qtbot.waitUntil(lambda: (fast.url, Verdict.FLAT) in reports, timeout=WAIT_MS)
        # The trader presses again while the hung server still has no verdict: the fast server,
        # done, gets a kill of its own -- slow enough to end after the hung server's deadline --
        # and the press now waits for that one too.
        qtbot.wait(2000)
        fast.quirks = Quirks(endpoint_delay_s={"cancelallorder": 2.5})
        servers.fire("button")
        qtbot.waitUntil(lambda: len(reports) == 3, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: bool(presses), timeout=WAIT_MS)
        qtbot.wait(200)  # a second pressFinished, if one were coming, is queued behind these

        assert fast.stats.requests.get("cancelallorder") == 2
        assert len(presses) == 1, [p.verdict for p in presses]  # never a later, fast-only "flat"
        [press] = presses
        assert press.verdict is Verdict.UNVERIFIED
        assert {r.server: r.verdict for r in press.reports} == {
            fast.url: Verdict.FLAT,
            hung.url: Verdict.UNVERIFIED,
        }
    finally:
        servers.stop()


def test_a_server_removed_during_its_kill_ends_the_press_as_interrupted(
    qtbot: QtBot, three: list[Simulator]
) -> None:
    sim = three[0]
    sim.quirks = Quirks(hang=frozenset({"cancelallorder"}))
    servers = server_set([sim])
    try:
        with qtbot.waitSignal(servers.killStarted, timeout=WAIT_MS):
            servers.fire("button")
        with qtbot.waitSignal(servers.pressFinished, timeout=WAIT_MS) as done:
            servers.set_servers([])  # its URL changed in Settings, mid-kill

        press: PressReport = done.args[0]
        assert press.verdict is Verdict.UNVERIFIED
        assert press.reports[0].interrupted
        assert "removed from the settings" in press.reports[0].errors[0]
        assert not servers.kill_in_flight
    finally:
        servers.stop()
