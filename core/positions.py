"""The Position type, and the one rule that decides whether a position is still open.

``positionbook`` lists the account's net position per symbol, exchange and product; ``quantity``
is signed (negative = short) and may arrive as a string. A closed position stays listed with
quantity 0, or leaves the book altogether (OpenAlgo's sandbox drops one closed at break-even): so
"absent" and "quantity 0" both mean closed, and only a fresh read of the book proves either.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from core.orders import number, text

PositionKey = tuple[str, str, str]  # (symbol, exchange, product)


@dataclass(frozen=True, slots=True)
class Position:
    symbol: str
    exchange: str = ""
    product: str = ""
    quantity: float = 0.0  # signed net quantity: negative is short
    average_price: float = 0.0
    ltp: float = 0.0
    pnl: float = 0.0

    @property
    def key(self) -> PositionKey:
        return (self.symbol, self.exchange, self.product)

    @property
    def open(self) -> bool:
        return self.quantity != 0

    @property
    def closing_action(self) -> str:
        """The side of the order that closes it: SELL a long, BUY a short."""
        return "SELL" if self.quantity > 0 else "BUY"

    def describe(self) -> str:
        """``LONG 50 SBIN NSE MIS`` / ``SHORT 25 NIFTY NFO NRML``: what a trader recognises."""
        side = "LONG" if self.quantity > 0 else "SHORT" if self.quantity < 0 else "FLAT"
        return " ".join(
            p for p in (side, text(abs(self.quantity)), self.symbol, self.exchange, self.product) if p
        )

    @classmethod
    def read(cls, row: Mapping[str, Any]) -> Position | None:
        """One row of ``positionbook``, or None when its net quantity is missing or unreadable:
        a position whose size is unknown is an unreadable book, never a closed position."""
        quantity = net_quantity(row)
        if quantity is None:
            return None
        return replace(cls.from_json(row), quantity=quantity)

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Position:
        """One row as stored (the record's own rows); never raises for a mapping. A row straight
        from the server goes through :meth:`read`."""
        return cls(
            symbol=text(row.get("symbol", row.get("tradingsymbol", ""))),
            exchange=text(row.get("exchange", "")),
            product=text(row.get("product", "")),
            quantity=net_quantity(row) or 0.0,
            average_price=number(row.get("average_price")),
            ltp=number(row.get("ltp")),
            pnl=number(row.get("pnl")),
        )


# The net quantity's spellings across broker modules, compared without case or underscores:
# quantity (OpenAlgo's own), netqty / netQty, net_quantity / netQuantity.
_QUANTITY_KEYS = ("quantity", "netqty", "netquantity")


def net_quantity(row: Mapping[str, Any]) -> float | None:
    """The signed net quantity of a ``positionbook`` row: the first of its spellings present and
    not null. None when none is there, or the value is no number (``"-"``, ``""``, NaN): the
    caller must treat the row as unreadable, not as flat."""
    by_name = {str(k).replace("_", "").lower(): v for k, v in row.items()}
    for key in _QUANTITY_KEYS:
        value = by_name.get(key)
        if value is None:
            continue
        if isinstance(value, bool):
            return None
        try:
            result = float(value.replace(",", "").strip()) if isinstance(value, str) else float(value)
        except (TypeError, ValueError):
            return None
        return result if math.isfinite(result) else None
    return None


def position_json(position: Position) -> dict[str, Any]:
    return {
        "symbol": position.symbol,
        "exchange": position.exchange,
        "product": position.product,
        "quantity": position.quantity,
    }
