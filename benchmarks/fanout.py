"""One press, many servers: ``killswitch cancel-all --host A ... --host N`` against N simulators,
each answering every request 300 ms late with 20 working orders, over the same command against one
of them. The ratio is whole-process wall time, N servers over one, same run; medians of 3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

from benchmarks.figures import Report, Target, median
from core.simulator import Quirks, Simulator

ROOT = Path(__file__).resolve().parents[1]
KEY = "fanout-benchmark-key-0123456789abcdef"
DELAY_S = 0.3
ORDERS = 20


def one_press(count: int) -> float:
    """Seconds for one `cancel-all` over ``count`` fresh slow simulators (checked flat)."""
    with ExitStack() as stack:
        sims = [
            stack.enter_context(
                Simulator(orders=ORDERS, seed=i, apikey=KEY, quirks=Quirks(reply_delay_s=DELAY_S))
            )
            for i in range(count)
        ]
        hosts = [arg for sim in sims for arg in ("--host", sim.url)]
        env = {**os.environ, "OPENALGO_API_KEY": KEY}
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, str(ROOT / "main.py"), "cancel-all", *hosts, "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        took = time.perf_counter() - started
        report = json.loads(result.stdout)
        if report["verdict"] != "flat" or any(sim.working_orders() for sim in sims):
            raise RuntimeError(f"{count} servers ended {report['verdict']}")
        return took


def run(report: Report, *, quick: bool = False) -> None:
    runs = 1 if quick else 3
    alone = median([one_press(1) for _ in range(runs)])
    report.add("fanout_one_server_s", alone, "s")
    for count in (5, 20):
        together = median([one_press(count) for _ in range(runs)])
        report.add(f"fanout_{count}_servers_s", together, "s")
        report.add(f"fanout_ratio_{count}", together / alone, "x", Target("<=", 1.5))
    report.note(
        f"fanout_ratio_N: whole `killswitch cancel-all` process with --host x N over the same with one, "
        f"each simulator {ORDERS} working orders and every reply {DELAY_S * 1000:.0f} ms late; "
        f"median of {runs}."
    )
