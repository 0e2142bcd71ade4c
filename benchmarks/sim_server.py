"""The simulator in a process of its own, as a real OpenAlgo server is, for the benchmarks.

A real server is another process: serialising a 10,000-order book there must not take the
benchmarked process's interpreter lock, and reading a request there must not wait for it either.
``python -m benchmarks.sim_server --orders N`` prints one JSON line ``{"url": ..., "apikey": ...}``
once it serves, then obeys lines on stdin, answering each with one line:

- ``churn K``: from now on, every half second K working orders fill and K new ones arrive (a busy
  account; the book keeps its size); ``churn 0`` stops it;
- ``prepare``: one fresh working order, rate limits reset, and the next ``cancelallorder`` arrival
  armed (for a kill that must reach the wire);
- ``arrival``: waits (up to 10 s) for the armed ``cancelallorder`` to arrive and answers its
  ``time.perf_counter()`` stamp (the body read) -- on Linux and macOS the same system-wide
  monotonic clock the benchmark reads, so a press in the benchmark and an arrival here compare;
- ``stats``: ``{"connections": ..., "pings": ..., "cancelall": ...}`` so far;
- ``quit`` (or end of input): stop.

``--survivors F`` makes that fraction of the orders SL-M, which ``cancelallorder`` leaves working
(quirk ``cancelall_skips_pricetypes``), so a kill has that many orders to sweep. ``--idle-close S``
closes a kept-alive connection idle for S seconds (quirk ``idle_close_s``), as gunicorn, nginx
and tunnels do.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import threading
import time

from core.simulator import Quirks, Simulator

CHURN_PERIOD_S = 0.5
ARRIVAL_WAIT_S = 10.0


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


class _Arrivals:
    def __init__(self) -> None:
        self.event = threading.Event()
        self.at = 0.0

    def hook(self, endpoint: str, at: float) -> None:
        if endpoint == "cancelallorder" and not self.event.is_set():
            self.at = at
            self.event.set()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sim_server")
    parser.add_argument("--orders", type=int, default=10_000)
    parser.add_argument("--survivors", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--idle-close", type=float, default=None)
    options = parser.parse_args(argv)
    rng = random.Random(options.seed)
    quirks = Quirks(cancelall_skips_pricetypes=frozenset({"SL-M"}), idle_close_s=options.idle_close)
    sim = Simulator(mode="analyze", quirks=quirks, seed=options.seed)
    fill_book(sim, options.orders, options.survivors, rng)
    arrivals = _Arrivals()
    sim.on_request = arrivals.hook
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

    def answer(text: str) -> None:
        print(text, flush=True)

    try:
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            if words[0] == "churn":
                churn[0] = int(words[1])
            elif words[0] == "prepare":
                sim.add_random_orders(1)
                sim.reset_rate_limits()
                arrivals.event.clear()
                answer("ok")
            elif words[0] == "arrival":
                answer(repr(arrivals.at) if arrivals.event.wait(ARRIVAL_WAIT_S) else "none")
            elif words[0] == "stats":
                stats = sim.stats
                answer(
                    json.dumps(
                        {
                            "connections": stats.connections,
                            "pings": len(stats.arrivals_for("ping")),
                            "cancelall": stats.cancelall_calls,
                        }
                    )
                )
            elif words[0] == "quit":
                break
    finally:
        stopping.set()
        thread.join()
        sim.stop()
    return 0


class SimProcess:
    """``python -m benchmarks.sim_server`` started and spoken to from the benchmark."""

    def __init__(self, orders: int, survivors: float = 0.0, *, idle_close_s: float | None = None) -> None:
        command = [
            sys.executable,
            "-m",
            "benchmarks.sim_server",
            "--orders",
            str(orders),
            "--survivors",
            str(survivors),
        ]
        if idle_close_s is not None:
            command += ["--idle-close", str(idle_close_s)]
        self.proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the simulator process did not start")
        info = json.loads(line)
        self.url: str = info["url"]
        self.apikey: str = info["apikey"]
        self._lock = threading.Lock()

    def send(self, command: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()

    def ask(self, command: str) -> str:
        """Send a command that answers, and return its answer."""
        with self._lock:
            self.send(command)
            assert self.proc.stdout is not None
            line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the simulator process ended while asked {command!r}")
        return line.strip()

    def prepare(self) -> None:
        self.ask("prepare")

    def arrival(self) -> float:
        """When the armed ``cancelallorder`` reached the server (``time.perf_counter()``)."""
        answer = self.ask("arrival")
        if answer == "none":
            raise TimeoutError("cancelallorder never reached the simulator")
        return float(answer)

    def stats(self) -> dict[str, int]:
        stats: dict[str, int] = json.loads(self.ask("stats"))
        return stats

    def close(self) -> None:
        try:
            self.send("quit")
            assert self.proc.stdin is not None
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def same_clock_across_processes() -> bool:
    """Whether ``time.perf_counter()`` is one clock for every process here (stamps compare)."""
    info = time.get_clock_info("perf_counter").implementation
    return "CLOCK_MONOTONIC" in info or "mach_absolute_time" in info or "mach_continuous_time" in info


if __name__ == "__main__":
    sys.exit(main())
