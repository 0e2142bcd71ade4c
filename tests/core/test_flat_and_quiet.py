"""Flat and quiet, as a script runs it: close positions, hold the account flat, halt new live
orders -- each step proven by reading the books back. Real processes, real sockets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.client import OpenAlgoClient, make_http_client
from core.positions import Position
from core.simulator import Quirks, Simulator
from tests.core.cli_process import cli, start_cli, wait_for_requests

KEY = "flat-and-quiet-key-0123456789abcdef"


def post(url: str, endpoint: str, **fields: Any) -> Any:
    return httpx.post(f"{url}/api/v1/{endpoint}", json={"apikey": KEY, **fields}, timeout=5).json()


@pytest.fixture
def simulate(env: dict[str, str]) -> Iterator[Any]:
    """``killswitch simulate`` as its own process, with the arguments a test gives."""
    import subprocess
    import sys

    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> str:
        proc = subprocess.Popen(
            [sys.executable, "main.py", "simulate", "--apikey", KEY, *args],
            cwd=Path(__file__).resolve().parents[2],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        started.append(proc)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("URL:"):
                return line.split(None, 1)[1].strip()
        raise AssertionError("the simulator did not start")

    yield start
    for proc in started:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def test_flatten_closes_every_position_and_proves_it(simulate: Any, env: dict[str, str]) -> None:
    url = simulate("--orders", "10", "--positions", "5", "--mode", "live")
    result = cli("cancel-all", "--host", url, "--flatten", "--json", env={**env, "OPENALGO_API_KEY": KEY})
    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "flat"
    assert len(report["positions_closed"]) >= 5 and report["positions_remaining"] == []
    assert {"symbol", "exchange", "product", "quantity"} <= report["positions_closed"][0].keys()
    rows = post(url, "positionbook")["data"]
    assert rows and all(float(row["quantity"]) == 0 for row in rows)
    orders = post(url, "orderbook")["data"]["orders"]
    assert not [o for o in orders if o["order_status"] in ("open", "trigger pending")]


@pytest.mark.parametrize(
    ("quirks", "reason"),
    [
        (Quirks(closeposition_skips=1.0, cnc_bought_today_unsellable=True), "T+1"),
        (Quirks(closeposition_skips=1.0, freeze_quantity=10), "freeze quantity"),
        (Quirks(closing_orders_rest=1), "resting unfilled"),
    ],
    ids=["t-plus-one-cnc", "freeze-quantity", "closer-rests"],
)
def test_positions_that_will_not_close_are_listed_with_the_brokers_reason_never_flat(
    quirks: Quirks,
    reason: str,
    env: dict[str, str],
) -> None:
    with Simulator(orders=4, positions=5, mode="live", seed=3, quirks=quirks) as sim:
        result = cli(
            "cancel-all",
            "--host",
            sim.url,
            "--flatten",
            "--json",
            env={**env, "OPENALGO_API_KEY": sim.apikey},
        )
        still_open = {(p["symbol"], p["product"]) for p in sim.open_positions()}
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "positions_remain"
    left = {(p["symbol"], p["product"]): p["reason"] for p in report["positions_remaining"]}
    assert set(left) == still_open and still_open
    assert any(reason in why for why in left.values()), left


def test_positions_are_not_touched_until_the_orders_are_verified_flat(env: dict[str, str]) -> None:
    with Simulator(orders=4, positions=3, mode="live", seed=3, quirks=Quirks(semi_auto=True)) as sim:
        result = cli(
            "cancel-all",
            "--host",
            sim.url,
            "--flatten",
            "--json",
            env={**env, "OPENALGO_API_KEY": sim.apikey},
        )
        assert len(sim.open_positions()) == 3
        assert sim.stats.requests.get("closeposition", 0) == 0
    report = json.loads(result.stdout)
    assert report["verdict"] == "refused" and report["flatten"] is None
    assert "not verified flat" in report["flatten_skipped"]
    assert len(report["positions_remaining"]) == 3


def test_a_positions_close_order_always_asks_for_quantity_0() -> None:
    # With a non-zero quantity, a broker module that finds the position already flat places a
    # fresh order with it -- opening the very position the kill is closing.
    sent: list[dict[str, Any]] = []

    def server(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"status": "success", "message": "Positions Already Matched."})

    with make_http_client(transport=httpx.MockTransport(server)) as http:
        OpenAlgoClient("http://127.0.0.1:5000", KEY, http).close_position(Position("SBIN", "NSE", "MIS", -25))
    [body] = sent
    assert body["quantity"] == 0 and body["position_size"] == 0 and body["action"] == "BUY"


def test_the_guard_holds_the_account_flat_against_a_runaway_strategy(env: dict[str, str]) -> None:
    with Simulator(orders=5, seed=4, runaway_rate=2.0) as sim:
        most = [0]
        stop = threading.Event()

        def sample() -> None:  # what is working at the server, every 10 ms, all along
            while not stop.wait(0.01):
                most[0] = max(most[0], len(sim.working_orders()))

        sampler = threading.Thread(target=sample, daemon=True)
        started = time.monotonic()
        proc = start_cli(
            "cancel-all",
            "--host",
            sim.url,
            "--guard",
            "8",
            "--json",
            env={**env, "OPENALGO_API_KEY": sim.apikey},
        )
        wait_for_requests(proc, sim, "cancelallorder")
        wait_for_requests(proc, sim, "orderbook", count=2)  # the kill's own reads are done
        sampler.start()
        out, err = proc.communicate(timeout=60)
        stop.set()
        took = time.monotonic() - started
    assert proc.returncode == 0, err
    report = json.loads(out)
    guard = report["guard"]
    assert report["verdict"] == "flat" and guard["outcome"] == "flat"
    assert len(guard["caught"]) >= 10, guard
    assert most[0] <= 2, f"{most[0]} orders were working at once during the guard"
    assert guard["max_working_seen"] <= 2 and guard["seconds"] == 8
    assert 8 <= took < 20


def test_halt_switches_a_flat_live_server_to_analyze_and_reads_it_back(env: dict[str, str]) -> None:
    with Simulator(orders=3, mode="live", seed=5, apikey=KEY) as sim:
        result = cli(
            "cancel-all", "--host", sim.url, "--halt", "--json", env={**env, "OPENALGO_API_KEY": KEY}
        )
        mode = post(sim.url, "analyzer")["data"]["mode"]
        placed = post(
            sim.url, "placeorder", strategy="webhook", symbol="SBIN", exchange="NSE", action="BUY",
            quantity=1, pricetype="LIMIT", product="CNC", price=700,
        )  # fmt: skip
        in_sandbox = [o["orderid"] for o in sim.working_orders(book="analyze")]
        in_live = [o["orderid"] for o in sim.working_orders(book="live")]
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["halted"] is True and report["halt"]["mode_after"] == "analyze"
    assert mode == "analyze"
    assert placed["orderid"] in in_sandbox and placed["orderid"] not in in_live


def test_halt_is_not_switched_on_an_analyze_server_nor_an_account_that_is_not_flat(
    env: dict[str, str],
) -> None:
    with Simulator(orders=2, mode="analyze", apikey=KEY) as sim:
        analyze = json.loads(
            cli(
                "cancel-all", "--host", sim.url, "--halt", "--json", env={**env, "OPENALGO_API_KEY": KEY}
            ).stdout
        )
    with Simulator(orders=2, mode="live", apikey=KEY, quirks=Quirks(semi_auto=True)) as sim:
        refused = json.loads(
            cli(
                "cancel-all", "--host", sim.url, "--halt", "--json", env={**env, "OPENALGO_API_KEY": KEY}
            ).stdout
        )
        assert post(sim.url, "analyzer")["data"]["mode"] == "live"
    assert analyze["halted"] is False and "analyze mode" in analyze["halt"]["reason"]
    assert refused["halted"] is False and "not verified flat" in refused["halt"]["reason"]


def test_a_guard_too_short_or_long_is_a_usage_error(env: dict[str, str]) -> None:
    for seconds in ("-1", "0.5", "99999"):
        result = cli(
            "cancel-all",
            "--host",
            "http://127.0.0.1:9",
            "--guard",
            seconds,
            env={**env, "OPENALGO_API_KEY": KEY},
        )
        assert result.returncode == 2 and "--guard" in result.stderr
