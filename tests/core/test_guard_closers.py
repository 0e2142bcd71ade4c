"""The guard with flatten: its closing orders are its own work, never churned; its time is kept;
an interrupted or unfinished guard never reads as flat. Real simulator, real sockets."""

from __future__ import annotations

import io
import time

from core.cli_kill import run_headless_kill
from core.headless import ServerKill, Target
from core.report import Verdict
from core.scope import KillScope
from core.simulator import Quirks, Simulator


def test_the_guard_never_cancels_a_resting_closer_nor_sends_a_second() -> None:
    with Simulator(orders=0, positions=1, mode="live", seed=3, quirks=Quirks(closing_orders_rest=1.0)) as sim:
        report, code = run_headless_kill(
            sim.url,
            sim.apikey,
            "ks",
            20.0,
            scope=KillScope(close_positions=True, guard_s=3.0),
            err=io.StringIO(),
        )
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
        report, _code = run_headless_kill(
            sim.url,
            sim.apikey,
            "ks",
            20.0,
            scope=KillScope(close_positions=True, guard_s=5.0),
            err=io.StringIO(),
        )
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
        kill.http.close()  # an abandoned kill keeps its client for its process's life; not the test's
    assert report.verdict is Verdict.UNVERIFIED and report.exit_code == 1
    assert report.guard is not None and any("did not finish" in e for e in report.guard.errors)
