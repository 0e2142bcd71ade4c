"""The simulated account: its order book, its positions, and how a cancel meets the broker's quirks.

Everything here is guarded by one lock, held only for short bookkeeping steps, never while the server
waits (a per-order delay of ``cancelallorder`` happens outside it), so two requests can interleave
just as they do inside OpenAlgo.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Mapping, Set
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from core.simulator.market import OrderIdea, last_price, now_ist, to_tick
from core.simulator.quirks import OrderSelector, PositionSelector, Quirks

WORKING_STATUSES = frozenset({"open", "trigger pending"})
"""Statuses of an order that can still trade, and so must be cancelled by a kill."""

STATUSES = ("open", "trigger pending", "complete", "rejected", "cancelled")
"""OpenAlgo's own order statuses (brokers' own words come from the ``status_words`` quirk)."""

ACTIONS = ("BUY", "SELL")
PRICETYPES = ("MARKET", "LIMIT", "SL", "SL-M")
PRODUCTS = ("CNC", "MIS", "NRML")

IN_TRANSIT = "Order is in transit"
ALREADY_EXECUTED = "Order already executed"

REJECTION_REASONS = (
    "RMS:Margin Exceeds,Required:12500.00, Available:8210.35",
    "Order price is out of the day's price band",
    "Insufficient holdings for CNC sell",
)


@dataclass
class Order:
    """One row of the order book, in OpenAlgo's own vocabulary."""

    orderid: str
    symbol: str
    exchange: str
    action: str
    quantity: int
    price: float
    trigger_price: float
    pricetype: str
    product: str
    status: str
    placed_at: datetime
    strategy: str = ""
    average_price: float = 0.0
    filled_quantity: int = 0
    pending_quantity: int = 0
    rejection_reason: str = ""

    @property
    def working(self) -> bool:
        return self.status in WORKING_STATUSES

    @property
    def timestamp(self) -> str:
        return self.placed_at.strftime("%Y-%m-%d %H:%M:%S")

    def row(self) -> dict[str, Any]:
        """The order as OpenAlgo's sandbox lists it in ``orderbook``."""
        return {
            "orderid": self.orderid,
            "symbol": self.symbol,
            "exchange": self.exchange,
            "action": self.action,
            "quantity": self.quantity,
            "price": float(self.price),
            "trigger_price": float(self.trigger_price),
            "pricetype": self.pricetype,
            "product": self.product,
            "order_status": self.status,
            "average_price": float(self.average_price),
            "filled_quantity": self.filled_quantity,
            "pending_quantity": self.pending_quantity,
            "rejection_reason": self.rejection_reason,
            "timestamp": self.timestamp,
            "strategy": self.strategy,
        }

    def status_row(self) -> dict[str, Any]:
        """The order as ``orderstatus`` shows it (``price_type``, no rejection reason)."""
        row = self.row()
        row["price_type"] = row.pop("pricetype")
        del row["rejection_reason"]
        return row


PositionKey = tuple[str, str, str]
"""(symbol, exchange, product): what a position is per, as OpenAlgo and the brokers keep them."""


@dataclass
class Position:
    """One symbol/exchange/product's net position today: signed quantity (negative = short), the
    average price of what is open, and the profit already taken by reducing it."""

    symbol: str
    exchange: str
    product: str
    quantity: int = 0
    average_price: float = 0.0
    realized_pnl: float = 0.0

    @property
    def key(self) -> PositionKey:
        return (self.symbol, self.exchange, self.product)

    @property
    def open(self) -> bool:
        return self.quantity != 0

    def row(self) -> dict[str, Any]:
        """The position with its numbers: ``pnl`` is the day's total (taken plus open), as both the
        sandbox and Zerodha report it."""
        ltp = last_price(self.symbol)
        unrealized = round((ltp - self.average_price) * self.quantity, 2) if self.quantity else 0.0
        realized = round(self.realized_pnl, 2)
        return {
            "symbol": self.symbol,
            "exchange": self.exchange,
            "product": self.product,
            "quantity": self.quantity,
            "average_price": round(self.average_price, 2),
            "ltp": ltp,
            "pnl": round(realized + unrealized, 2),
            "unrealized_pnl": unrealized,
            "today_realized_pnl": realized,
        }


@dataclass(frozen=True)
class CancelStep:
    """What the broker said to one cancel: ``None`` as ``failure`` means it went through."""

    orderid: str
    failure: str | None = None


class OrderBook:
    """The orders and positions of the one simulated account."""

    def __init__(self, rng: random.Random) -> None:
        self._lock = threading.RLock()
        self._rng = rng
        self._orders: dict[str, Order] = {}
        self._positions: dict[PositionKey, Position] = {}
        self._cancel_attempts: dict[str, int] = {}
        self._resolved: dict[str, tuple[OrderSelector, frozenset[str]]] = {}
        self._resolved_positions: dict[str, tuple[PositionSelector, frozenset[PositionKey]]] = {}

    @property
    def lock(self) -> threading.RLock:
        """Hold it to look at the book and change it as one step (a smart order reads the position
        and places against it). Only for short bookkeeping: never while waiting."""
        return self._lock

    # ---- reading -------------------------------------------------------------------------------

    def orders(self) -> list[Order]:
        """Copies of every order, oldest first."""
        with self._lock:
            return [replace(order) for order in self._orders.values()]

    def working(self) -> list[Order]:
        """Copies of the working orders, oldest first."""
        with self._lock:
            return [replace(order) for order in self._orders.values() if order.working]

    def find(self, orderid: str) -> Order | None:
        with self._lock:
            order = self._orders.get(orderid)
            return None if order is None else replace(order)

    def positions(self) -> list[Position]:
        """Copies of every position the day has seen, open and closed, in the order they opened."""
        with self._lock:
            return [replace(position) for position in self._positions.values()]

    def net_quantity(self, key: PositionKey) -> int:
        """The signed net quantity of one symbol/exchange/product (0 if it never traded)."""
        with self._lock:
            position = self._positions.get(key)
            return 0 if position is None else position.quantity

    def statistics(self, *, with_trigger_pending: bool) -> dict[str, int]:
        """The ``statistics`` block of ``orderbook``; the sandbox adds trigger-pending orders."""
        with self._lock:
            orders = list(self._orders.values())
        stats = {
            "total_buy_orders": sum(1 for o in orders if o.action == "BUY"),
            "total_sell_orders": sum(1 for o in orders if o.action == "SELL"),
            "total_completed_orders": sum(1 for o in orders if o.status == "complete"),
            "total_open_orders": sum(1 for o in orders if o.status == "open"),
            "total_rejected_orders": sum(1 for o in orders if o.status == "rejected"),
        }
        if with_trigger_pending:
            stats["total_trigger_pending_orders"] = sum(1 for o in orders if o.status == "trigger pending")
        return stats

    # ---- placing -------------------------------------------------------------------------------

    def place(
        self,
        *,
        symbol: str,
        exchange: str,
        action: str,
        quantity: int,
        pricetype: str,
        product: str,
        price: float,
        trigger_price: float,
        status: str,
        strategy: str,
        orderid: str | None = None,
        rejection_reason: str | None = None,
    ) -> Order:
        """Put an order in the book. A ``complete`` order fills at once (and moves a position); a
        ``rejected`` one gets ``rejection_reason`` or a broker's reason picked at random."""
        with self._lock:
            if orderid is None:
                orderid = self._new_orderid()
            elif orderid in self._orders:
                raise ValueError(f"order id {orderid} is already in the book")
            order = Order(
                orderid=orderid,
                symbol=symbol,
                exchange=exchange,
                action=action,
                quantity=quantity,
                price=price,
                trigger_price=trigger_price,
                pricetype=pricetype,
                product=product,
                status="open",
                placed_at=now_ist(),
                strategy=strategy,
                pending_quantity=quantity,
            )
            self._orders[orderid] = order
            if status == "complete":
                self._fill(order, price or trigger_price or last_price(symbol))
            elif status == "rejected":
                order.status = "rejected"
                order.pending_quantity = 0
                order.rejection_reason = rejection_reason or self._rng.choice(REJECTION_REASONS)
            else:
                order.status = status
            return replace(order)

    def place_idea(self, idea: OrderIdea, strategy: str) -> Order:
        return self.place(
            symbol=idea.symbol,
            exchange="NSE",
            action=idea.action,
            quantity=idea.quantity,
            pricetype=idea.pricetype,
            product=idea.product,
            price=idea.price,
            trigger_price=idea.trigger_price,
            status=idea.status,
            strategy=strategy,
        )

    def _new_orderid(self) -> str:
        # OpenAlgo's sandbox ids: YYMMDD (IST) + 8 digits. Ours are random digits, unique in the book.
        prefix = now_ist().strftime("%y%m%d")
        while True:
            orderid = f"{prefix}{self._rng.randrange(10**8):08d}"
            if orderid not in self._orders:
                return orderid

    # ---- changing ------------------------------------------------------------------------------

    def modify(self, orderid: str, *, quantity: int, price: float, trigger_price: float) -> Order:
        with self._lock:
            order = self._orders[orderid]
            order.quantity = quantity
            order.pending_quantity = quantity
            # The sandbox keeps the old price or trigger when the new one is zero.
            if price:
                order.price = price
            if trigger_price:
                order.trigger_price = trigger_price
            return replace(order)

    def fill(self, orderid: str, price: float | None = None) -> None:
        """Fill a working order completely, at ``price`` or the order's own level."""
        with self._lock:
            order = self._orders[orderid]
            if order.working:
                self._fill(order, price or order.price or order.trigger_price or last_price(order.symbol))

    def _fill(self, order: Order, price: float) -> None:
        order.status = "complete"
        order.filled_quantity = order.quantity
        order.pending_quantity = 0
        order.average_price = to_tick(price)
        self._move_position(order)

    def _move_position(self, order: Order) -> None:
        key = (order.symbol, order.exchange, order.product)
        position = self._positions.setdefault(key, Position(order.symbol, order.exchange, order.product))
        signed = order.quantity if order.action == "BUY" else -order.quantity
        old = position.quantity
        new = old + signed
        if old == 0 or (old > 0) == (signed > 0):
            # Opening or adding: the average moves toward the new fill.
            position.average_price = (
                position.average_price * abs(old) + order.average_price * abs(signed)
            ) / abs(new)
        else:
            # Reducing: the part closed takes its profit against the average it was opened at.
            closed = min(abs(old), abs(signed))
            direction = 1 if old > 0 else -1
            position.realized_pnl += (order.average_price - position.average_price) * closed * direction
            if new == 0:
                position.average_price = 0.0
            elif (old > 0) != (new > 0):
                # Reversed through zero: the remainder was bought (or sold) at this fill.
                position.average_price = order.average_price
        position.quantity = new

    # ---- cancelling ----------------------------------------------------------------------------

    def cancel_now(self, orderid: str, quirks: Quirks) -> CancelStep | None:
        """One ``cancelorder``: ``None`` if the id is unknown, else what the broker said."""
        with self._lock:
            if orderid not in self._orders:
                return None
            step = self.begin_cancel(orderid, quirks)
            if step.failure is not None:
                return step
            return self.finish_cancel(orderid)

    def begin_cancel(self, orderid: str, quirks: Quirks) -> CancelStep:
        """The broker receives a cancel: it may refuse it now (in transit, already executed, not
        working). Otherwise the caller waits out the broker's latency and calls :meth:`finish_cancel`."""
        with self._lock:
            order = self._orders[orderid]
            transit = quirks.fail_in_transit
            if order.working and orderid in self._select("transit", transit):
                attempts = self._cancel_attempts.get(orderid, 0) + 1
                self._cancel_attempts[orderid] = attempts
                allowed = transit[orderid] if isinstance(transit, Mapping) else quirks.in_transit_attempts
                if attempts <= allowed:
                    return CancelStep(orderid, IN_TRANSIT)
            if order.working and orderid in self._select("executed", quirks.already_executed):
                self._fill(order, order.price or order.trigger_price or last_price(order.symbol))
                return CancelStep(orderid, ALREADY_EXECUTED)
            if not order.working:
                return CancelStep(orderid, f"Cannot cancel order in {order.status} status")
            return CancelStep(orderid)

    def finish_cancel(self, orderid: str) -> CancelStep:
        """The broker's cancel lands. An order that another cancel-all got to first still counts as
        cancelled here: two racing cancel-alls both report it, as on the real server."""
        with self._lock:
            order = self._orders[orderid]
            if order.working:
                order.status = "cancelled"
            elif order.status != "cancelled":
                return CancelStep(orderid, f"Cannot cancel order in {order.status} status")
            return CancelStep(orderid)

    def select(self, kind: str, selector: OrderSelector) -> Set[str] | Mapping[str, int]:
        """The order ids a quirk's selector names (see :data:`OrderSelector`), for ``in`` tests;
        ``kind`` names the quirk, so that each resolves its count or fraction on its own."""
        with self._lock:
            return self._select(kind, selector)

    def _select(self, kind: str, selector: OrderSelector) -> Set[str] | Mapping[str, int]:
        if isinstance(selector, Set | Mapping):
            return selector
        cached = self._resolved.get(kind)
        if cached is not None and type(cached[0]) is type(selector) and cached[0] == selector:
            return cached[1]
        working = [order.orderid for order in self._orders.values() if order.working]
        if isinstance(selector, float):
            count = min(len(working), round(max(0.0, selector) * len(working)))
            chosen = frozenset(self._rng.sample(working, count))
        else:
            chosen = frozenset(working[: max(0, selector)])
        self._resolved[kind] = (selector, chosen)
        return chosen

    def select_positions(self, kind: str, selector: PositionSelector) -> frozenset[PositionKey]:
        """The positions a quirk's selector names (see :data:`PositionSelector`)."""
        with self._lock:
            if isinstance(selector, Set):
                return frozenset(key for key in self._positions if _named(key, selector))
            cached = self._resolved_positions.get(kind)
            if cached is not None and type(cached[0]) is type(selector) and cached[0] == selector:
                return cached[1]
            open_keys = [key for key, position in self._positions.items() if position.open]
            if isinstance(selector, float):
                count = min(len(open_keys), round(max(0.0, selector) * len(open_keys)))
                chosen = frozenset(self._rng.sample(open_keys, count))
            else:
                chosen = frozenset(open_keys[: max(0, selector)])
            self._resolved_positions[kind] = (selector, chosen)
            return chosen


def _named(key: PositionKey, names: Set[str]) -> bool:
    symbol, exchange, product = key
    return bool({symbol, f"{exchange}:{symbol}", f"{exchange}:{symbol}:{product}"} & names)
