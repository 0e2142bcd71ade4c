"""Endurance: the real Qt poll lane reads a changing book of 2,000 orders N times over.

``python -m benchmarks.endurance [--cycles N] [--orders N]`` (offscreen). The poll lane of
``ui.lanes.Lanes`` -- its own QThread, its persistent ``httpx.Client``, ``OpenAlgoClient.orderbook``
and the parsing into ``Order`` objects -- runs back to back against the simulator: each good
poll moves one order's price (``modifyorder`` over HTTP) and asks the lane for the next poll at
once. Memory (resident set, from ``/proc/self/statm``) and the thread count are read before,
at every tenth of the run, and after. Prints ``name value unit`` lines.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import sys
import threading
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QCoreApplication, QObject, QTimer, Signal, Slot

from core.client import make_http_client
from core.replies import OrderBook
from core.simulator import Quirks, Simulator
from ui.lanes import Lanes

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * PAGE / (1024 * 1024)


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


class Driver(QObject):
    """On the UI thread: counts polls, changes the book, asks for the next poll."""

    again = Signal()

    def __init__(self, lanes: Lanes, sim: Simulator, cycles: int) -> None:
        super().__init__()
        self.lanes = lanes
        self.sim = sim
        self.cycles = cycles
        self.done = 0
        self.failures = 0
        self.samples: list[tuple[int, float, int]] = []
        self.rng = random.Random(6)
        self.http = make_http_client()
        self.open = [o for o in sim.working_orders() if o["order_status"] == "open"]
        self.started = time.perf_counter()
        self.sizes: set[int] = set()
        lanes.bookUpdated.connect(self.polled)
        lanes.connectionChanged.connect(self.maybe_failed)
        self.again.connect(lanes.poll_lane.poll_now)

    @Slot(object)
    def polled(self, book: OrderBook) -> None:
        self.done += 1
        self.sizes.add(len(book.orders))
        if self.done % max(1, self.cycles // 10) == 0:
            gc.collect()
            self.samples.append((self.done, rss_mb(), threads()))
        if self.done >= self.cycles:
            QCoreApplication.quit()
            return
        self.change_one()
        self.again.emit()

    @Slot(object)
    def maybe_failed(self, state: object) -> None:
        if getattr(state, "problem", ""):
            self.failures += 1

    def change_one(self) -> None:
        order = self.rng.choice(self.open)
        price = round(float(order["price"]) * self.rng.uniform(0.99, 1.01) / 0.05) * 0.05
        body = {
            "apikey": self.sim.apikey,
            "strategy": "endurance",
            "exchange": order["exchange"],
            "symbol": order["symbol"],
            "orderid": order["orderid"],
            "action": order["action"],
            "product": order["product"],
            "pricetype": order["pricetype"],
            "price": max(price, 0.05),
            "quantity": order["quantity"],
            "disclosed_quantity": 0,
            "trigger_price": 0,
        }
        reply = self.http.post(f"{self.sim.url}/api/v1/modifyorder", json=body)
        if reply.status_code != 200:
            self.failures += 1


def run(cycles: int, orders: int) -> int:
    app = QCoreApplication.instance() or QCoreApplication(sys.argv[:1])
    quirks = Quirks(api_rate_limit=1_000_000, order_rate_limit=1_000_000)
    with Simulator(orders=orders, seed=6, quirks=quirks) as sim:
        lanes = Lanes(sim.url, sim.apikey, poll_interval_s=60.0)  # the driver paces the polls
        driver = Driver(lanes, sim, cycles)
        # Baseline after one warm-up poll, so imports and first allocations are not counted.
        warm = {"left": 1}

        def first(_book: object) -> None:
            if warm["left"]:
                warm["left"] = 0
                gc.collect()
                driver.samples.append((0, rss_mb(), threads()))
                driver.started = time.perf_counter()

        lanes.bookUpdated.connect(first)
        threads_before_lanes = threads()
        lanes.start()
        guard = QTimer()
        guard.setSingleShot(True)
        guard.timeout.connect(app.quit)
        guard.start(3_600_000)
        app.exec()
        elapsed = time.perf_counter() - driver.started
        lanes.stop()
        driver.http.close()
        gc.collect()
        _, rss_start, threads_start = driver.samples[0]
        _, rss_end, threads_end = driver.samples[-1]
        peak = max(s[1] for s in driver.samples)
        after_stop = threads()
        print(
            f"# {driver.done} polls of a {orders}-order book on the real Qt poll lane (ui.lanes), offscreen"
        )
        print(f"# book sizes seen: {sorted(driver.sizes)}; failed polls or modifies: {driver.failures}")
        for done, rss, count in driver.samples:
            print(f"# after {done:>6} polls: rss {rss:8.1f} MB, threads {count}")
        print(f"endurance_polls {driver.done} count")
        print(f"endurance_poll_cycle_mean {elapsed / max(1, driver.done - 1) * 1000:.1f} ms")
        print(f"endurance_rss_start {rss_start:.1f} MB")
        print(f"endurance_rss_end {rss_end:.1f} MB")
        print(f"endurance_rss_peak {peak:.1f} MB")
        print(f"endurance_rss_growth {rss_end - rss_start:.1f} MB")
        print(f"endurance_threads_before_lanes {threads_before_lanes} count")
        print(f"endurance_threads_start {threads_start} count")
        print(f"endurance_threads_end {threads_end} count")
        print(f"endurance_threads_after_stop {after_stop} count")
        print(f"endurance_python_threads_after_stop {threading.active_count()} count")
        names = sorted(t.name for t in threading.enumerate())
        print(f"# Python threads alive after lanes.stop(), simulator still serving: {', '.join(names)}")
    print(f"endurance_python_threads_after_simulator_stop {threading.active_count()} count")
    return 0 if driver.done >= cycles and driver.failures == 0 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cycles", type=int, default=10_000)
    parser.add_argument("--orders", type=int, default=2_000)
    args = parser.parse_args(argv)
    return run(args.cycles, args.orders)


if __name__ == "__main__":
    sys.exit(main())
