"""The simulator's rate limits: per client IP, per endpoint, a moving one-second window."""

from __future__ import annotations

import sys
import time
from typing import Any

import httpx
import pytest

from core.simulator import Quirks, Simulator
from tests.core.sim_http import NO_TLS, call


def statuses(client: httpx.Client, sim: Simulator, endpoint: str, count: int, **fields: Any) -> list[int]:
    return [call(client, sim, endpoint, **fields).status_code for _ in range(count)]


def test_the_51st_orderbook_request_in_a_second_is_refused(sim: Simulator, client: httpx.Client) -> None:
    codes = statuses(client, sim, "orderbook", 51)
    assert codes == [200] * 50 + [429]


def test_the_refusal_is_the_bare_limit_sentence(sim: Simulator, client: httpx.Client) -> None:
    statuses(client, sim, "ping", 50)
    response = call(client, sim, "ping")
    assert response.json() == {"message": "50 per 1 second"}
    assert "Retry-After" not in response.headers


def test_the_11th_cancelorder_in_a_second_is_refused(sim: Simulator, client: httpx.Client) -> None:
    codes = statuses(client, sim, "cancelorder", 11, strategy="ks", orderid="26112500000000")
    assert codes == [404] * 10 + [429]
    assert call(client, sim, "cancelorder", strategy="ks", orderid="1").json() == {
        "message": "10 per 1 second"
    }


def test_placeorder_shares_the_order_limit_but_not_the_bucket(sim: Simulator, client: httpx.Client) -> None:
    order = {"strategy": "ks", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1}
    order |= {"pricetype": "LIMIT", "price": 900, "product": "CNC"}
    assert statuses(client, sim, "placeorder", 11, **order)[-1] == 429
    assert call(client, sim, "cancelorder", strategy="ks", orderid="1").status_code == 404


def test_each_endpoint_has_its_own_bucket(sim: Simulator, client: httpx.Client) -> None:
    statuses(client, sim, "orderbook", 50)
    assert call(client, sim, "orderbook").status_code == 429
    assert call(client, sim, "cancelallorder", strategy="ks").status_code == 200


def test_the_window_moves_so_a_second_later_requests_pass_again() -> None:
    with (
        Simulator(quirks=Quirks(api_rate_limit=5)) as sim,
        httpx.Client(base_url=sim.url, timeout=5.0, verify=NO_TLS) as client,
    ):
        assert statuses(client, sim, "ping", 6)[-1] == 429
        time.sleep(1.05)
        assert statuses(client, sim, "ping", 5) == [200] * 5


def test_refused_requests_do_not_use_up_the_next_window() -> None:
    with (
        Simulator(quirks=Quirks(api_rate_limit=3)) as sim,
        httpx.Client(base_url=sim.url, timeout=5.0, verify=NO_TLS) as client,
    ):
        statuses(client, sim, "ping", 3)
        last_accepted = time.perf_counter()
        time.sleep(0.5)
        assert statuses(client, sim, "ping", 10) == [429] * 10
        time.sleep(max(0.0, last_accepted + 1.05 - time.perf_counter()))
        assert statuses(client, sim, "ping", 3) == [200] * 3


def test_bad_requests_count_against_the_limit(sim: Simulator, client: httpx.Client) -> None:
    sim.quirks.api_rate_limit = 3
    bad = [client.post("/api/v1/ping", json={"wrong": 1}).status_code for _ in range(3)]
    assert bad == [400] * 3
    assert call(client, sim, "ping").status_code == 429


def test_the_limits_can_be_changed_at_run_time(sim: Simulator, client: httpx.Client) -> None:
    sim.quirks.order_rate_limit = 2
    codes = statuses(client, sim, "cancelorder", 3, strategy="ks", orderid="1")
    assert codes == [404, 404, 429]


@pytest.mark.skipif(sys.platform != "linux", reason="only Linux answers on all of 127.0.0.0/8 by default")
def test_each_client_ip_has_its_own_window(sim: Simulator, client: httpx.Client) -> None:
    statuses(client, sim, "ping", 50)
    assert call(client, sim, "ping").status_code == 429
    other_ip = httpx.HTTPTransport(local_address="127.0.0.2", verify=NO_TLS)
    with httpx.Client(base_url=sim.url, transport=other_ip, timeout=5.0) as other:
        assert call(other, sim, "ping").status_code == 200


def test_stats_show_the_busiest_second_of_an_endpoint(sim: Simulator, client: httpx.Client) -> None:
    statuses(client, sim, "orderbook", 60)
    assert sim.stats.max_in_window("orderbook") == 60
    assert sim.stats.responses[("orderbook", 200)] == 50
    assert sim.stats.responses[("orderbook", 429)] == 10


def test_rate_limits_can_be_reset_between_steps_of_a_test(sim: Simulator, client: httpx.Client) -> None:
    statuses(client, sim, "ping", 50)
    sim.reset_rate_limits()
    assert call(client, sim, "ping").status_code == 200
