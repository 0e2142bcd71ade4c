"""The simulator in a process of its own, for benchmarks of the window.

A real OpenAlgo server is another process: serialising a 10,000-order book there must not take
the benchmarked process's interpreter lock. ``python -m benchmarks.sim_server --orders N`` prints
one JSON line ``{"url": ..., "apikey": ...}`` once it serves, then obeys lines on stdin:

- ``churn K``: from now on, every half second K working orders fill and K new ones arrive (a busy
  account; the book keeps its size); ``churn 0`` stops it;
- ``quit`` (or end of input): stop.

``--survivors F`` makes that fraction of the orders SL-M, which ``cancelallorder`` leaves working
(quirk ``cancelall_skips_pricetypes``), so a kill has that many orders to sweep.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading

from core.simulator import Quirks, Simulator

CHURN_PERIOD_S = 0.5


def fill_book(sim: Simulator, orders: int, survivors: float, rng: random.Random) -> None:
    symbols = sim.known_symbols()
    skip = round(orders * survivors)
    for i in range(orders):
        sim.place_order(
            rng.choice(symbols),
            action=rng.choice(("BUY", "SELL")),
            pricetype="SL-M" if i < skip else "LIMIT",
            product=rng.choice(("CNC", "MIS")),
            strategy="bench",
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sim_server")
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--survivors", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    options = parser.parse_args(argv)
    rng = random.Random(options.seed)
    quirks = Quirks(cancelall_skips_pricetypes=frozenset({"SL-M"}))
    sim = Simulator(mode="analyze", quirks=quirks, seed=options.seed)
    fill_book(sim, options.orders, options.survivors, rng)
    sim.start()
    churn = [0]
    stopping = threading.Event()

    def churner() -> None:
        while not stopping.wait(CHURN_PERIOD_S):
            k = churn[0]
            if not k:
                continue
            working = sim.working_orders()
            for row in rng.sample(working, min(k, len(working))):
                sim.fill_order(str(row["orderid"]))
            fill_book(sim, k, 0.0, rng)

    thread = threading.Thread(target=churner, name="churn", daemon=True)
    thread.start()
    print(json.dumps({"url": sim.url, "apikey": sim.apikey}), flush=True)
    try:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "churn":
                churn[0] = int(words[1])
            elif words[0] == "quit":
                break
    finally:
        stopping.set()
        thread.join()
        sim.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
