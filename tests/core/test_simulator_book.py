"""The simulator's order book used directly, without HTTP: ids, realistic orders, stats."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from core.simulator import Simulator, SimulatorStats
from core.simulator.market import REFERENCE_PRICES

IST = timezone(timedelta(hours=5, minutes=30))


def test_order_ids_are_yymmdd_in_ist_plus_eight_digits() -> None:
    orderid = Simulator().place_order(symbol="SBIN")
    assert re.fullmatch(r"\d{14}", orderid)
    assert orderid[:6] == datetime.now(IST).strftime("%y%m%d")


def test_order_ids_are_unique() -> None:
    sim = Simulator(seed=1)
    ids = sim.add_random_orders(1000)
    assert len(set(ids)) == 1000


def test_a_seed_makes_the_book_repeatable() -> None:
    assert Simulator(orders=10, seed=42).all_orders() == Simulator(orders=10, seed=42).all_orders()


def test_orders_at_construction_are_all_working() -> None:
    sim = Simulator(orders=7)
    assert len(sim.working_orders()) == 7
    assert len(sim.all_orders()) == 7


def test_random_orders_look_like_a_traders_book() -> None:
    sim = Simulator(seed=9)
    sim.add_random_orders(300)
    orders = sim.working_orders()
    assert {o["symbol"] for o in orders} <= set(REFERENCE_PRICES)
    assert {o["pricetype"] for o in orders} == {"LIMIT", "SL", "SL-M"}
    assert {o["product"] for o in orders} == {"CNC", "MIS"}
    assert {o["action"] for o in orders} == {"BUY", "SELL"}
    for order in orders:
        level = order["price"] or order["trigger_price"]
        assert 0.9 < level / REFERENCE_PRICES[order["symbol"]] < 1.1, order
        assert order["quantity"] >= 1
        assert (order["pricetype"] == "LIMIT") == (order["order_status"] == "open")


def test_random_limit_orders_rest_away_from_the_market() -> None:
    sim = Simulator(seed=2)
    sim.add_random_orders(200)
    for order in sim.working_orders():
        if order["pricetype"] == "LIMIT":
            below = order["price"] < REFERENCE_PRICES[order["symbol"]]
            assert below == (order["action"] == "BUY"), order


def test_prices_sit_on_the_five_paise_tick() -> None:
    sim = Simulator(seed=6)
    sim.add_random_orders(100)
    for order in sim.working_orders():
        for key in ("price", "trigger_price"):
            assert round(order[key] * 100) % 5 == 0, order


def test_place_order_defaults_a_stop_loss_to_trigger_pending() -> None:
    sim = Simulator()
    sim.place_order(symbol="RELIANCE", pricetype="SL", action="SELL")
    order = sim.working_orders()[0]
    assert order["order_status"] == "trigger pending"
    assert order["price"] < order["trigger_price"] < REFERENCE_PRICES["RELIANCE"]


def test_place_order_keeps_what_it_is_given() -> None:
    sim = Simulator()
    orderid = sim.place_order(
        symbol="HDFCBANK", action="SELL", quantity=25, price=1010.0, product="MIS", strategy="scalp"
    )
    order = sim.working_orders()[0]
    assert order["orderid"] == orderid
    assert (order["action"], order["quantity"], order["price"], order["product"]) == (
        "SELL",
        25,
        1010.0,
        "MIS",
    )
    assert order["strategy"] == "scalp"


def test_place_order_refuses_an_unknown_status() -> None:
    with pytest.raises(ValueError, match="status"):
        Simulator().place_order(symbol="SBIN", status="PENDING")


def test_place_order_refuses_a_duplicate_id() -> None:
    sim = Simulator()
    sim.place_order(symbol="SBIN", orderid="26112500000001")
    with pytest.raises(ValueError, match="already"):
        sim.place_order(symbol="SBIN", orderid="26112500000001")


def test_a_complete_order_moves_its_position() -> None:
    sim = Simulator()
    sim.place_order(symbol="SBIN", quantity=10, price=950.0, status="complete")
    sim.place_order(symbol="SBIN", quantity=10, price=960.0, status="complete")
    sim.place_order(symbol="SBIN", quantity=5, price=970.0, action="SELL", status="complete")
    [position] = sim.positions()
    assert (position["quantity"], position["average_price"]) == (15, 955.0)


def test_filling_an_order_makes_it_complete() -> None:
    sim = Simulator()
    orderid = sim.place_order(symbol="SBIN", price=940.0, quantity=4)
    sim.fill_order(orderid)
    order = sim.all_orders()[0]
    assert (order["order_status"], order["filled_quantity"], order["pending_quantity"]) == ("complete", 4, 0)
    assert sim.working_orders() == []


def test_the_busiest_second_is_counted_from_arrival_times() -> None:
    stats = SimulatorStats()
    for at in (0.0, 0.1, 0.5, 0.99, 1.2, 1.3, 3.0):
        stats.record_arrival("cancelorder", at)
    assert stats.max_in_window("cancelorder") == 4
    assert stats.max_in_window("nothing") == 0


def test_stats_can_be_reset() -> None:
    stats = SimulatorStats()
    stats.record_arrival("ping", 1.0)
    stats.record_reply("ping", 200)
    stats.reset()
    assert (stats.requests, stats.responses, stats.arrivals) == ({}, {}, {})


# ---- positions at start ------------------------------------------------------------------------


def test_positions_at_start_are_open_and_made_by_complete_orders() -> None:
    sim = Simulator(positions=6, seed=3)
    positions = sim.open_positions()
    assert len(positions) == 6
    assert len({(p["symbol"], p["exchange"], p["product"]) for p in positions}) == 6
    fills = sim.all_orders()
    assert len(fills) == 6
    assert {(o["order_status"], o["pricetype"]) for o in fills} == {("complete", "MARKET")}
    assert sim.working_orders() == []


def test_positions_at_start_are_long_and_short_across_products() -> None:
    positions = Simulator(positions=40, seed=5).open_positions()
    assert {p["product"] for p in positions} == {"CNC", "MIS", "NRML"}
    assert any(p["quantity"] > 0 for p in positions)
    assert any(p["quantity"] < 0 for p in positions)
    assert all(p["quantity"] > 0 for p in positions if p["product"] == "CNC"), "delivery is never short"


def test_futures_positions_are_whole_lots_of_this_months_contract() -> None:
    positions = Simulator(positions=54, seed=8).open_positions()
    futures = [p for p in positions if p["exchange"] == "NFO"]
    assert {p["product"] for p in futures} == {"NRML", "MIS"}
    for position in futures:
        lot = 75 if position["symbol"].startswith("NIFTY") else 35
        assert re.fullmatch(r"(NIFTY|BANKNIFTY)\d{2}[A-Z]{3}\d{2}FUT", position["symbol"])
        assert position["quantity"] % lot == 0
        assert position["ltp"] > 20_000


def test_positions_are_entered_near_the_last_price() -> None:
    for position in Simulator(positions=20, seed=2).open_positions():
        assert 0.98 < position["average_price"] / position["ltp"] < 1.02, position


def test_more_positions_than_the_market_holds_are_refused() -> None:
    with pytest.raises(ValueError, match="at most 54"):
        Simulator(positions=55)


def test_a_demo_starts_with_a_few_positions() -> None:
    # Four made as positions, and perhaps more from the demo's filled orders.
    assert 4 <= len(Simulator(demo=True, seed=1).open_positions()) <= 8


def test_positions_at_start_go_to_the_starting_modes_book() -> None:
    sim = Simulator(mode="live", positions=2)
    assert (len(sim.open_positions(book="live")), sim.open_positions(book="analyze")) == (2, [])


def test_open_position_can_reverse_a_position() -> None:
    sim = Simulator()
    sim.open_position("SBIN", 10, price=950.0)
    sim.open_position("SBIN", -25, price=960.0)
    [position] = sim.positions()
    assert (position["quantity"], position["average_price"], position["today_realized_pnl"]) == (
        -15,
        960.0,
        100.0,
    )


def test_open_position_refuses_a_quantity_of_0() -> None:
    with pytest.raises(ValueError, match="0"):
        Simulator().open_position("SBIN", 0)
