"""The position endpoints: positionbook, closeposition and placesmartorder."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.simulator import broker
from core.simulator.orders_api import placed
from core.simulator.quirks import Quirks
from core.simulator.replies import Reply

if TYPE_CHECKING:
    from core.simulator.api import OpenAlgoApp


def closeposition(app: OpenAlgoApp, data: dict[str, Any], quirks: Quirks) -> Reply:
    """Square off every open position with a MARKET order, one after another."""
    app.log()
    book = app.book
    analyze = app.analyze
    closed = failed = 0
    with book.lock:
        positions = book.positions()
        skipped = book.select_positions("closeposition_skips", quirks.closeposition_skips)
        for position in positions:
            if not position.open or position.key in skipped:
                continue
            placement = broker.place(
                book,
                quirks,
                symbol=position.symbol,
                exchange=position.exchange,
                action="SELL" if position.quantity > 0 else "BUY",
                quantity=abs(position.quantity),
                pricetype="MARKET",
                product=position.product,
                price=0.0,
                trigger_price=0.0,
                # The labels OpenAlgo's sandbox and Zerodha's module give their square-off orders.
                strategy="AUTO_SQUARE_OFF" if analyze else "Squareoff",
            )
            if placement.accepted:
                closed += 1
            else:
                failed += 1
    if not analyze:
        # Zerodha's module ignores each order's result; OpenAlgo then says this whatever happened.
        return app.ok({"message": "All Open Positions Squared Off"})
    if not any(_listed_in_sandbox(position.row()) for position in positions):
        return app.ok({"message": "No open positions to close"})
    message = f"Closed {closed} positions"
    if failed:
        message += f" (Failed to close {failed} positions)"
    return app.ok({"message": message, "closed_positions": closed, "failed_closures": failed})


def placesmartorder(app: OpenAlgoApp, data: dict[str, Any], quirks: Quirks) -> Reply:
    """Move one symbol/exchange/product's net position to ``position_size``."""
    app.log()
    book = app.book
    symbol: str = data["symbol"]
    exchange: str = data["exchange"]
    product: str = data["product"]
    with book.lock:
        held = book.net_quantity((symbol, exchange, product))
        move = (_sandbox_move if app.analyze else _zerodha_move)(
            int(data["position_size"]), held, data["action"].upper(), data["quantity"]
        )
        if isinstance(move, str):
            return app.ok({"message": move})
        action, quantity = move
        # The sandbox reads the price type under a key the schema never fills, so its smart orders are
        # always MARKET; the live module passes the request's own price type and prices on.
        pricetype = "MARKET" if app.analyze else data["pricetype"]
        placement = broker.place(
            book,
            quirks,
            symbol=symbol,
            exchange=exchange,
            action=action,
            quantity=quantity,
            pricetype=pricetype,
            product=product,
            price=0.0 if app.analyze else data["price"],
            trigger_price=0.0 if app.analyze else data["trigger_price"],
            strategy=data["strategy"],
        )
    return placed(app, placement)


SmartMove = tuple[str, int] | str
"""The order a smart order places (action, quantity), or the sentence it answers instead."""


def _sandbox_move(target: int, held: int, action: str, quantity: int) -> SmartMove:
    """services/sandbox_service.py, sandbox_place_smart_order."""
    if target == 0 and held == 0 and quantity != 0:
        return action, quantity
    if target == held:
        if quantity == 0:
            return "No OpenPosition Found. Not placing Exit order."
        return "Positions Already Matched. No Action needed."
    return _toward(target, held)


def _zerodha_move(target: int, held: int, action: str, quantity: int) -> SmartMove:
    """broker/zerodha/api/order_api.py, place_smartorder_api: flat and asked to stay flat, it falls back
    to the request's own action and quantity. Its "No action needed" becomes OpenAlgo's sentence in
    services/place_smart_order_service.py."""
    if target == 0 and held == 0:
        return (action, quantity) if quantity > 0 else "Positions Already Matched. No Action needed."
    if target == held:
        return "Positions Already Matched. No Action needed."
    return _toward(target, held)


def _toward(target: int, held: int) -> tuple[str, int]:
    return ("BUY" if target > held else "SELL"), abs(target - held)


def _listed_in_sandbox(row: dict[str, Any]) -> bool:
    return bool(row["quantity"] or row["today_realized_pnl"])


def positionbook(app: OpenAlgoApp, data: dict[str, Any], quirks: Quirks) -> Reply:
    rows = [position.row() for position in app.book.positions()]
    if not app.analyze:
        return app.ok({"data": [_stringify(_zerodha_row(row), quirks) for row in rows]})
    # The sandbox lists open positions and the closed ones that made or lost money today; a position
    # closed at break-even leaves the book (sandbox/position_manager.py, get_open_positions).
    shown = [row for row in rows if _listed_in_sandbox(row)]
    return app.ok(
        {
            "data": [_stringify(_sandbox_row(row), quirks) for row in shown],
            "total_pnl": _total(shown, "pnl"),
            "total_pnl_today": _total(shown, "pnl"),
            "total_today_realized_pnl": _total(shown, "today_realized_pnl"),
            "total_unrealized_pnl": _total(shown, "unrealized_pnl"),
        }
    )


def _sandbox_row(row: dict[str, Any]) -> dict[str, Any]:
    """A position as OpenAlgo's sandbox lists it: a closed one shows an average of 0 and 0 %."""
    quantity: int = row["quantity"]
    invested = abs(row["average_price"] * quantity)
    return {
        "symbol": row["symbol"],
        "exchange": row["exchange"],
        "product": row["product"],
        "quantity": quantity,
        "average_price": row["average_price"] if quantity else 0.0,
        "ltp": row["ltp"],
        "pnl": row["pnl"],
        "pnlpercent": round(row["pnl"] / invested * 100, 2) if quantity and invested else 0.0,
        "unrealized_pnl": row["unrealized_pnl"],
        "today_realized_pnl": row["today_realized_pnl"],
        "total_pnl_today": row["pnl"],
        "lot_size": 1.0,
    }


def _zerodha_row(row: dict[str, Any]) -> dict[str, Any]:
    """A position as OpenAlgo maps Zerodha's (broker/zerodha/mapping/order_data.py,
    transform_positions_data): the average price is a string with two decimals; a position closed
    today stays listed with quantity 0 and its taken profit as ``pnl``."""
    return {
        "symbol": row["symbol"],
        "exchange": row["exchange"],
        "product": row["product"],
        "quantity": row["quantity"],
        "pnl": row["pnl"],
        "average_price": f"{row['average_price']:.2f}",
        "ltp": row["ltp"],
    }


def _stringify(row: dict[str, Any], quirks: Quirks) -> dict[str, Any]:
    if quirks.numbers_as_strings:
        return {key: str(value) if isinstance(value, int | float) else value for key, value in row.items()}
    return row


def _total(rows: list[dict[str, Any]], key: str) -> float:
    return round(float(sum(row[key] for row in rows)), 2)
