"""The simulator's endpoints over real HTTP on loopback: what a client sees in each mode."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from core.simulator import Simulator
from tests.core.sim_http import NO_TLS, call

# ---- the rules for every call ------------------------------------------------------------------


def test_get_is_answered_404_with_the_path(client: httpx.Client) -> None:
    response = client.get("/api/v1/orderbook")
    assert response.status_code == 404
    assert response.json() == {"status": "error", "message": "Not found", "path": "/api/v1/orderbook"}


def test_an_unknown_endpoint_is_answered_404(sim: Simulator, client: httpx.Client) -> None:
    response = call(client, sim, "nosuchthing")
    assert response.status_code == 404
    assert response.json()["path"] == "/api/v1/nosuchthing"


def test_a_trailing_slash_is_accepted(sim: Simulator, client: httpx.Client) -> None:
    response = client.post("/api/v1/ping/", json={"apikey": sim.apikey})
    assert response.status_code == 200


def test_a_body_without_json_content_type_is_an_internal_server_error(
    sim: Simulator, client: httpx.Client
) -> None:
    response = client.post("/api/v1/cancelallorder", content=f'{{"apikey": "{sim.apikey}"}}'.encode())
    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}


def test_a_json_content_type_with_charset_is_accepted(sim: Simulator, client: httpx.Client) -> None:
    body = f'{{"apikey": "{sim.apikey}"}}'.encode()
    response = client.post(
        "/api/v1/ping", content=body, headers={"Content-Type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 200


def test_an_empty_json_body_is_not_understood(client: httpx.Client) -> None:
    response = client.post("/api/v1/orderbook", content=b"", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert "could not understand" in response.json()["message"]


def test_a_json_string_body_is_an_internal_server_error(client: httpx.Client) -> None:
    response = client.post("/api/v1/orderbook", json="hello")
    assert response.status_code == 500


def test_a_chunked_body_is_read(sim: Simulator, client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"apikey": '
        yield f'"{sim.apikey}"}}'.encode()

    response = client.post("/api/v1/ping", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 200


def test_an_unknown_field_is_an_object_message_on_orderbook(sim: Simulator, client: httpx.Client) -> None:
    response = call(client, sim, "orderbook", strategy="ks")
    assert response.status_code == 400
    assert response.json() == {"status": "error", "message": {"strategy": ["Unknown field."]}}


def test_an_unknown_field_is_a_python_repr_string_on_cancelallorder(
    sim: Simulator, client: httpx.Client
) -> None:
    response = call(client, sim, "cancelallorder", strategy="ks", symbol="SBIN")
    assert response.status_code == 400
    assert response.json() == {
        "status": "error",
        "message": "{'symbol': ['Unknown field.']}",
        "mode": "analyze",
    }


def test_cancelallorder_requires_a_strategy(sim: Simulator, client: httpx.Client) -> None:
    response = call(client, sim, "cancelallorder")
    assert response.status_code == 400
    assert response.json()["message"] == "{'strategy': ['Missing data for required field.']}"


def test_several_validation_errors_come_in_schema_order(client: httpx.Client) -> None:
    response = client.post("/api/v1/cancelorder", json={"orderid": 5, "extra": 1})
    assert response.json()["message"] == (
        "{'apikey': ['Missing data for required field.'], 'strategy': ['Missing data for required field.'], "
        "'orderid': ['Not a valid string.'], 'extra': ['Unknown field.']}"
    )


def test_an_order_id_sent_as_a_number_is_refused(sim: Simulator, client: httpx.Client) -> None:
    orderid = sim.place_order(symbol="SBIN")
    response = call(client, sim, "cancelorder", strategy="ks", orderid=int(orderid))
    assert response.status_code == 400
    assert response.json()["message"] == "{'orderid': ['Not a valid string.']}"
    assert len(sim.working_orders()) == 1


def test_a_wrong_key_is_forbidden(client: httpx.Client) -> None:
    response = client.post("/api/v1/cancelallorder", json={"apikey": "0" * 64, "strategy": "ks"})
    assert response.status_code == 403
    assert response.json() == {"status": "error", "message": "Invalid openalgo apikey"}


def test_an_empty_key_on_orderbook_is_a_wrong_key_not_a_validation_error(client: httpx.Client) -> None:
    response = client.post("/api/v1/orderbook", json={"apikey": ""})
    assert response.status_code == 403


def test_replies_are_compact_json_with_sorted_keys(sim: Simulator, client: httpx.Client) -> None:
    response = call(client, sim, "ping")
    assert response.headers["Content-Type"] == "application/json"
    assert response.text == '{"data":{"broker":"zerodha","message":"pong"},"status":"success"}\n'


def test_a_given_key_is_the_one_accepted() -> None:
    with Simulator(apikey="my-key") as sim, httpx.Client(base_url=sim.url, verify=NO_TLS) as client:
        assert client.post("/api/v1/ping", json={"apikey": "my-key"}).status_code == 200


# ---- modes -------------------------------------------------------------------------------------


def test_analyze_mode_marks_success_bodies(sim: Simulator, client: httpx.Client) -> None:
    assert call(client, sim, "orderbook").json()["mode"] == "analyze"


def test_live_mode_success_bodies_have_no_mode_key(sim: Simulator, client: httpx.Client) -> None:
    sim.set_mode("live")
    sim.place_order(symbol="INFY")
    for endpoint, fields in [
        ("orderbook", {}),
        ("positionbook", {}),
        ("funds", {}),
        ("cancelallorder", {"strategy": "ks"}),
        ("closeposition", {"strategy": "ks"}),
    ]:
        body = call(client, sim, endpoint, **fields).json()
        assert body["status"] == "success"
        assert "mode" not in body, endpoint


def test_the_analyzer_tells_which_mode_is_on(sim: Simulator, client: httpx.Client) -> None:
    analyze = call(client, sim, "analyzer").json()["data"]
    sim.set_mode("live")
    live = call(client, sim, "analyzer").json()["data"]
    assert (analyze["mode"], analyze["analyze_mode"]) == ("analyze", True)
    assert (live["mode"], live["analyze_mode"]) == ("live", False)
    assert isinstance(live["total_logs"], int)


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="live"):
        Simulator(mode="paper")


def test_ping_answers_pong_from_zerodha(sim: Simulator, client: httpx.Client) -> None:
    assert call(client, sim, "ping").json() == {
        "status": "success",
        "data": {"message": "pong", "broker": "zerodha"},
    }


# ---- orderbook ---------------------------------------------------------------------------------


def test_the_orderbook_lists_every_order_newest_first_with_sandbox_fields(
    sim: Simulator, client: httpx.Client
) -> None:
    first = sim.place_order(symbol="SBIN", price=940.0, quantity=10)
    second = sim.place_order(symbol="TCS", pricetype="SL", trigger_price=3200.0, action="BUY")
    data = call(client, sim, "orderbook").json()["data"]
    assert [row["orderid"] for row in data["orders"]] == [second, first]
    assert set(data["orders"][0]) == {
        "orderid", "symbol", "exchange", "action", "quantity", "price", "trigger_price", "pricetype",
        "product", "order_status", "timestamp", "average_price", "filled_quantity", "pending_quantity",
        "rejection_reason", "strategy",
    }  # fmt: skip
    assert data["orders"][0]["order_status"] == "trigger pending"
    assert data["orders"][1]["order_status"] == "open"


def test_the_orderbook_statistics_count_by_status(sim: Simulator, client: httpx.Client) -> None:
    sim.place_order(symbol="SBIN")
    sim.place_order(symbol="SBIN", action="SELL", pricetype="SL-M")
    sim.place_order(symbol="ITC", status="complete")
    sim.place_order(symbol="ITC", status="rejected")
    sim.place_order(symbol="ITC", status="cancelled")
    assert call(client, sim, "orderbook").json()["data"]["statistics"] == {
        "total_buy_orders": 4,
        "total_sell_orders": 1,
        "total_completed_orders": 1,
        "total_open_orders": 1,
        "total_rejected_orders": 1,
        "total_trigger_pending_orders": 1,
    }


def test_live_statistics_leave_out_trigger_pending(sim: Simulator, client: httpx.Client) -> None:
    sim.set_mode("live")
    assert "total_trigger_pending_orders" not in call(client, sim, "orderbook").json()["data"]["statistics"]


def test_a_rejected_order_carries_a_reason(sim: Simulator, client: httpx.Client) -> None:
    sim.place_order(symbol="ITC", status="rejected")
    row = call(client, sim, "orderbook").json()["data"]["orders"][0]
    assert row["rejection_reason"]
    assert row["pending_quantity"] == 0


# ---- placeorder --------------------------------------------------------------------------------

ORDER = {"strategy": "ks", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1}


def test_a_limit_order_rests_open(sim: Simulator, client: httpx.Client) -> None:
    response = call(client, sim, "placeorder", **ORDER, pricetype="LIMIT", price=900, product="CNC")
    assert response.status_code == 200
    orderid = response.json()["orderid"]
    assert [o["orderid"] for o in sim.working_orders()] == [orderid]
    assert sim.working_orders()[0]["price"] == 900.0


def test_a_stop_loss_order_waits_for_its_trigger(sim: Simulator, client: httpx.Client) -> None:
    call(client, sim, "placeorder", **ORDER, pricetype="SL", price=1001, trigger_price=1000, product="MIS")
    assert sim.working_orders()[0]["order_status"] == "trigger pending"


def test_a_market_order_fills_at_once_and_opens_a_position(sim: Simulator, client: httpx.Client) -> None:
    response = call(client, sim, "placeorder", **ORDER, product="CNC")
    assert response.status_code == 200
    assert sim.working_orders() == []
    assert sim.all_orders()[0]["order_status"] == "complete"
    positions = call(client, sim, "positionbook").json()["data"]
    assert [(p["symbol"], p["quantity"]) for p in positions] == [("SBIN", 1)]


def test_a_fractional_quantity_is_refused(sim: Simulator, client: httpx.Client) -> None:
    fields = {**ORDER, "quantity": 1.5}
    response = call(client, sim, "placeorder", **fields, pricetype="LIMIT", price=900, product="CNC")
    assert response.status_code == 400
    assert "Fractional quantity (1.5)" in response.json()["message"]


def test_a_limit_order_without_a_price_is_refused(sim: Simulator, client: httpx.Client) -> None:
    response = call(client, sim, "placeorder", **ORDER, pricetype="LIMIT", product="CNC")
    assert response.status_code == 400
    assert response.json() == {"status": "error", "message": "LIMIT orders require price", "mode": "analyze"}


def test_cnc_on_a_derivatives_exchange_is_refused(sim: Simulator, client: httpx.Client) -> None:
    fields = {**ORDER, "exchange": "NFO", "symbol": "NIFTY25DEC26000CE"}
    response = call(client, sim, "placeorder", **fields, pricetype="LIMIT", price=90, product="CNC")
    assert response.status_code == 400
    assert response.json()["message"].startswith("CNC product not allowed for NFO derivatives segment.")


def test_an_unknown_exchange_is_a_validation_error(sim: Simulator, client: httpx.Client) -> None:
    fields = {**ORDER, "exchange": "NYSE"}
    response = call(client, sim, "placeorder", **fields, pricetype="LIMIT", price=90)
    assert response.status_code == 400
    assert response.json()["message"].startswith("{'exchange': ['Must be one of: NSE, NFO,")


# ---- cancelorder -------------------------------------------------------------------------------


def test_cancelorder_cancels_one_order(sim: Simulator, client: httpx.Client) -> None:
    orderid = sim.place_order(symbol="SBIN")
    response = call(client, sim, "cancelorder", strategy="ks", orderid=orderid)
    assert response.json() == {
        "status": "success",
        "orderid": orderid,
        "message": "Order cancelled successfully",
        "mode": "analyze",
    }
    assert sim.working_orders() == []


def test_cancelorder_in_live_mode_answers_only_the_id(sim: Simulator, client: httpx.Client) -> None:
    sim.set_mode("live")
    orderid = sim.place_order(symbol="SBIN")
    response = call(client, sim, "cancelorder", strategy="ks", orderid=orderid)
    assert response.json() == {"status": "success", "orderid": orderid}


def test_cancelling_a_trigger_pending_order_works(sim: Simulator, client: httpx.Client) -> None:
    orderid = sim.place_order(symbol="SBIN", pricetype="SL-M")
    assert call(client, sim, "cancelorder", strategy="ks", orderid=orderid).status_code == 200
    assert sim.working_orders() == []


def test_cancelling_a_complete_order_names_its_status(sim: Simulator, client: httpx.Client) -> None:
    orderid = sim.place_order(symbol="SBIN", status="complete")
    response = call(client, sim, "cancelorder", strategy="ks", orderid=orderid)
    assert response.status_code == 400
    assert response.json()["message"] == "Cannot cancel order in complete status"


def test_cancelling_an_unknown_order_is_404(sim: Simulator, client: httpx.Client) -> None:
    response = call(client, sim, "cancelorder", strategy="ks", orderid="26010100000000")
    assert response.status_code == 404
    assert response.json()["message"] == "Order 26010100000000 not found"


# ---- cancelallorder ----------------------------------------------------------------------------


def test_cancelallorder_cancels_every_working_order_and_leaves_finished_ones(
    sim: Simulator, client: httpx.Client
) -> None:
    working = set(sim.add_random_orders(12))
    finished_ids = set(sim.add_finished_orders(5))
    finished = {o["orderid"]: o["order_status"] for o in sim.all_orders() if o["orderid"] in finished_ids}
    body = call(client, sim, "cancelallorder", strategy="ks").json()
    assert set(body["canceled_orders"]) == working
    assert body["failed_cancellations"] == []
    assert body["message"] == "Canceled 12 orders. Failed to cancel 0 orders."
    after = {o["orderid"]: o["order_status"] for o in sim.all_orders()}
    assert all(after[orderid] == "cancelled" for orderid in working)
    assert {orderid: after[orderid] for orderid in finished} == finished


def test_cancelallorder_with_nothing_open_says_so_in_analyze_mode(
    sim: Simulator, client: httpx.Client
) -> None:
    body = call(client, sim, "cancelallorder", strategy="ks").json()
    assert body["message"] == "No open orders to cancel"
    assert body["canceled_orders"] == [] and body["failed_cancellations"] == []


def test_cancelallorder_with_nothing_open_counts_zero_in_live_mode(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.set_mode("live")
    body = call(client, sim, "cancelallorder", strategy="ks").json()
    assert body == {
        "status": "success",
        "message": "Canceled 0 orders. Failed to cancel 0 orders.",
        "canceled_orders": [],
        "failed_cancellations": [],
    }


def test_cancelallorder_ignores_its_strategy_label(sim: Simulator, client: httpx.Client) -> None:
    sim.place_order(symbol="SBIN", strategy="somebody-else")
    body = call(client, sim, "cancelallorder", strategy="ks").json()
    assert len(body["canceled_orders"]) == 1


def test_two_racing_cancel_alls_both_succeed_with_overlapping_lists(sim: Simulator) -> None:
    sim.add_random_orders(5)
    sim.quirks.cancelall_per_order_s = 0.05
    both_ready = threading.Barrier(2)
    bodies: list[dict[str, Any]] = []

    def cancel_all() -> None:
        with httpx.Client(base_url=sim.url, timeout=5.0, verify=NO_TLS) as http:
            both_ready.wait()
            bodies.append(call(http, sim, "cancelallorder", strategy="ks").json())

    threads = [threading.Thread(target=cancel_all) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sim.stats.max_concurrent_cancelall == 2
    assert [body["status"] for body in bodies] == ["success", "success"]
    assert set(bodies[0]["canceled_orders"]) & set(bodies[1]["canceled_orders"])
    assert sim.working_orders() == []


# ---- the rest ----------------------------------------------------------------------------------


def test_orderstatus_shows_one_order(sim: Simulator, client: httpx.Client) -> None:
    orderid = sim.place_order(symbol="INFY", price=1500.0)
    data = call(client, sim, "orderstatus", strategy="ks", orderid=orderid).json()["data"]
    assert (data["orderid"], data["price_type"], data["order_status"]) == (orderid, "LIMIT", "open")


def test_modifyorder_changes_an_open_order(sim: Simulator, client: httpx.Client) -> None:
    orderid = sim.place_order(symbol="SBIN", price=900.0, quantity=1)
    fields = {**ORDER, "orderid": orderid, "product": "CNC", "pricetype": "LIMIT", "price": 905}
    response = call(
        client, sim, "modifyorder", **fields | {"quantity": 3}, disclosed_quantity=0, trigger_price=0
    )
    assert response.status_code == 200
    assert (sim.working_orders()[0]["quantity"], sim.working_orders()[0]["price"]) == (3, 905.0)


def test_closeposition_squares_off_with_market_orders(sim: Simulator, client: httpx.Client) -> None:
    sim.place_order(symbol="SBIN", quantity=10, status="complete", product="MIS")
    sim.place_order(symbol="ITC", quantity=5, action="SELL", status="complete", product="MIS")
    body = call(client, sim, "closeposition", strategy="ks").json()
    assert body == {
        "status": "success",
        "message": "Closed 2 positions",
        "closed_positions": 2,
        "failed_closures": 0,
        "mode": "analyze",
    }
    positions = call(client, sim, "positionbook").json()["data"]
    assert {p["symbol"]: p["quantity"] for p in positions} == {"SBIN": 0, "ITC": 0}
    assert [o["pricetype"] for o in sim.all_orders()[-2:]] == ["MARKET", "MARKET"]


def test_closeposition_in_live_mode_always_says_squared_off(sim: Simulator, client: httpx.Client) -> None:
    sim.set_mode("live")
    body = call(client, sim, "closeposition", strategy="ks").json()
    assert body == {"status": "success", "message": "All Open Positions Squared Off"}


def test_funds_in_live_mode_are_strings(sim: Simulator, client: httpx.Client) -> None:
    sim.set_mode("live")
    assert call(client, sim, "funds").json()["data"]["availablecash"] == "10000000.00"


# ---- the connection ----------------------------------------------------------------------------


def test_a_keep_alive_client_reuses_one_connection_for_many_requests(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.quirks.api_rate_limit = 1000
    started = time.perf_counter()
    for _ in range(200):
        assert call(client, sim, "ping").status_code == 200
    elapsed = time.perf_counter() - started
    print(f"200 requests on one keep-alive connection: {elapsed * 1000:.0f} ms, {elapsed * 5:.2f} ms each")
    assert sim.stats.connections == 1


def test_a_client_asking_to_close_gets_a_closed_connection(sim: Simulator, client: httpx.Client) -> None:
    for _ in range(3):
        response = client.post("/api/v1/ping", json={"apikey": sim.apikey}, headers={"Connection": "close"})
        assert response.status_code == 200
    assert sim.stats.connections == 3
