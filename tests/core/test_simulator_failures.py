"""Servers that fail without saying so: an incomplete or unreadable order book, a request never
answered, a kept-alive connection closed while it sat idle."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import httpx
import pytest

from core.simulator import ORDERBOOK_SHAPES, OrderbookShape, Quirks, Simulator
from tests.core.sim_http import NO_TLS, call


def orderbook(client: httpx.Client, sim: Simulator) -> dict[str, Any]:
    response = call(client, sim, "orderbook")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


# ---- an incomplete order book ------------------------------------------------------------------


def test_the_orderbook_can_leave_orders_out_while_its_statistics_count_them(
    sim: Simulator, client: httpx.Client
) -> None:
    hidden, shown = sim.place_order(symbol="SBIN"), sim.place_order(symbol="INFY")
    sim.quirks.orderbook_omits = {hidden}
    data = orderbook(client, sim)["data"]
    assert [row["orderid"] for row in data["orders"]] == [shown]
    assert data["statistics"]["total_open_orders"] == 2


def test_an_omitted_order_still_cancels(sim: Simulator, client: httpx.Client) -> None:
    hidden = sim.place_order(symbol="SBIN")
    sim.quirks.orderbook_omits = 1
    assert orderbook(client, sim)["data"]["orders"] == []
    assert call(client, sim, "cancelallorder", strategy="ks").json()["canceled_orders"] == [hidden]


def test_a_fraction_of_omitted_orders_is_picked_once(sim: Simulator, client: httpx.Client) -> None:
    sim.add_random_orders(10)
    sim.quirks.orderbook_omits = 0.3
    first, second = orderbook(client, sim), orderbook(client, sim)
    assert len(first["data"]["orders"]) == 7
    assert first["data"]["orders"] == second["data"]["orders"]


# ---- an unreadable order book ------------------------------------------------------------------


@pytest.mark.parametrize("shape", ORDERBOOK_SHAPES)
def test_the_orderbook_can_answer_success_without_a_readable_list(
    shape: OrderbookShape, sim: Simulator, client: httpx.Client
) -> None:
    sim.place_order(symbol="SBIN")
    readable = orderbook(client, sim)["data"]
    rows, statistics = readable["orders"], readable["statistics"]
    sim.quirks.orderbook_shape = shape
    expected: dict[OrderbookShape, dict[str, Any]] = {
        "no_data": {},
        "data_null": {"data": None},
        "data_empty_dict": {"data": {}},
        "orders_null": {"data": {"orders": None, "statistics": statistics}},
        "orders_other_key": {"data": {"order_list": rows, "statistics": statistics}},
        "orders_empty": {"data": {"orders": [], "statistics": statistics}},
    }
    assert orderbook(client, sim) == {"status": "success", "mode": "analyze", **expected[shape]}
    assert len(sim.working_orders()) == 1


def test_an_unreadable_orderbook_has_no_mode_key_in_live_mode(sim: Simulator, client: httpx.Client) -> None:
    sim.set_mode("live")
    sim.quirks.orderbook_shape = "no_data"
    assert orderbook(client, sim) == {"status": "success"}


# ---- a request never answered ------------------------------------------------------------------


def test_a_hung_endpoint_never_answers_and_does_nothing(sim: Simulator, client: httpx.Client) -> None:
    sim.add_random_orders(2)
    sim.quirks.hang = {"cancelallorder"}
    with pytest.raises(httpx.ReadTimeout):
        client.post(
            "/api/v1/cancelallorder",
            json={"apikey": sim.apikey, "strategy": "ks"},
            timeout=httpx.Timeout(0.3),
        )
    assert len(sim.working_orders()) == 2
    assert sim.stats.requests["cancelallorder"] == 1
    assert call(client, sim, "ping").status_code == 200


def test_stop_ends_a_hung_request_promptly() -> None:
    sim = Simulator(quirks=Quirks(hang=frozenset({"orderbook"}))).start()
    failures: list[Exception] = []

    def wait_for_the_reply() -> None:
        with httpx.Client(base_url=sim.url, timeout=10.0, verify=NO_TLS) as http:
            try:
                call(http, sim, "orderbook")
            except httpx.HTTPError as exc:
                failures.append(exc)

    waiter = threading.Thread(target=wait_for_the_reply)
    waiter.start()
    while sim.stats.requests.get("orderbook", 0) == 0:
        time.sleep(0.01)
    started = time.perf_counter()
    sim.stop()
    waiter.join(5.0)
    assert time.perf_counter() - started < 1.0
    assert not waiter.is_alive()
    assert len(failures) == 1


# ---- an idle connection closed by the far end --------------------------------------------------


def read_reply(sock: socket.socket) -> bytes:
    """One HTTP reply off a kept-alive socket: the head, then as many body bytes as it announces."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += sock.recv(65536)
    return head


def test_an_idle_kept_alive_connection_is_closed_by_the_server(sim: Simulator) -> None:
    sim.quirks.idle_close_s = 0.2
    body = f'{{"apikey": "{sim.apikey}"}}'
    request = (
        "POST /api/v1/ping HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n{body}"
    )
    with socket.create_connection((sim.host, sim.port), timeout=5.0) as sock:
        sock.sendall(request.encode())
        head = read_reply(sock)
        assert head.startswith(b"HTTP/1.1 200")
        assert b"Connection: close" not in head
        started = time.perf_counter()
        assert sock.recv(65536) == b"", "the server should close the idle connection"
        assert 0.15 < time.perf_counter() - started < 2.0


def test_a_client_reconnects_after_its_idle_connection_was_closed(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.quirks.idle_close_s = 0.1
    assert call(client, sim, "ping").status_code == 200
    time.sleep(0.3)
    assert call(client, sim, "ping").status_code == 200
    assert sim.stats.connections == 2


def test_a_busy_connection_is_not_closed(sim: Simulator, client: httpx.Client) -> None:
    sim.quirks.idle_close_s = 0.5
    for _ in range(8):
        assert call(client, sim, "ping").status_code == 200
        time.sleep(0.1)
    assert sim.stats.connections == 1
