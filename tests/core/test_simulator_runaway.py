"""A strategy gone wrong: the simulator keeps placing new orders until it is halted or stopped."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx
import pytest

from core.simulator import Quirks, Simulator
from tests.core.sim_http import call


def runaway_orders(sim: Simulator, book: str | None = None) -> list[dict[str, object]]:
    return [order for order in sim.all_orders(book) if order["strategy"] == "runaway"]


def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def runaway_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("openalgo-sim-runaway")]


def test_a_runaway_keeps_placing_resting_limit_orders_at_its_rate(sim: Simulator) -> None:
    sim.start_runaway(20.0)
    time.sleep(1.0)
    sim.stop_runaway()
    orders = runaway_orders(sim)
    # 20 a second for a second, give or take a busy machine's scheduling.
    assert 12 <= len(orders) <= 22
    assert sim.runaway_placed == len(orders)
    assert {(o["pricetype"], o["order_status"]) for o in orders} == {("LIMIT", "open")}


def test_a_fractional_rate_places_one_order_every_so_often(sim: Simulator) -> None:
    sim.start_runaway(2.5)
    wait_until(lambda: len(runaway_orders(sim)) == 1)
    started = time.monotonic()
    wait_until(lambda: len(runaway_orders(sim)) == 2)
    assert 0.2 < time.monotonic() - started < 1.2  # one every 0.4 s, on a busy machine


def test_runaway_orders_go_to_the_sandbox_once_the_analyzer_is_on(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.set_mode("live")
    sim.start_runaway(50.0)
    wait_until(lambda: len(runaway_orders(sim, "live")) >= 3)
    call(client, sim, "analyzer/toggle", mode=True)
    live_after_halt = len(runaway_orders(sim, "live"))
    wait_until(lambda: len(runaway_orders(sim, "analyze")) >= 3)
    assert len(runaway_orders(sim, "live")) <= live_after_halt + 1  # at most one was on its way


def test_a_cancel_all_cannot_keep_up_with_a_runaway(sim: Simulator, client: httpx.Client) -> None:
    sim.start_runaway(50.0)
    wait_until(lambda: len(sim.working_orders()) >= 3)
    call(client, sim, "cancelallorder", strategy="ks")
    wait_until(lambda: len(sim.working_orders()) >= 3)


def test_a_semi_auto_account_queues_the_runaways_orders(sim: Simulator) -> None:
    sim.quirks.semi_auto = True
    sim.start_runaway(50.0)
    wait_until(lambda: len(sim.pending_orders()) >= 3)
    assert sim.all_orders() == []
    assert sim.runaway_placed == 0


def test_runaway_orders_are_not_requests_and_use_no_rate_limit(sim: Simulator, client: httpx.Client) -> None:
    sim.start_runaway(50.0)
    wait_until(lambda: sim.runaway_placed >= 15)
    assert "placeorder" not in sim.stats.requests
    order = {"strategy": "ks", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1}
    assert call(client, sim, "placeorder", **order, pricetype="LIMIT", price=900).status_code == 200


def test_stop_runaway_stops_the_orders(sim: Simulator) -> None:
    sim.start_runaway(50.0)
    wait_until(lambda: sim.runaway_placed >= 2)
    sim.stop_runaway()
    placed = len(runaway_orders(sim))
    time.sleep(0.1)
    assert len(runaway_orders(sim)) == placed
    assert sim.runaway_rate == 0.0
    assert runaway_threads() == []


def test_the_runaway_stops_with_the_simulator() -> None:
    sim = Simulator(runaway_rate=5.0).start()
    assert runaway_threads()
    sim.stop()
    assert runaway_threads() == []


def test_a_runaway_given_before_start_waits_for_the_server() -> None:
    sim = Simulator(runaway_rate=100.0)
    time.sleep(0.05)
    assert (sim.all_orders(), sim.runaway_rate) == ([], 100.0)
    with sim:
        wait_until(lambda: len(runaway_orders(sim)) >= 1)


def test_a_new_rate_replaces_the_old_one(sim: Simulator) -> None:
    sim.start_runaway(1.0)
    sim.start_runaway(50.0)
    assert len(runaway_threads()) == 1
    wait_until(lambda: sim.runaway_placed >= 5)


@pytest.mark.parametrize("rate", [0.0, -1.0])
def test_a_rate_must_be_above_0(rate: float, sim: Simulator) -> None:
    with pytest.raises(ValueError, match="above 0"):
        sim.start_runaway(rate)


def test_a_closed_market_refuses_the_runaways_mis_orders(sim: Simulator) -> None:
    sim.quirks = Quirks(market_closed=True)
    sim.start_runaway(50.0)
    wait_until(lambda: len(runaway_orders(sim)) >= 3)
    assert {o["product"] for o in runaway_orders(sim)} == {"CNC"}
