"""The kill procedure against the simulator over loopback: verdicts a trader can trust."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from core.client import OpenAlgoClient, make_http_client
from core.kill import KillSwitch
from core.one_kill import OneKill
from core.report import CancelReport, Verdict
from core.simulator import Quirks, Simulator


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(orders=25, seed=7) as simulator:
        yield simulator


def switch_for(sim: Simulator, apikey: str | None = None, **kw: object) -> Iterator[KillSwitch]:
    with make_http_client() as http:
        client = OpenAlgoClient(sim.url, apikey or sim.apikey, http)
        yield KillSwitch(client, **kw)  # type: ignore[arg-type]


@pytest.fixture
def switch(sim: Simulator) -> Iterator[KillSwitch]:
    yield from switch_for(sim)


def test_a_kill_on_a_full_book_cancels_everything_and_verifies_flat(
    sim: Simulator, switch: KillSwitch
) -> None:
    working = {o["orderid"] for o in sim.working_orders()}
    report = switch.fire("test")
    assert report.verdict is Verdict.FLAT and report.exit_code == 0
    assert set(report.canceled_by_server) == working
    assert sim.working_orders() == []
    assert report.mode == "analyze"
    assert report.trigger_to_verified_ms is not None and report.remaining == ()


def test_orders_that_cancel_all_skips_are_swept_one_by_one(sim: Simulator, switch: KillSwitch) -> None:
    sim.quirks.cancelall_skips_pricetypes = {"SL-M"}
    skipped = {o["orderid"] for o in sim.working_orders() if o["pricetype"] == "SL-M"}
    assert skipped, "the seeded book should hold SL-M orders"
    report = switch.fire("test")
    assert report.verdict is Verdict.FLAT
    assert set(report.canceled_by_sweep) == skipped
    assert sim.working_orders() == []


def test_a_200_that_cancelled_nothing_is_not_trusted(sim: Simulator, switch: KillSwitch) -> None:
    sim.quirks.broken_cancelall_book = True
    report = switch.fire("test")
    assert report.message == "Canceled 0 orders. Failed to cancel 0 orders."
    assert report.verdict is Verdict.FLAT
    assert len(report.canceled_by_sweep) == 25
    assert sim.working_orders() == []


def test_orders_in_transit_are_retried_until_cancelled(sim: Simulator, switch: KillSwitch) -> None:
    ids = [o["orderid"] for o in sim.working_orders()][:3]
    sim.quirks.fail_in_transit = {i: 2 for i in ids}
    report = switch.fire("test")
    assert report.verdict is Verdict.FLAT
    assert set(ids) <= set(report.canceled_by_sweep)
    assert sim.working_orders() == []


def test_an_order_that_executed_instead_is_listed_with_the_brokers_reason(
    sim: Simulator, switch: KillSwitch
) -> None:
    victim = sim.working_orders()[0]["orderid"]
    sim.quirks.already_executed = {victim}
    sim.quirks.failure_shape = "orderid_reason"
    report = switch.fire("test")
    reasons = {f.orderid: f.reason for f in report.failures}
    assert "executed" in reasons[victim].lower()
    assert report.verdict is Verdict.FLAT  # the executed order is no longer working


def test_semi_auto_mode_is_refused_and_the_working_orders_are_listed() -> None:
    with Simulator(orders=5, mode="live", quirks=Quirks(semi_auto=True)) as sim:
        for switch in switch_for(sim):
            report = switch.fire("test")
    assert report.verdict is Verdict.REFUSED and report.exit_code == 3
    assert "Semi-Auto" in report.message
    assert len(report.remaining) == 5 and report.mode == "live"


def test_a_wrong_key_is_refused_and_names_both_causes(sim: Simulator) -> None:
    for switch in switch_for(sim, apikey="0" * 64):
        report = switch.fire("test")
    assert report.verdict is Verdict.REFUSED and report.exit_code == 3
    assert "session" in report.message and "key" in report.message
    assert len(sim.working_orders()) == 25


def test_a_server_that_is_down_is_unreachable() -> None:
    sim = Simulator(orders=1).start()
    url = sim.url
    sim.stop()
    with make_http_client() as http:
        report = KillSwitch(OpenAlgoClient(url, "k" * 64, http), deadline_s=2).fire("test")
    assert report.verdict is Verdict.UNREACHABLE and report.exit_code == 4


def test_an_unreadable_book_after_cancel_all_is_unverified_never_flat(sim: Simulator) -> None:
    sim.quirks.html_error = {"orderbook"}
    for switch in switch_for(sim, deadline_s=1.0):
        report = switch.fire("test")
    assert report.verdict is Verdict.UNVERIFIED and report.exit_code == 1
    assert report.trigger_to_verified_ms is None
    assert len(report.canceled_by_server) == 25


def test_presses_during_a_kill_join_it_and_never_send_a_second_cancel_all(sim: Simulator) -> None:
    sim.quirks.endpoint_delay_s = {"cancelallorder": 0.5}
    reports: list[CancelReport] = []
    for switch in switch_for(sim):
        one = OneKill(switch)

        def press(one: OneKill = one) -> None:
            reports.append(one.fire("test"))

        threads = [threading.Thread(target=press) for _ in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sim.stats.cancelall_calls == 1
    assert sim.stats.max_concurrent_cancelall == 1
    assert len({id(r) for r in reports}) == 1 or all(r.verdict is Verdict.FLAT for r in reports)
    assert max(r.joined for r in reports) == 9


def test_the_sweep_never_exceeds_the_order_rate_limit() -> None:
    with Simulator(orders=40, quirks=Quirks(broken_cancelall_book=True)) as sim:
        for switch in switch_for(sim):
            report = switch.fire("test")
        arrivals = sorted(sim.stats.arrivals["cancelorder"])
    assert report.verdict is Verdict.FLAT and len(report.canceled_by_sweep) == 40
    worst = max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)
    assert worst <= 10
    assert sim.stats.responses.get(("cancelorder", 429), 0) == 0


def test_the_json_report_has_the_keys_scripts_rely_on(sim: Simulator, switch: KillSwitch) -> None:
    data = switch.fire("test").to_json()
    for key in (
        "verdict",
        "mode",
        "canceled_orders",
        "failed_cancellations",
        "remaining_orders",
        "message",
        "elapsed_ms",
    ):
        assert key in data
    assert data["verdict"] == "flat" and len(data["canceled_orders"]) == 25
