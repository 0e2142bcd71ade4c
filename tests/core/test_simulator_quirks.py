"""Each broker and network quirk of the simulator, switched on per run or at run time."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
import pytest

from core.simulator import FAILURE_SHAPES, FailureShape, Quirks, Simulator
from tests.core.sim_http import NO_TLS, call


def cancel_all(client: httpx.Client, sim: Simulator) -> dict[str, Any]:
    response = call(client, sim, "cancelallorder", strategy="ks")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def test_every_quirk_is_off_by_default() -> None:
    quirks = Quirks()
    assert not any(
        [
            quirks.canceled_all_marker,
            quirks.fail_in_transit,
            quirks.already_executed,
            quirks.cancelall_skips_pricetypes,
            quirks.cancelall_skips_statuses,
            quirks.broken_cancelall_book,
            quirks.semi_auto,
            quirks.reply_delay_s,
            quirks.endpoint_delay_s,
            quirks.cancelall_per_order_s,
            quirks.drop_connection,
            quirks.lose_reply,
            quirks.html_error,
            quirks.gateway_after_work,
            quirks.empty_reply,
            quirks.broker_error,
            quirks.ip_banned,
            quirks.numbers_as_strings,
            quirks.status_words,
            quirks.market_closed,
            quirks.semi_auto_blocks_toggle,
            quirks.closeposition_skips,
            quirks.closing_orders_rest,
            quirks.cnc_bought_today_unsellable,
            quirks.freeze_quantity,
            quirks.idle_close_s,
            quirks.hang,
            quirks.orderbook_omits,
            quirks.orderbook_shape,
        ]
    )
    assert (quirks.api_rate_limit, quirks.order_rate_limit, quirks.smart_order_rate_limit) == (50, 10, 10)


# ---- how failures are reported -----------------------------------------------------------------

EXPECTED_FAILURE = {
    "bare": lambda orderid: orderid,
    "orderid_message": lambda orderid: {"orderid": orderid, "message": "Order already executed"},
    "orderid_reason": lambda orderid: {"orderid": orderid, "reason": "Order already executed"},
    "order_id_message": lambda orderid: {
        "order_id": orderid,
        "message": "Order already executed",
        "status": "error",
    },
    "orderId_error": lambda orderid: {"orderId": orderid, "error": "Order already executed"},
}


@pytest.mark.parametrize("shape", FAILURE_SHAPES)
def test_failed_cancellations_take_the_brokers_shape(
    shape: FailureShape, sim: Simulator, client: httpx.Client
) -> None:
    victim = sim.place_order(symbol="SBIN")
    sim.quirks.failure_shape = shape
    sim.quirks.already_executed = {victim}
    body = cancel_all(client, sim)
    assert body["failed_cancellations"] == [EXPECTED_FAILURE[shape](victim)]
    assert body["message"] == "Canceled 0 orders. Failed to cancel 1 orders."


def test_a_broker_may_report_canceled_orders_as_all(sim: Simulator, client: httpx.Client) -> None:
    sim.add_random_orders(3)
    sim.quirks.canceled_all_marker = True
    body = cancel_all(client, sim)
    assert body["canceled_orders"] == ["all"]
    assert body["message"] == "Canceled 1 orders. Failed to cancel 0 orders."
    assert sim.working_orders() == []


# ---- orders that do not cancel the first time --------------------------------------------------


def test_an_order_in_transit_fails_then_cancels_on_a_later_attempt(
    sim: Simulator, client: httpx.Client
) -> None:
    victim = sim.place_order(symbol="SBIN")
    sim.quirks.fail_in_transit = {victim}
    sim.quirks.in_transit_attempts = 2
    first, second, third = (cancel_all(client, sim) for _ in range(3))
    assert first["failed_cancellations"] == [{"orderid": victim, "message": "Order is in transit"}]
    assert second["failed_cancellations"] == [{"orderid": victim, "message": "Order is in transit"}]
    assert third["canceled_orders"] == [victim]


def test_a_mapping_gives_each_order_its_own_number_of_transit_failures(
    sim: Simulator, client: httpx.Client
) -> None:
    once, twice = sim.place_order(symbol="SBIN"), sim.place_order(symbol="INFY")
    sim.quirks.fail_in_transit = {once: 1, twice: 2}
    first, second = cancel_all(client, sim), cancel_all(client, sim)
    assert len(first["failed_cancellations"]) == 2
    assert second["canceled_orders"] == [once]
    assert [item["orderid"] for item in second["failed_cancellations"]] == [twice]


def test_in_transit_applies_to_cancelorder_too(sim: Simulator, client: httpx.Client) -> None:
    victim = sim.place_order(symbol="SBIN")
    sim.quirks.fail_in_transit = {victim}
    first = call(client, sim, "cancelorder", strategy="ks", orderid=victim)
    second = call(client, sim, "cancelorder", strategy="ks", orderid=victim)
    assert first.status_code == 400
    assert first.json() == {"status": "error", "message": "Order is in transit", "mode": "analyze"}
    assert second.status_code == 200


def test_a_count_of_in_transit_orders_picks_the_oldest(sim: Simulator, client: httpx.Client) -> None:
    oldest = sim.add_random_orders(5)[:2]
    sim.quirks.fail_in_transit = 2
    body = cancel_all(client, sim)
    assert sorted(item["orderid"] for item in body["failed_cancellations"]) == sorted(oldest)
    assert len(body["canceled_orders"]) == 3


def test_a_fraction_of_in_transit_orders_is_picked_at_random(sim: Simulator, client: httpx.Client) -> None:
    sim.add_random_orders(10)
    sim.quirks.fail_in_transit = 0.3
    body = cancel_all(client, sim)
    assert len(body["failed_cancellations"]) == 3
    assert len(sim.working_orders()) == 3
    assert cancel_all(client, sim)["message"] == "Canceled 3 orders. Failed to cancel 0 orders."


def test_an_already_executed_order_becomes_complete(sim: Simulator, client: httpx.Client) -> None:
    victim = sim.place_order(symbol="TCS", price=3100.0, quantity=2)
    sim.quirks.already_executed = {victim}
    response = call(client, sim, "cancelorder", strategy="ks", orderid=victim)
    assert response.status_code == 400
    assert response.json()["message"] == "Order already executed"
    order = sim.all_orders()[0]
    assert (order["order_status"], order["filled_quantity"], order["average_price"]) == (
        "complete",
        2,
        3100.0,
    )
    assert sim.positions()[0]["quantity"] == 2


# ---- cancel-all that does less than it says ----------------------------------------------------


def test_cancel_all_can_silently_skip_a_price_type(sim: Simulator, client: httpx.Client) -> None:
    skipped = sim.place_order(symbol="SBIN", pricetype="SL-M", action="SELL")
    cancelled = sim.place_order(symbol="SBIN")
    sim.quirks.cancelall_skips_pricetypes = {"SL-M"}
    body = cancel_all(client, sim)
    assert body["canceled_orders"] == [cancelled]
    assert body["failed_cancellations"] == []
    assert [o["orderid"] for o in sim.working_orders()] == [skipped]


def test_cancel_all_can_silently_skip_a_status(sim: Simulator, client: httpx.Client) -> None:
    skipped = sim.place_order(symbol="SBIN", pricetype="SL", action="BUY")
    sim.place_order(symbol="SBIN")
    sim.quirks.cancelall_skips_statuses = {"trigger pending"}
    body = cancel_all(client, sim)
    assert len(body["canceled_orders"]) == 1
    assert [o["orderid"] for o in sim.working_orders()] == [skipped]


def test_a_skipped_order_still_cancels_one_by_one(sim: Simulator, client: httpx.Client) -> None:
    skipped = sim.place_order(symbol="SBIN", pricetype="SL-M")
    sim.quirks.cancelall_skips_pricetypes = {"SL-M"}
    assert call(client, sim, "cancelorder", strategy="ks", orderid=skipped).status_code == 200


def test_a_broken_book_fetch_answers_200_and_cancels_nothing(sim: Simulator, client: httpx.Client) -> None:
    sim.add_random_orders(4)
    sim.quirks.broken_cancelall_book = True
    body = cancel_all(client, sim)
    assert body == {
        "status": "success",
        "message": "Canceled 0 orders. Failed to cancel 0 orders.",
        "canceled_orders": [],
        "failed_cancellations": [],
        "mode": "analyze",
    }
    assert len(sim.working_orders()) == 4


# ---- Semi-Auto ---------------------------------------------------------------------------------

SEMI_AUTO = {
    "cancelallorder": (
        {"strategy": "ks"},
        "Cancel all orders operation is not allowed in Semi-Auto mode."
        " Please switch to Auto mode to cancel orders.",
    ),
    "cancelorder": (
        {"strategy": "ks", "orderid": "26112500000001"},
        "Cancel order operation is not allowed in Semi-Auto mode."
        " Please switch to Auto mode to cancel orders.",
    ),
    "closeposition": (
        {"strategy": "ks"},
        "Close position operation is not allowed in Semi-Auto mode."
        " Please switch to Auto mode to close positions.",
    ),
}


@pytest.mark.parametrize("endpoint", list(SEMI_AUTO))
def test_semi_auto_refuses_cancels_in_live_mode(endpoint: str, sim: Simulator, client: httpx.Client) -> None:
    sim.add_random_orders(2)
    sim.set_mode("live")
    sim.quirks.semi_auto = True
    fields, sentence = SEMI_AUTO[endpoint]
    response = call(client, sim, endpoint, **fields)
    assert response.status_code == 403
    assert response.json() == {"status": "error", "message": sentence}
    assert len(sim.working_orders()) == 2


def test_semi_auto_does_not_apply_in_analyze_mode(sim: Simulator, client: httpx.Client) -> None:
    sim.add_random_orders(2)
    sim.quirks.semi_auto = True
    assert len(cancel_all(client, sim)["canceled_orders"]) == 2


def test_semi_auto_still_answers_a_wrong_key_as_a_wrong_key(sim: Simulator, client: httpx.Client) -> None:
    sim.set_mode("live")
    sim.quirks.semi_auto = True
    response = client.post("/api/v1/cancelallorder", json={"apikey": "0" * 64, "strategy": "ks"})
    assert response.json()["message"] == "Invalid openalgo apikey"


# ---- slowness ----------------------------------------------------------------------------------


def test_a_reply_delay_holds_every_answer_back(sim: Simulator, client: httpx.Client) -> None:
    sim.quirks.reply_delay_s = 0.15
    started = time.perf_counter()
    call(client, sim, "ping")
    assert time.perf_counter() - started >= 0.15


def test_an_endpoint_delay_slows_only_that_endpoint(sim: Simulator, client: httpx.Client) -> None:
    sim.quirks.endpoint_delay_s = {"orderbook": 0.2}
    started = time.perf_counter()
    call(client, sim, "ping")
    ping_s = time.perf_counter() - started
    started = time.perf_counter()
    call(client, sim, "orderbook")
    orderbook_s = time.perf_counter() - started
    assert orderbook_s >= 0.2 > ping_s


def test_a_delayed_reply_comes_after_the_work_is_done(sim: Simulator, client: httpx.Client) -> None:
    sim.add_random_orders(3)
    sim.quirks.reply_delay_s = 5.0
    with pytest.raises(httpx.ReadTimeout):
        client.post(
            "/api/v1/cancelallorder",
            json={"apikey": sim.apikey, "strategy": "ks"},
            timeout=httpx.Timeout(0.2),
        )
    assert sim.working_orders() == []


def test_cancel_all_cancels_one_order_at_a_time(sim: Simulator) -> None:
    sim.add_random_orders(10)
    sim.quirks.cancelall_per_order_s = 0.03
    seen: list[int] = []

    def cancel_all_in_background() -> None:
        with httpx.Client(base_url=sim.url, timeout=5.0, verify=NO_TLS) as http:
            cancel_all(http, sim)

    worker = threading.Thread(target=cancel_all_in_background)
    started = time.perf_counter()
    worker.start()
    while worker.is_alive():
        seen.append(len(sim.working_orders()))
        time.sleep(0.01)
    worker.join()
    assert time.perf_counter() - started >= 0.3
    assert any(0 < left < 10 for left in seen), "the book should empty gradually"
    assert sim.working_orders() == []


# ---- a broken path to the server ---------------------------------------------------------------


def test_a_dropped_connection_gets_no_reply_and_changes_nothing(sim: Simulator, client: httpx.Client) -> None:
    sim.add_random_orders(2)
    sim.quirks.drop_connection = {"cancelallorder"}
    with pytest.raises(httpx.RemoteProtocolError):
        call(client, sim, "cancelallorder", strategy="ks")
    assert len(sim.working_orders()) == 2
    assert call(client, sim, "ping").status_code == 200


def test_a_proxy_error_is_an_nginx_html_page(sim: Simulator, client: httpx.Client) -> None:
    sim.quirks.html_error = {"orderbook"}
    response = call(client, sim, "orderbook")
    assert response.status_code == 502
    assert response.headers["Content-Type"] == "text/html"
    assert "<title>502 Bad Gateway</title>" in response.text
    assert call(client, sim, "ping").status_code == 200


def test_an_empty_reply_is_a_200_without_a_body(sim: Simulator, client: httpx.Client) -> None:
    sim.quirks.empty_reply = {"cancelallorder"}
    response = call(client, sim, "cancelallorder", strategy="ks")
    assert (response.status_code, response.content) == (200, b"")


def test_a_broker_failure_inside_cancel_all_is_a_500(sim: Simulator, client: httpx.Client) -> None:
    sim.add_random_orders(2)
    sim.quirks.broker_error = {"cancelallorder"}
    response = call(client, sim, "cancelallorder", strategy="ks")
    assert response.status_code == 500
    assert response.json() == {
        "status": "error",
        "message": "Failed to cancel all orders due to internal error",
    }
    assert len(sim.working_orders()) == 2


def test_a_banned_ip_gets_plain_text(sim: Simulator, client: httpx.Client) -> None:
    sim.quirks.ip_banned = True
    response = call(client, sim, "ping")
    assert response.status_code == 403
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.text == "Access Denied: Your IP has been banned"


# ---- leaky order books -------------------------------------------------------------------------


def test_orderbook_numbers_can_arrive_as_strings(sim: Simulator, client: httpx.Client) -> None:
    sim.place_order(symbol="SBIN", price=940.5, quantity=3)
    sim.quirks.numbers_as_strings = True
    row = call(client, sim, "orderbook").json()["data"]["orders"][0]
    assert (row["quantity"], row["price"], row["trigger_price"]) == ("3", "940.5", "0.0")


def test_orderbook_can_leak_the_brokers_status_words(sim: Simulator, client: httpx.Client) -> None:
    sim.place_order(symbol="SBIN")
    sim.place_order(symbol="SBIN", pricetype="SL")
    sim.quirks.status_words = {"open": "PENDING", "trigger pending": "trigger_pending"}
    rows = call(client, sim, "orderbook").json()["data"]["orders"]
    assert [row["order_status"] for row in rows] == ["trigger_pending", "PENDING"]
    assert sim.working_orders()[0]["order_status"] == "open"
    assert len(cancel_all(client, sim)["canceled_orders"]) == 2


def test_a_closed_market_refuses_mis_and_market_orders(sim: Simulator, client: httpx.Client) -> None:
    sim.quirks.market_closed = True
    order = {"strategy": "ks", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1}
    mis = call(client, sim, "placeorder", **order, pricetype="LIMIT", price=900, product="MIS")
    market = call(client, sim, "placeorder", **order, pricetype="MARKET", product="CNC")
    limit = call(client, sim, "placeorder", **order, pricetype="LIMIT", price=900, product="CNC")
    assert mis.status_code == market.status_code == 400
    assert "square-off time (15:15 IST)" in mis.json()["message"]
    assert "unable to fetch current price" in market.json()["message"]
    assert limit.status_code == 200


# ---- the broker's RMS ---------------------------------------------------------------------------

LIMIT_BUY = {
    "strategy": "ks",
    "symbol": "SBIN",
    "exchange": "NSE",
    "action": "BUY",
    "pricetype": "LIMIT",
    "price": 900,
    "product": "MIS",
}


def test_the_sandbox_answers_an_order_above_the_freeze_limit_as_an_error_naming_it(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.quirks.freeze_quantity = 100
    response = call(client, sim, "placeorder", **LIMIT_BUY, quantity=101)
    assert response.status_code == 400
    [order] = sim.all_orders()
    assert response.json() == {
        "status": "error",
        "orderid": order["orderid"],
        "message": "RMS:Rule: Check freeze quantity for NSE CASH",
        "mode": "analyze",
    }
    assert (order["order_status"], order["rejection_reason"]) == (
        "rejected",
        "RMS:Rule: Check freeze quantity for NSE CASH",
    )
    assert call(client, sim, "placeorder", **LIMIT_BUY, quantity=100).status_code == 200


def test_live_accepts_an_order_above_the_freeze_limit_and_the_book_shows_it_rejected(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.set_mode("live")
    sim.quirks.freeze_quantity = 100
    response = call(client, sim, "placeorder", **LIMIT_BUY, quantity=101)
    [order] = call(client, sim, "orderbook").json()["data"]["orders"]
    assert response.json() == {"status": "success", "orderid": order["orderid"]}
    assert order["order_status"] == "rejected"
    assert sim.working_orders() == []


# ---- switching -------------------------------------------------------------------------------


def test_quirks_given_at_construction_apply_from_the_first_request() -> None:
    with (
        Simulator(quirks=Quirks(html_error=frozenset({"ping"}))) as sim,
        httpx.Client(base_url=sim.url, verify=NO_TLS) as client,
    ):
        assert call(client, sim, "ping").status_code == 502


def test_a_new_quirks_object_can_replace_the_old_one_at_run_time(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.quirks = Quirks(ip_banned=True)
    assert call(client, sim, "ping").status_code == 403
    sim.quirks = Quirks()
    assert call(client, sim, "ping").status_code == 200
