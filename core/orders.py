"""The Order type and the one rule that decides whether an order is still working.

Brokers behind OpenAlgo leak their own status words and send numbers as numbers or as
strings, so parsing is liberal: anything that arrives becomes an ``Order``; what cannot
be read is kept as it came (a status word) or as a neutral value (a number).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Statuses that are clearly finished. Everything else -- including words we have
# never seen -- counts as still working, because the cost of wrongly calling an order
# finished (it stays in the market) is far higher than that of trying to cancel it.
_TERMINAL = frozenset(
    {
        "complete",
        "completed",
        "traded",
        "filled",
        "fullyfilled",
        "fullyexecuted",
        "executed",
        "cancelled",
        "canceled",
        "cancelledamo",
        "rejected",
        "expired",
    }
)
_SEPARATORS = re.compile(r"[\s_\-]+")

_ID_KEYS = ("orderid", "order_id", "orderId", "OrderId", "norenordno", "id")


def normalise_status(status: str) -> str:
    """Lower-case a status word and drop separators: ``TRIGGER_PENDING`` -> ``triggerpending``."""
    return _SEPARATORS.sub("", status).lower()


def is_terminal_status(status: str) -> bool:
    return normalise_status(status) in _TERMINAL


def order_id_from(item: Mapping[str, Any]) -> str:
    """The order id under any of the keys brokers use, as a string ('' when absent)."""
    for key in _ID_KEYS:
        value = item.get(key)
        if value not in (None, ""):
            return text(value)
    return ""


def text(value: Any) -> str:
    """A display string for a scalar from JSON; ints stay ints (no '1.0')."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def number(value: Any) -> float:
    """A number from a JSON number or a string like ``"1,250.50"``; 0.0 when unreadable."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = float(value.replace(",", "").strip() or 0)
        except ValueError:
            return 0.0
    else:
        return 0.0
    return result if math.isfinite(result) else 0.0


@dataclass(frozen=True, slots=True)
class Order:
    orderid: str
    symbol: str = ""
    exchange: str = ""
    action: str = ""
    quantity: float = 0.0
    price: float = 0.0
    trigger_price: float = 0.0
    pricetype: str = ""
    product: str = ""
    status: str = ""
    timestamp: str = ""
    filled_quantity: float = 0.0
    strategy: str = ""
    reason: str = ""  # the broker's word on a rejected order (``rejection_reason``), when it gives one

    @property
    def working(self) -> bool:
        return still_working(self)

    def describe(self) -> str:
        """One line a trader recognises: ``BUY 10 SBIN LIMIT @ 812.5 (#2611...)``."""
        qty = text(self.quantity)
        parts = [self.action, qty, self.symbol, self.pricetype]
        line = " ".join(p for p in parts if p)
        if self.price:
            line += f" @ {text(self.price)}"
        if self.trigger_price:
            line += f" trg {text(self.trigger_price)}"
        return f"{line} (#{self.orderid})" if line else f"#{self.orderid}"

    @classmethod
    def from_json(cls, row: Mapping[str, Any]) -> Order:
        """Build an order from one row of ``orderbook``; never raises for a mapping."""
        status = row.get("order_status", row.get("status", ""))
        return cls(
            orderid=order_id_from(row),
            symbol=text(row.get("symbol", row.get("tradingsymbol", ""))),
            exchange=text(row.get("exchange", "")),
            action=text(row.get("action", row.get("transaction_type", ""))).upper(),
            quantity=number(row.get("quantity")),
            price=number(row.get("price")),
            trigger_price=number(row.get("trigger_price")),
            pricetype=text(row.get("pricetype", row.get("price_type", ""))),
            product=text(row.get("product", "")),
            status=text(status),
            timestamp=text(row.get("timestamp", row.get("order_time", ""))),
            filled_quantity=number(row.get("filled_quantity")),
            strategy=text(row.get("strategy", "")),
            reason=text(
                row.get("rejection_reason", row.get("rejected_reason", row.get("status_message", "")))
            ),
        )


def still_working(order: Order) -> bool:
    """True unless the order's status is clearly terminal (case- and separator-insensitive).

    An empty or unknown status counts as working: we cannot prove it is finished.
    """
    return not is_terminal_status(order.status)
