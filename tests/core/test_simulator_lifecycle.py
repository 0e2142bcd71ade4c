"""Starting and stopping the simulator: quick, leak-free, and the demo stops with it."""

from __future__ import annotations

import re
import threading
import time

import httpx
import pytest

from core.simulator import Quirks, Simulator

NO_TLS = False
"""Plain HTTP on loopback: skip loading the CA bundle, which costs ~100 ms per client."""


def simulator_threads() -> list[str]:
    return [thread.name for thread in threading.enumerate() if thread.name.startswith("openalgo-sim")]


def test_start_serves_on_a_loopback_url_without_a_trailing_slash() -> None:
    with Simulator() as sim:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", sim.url)


def test_start_returns_the_simulator_itself() -> None:
    sim = Simulator()
    try:
        assert sim.start() is sim
        assert sim.start() is sim
    finally:
        sim.stop()


def test_the_default_key_is_64_hex_digits_and_new_each_time() -> None:
    first, second = Simulator().apikey, Simulator().apikey
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert first != second


def test_stop_leaves_no_simulator_thread_alive_even_with_a_connection_open() -> None:
    sim = Simulator(demo=True).start()
    with httpx.Client(base_url=sim.url, timeout=5.0, verify=NO_TLS) as client:
        client.post("/api/v1/ping", json={"apikey": sim.apikey})
        assert simulator_threads()
        started = time.perf_counter()
        sim.stop()
        stopped_in = time.perf_counter() - started
    assert simulator_threads() == []
    assert stopped_in < 1.0


def test_stop_cuts_a_delayed_reply_short() -> None:
    sim = Simulator(quirks=Quirks(reply_delay_s=30.0)).start()
    failures: list[Exception] = []

    def wait_for_the_reply() -> None:
        with httpx.Client(base_url=sim.url, timeout=10.0, verify=NO_TLS) as client:
            try:
                client.post("/api/v1/ping", json={"apikey": sim.apikey})
            except httpx.HTTPError as error:
                failures.append(error)

    waiter = threading.Thread(target=wait_for_the_reply)
    waiter.start()
    while not sim.stats.requests.get("ping"):
        time.sleep(0.005)
    started = time.perf_counter()
    sim.stop()
    assert time.perf_counter() - started < 1.0
    waiter.join(5.0)
    assert not waiter.is_alive()
    assert simulator_threads() == []


def test_the_port_is_released_after_stop() -> None:
    sim = Simulator().start()
    port = sim.port
    sim.stop()
    with Simulator(port=port) as again:
        assert again.port == port


def test_a_stopped_server_refuses_connections_at_the_same_url() -> None:
    sim = Simulator().start()
    sim.stop()
    with httpx.Client(verify=NO_TLS) as client, pytest.raises(httpx.ConnectError):
        client.post(f"{sim.url}/api/v1/ping", json={})


def test_stop_is_safe_twice_and_before_start() -> None:
    never_started = Simulator()
    never_started.stop()
    sim = Simulator().start()
    sim.stop()
    sim.stop()


def test_a_stopped_simulator_does_not_start_again() -> None:
    sim = Simulator().start()
    sim.stop()
    with pytest.raises(RuntimeError):
        sim.start()


def test_the_url_needs_a_started_server() -> None:
    with pytest.raises(RuntimeError):
        _ = Simulator().url


def test_the_demo_keeps_orders_arriving_until_stopped() -> None:
    sim = Simulator(orders=3, demo=True, seed=8)
    sim.demo_interval_s = 0.02
    before = len(sim.all_orders())
    with sim:
        deadline = time.perf_counter() + 2.0
        while len(sim.all_orders()) < before + 3 and time.perf_counter() < deadline:
            time.sleep(0.01)
    after_stop = len(sim.all_orders())
    time.sleep(0.1)
    assert after_stop >= before + 3
    assert len(sim.all_orders()) == after_stop


def test_the_demo_book_mixes_finished_orders_with_working_ones() -> None:
    sim = Simulator(orders=9, demo=True, seed=4)
    statuses = {order["order_status"] for order in sim.all_orders()}
    assert len(sim.working_orders()) == 9
    assert statuses - {"open", "trigger pending"}


def test_a_demo_step_now_and_then_fills_an_order() -> None:
    sim = Simulator(orders=5, seed=1)
    for _ in range(30):
        sim.demo_step()
    assert any(order["order_status"] == "complete" for order in sim.all_orders())
    assert sim.positions()


def test_on_request_sees_each_request_before_it_is_processed() -> None:
    seen: list[tuple[str, float, int]] = []
    with Simulator(orders=2) as sim, httpx.Client(base_url=sim.url, verify=NO_TLS) as client:
        sim.on_request = lambda endpoint, at: seen.append((endpoint, at, len(sim.working_orders())))
        sent = time.perf_counter()
        client.post("/api/v1/cancelallorder", json={"apikey": sim.apikey, "strategy": "ks"})
        answered = time.perf_counter()
    [(endpoint, at, working_then)] = seen
    assert endpoint == "cancelallorder"
    assert sent < at < answered
    assert working_then == 2


def test_a_failing_on_request_hook_does_not_break_the_server(caplog: pytest.LogCaptureFixture) -> None:
    def broken(endpoint: str, at: float) -> None:
        raise RuntimeError("hook bug")

    with Simulator() as sim, httpx.Client(base_url=sim.url, verify=NO_TLS) as client:
        sim.on_request = broken
        assert client.post("/api/v1/ping", json={"apikey": sim.apikey}).status_code == 200
    assert "on_request hook failed" in caplog.text
