"""Placing one order: OpenAlgo's own checks, then the broker's rules, then the book.

``placeorder``, ``placesmartorder`` and ``closeposition`` all place through :func:`place`, so a quirk
of the broker (a freeze limit, unsellable CNC shares, MARKET orders that cannot fill) meets every
order the same way. Two outcomes differ for the client:

- *refused*: OpenAlgo says no before anything reaches the book (an unknown symbol, a LIMIT order
  without a price, MIS after the square-off time); no order id;
- *rejected*: the order got an id and sits in the book as ``rejected`` with the broker's reason. The
  sandbox answers it as an error that carries the id; a live broker (Zerodha) accepts it first and
  rejects it a moment later, so live OpenAlgo answers success with the id (openalgo issue #1425).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.simulator.book import Order, OrderBook
from core.simulator.market import DERIVATIVE_EXCHANGES, EQUITY_EXCHANGES, knows_symbol, last_price
from core.simulator.quirks import FREEZE_REJECTION, T1_REJECTION, Quirks

SEGMENTS = {"NSE": "NSE CASH", "BSE": "BSE CASH", "NFO": "NSE FO", "BFO": "BSE FO", "CDS": "NSE CDS"}
"""Segment names for the freeze-limit rejection (Zerodha's wording for NSE equities)."""


@dataclass(frozen=True)
class Placement:
    """What became of one order: ``order`` is ``None`` when OpenAlgo refused it before the book."""

    order: Order | None
    message: str | None = None
    """Why it was refused or rejected."""

    @property
    def accepted(self) -> bool:
        """The order is in the book and was not rejected (it may be working, filled or resting)."""
        return self.order is not None and self.order.status != "rejected"


def place(
    book: OrderBook,
    quirks: Quirks,
    *,
    symbol: str,
    exchange: str,
    action: str,
    quantity: int,
    pricetype: str,
    product: str,
    price: float,
    trigger_price: float,
    strategy: str,
) -> Placement:
    """Place one order in ``book`` as OpenAlgo and its broker would. A MARKET order fills at once at
    the last price, unless ``closing_orders_rest`` keeps it working."""
    with book.lock:
        key = (symbol, exchange, product)
        held = book.net_quantity(key)
        reduces = held != 0 and (held > 0) != (action == "BUY")
        refusal = _refusal(quirks, symbol, exchange, product, pricetype, price, trigger_price, reduces)
        if refusal is not None:
            return Placement(None, refusal)
        status = {"LIMIT": "open", "SL": "trigger pending", "SL-M": "trigger pending"}.get(pricetype)
        if pricetype == "MARKET":
            # The sandbox stores the last price it filled (or would fill) a MARKET order at as its price.
            price = last_price(symbol)
            rests = reduces and key in book.select_positions(
                "closing_orders_rest", quirks.closing_orders_rest
            )
            status = "open" if rests else "complete"
        reason = _rejection(quirks, symbol, exchange, action, quantity, product, held)
        order = book.place(
            symbol=symbol,
            exchange=exchange,
            action=action,
            quantity=quantity,
            pricetype=pricetype,
            product=product,
            price=price,
            trigger_price=trigger_price,
            status="rejected" if reason else str(status),
            strategy=strategy,
            rejection_reason=reason,
        )
        return Placement(order, reason)


def _refusal(
    quirks: Quirks,
    symbol: str,
    exchange: str,
    product: str,
    pricetype: str,
    price: float,
    trigger_price: float,
    reduces: bool,
) -> str | None:
    """OpenAlgo's own checks (the sandbox's sentences, sandbox/order_manager.py), or ``None``."""
    if not knows_symbol(symbol, exchange):
        return f"Symbol {symbol} not found on {exchange}"
    if exchange in EQUITY_EXCHANGES and product == "NRML":
        return (
            f"NRML product not allowed for {exchange} equity segment. "
            "Use CNC for delivery or MIS for intraday."
        )
    if exchange in DERIVATIVE_EXCHANGES and product == "CNC":
        return (
            f"CNC product not allowed for {exchange} derivatives segment. "
            "Use NRML for carryforward or MIS for intraday."
        )
    # After the square-off time MIS orders may still reduce an open position, never open one.
    if quirks.market_closed and product == "MIS" and not reduces:
        return (
            "MIS orders cannot be placed after square-off time (15:15 IST). Trading resumes at 09:00 AM IST."
        )
    if pricetype in ("LIMIT", "SL") and not price:
        return f"{pricetype} orders require price"
    if pricetype in ("SL", "SL-M") and not trigger_price:
        return f"{pricetype} orders require trigger_price"
    if pricetype == "MARKET" and quirks.market_closed:
        return (
            f"Cannot place MARKET order for {symbol} - unable to fetch current price. "
            "Please try again later or use LIMIT order with a specific price."
        )
    return None


def _rejection(
    quirks: Quirks, symbol: str, exchange: str, action: str, quantity: int, product: str, held: int
) -> str | None:
    """The broker's RMS rules that the quirks switch on, or ``None``."""
    if quirks.freeze_quantity is not None and quantity > quirks.freeze_quantity:
        return FREEZE_REJECTION.format(segment=SEGMENTS.get(exchange, exchange))
    if quirks.cnc_bought_today_unsellable and product == "CNC" and action == "SELL" and held > 0:
        return T1_REJECTION.format(exchange=exchange, symbol=symbol)
    return None
