"""Trigger to verified: the whole kill, from the press to the verdict, with survivors to sweep.

Each run gets a fresh simulator holding ``n`` working orders, 10 % of them SL-M orders that the
server's ``cancelallorder`` silently leaves working (quirk ``cancelall_skips_pricetypes``), so the
kill must read the book, find them and cancel them one by one within the server's order rate
limit, then read the book again. The kill is ``core.kill.KillSwitch`` over a warm persistent
client from ``core.client.make_http_client`` -- the same objects the window's kill lane uses,
without Qt in between (the lane's own hand-off is measured by the trigger-to-wire benchmark).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from benchmarks.figures import Report, Target, median
from core.client import OpenAlgoClient, make_http_client
from core.kill import KillSwitch
from core.report import Verdict
from core.simulator import Quirks, Simulator

SURVIVOR_FRACTION = 0.1
SERVER_ORDER_LIMIT = 10  # OpenAlgo's default ORDER_RATE_LIMIT: cancelorder per second


@dataclass(frozen=True)
class Run:
    orders: int
    verified_ms: float
    survivors: int
    sweep_arrivals: tuple[float, ...]  # perf_counter of each cancelorder reaching the server
    rejected_429: int
    max_in_window: int


def fill(sim: Simulator, orders: int) -> int:
    """``orders`` working orders, one in ten an SL-M that cancel-all will miss; returns how many."""
    survivors = round(orders * SURVIVOR_FRACTION)
    symbols = sim.known_symbols()
    for i in range(orders):
        pricetype = "SL-M" if i < survivors else "LIMIT"
        sim.place_order(symbols[i % len(symbols)], pricetype=pricetype, strategy="bench")
    return survivors


def one_kill(orders: int, order_limit: int) -> Run:
    quirks = Quirks(cancelall_skips_pricetypes=frozenset({"SL-M"}), order_rate_limit=order_limit)
    with Simulator(mode="analyze", quirks=quirks, seed=orders) as sim:
        survivors = fill(sim, orders)
        http = make_http_client()
        try:
            client = OpenAlgoClient(sim.url, sim.apikey, http, strategy="bench")
            client.ping()  # the lane keeps its connection warm; so does this
            sim.stats.reset()
            switch = KillSwitch(client, order_rate_limit=order_limit)
            report = switch.fire("benchmark", triggered_at=time.perf_counter())
        finally:
            http.close()
        if report.verdict is not Verdict.FLAT or report.trigger_to_verified_ms is None:
            raise RuntimeError(f"the kill of {orders} orders ended {report.verdict}: {report.summary()}")
        responses = sim.stats.responses
        return Run(
            orders=orders,
            verified_ms=report.trigger_to_verified_ms,
            survivors=survivors,
            sweep_arrivals=tuple(sorted(sim.stats.arrivals_for("cancelorder"))),
            rejected_429=responses.get(("cancelorder", 429), 0),
            max_in_window=sim.stats.max_in_window("cancelorder"),
        )


def rate_fraction(arrivals: tuple[float, ...], limit: int) -> float:
    """How close a sweep came to the fastest the server's moving one-second window allows.

    ``n`` cancels need at least ``ceil(n / limit) - 1`` seconds from the first to the last (a
    full window, then the next full window one second later...). The fraction is that minimum
    over the span actually taken: 1.0 fills every window, 0.5 takes twice as long.
    """
    n = len(arrivals)
    if n <= limit:
        return math.nan  # fits in one window: says nothing about the rate
    fastest = (math.ceil(n / limit) - 1) * 1.0
    return fastest / (arrivals[-1] - arrivals[0])


def run(report: Report, *, quick: bool = False) -> None:
    # The 1,000-order case sweeps 100 survivors at 10/s: about ten seconds per run, so it runs
    # twice. Quick mode raises the server's order limit (and the kill's) to keep it short.
    order_limit = 50 if quick else SERVER_ORDER_LIMIT
    plan = {10: 3, 100: 2, 1000: 1} if quick else {10: 15, 100: 7, 1000: 2}
    runs: dict[int, list[Run]] = {}
    for orders, count in plan.items():
        runs[orders] = [one_kill(orders, order_limit) for _ in range(count)]
        report.add(f"verified_ms_{orders}", median([r.verified_ms for r in runs[orders]]), "ms")
    sweeps = runs[1000]
    fractions = [rate_fraction(r.sweep_arrivals, order_limit) for r in sweeps]
    rates = [(len(r.sweep_arrivals) - 1) / (r.sweep_arrivals[-1] - r.sweep_arrivals[0]) for r in sweeps]
    report.add("sweep_rate_fraction", median(fractions), "x", Target(">=", 0.9))
    report.add("sweep_cancels_per_s", median(rates), "1/s")
    report.add("sweep_429s", sum(r.rejected_429 for r in sweeps), "count", Target("<=", 0))
    report.add("sweep_max_in_1s_window", max(r.max_in_window for r in sweeps), "count")
    report.note(
        f"verified_ms_N: press to verdict with N working orders, {SURVIVOR_FRACTION:.0%} left working by "
        "cancelallorder (SL-M skipped), swept one by one; "
        f"median of {', '.join(f'{c} runs at {n}' for n, c in plan.items())}; core KillSwitch on a "
        f"warm make_http_client (the kill lane's objects). Server order limit {order_limit}/s"
        + (" (raised for --quick)." if quick else ".")
    )
    report.note(
        "sweep_rate_fraction: fastest span the server's moving 1 s window allows for the sweep "
        f"({len(sweeps[0].sweep_arrivals)} cancels) / span taken, first to last arrival."
    )
