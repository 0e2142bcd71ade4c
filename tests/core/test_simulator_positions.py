"""Positions over HTTP: how positionbook lists them in each mode, and how closeposition squares them off
-- including the brokers' ways of leaving some open."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from core.simulator import Simulator
from tests.core.sim_http import call

LTP = {"SBIN": 955.0, "ITC": 405.0, "INFY": 1530.0, "TCS": 3120.0}


def positionbook(client: httpx.Client, sim: Simulator) -> dict[str, Any]:
    response = call(client, sim, "positionbook")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def quantities(client: httpx.Client, sim: Simulator) -> dict[tuple[str, str], int]:
    return {
        (row["symbol"], row["product"]): int(row["quantity"]) for row in positionbook(client, sim)["data"]
    }


def close_all(client: httpx.Client, sim: Simulator) -> dict[str, Any]:
    response = call(client, sim, "closeposition", strategy="ks")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


# ---- positionbook ------------------------------------------------------------------------------


def test_a_position_is_the_signed_net_of_its_fills_per_symbol_and_product(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.open_position("SBIN", 10, product="MIS", price=950.0)
    sim.open_position("SBIN", 5, product="CNC", price=950.0)
    sim.open_position("SBIN", -15, product="MIS", price=950.0)
    assert quantities(client, sim) == {("SBIN", "MIS"): -5, ("SBIN", "CNC"): 5}


def test_the_sandbox_row_carries_its_pnl_fields(sim: Simulator, client: httpx.Client) -> None:
    sim.open_position("SBIN", 10, price=950.0)
    body = positionbook(client, sim)
    assert body["data"] == [
        {
            "symbol": "SBIN",
            "exchange": "NSE",
            "product": "MIS",
            "quantity": 10,
            "average_price": 950.0,
            "ltp": 955.0,
            "pnl": 50.0,
            "pnlpercent": 0.53,
            "unrealized_pnl": 50.0,
            "today_realized_pnl": 0.0,
            "total_pnl_today": 50.0,
            "lot_size": 1.0,
        }
    ]
    assert (body["total_pnl"], body["total_unrealized_pnl"], body["mode"]) == (50.0, 50.0, "analyze")


def test_reducing_a_position_takes_its_profit_against_the_average(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.open_position("SBIN", -10, price=960.0)
    sim.open_position("SBIN", 4, price=950.0)
    [row] = positionbook(client, sim)["data"]
    assert (row["quantity"], row["average_price"], row["today_realized_pnl"]) == (-6, 960.0, 40.0)
    assert row["pnl"] == 40.0 + 30.0  # taken on 4, and 6 still short from 960 with the price at 955


def test_the_sandbox_lists_a_closed_position_with_quantity_0_and_its_profit(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.open_position("SBIN", 10, price=950.0)
    sim.open_position("SBIN", -10, price=957.0)
    body = positionbook(client, sim)
    [row] = body["data"]
    assert (row["quantity"], row["average_price"], row["pnl"], row["pnlpercent"]) == (0, 0.0, 70.0, 0.0)
    assert (body["total_today_realized_pnl"], body["total_unrealized_pnl"]) == (70.0, 0.0)


def test_the_sandbox_drops_a_position_closed_at_break_even(sim: Simulator, client: httpx.Client) -> None:
    sim.open_position("SBIN", 10, price=950.0)
    sim.open_position("SBIN", -10, price=950.0)
    assert positionbook(client, sim)["data"] == []
    assert [row["quantity"] for row in sim.positions()] == [0]


def test_live_rows_are_zerodhas_with_the_average_price_as_a_string(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.set_mode("live")
    sim.open_position("ITC", -20, price=400.0)
    body = positionbook(client, sim)
    assert body == {
        "status": "success",
        "data": [
            {
                "symbol": "ITC",
                "exchange": "NSE",
                "product": "MIS",
                "quantity": -20,
                "pnl": -100.0,
                "average_price": "400.00",
                "ltp": 405.0,
            }
        ],
    }


def test_live_keeps_a_position_closed_at_break_even_with_quantity_0(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.set_mode("live")
    sim.open_position("SBIN", 10, price=950.0)
    sim.open_position("SBIN", -10, price=950.0)
    [row] = positionbook(client, sim)["data"]
    assert (row["quantity"], row["average_price"], row["pnl"]) == (0, "0.00", 0.0)


@pytest.mark.parametrize("mode", ["live", "analyze"])
def test_positionbook_numbers_can_arrive_as_strings(mode: str, sim: Simulator, client: httpx.Client) -> None:
    sim.set_mode(mode)
    sim.open_position("SBIN", -3, price=950.0)
    sim.quirks.numbers_as_strings = True
    [row] = positionbook(client, sim)["data"]
    assert (row["quantity"], row["ltp"], row["pnl"]) == ("-3", "955.0", "-15.0")
    assert all(isinstance(value, str) for value in row.values())


def test_positionbook_refuses_an_unknown_field_with_an_object_message(
    sim: Simulator, client: httpx.Client
) -> None:
    response = call(client, sim, "positionbook", strategy="ks")
    assert response.status_code == 400
    assert response.json() == {"status": "error", "message": {"strategy": ["Unknown field."]}}


def test_positionbook_shows_the_current_modes_book(sim: Simulator, client: httpx.Client) -> None:
    sim.open_position("SBIN", 10, price=950.0, book="live")
    sim.open_position("ITC", 10, price=400.0, book="analyze")
    assert quantities(client, sim) == {("ITC", "MIS"): 10}
    call(client, sim, "analyzer/toggle", mode=False)
    assert quantities(client, sim) == {("SBIN", "MIS"): 10}


# ---- closeposition -----------------------------------------------------------------------------


def test_closeposition_squares_off_long_and_short_at_the_last_price(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.open_position("SBIN", 10, price=950.0)
    sim.open_position("INFY", -4, product="CNC", price=1540.0)
    body = close_all(client, sim)
    assert body["message"] == "Closed 2 positions"
    closing = sim.all_orders()[-2:]
    assert [(o["symbol"], o["action"], o["quantity"]) for o in closing] == [
        ("SBIN", "SELL", 10),
        ("INFY", "BUY", 4),
    ]
    assert {(o["pricetype"], o["order_status"], o["strategy"]) for o in closing} == {
        ("MARKET", "complete", "AUTO_SQUARE_OFF")
    }
    assert [o["average_price"] for o in closing] == [LTP["SBIN"], LTP["INFY"]]
    assert quantities(client, sim) == {("SBIN", "MIS"): 0, ("INFY", "CNC"): 0}


def test_closeposition_with_only_closed_positions_listed_closes_0(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.open_position("SBIN", 10, price=950.0)
    sim.open_position("SBIN", -10, price=957.0)
    assert close_all(client, sim) == {
        "status": "success",
        "message": "Closed 0 positions",
        "closed_positions": 0,
        "failed_closures": 0,
        "mode": "analyze",
    }


def test_closeposition_after_a_break_even_close_finds_nothing_to_close(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.open_position("SBIN", 10, price=950.0)
    sim.open_position("SBIN", -10, price=950.0)
    assert close_all(client, sim)["message"] == "No open positions to close"


def test_closeposition_closes_only_the_current_books_positions(sim: Simulator, client: httpx.Client) -> None:
    sim.open_position("SBIN", 10, book="live")
    sim.open_position("ITC", 10, book="analyze")
    assert close_all(client, sim)["closed_positions"] == 1
    assert [row["quantity"] for row in sim.positions(book="live")] == [10]


def test_live_closeposition_labels_its_orders_as_zerodha_does(sim: Simulator, client: httpx.Client) -> None:
    sim.set_mode("live")
    sim.open_position("SBIN", 10)
    assert close_all(client, sim) == {"status": "success", "message": "All Open Positions Squared Off"}
    assert sim.all_orders()[-1]["strategy"] == "Squareoff"


def test_closeposition_can_silently_skip_a_position(sim: Simulator, client: httpx.Client) -> None:
    sim.open_position("SBIN", 10, price=950.0)
    sim.open_position("ITC", -10, price=400.0)
    sim.quirks.closeposition_skips = {"ITC"}
    body = close_all(client, sim)
    assert (body["message"], body["failed_closures"]) == ("Closed 1 positions", 0)
    assert quantities(client, sim) == {("SBIN", "MIS"): 0, ("ITC", "MIS"): -10}
    assert [o["symbol"] for o in sim.all_orders()].count("ITC") == 1


def test_a_skipped_position_can_be_named_down_to_its_product(sim: Simulator, client: httpx.Client) -> None:
    sim.open_position("SBIN", 10, product="MIS", price=950.0)
    sim.open_position("SBIN", 5, product="CNC", price=950.0)
    sim.quirks.closeposition_skips = {"NSE:SBIN:CNC"}
    close_all(client, sim)
    assert quantities(client, sim) == {("SBIN", "MIS"): 0, ("SBIN", "CNC"): 5}


def test_a_count_of_skipped_positions_picks_the_oldest_open_ones(
    sim: Simulator, client: httpx.Client
) -> None:
    for symbol in ("SBIN", "ITC", "INFY"):
        sim.open_position(symbol, 10, price=LTP[symbol] - 1)
    sim.quirks.closeposition_skips = 2
    assert close_all(client, sim)["closed_positions"] == 1
    assert [row["symbol"] for row in sim.open_positions()] == ["SBIN", "ITC"]
    assert close_all(client, sim)["closed_positions"] == 0


def test_live_closeposition_says_squared_off_while_skipping(sim: Simulator, client: httpx.Client) -> None:
    sim.set_mode("live")
    sim.open_position("SBIN", 10)
    sim.quirks.closeposition_skips = 1
    assert close_all(client, sim)["message"] == "All Open Positions Squared Off"
    assert sim.open_positions()[0]["quantity"] == 10


def test_a_position_above_the_freeze_limit_fails_to_close_with_the_brokers_reason(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.open_position("SBIN", 10, price=950.0)
    sim.open_position("ITC", 5000, price=400.0)
    sim.quirks.freeze_quantity = 1000
    body = close_all(client, sim)
    assert body["message"] == "Closed 1 positions (Failed to close 1 positions)"
    assert (body["closed_positions"], body["failed_closures"]) == (1, 1)
    rejected = call(client, sim, "orderbook").json()["data"]["orders"][0]
    assert (rejected["symbol"], rejected["order_status"], rejected["quantity"]) == ("ITC", "rejected", 5000)
    assert rejected["rejection_reason"] == "RMS:Rule: Check freeze quantity for NSE CASH"
    assert quantities(client, sim)[("ITC", "MIS")] == 5000


def test_live_closeposition_hides_a_rejected_close_behind_squared_off(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.set_mode("live")
    sim.open_position("ITC", 5000, price=400.0)
    sim.quirks.freeze_quantity = 1000
    assert close_all(client, sim)["message"] == "All Open Positions Squared Off"
    assert sim.all_orders()[-1]["order_status"] == "rejected"
    assert sim.open_positions()[0]["quantity"] == 5000


def test_cnc_shares_bought_today_cannot_be_sold_before_settlement(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.open_position("TCS", 3, product="CNC", price=3100.0)
    sim.open_position("INFY", 4, product="MIS", price=1500.0)
    sim.quirks.cnc_bought_today_unsellable = True
    body = close_all(client, sim)
    assert body["message"] == "Closed 1 positions (Failed to close 1 positions)"
    assert sim.all_orders()[-2]["rejection_reason"] == (
        "RMS:Rule: Check holding for NSE:TCS. CNC position bought today cannot be sold before T+1 settlement."
    )
    assert quantities(client, sim) == {("TCS", "CNC"): 3, ("INFY", "MIS"): 0}


def test_a_resting_closing_order_leaves_the_position_open_while_closeposition_says_closed(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.open_position("SBIN", 10, price=950.0)
    sim.open_position("ITC", -10, price=400.0)
    sim.quirks.closing_orders_rest = {"SBIN"}
    body = close_all(client, sim)
    assert (body["message"], body["closed_positions"]) == ("Closed 2 positions", 2)
    [resting] = sim.working_orders()
    assert (resting["symbol"], resting["action"], resting["pricetype"], resting["order_status"]) == (
        "SBIN",
        "SELL",
        "MARKET",
        "open",
    )
    assert quantities(client, sim) == {("SBIN", "MIS"): 10, ("ITC", "MIS"): 0}


def test_a_resting_closing_order_is_cancelled_like_any_working_order(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.open_position("SBIN", 10, price=950.0)
    sim.quirks.closing_orders_rest = 1.0
    close_all(client, sim)
    canceled = call(client, sim, "cancelallorder", strategy="ks").json()["canceled_orders"]
    assert len(canceled) == 1
    assert sim.open_positions()[0]["quantity"] == 10


def test_a_closed_market_cannot_close_a_position(sim: Simulator, client: httpx.Client) -> None:
    sim.open_position("SBIN", 10, price=950.0)
    sim.quirks.market_closed = True
    assert close_all(client, sim)["message"] == "Closed 0 positions (Failed to close 1 positions)"


def test_a_broker_failure_inside_closeposition_is_a_500(sim: Simulator, client: httpx.Client) -> None:
    sim.open_position("SBIN", 10)
    sim.quirks.broker_error = {"closeposition"}
    response = call(client, sim, "closeposition", strategy="ks")
    assert response.status_code == 500
    assert response.json()["message"] == "Failed to close positions due to internal error"
    assert sim.open_positions()[0]["quantity"] == 10


def test_semi_auto_refusal_of_closeposition_leaves_positions_open(
    sim: Simulator, client: httpx.Client
) -> None:
    sim.set_mode("live")
    sim.open_position("SBIN", 10)
    sim.quirks.semi_auto = True
    assert call(client, sim, "closeposition", strategy="ks").status_code == 403
    assert sim.open_positions()[0]["quantity"] == 10
