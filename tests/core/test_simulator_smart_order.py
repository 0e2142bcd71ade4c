"""placesmartorder over HTTP: it moves one symbol/exchange/product's net position to a target size,
working out the side and quantity from its own position book -- and its hazards."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from core.simulator import Simulator
from tests.core.sim_http import NO_TLS, call

FLATTEN = {
    "strategy": "ks",
    "exchange": "NSE",
    "symbol": "SBIN",
    "action": "SELL",
    "quantity": 0,
    "position_size": 0,
    "product": "MIS",
    "pricetype": "MARKET",
}


def smart(client: httpx.Client, sim: Simulator, **fields: Any) -> httpx.Response:
    return call(client, sim, "placesmartorder", **(FLATTEN | fields))


def net(sim: Simulator, symbol: str = "SBIN", product: str = "MIS") -> int:
    rows = [row for row in sim.positions() if (row["symbol"], row["product"]) == (symbol, product)]
    return int(rows[0]["quantity"]) if rows else 0


# ---- moving to the target ----------------------------------------------------------------------


@pytest.mark.parametrize(("held", "action"), [(10, "SELL"), (-7, "BUY")])
def test_position_size_0_closes_the_position_whatever_its_direction(
    held: int, action: str, sim: Simulator, client: httpx.Client
) -> None:
    sim.open_position("SBIN", held, price=950.0)
    response = smart(client, sim, action="BUY" if action == "SELL" else "SELL")
    assert response.status_code == 200
    assert response.json() == {"status": "success", "orderid": response.json()["orderid"], "mode": "analyze"}
    order = sim.all_orders()[-1]
    assert (order["orderid"], order["action"], order["quantity"]) == (
        response.json()["orderid"],
        action,
        abs(held),
    )
    assert (order["pricetype"], order["order_status"], order["average_price"]) == (
        "MARKET",
        "complete",
        955.0,
    )
    assert net(sim) == 0


@pytest.mark.parametrize(
    ("held", "target", "action", "quantity"), [(10, 25, "BUY", 15), (10, -5, "SELL", 15)]
)
def test_a_smart_order_moves_the_position_to_the_target(
    held: int, target: int, action: str, quantity: int, sim: Simulator, client: httpx.Client
) -> None:
    sim.open_position("SBIN", held)
    smart(client, sim, position_size=target, quantity=1)
    order = sim.all_orders()[-1]
    assert (order["action"], order["quantity"]) == (action, quantity)
    assert net(sim) == target


def test_the_target_is_per_product(sim: Simulator, client: httpx.Client) -> None:
    sim.open_position("SBIN", 10, product="MIS")
    sim.open_position("SBIN", 5, product="CNC")
    smart(client, sim, product="CNC")
    assert (net(sim, product="MIS"), net(sim, product="CNC")) == (10, 0)


def test_product_defaults_to_mis_and_the_price_type_to_market(sim: Simulator, client: httpx.Client) -> None:
    sim.open_position("SBIN", 10, product="MIS")
    fields = {key: value for key, value in FLATTEN.items() if key not in ("product", "pricetype")}
    assert call(client, sim, "placesmartorder", **fields).status_code == 200
    assert sim.all_orders()[-1]["pricetype"] == "MARKET"
    assert net(sim) == 0


def test_live_success_answers_only_the_order_id(sim: Simulator, client: httpx.Client) -> None:
    sim.set_mode("live")
    sim.open_position("SBIN", 10)
    body = smart(client, sim).json()
    assert body == {"status": "success", "orderid": sim.all_orders()[-1]["orderid"]}


def test_the_sandbox_places_a_market_order_whatever_price_type_is_asked(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.open_position("SBIN", 10)
    smart(client, sim, pricetype="LIMIT", price=990)
    assert sim.all_orders()[-1]["pricetype"] == "MARKET"
    assert net(sim) == 0


def test_live_passes_the_requests_price_type_on(sim: Simulator, client: httpx.Client) -> None:
    sim.set_mode("live")
    sim.open_position("SBIN", 10)
    smart(client, sim, pricetype="LIMIT", price=990)
    [resting] = sim.working_orders()
    assert (resting["action"], resting["pricetype"], resting["price"]) == ("SELL", "LIMIT", 990.0)
    assert net(sim) == 10


# ---- nothing to do, and the fresh-order hazard -------------------------------------------------


def test_with_nothing_to_close_and_quantity_0_the_sandbox_says_so(
    sim: Simulator, client: httpx.Client
) -> None:
    assert smart(client, sim).json() == {
        "status": "success",
        "message": "No OpenPosition Found. Not placing Exit order.",
        "mode": "analyze",
    }
    assert sim.all_orders() == []


def test_with_nothing_to_close_and_quantity_0_live_says_already_matched(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.set_mode("live")
    assert smart(client, sim).json() == {
        "status": "success",
        "message": "Positions Already Matched. No Action needed.",
    }
    assert sim.all_orders() == []


@pytest.mark.parametrize("mode", ["live", "analyze"])
def test_at_the_target_already_nothing_is_placed(mode: str, sim: Simulator, client: httpx.Client) -> None:
    sim.set_mode(mode)
    sim.open_position("SBIN", 10)
    body = smart(client, sim, position_size=10, quantity=10, action="BUY").json()
    assert body["message"] == "Positions Already Matched. No Action needed."
    assert len(sim.all_orders()) == 1


@pytest.mark.parametrize("mode", ["live", "analyze"])
def test_a_flat_position_with_a_quantity_opens_a_fresh_position(
    mode: str, sim: Simulator, client: httpx.Client
) -> None:
    sim.set_mode(mode)
    body = smart(client, sim, action="SELL", quantity=25).json()
    assert "orderid" in body
    assert net(sim) == -25


def test_a_position_closed_by_someone_else_is_reopened_by_a_late_flatten_with_a_quantity(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.set_mode("live")
    sim.open_position("SBIN", 10)
    call(client, sim, "closeposition", strategy="ks")
    smart(client, sim, action="SELL", quantity=10)
    assert net(sim) == -10


# ---- the broker's refusals ---------------------------------------------------------------------


def test_the_sandbox_answers_a_freeze_limit_rejection_as_an_error_naming_the_order(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.open_position("ITC", 5000)
    sim.quirks.freeze_quantity = 1000
    response = smart(client, sim, symbol="ITC")
    assert response.status_code == 400
    rejected = sim.all_orders()[-1]
    assert response.json() == {
        "status": "error",
        "orderid": rejected["orderid"],
        "message": "RMS:Rule: Check freeze quantity for NSE CASH",
        "mode": "analyze",
    }
    assert rejected["order_status"] == "rejected"
    assert net(sim, "ITC") == 5000


def test_live_accepts_a_close_the_broker_then_rejects(sim: Simulator, client: httpx.Client) -> None:
    sim.set_mode("live")
    sim.open_position("TCS", 3, product="CNC")
    sim.quirks.cnc_bought_today_unsellable = True
    body = smart(client, sim, symbol="TCS", product="CNC").json()
    assert body == {"status": "success", "orderid": sim.all_orders()[-1]["orderid"]}
    assert sim.all_orders()[-1]["order_status"] == "rejected"
    assert "T+1" in sim.all_orders()[-1]["rejection_reason"]
    assert net(sim, "TCS", "CNC") == 3


def test_a_cnc_short_can_still_be_bought_back(sim: Simulator, client: httpx.Client) -> None:
    sim.open_position("TCS", -3, product="CNC")
    sim.quirks.cnc_bought_today_unsellable = True
    assert smart(client, sim, symbol="TCS", product="CNC").status_code == 200
    assert net(sim, "TCS", "CNC") == 0


def test_a_smart_close_can_rest_unfilled(sim: Simulator, client: httpx.Client) -> None:
    sim.open_position("SBIN", 10)
    sim.quirks.closing_orders_rest = {"SBIN"}
    orderid = smart(client, sim).json()["orderid"]
    assert [o["orderid"] for o in sim.working_orders()] == [orderid]
    assert net(sim) == 10


def test_after_square_off_time_an_mis_order_may_still_reduce_a_position(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.set_mode("live")
    sim.open_position("SBIN", 10)
    sim.quirks.market_closed = True
    response = smart(client, sim, pricetype="LIMIT", price=950)
    assert response.status_code == 200
    opening = smart(client, sim, symbol="ITC", action="BUY", quantity=5, pricetype="LIMIT", price=400)
    assert "square-off time" in opening.json()["message"]


def test_a_broker_failure_inside_a_smart_order_is_a_500(sim: Simulator, client: httpx.Client) -> None:
    sim.open_position("SBIN", 10)
    sim.quirks.broker_error = {"placesmartorder"}
    response = smart(client, sim)
    assert response.status_code == 500
    assert response.json()["message"] == "Failed to place smart order due to internal error"


# ---- Semi-Auto ---------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["live", "analyze"])
def test_semi_auto_queues_a_smart_order_for_approval_and_the_position_does_not_move(
    mode: str, sim: Simulator, client: httpx.Client
) -> None:
    sim.set_mode(mode)
    sim.open_position("SBIN", 10)
    sim.quirks.semi_auto = True
    assert smart(client, sim).json() == {
        "status": "success",
        "message": "Order queued for approval in Action Center",
        "mode": "semi_auto",
        "pending_order_id": 1,
    }
    assert net(sim) == 10
    [pending] = sim.pending_orders()
    assert (pending["pending_order_id"], pending["api_type"]) == (1, "smartorder")
    assert pending["order_data"]["position_size"] == 0
    assert "apikey" not in pending["order_data"]


def test_semi_auto_queues_placeorder_too(sim: Simulator, client: httpx.Client) -> None:
    sim.set_mode("live")
    sim.quirks.semi_auto = True
    order = {"strategy": "ks", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1}
    first = call(client, sim, "placeorder", **order, pricetype="LIMIT", price=900, product="CNC").json()
    second = smart(client, sim, quantity=5).json()
    assert (first["pending_order_id"], second["pending_order_id"]) == (1, 2)
    assert [p["api_type"] for p in sim.pending_orders()] == ["placeorder", "smartorder"]
    assert sim.all_orders() == []


def test_a_wrong_key_is_refused_before_any_queueing(sim: Simulator, client: httpx.Client) -> None:
    sim.quirks.semi_auto = True
    response = client.post("/api/v1/placesmartorder", json=FLATTEN | {"apikey": "0" * 64})
    assert response.status_code == 403
    assert response.json() == {"status": "error", "message": "Invalid openalgo apikey"}
    assert sim.pending_orders() == []


# ---- validation and the rate limit -------------------------------------------------------------


def test_position_size_is_required(sim: Simulator, client: httpx.Client) -> None:
    fields = {key: value for key, value in FLATTEN.items() if key != "position_size"}
    response = call(client, sim, "placesmartorder", **fields)
    assert response.status_code == 400
    assert response.json() == {
        "status": "error",
        "message": "{'position_size': ['Missing data for required field.']}",
        "mode": "analyze",
    }


def test_an_unknown_field_is_refused_as_a_string_without_mode_in_live(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.set_mode("live")
    response = smart(client, sim, orderid="1")
    assert response.status_code == 400
    assert response.json() == {"status": "error", "message": "{'orderid': ['Unknown field.']}"}


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"quantity": -1}, "{'quantity': ['Quantity must be a non-negative number.']}"),
        (
            {"quantity": 1.5},
            "{'quantity': ['Fractional quantity (1.5) is not allowed for non-crypto exchanges.']}",
        ),
        ({"position_size": "flat"}, "{'position_size': ['Not a valid number.']}"),
        ({"product": "BO"}, "{'product': ['Must be one of: MIS, NRML, CNC.']}"),
        ({"action": "SQUAREOFF"}, "{'action': ['Must be one of: BUY, SELL, buy, sell.']}"),
    ],
)
def test_bad_fields_are_refused_in_openalgos_words(
    fields: dict[str, Any], error: str, sim: Simulator, client: httpx.Client
) -> None:
    response = smart(client, sim, **fields)
    assert response.status_code == 400
    assert response.json()["message"] == error


def test_a_lowercase_action_is_accepted(sim: Simulator, client: httpx.Client) -> None:
    assert smart(client, sim, action="sell", quantity=2).status_code == 200
    assert net(sim) == -2


def test_the_11th_smart_order_in_a_second_is_refused_in_its_own_bucket() -> None:
    with (
        Simulator() as sim,
        httpx.Client(base_url=sim.url, timeout=5.0, verify=NO_TLS) as client,
    ):
        codes = [smart(client, sim).status_code for _ in range(11)]
        assert codes == [200] * 10 + [429]
        assert smart(client, sim).json() == {"message": "10 per 1 second"}
        order = {"strategy": "ks", "symbol": "SBIN", "exchange": "NSE", "action": "BUY", "quantity": 1}
        assert call(client, sim, "placeorder", **order, pricetype="LIMIT", price=900).status_code == 200
