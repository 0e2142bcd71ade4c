"""The kill's later steps: how fast the guard catches a runaway strategy's orders, and how long
closing every position takes until the books prove it.

``guard_catch_ms``: a runaway strategy places R new LIMIT orders a second straight into the
simulator's book (as a webhook would, with no HTTP); the guard runs as ``killswitch cancel-all
--guard`` in a process of its own; each figure is from an order's placement at the server to its
``cancelorder``'s arrival there, both stamped by the server (same clock). R = 2 and 10 a second.

``flatten_verified_ms_N``: press to verdict for a live account with N open positions and nothing
working, scope "close positions": closeposition, a fresh read of the position book, then the
order book. ``flatten_sweep_verified_ms_N``: the same when closeposition leaves every position
open, so each needs its own placesmartorder within the 10/s smart-order limit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks.figures import Report, median, percentile
from core.client import OpenAlgoClient, make_http_client
from core.kill import KillSwitch
from core.report import Verdict
from core.scope import KillScope
from core.simulator import Quirks, Simulator

ROOT = Path(__file__).resolve().parents[1]
EXCHANGES = ("NSE", "BSE")
PRODUCTS = ("MIS", "CNC")  # NRML is for derivatives: NSE equity refuses it


def guard_catches(rate: float, seconds: float) -> list[float]:
    """Milliseconds from each runaway order's placement to its cancel's arrival, at the server."""
    with Simulator(orders=3, seed=7) as sim:
        placed: dict[str, float] = {}
        stop = threading.Event()
        symbols = sim.known_symbols()

        def runaway() -> None:
            interval = 1.0 / rate
            due = time.perf_counter()
            n = 0
            while not stop.is_set():
                due += interval
                pause = due - time.perf_counter()
                if pause > 0 and stop.wait(pause):
                    return
                at = time.perf_counter()
                orderid = sim.place_order(symbols[n % len(symbols)], strategy="runaway")
                placed[orderid] = at
                n += 1

        env = {**os.environ, "OPENALGO_API_KEY": sim.apikey}
        guard = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "main.py"),
                "cancel-all",
                "--host",
                sim.url,
                "--guard",
                str(seconds),
                "--json",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        while not sim.stats.requests.get("orderbook", 0) >= 2:  # the kill is verified: the guard is on
            time.sleep(0.005)
        thread = threading.Thread(target=runaway, daemon=True)
        thread.start()
        out, _ = guard.communicate(timeout=seconds + 60)
        stop.set()
        thread.join(2)
        report = json.loads(out)
        # The runaway is still placing orders when the guard ends, so its last read may well
        # find one or two: the figure is the catch time, not the end state.
        if report.get("guard") is None or not report["guard"]["caught"]:
            raise RuntimeError(f"the guard caught nothing: {report.get('verdict')}")
        catches = []
        for orderid, at in placed.items():
            asked = sim.stats.cancel_asked_at(orderid)
            if asked is not None:
                catches.append((asked - at) * 1000)
        return catches


def flatten_once(positions: int, sweep: bool) -> float:
    quirks = Quirks(closeposition_skips=1.0) if sweep else Quirks()
    with Simulator(mode="live", quirks=quirks, seed=positions) as sim:
        symbols = sim.known_symbols()
        n = 0
        for exchange in EXCHANGES:
            for product in PRODUCTS:
                for symbol in symbols:
                    if n < positions:
                        sim.open_position(symbol, 10 if n % 2 else -10, exchange=exchange, product=product)
                        n += 1
        with make_http_client() as http:
            client = OpenAlgoClient(sim.url, sim.apikey, http, strategy="bench")
            client.ping()
            switch = KillSwitch(client, scope=KillScope(close_positions=True), deadline_s=60.0)
            report = switch.fire("benchmark", triggered_at=time.perf_counter())
        if report.verdict is not Verdict.FLAT or report.trigger_to_verified_ms is None:
            raise RuntimeError(f"flatten of {positions} ended {report.verdict}: {report.summary()}")
        if len(report.flatten.closed if report.flatten else ()) != positions:
            raise RuntimeError(f"flatten of {positions} closed {report.flatten}")
        return report.trigger_to_verified_ms


def run(report: Report, *, quick: bool = False) -> None:
    seconds = 3.0 if quick else 10.0
    for rate in (2.0, 10.0):
        catches = guard_catches(rate, seconds)
        tag = f"{rate:g}"
        report.add(f"guard_catch_ms_{tag}_per_s", median(catches), "ms")
        report.add(f"guard_catch_p99_ms_{tag}_per_s", percentile(catches, 0.99), "ms")
        report.add(f"guard_catches_{tag}_per_s", len(catches), "count")
    report.note(
        f"guard_catch_ms_R_per_s: median (and p99) from a runaway order's placement to its cancelorder's "
        f"arrival, both at the server, R orders/s for {seconds:g} s; the guard is `killswitch cancel-all "
        "--guard` in its own process, reading the order book ~8 times a second (inside the 10/s API limit)."
    )
    plan = {10: 3, 100: 1} if quick else {10: 7, 100: 3}
    for positions, runs in plan.items():
        report.add(
            f"flatten_verified_ms_{positions}",
            median([flatten_once(positions, False) for _ in range(runs)]),
            "ms",
        )
        report.add(
            f"flatten_sweep_verified_ms_{positions}",
            median([flatten_once(positions, True) for _ in range(runs if positions == 10 else 1)]),
            "ms",
        )
    report.note(
        "flatten_verified_ms_N: press to verdict, N open positions on a live account, scope close "
        "positions (cancel-all, book, closeposition, position book, order book); _sweep_: closeposition "
        "leaves them all open, so each gets its own placesmartorder at the 10/s smart-order limit."
    )
