"""The guard with flatten: its closing orders are its own work, never churned; its time is kept;
an interrupted or unfinished guard never reads as flat. Real simulator, real sockets."""

from __future__ import annotations

import io
import threading
import time
from typing import Any

import pytest

from core import guard as guard_module
from core.cli_kill import run_headless_kill
from core.client import OpenAlgoClient, make_http_client
from core.guard import Guard, GuardReport
from core.headless import ServerKill, Target
from core.kill import KillSwitch
from core.report import CancelReport, Verdict
from core.scope import KillScope
from core.simulator import Quirks, Simulator


def flatten_and_guard(sim: Simulator, guard_s: float) -> tuple[CancelReport, int]:
    """A scripted kill that closes positions and then guards for ``guard_s``."""
    scope = KillScope(close_positions=True, guard_s=guard_s)
    return run_headless_kill(sim.url, sim.apikey, "ks", 20.0, scope=scope, err=io.StringIO())


def test_the_guard_never_cancels_a_resting_closer_nor_sends_a_second() -> None:
    with Simulator(orders=0, positions=1, mode="live", seed=3, quirks=Quirks(closing_orders_rest=1.0)) as sim:
        report, code = flatten_and_guard(sim, 3.0)
        cancelled = [o for o in sim.all_orders() if o["order_status"] == "cancelled"]
        working = sim.working_orders()
        for order in working:
            sim.fill_order(order["orderid"])
        after = sim.open_positions()
    assert report.guard is not None and code == 1
    assert cancelled == [] and len(working) == 1, (cancelled, working)
    assert report.guard.positions_closed == (), "a position was counted closed while still open"
    assert after == []


def test_an_uncloseable_position_is_retried_with_backoff_and_never_counted_closed() -> None:
    quirks = Quirks(cnc_bought_today_unsellable=True)
    with Simulator(orders=0, positions=0, mode="live", seed=3, quirks=quirks) as sim:
        sim.open_position("SBIN", 10, product="CNC")
        report, _code = flatten_and_guard(sim, 5.0)
        smart_orders = sim.stats.requests.get("placesmartorder", 0)
        still_open = sim.open_positions()
    assert report.guard is not None and still_open
    assert report.guard.positions_closed == ()
    assert report.verdict is Verdict.POSITIONS_REMAIN
    assert smart_orders <= 5, f"{smart_orders} closing orders for one position that cannot close"


def test_the_guard_keeps_its_time_when_every_cancel_is_rate_limited() -> None:
    with Simulator(orders=3, mode="live", seed=3, runaway_rate=5.0, quirks=Quirks(order_rate_limit=0)) as sim:
        started = time.monotonic()
        report, code = run_headless_kill(
            sim.url, sim.apikey, "ks", 5.0, scope=KillScope(guard_s=4.0), err=io.StringIO()
        )
        took = time.monotonic() - started
    assert report.guard is not None, "the guard was given up on and the kill's own verdict reported"
    assert report.guard.ran_s < 6.0 and took < 15.0, (report.guard.ran_s, took)
    assert report.verdict is Verdict.ORDERS_REMAIN and code == 1


def start_guarded(sim: Simulator, scope: KillScope) -> ServerKill:
    kill = ServerKill(
        Target(sim.url, sim.apikey, "ks"),
        deadline_s=10.0,
        scope=scope,
        trigger="test",
        record=None,
        locks=None,
    )
    kill.start()
    ends = time.monotonic() + 10
    while kill.step != "guard" and time.monotonic() < ends:
        time.sleep(0.02)
    assert kill.step == "guard"
    return kill


def test_an_interrupted_guard_does_not_halt_the_server_and_says_so() -> None:
    with Simulator(orders=3, mode="live", seed=3) as sim:
        kill = start_guarded(sim, KillScope(guard_s=30.0, halt=True))
        kill.stop("Interrupted by Ctrl+C")
        assert kill.done.wait(15)
        report = kill.final_report()
        mode = sim.mode
        kill.close()
    assert mode == "live" and sim.stats.requests.get("analyzer/toggle", 0) == 0
    assert report.halt is not None and "interrupted" in report.halt.reason
    assert report.exit_code != 0


def test_a_guard_given_up_on_while_it_runs_is_never_reported_flat() -> None:
    with Simulator(orders=3, mode="live", seed=3) as sim:
        kill = start_guarded(sim, KillScope(guard_s=30.0))
        kill.abandoned = True  # as wait_for does when the run's bound passes
        report = kill.final_report()
        kill.stop("test over")
        assert kill.done.wait(15)
    assert report.verdict is Verdict.UNVERIFIED and report.exit_code == 1
    assert report.guard is not None and any("did not finish" in e for e in report.guard.errors)


def test_a_lost_closer_answer_does_not_shelter_a_runaway_market_order_that_adds_to_the_position() -> None:
    # The guard's closer goes out and its answer is lost; it adopts one MARKET order in the
    # closing direction as that closer. A runaway's MARKET BUY on the long position adds to it:
    # it is cancelled like any other runaway order.
    quirks = Quirks(closing_orders_rest=1.0, lose_reply=frozenset({"placesmartorder"}))
    with Simulator(orders=0, positions=0, mode="live", seed=3, quirks=quirks) as sim:
        sim.open_position("SBIN", 10, product="MIS")
        with make_http_client(only_host=sim.url) as http:
            guard = Guard(OpenAlgoClient(sim.url, sim.apikey, http, strategy="ks"), 4.0, close_positions=True)
            done: list[GuardReport] = []
            thread = threading.Thread(target=lambda: done.append(guard.run()))
            thread.start()
            ends = time.monotonic() + 5
            while sim.stats.requests.get("placesmartorder", 0) == 0 and time.monotonic() < ends:
                time.sleep(0.02)
            runaway = sim.place_order(
                "SBIN", action="BUY", pricetype="MARKET", product="MIS", quantity=50, strategy="runaway"
            )
            thread.join(15)
        status = {o["orderid"]: o["order_status"] for o in sim.all_orders()}
        closers = [o for o in sim.all_orders() if o["action"] == "SELL"]
    assert len(closers) == 1, closers
    assert status[closers[0]["orderid"]] == "open", "the guard cancelled its own closer"
    assert status[runaway] == "cancelled", "a runaway order adding to the position was kept"


def test_a_ctrl_c_while_the_guard_is_being_made_stops_it() -> None:
    # Ctrl+C (stop) landing between the kill thread's 'not interrupted' check and the guard's
    # creation. A signal's timing cannot be arranged over real sockets, so the test makes the
    # guard through a wrapper that calls stop() at that exact moment.
    with Simulator(orders=3, mode="live", seed=3) as sim:
        kill = ServerKill(
            Target(sim.url, sim.apikey, "ks"),
            deadline_s=10.0,
            scope=KillScope(guard_s=30.0),
            trigger="test",
            record=None,
            locks=None,
        )

        def guard_while_interrupted(*args: Any, **kwargs: Any) -> Guard:
            kill.stop("Interrupted by Ctrl+C")
            return Guard(*args, **kwargs)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(guard_module, "Guard", guard_while_interrupted)  # read when the guard starts
            started = time.monotonic()
            kill.start()
            assert kill.done.wait(15)
            took = time.monotonic() - started
        kill.close()
    assert took < 10, f"the guard ran {took:.1f} s after Ctrl+C"
    report = kill.final_report()
    assert report.guard is not None and "Ctrl+C" in report.guard.stopped_early


def test_the_guard_sends_no_second_closer_when_the_book_leaves_the_first_out() -> None:
    # The kill's closer rests unfilled; the guard's order book reads leave it out while their
    # counts still show it working. The guard cannot rule out a closer on its way: it sends none.
    with Simulator(orders=0, positions=1, mode="live", seed=3, quirks=Quirks(closing_orders_rest=1.0)) as sim:
        with make_http_client(only_host=sim.url) as http:
            client = OpenAlgoClient(sim.url, sim.apikey, http, strategy="ks")
            report = KillSwitch(client, scope=KillScope(close_positions=True)).fire("test")
            assert report.flatten is not None and len(report.flatten.closers) == 1
            sim.quirks.orderbook_omits = frozenset(report.flatten.closers)
            smart_before = sim.stats.requests.get("placesmartorder", 0)
            Guard(client, 2.0, close_positions=True).run()
            smart_after = sim.stats.requests.get("placesmartorder", 0)
        sim.quirks.orderbook_omits = frozenset()
        for order in sim.working_orders():
            sim.fill_order(order["orderid"])
        after = sim.open_positions()
    assert smart_after == smart_before, "the guard sent a second closer"
    assert after == []
