"""The simulator's small market: a symbol master of liquid NSE shares and their price levels.

Prices are rough late-2025 levels, close enough that a demo's order book looks like a real trader's.
"""

from __future__ import annotations

import calendar
import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

IST = timezone(timedelta(hours=5, minutes=30), "IST")
"""OpenAlgo stamps orders and order ids in Indian Standard Time."""

TICK = 0.05
"""NSE's price step for equities."""

REFERENCE_PRICES: dict[str, float] = {
    "RELIANCE": 1510.0,
    "SBIN": 955.0,
    "INFY": 1530.0,
    "TCS": 3120.0,
    "HDFCBANK": 995.0,
    "ICICIBANK": 1385.0,
    "AXISBANK": 1230.0,
    "KOTAKBANK": 2110.0,
    "ITC": 405.0,
    "LT": 3990.0,
    "BHARTIARTL": 2090.0,
    "HINDUNILVR": 2440.0,
    "BAJFINANCE": 1015.0,
    "MARUTI": 15950.0,
    "WIPRO": 246.0,
    "HCLTECH": 1610.0,
    "ASIANPAINT": 2820.0,
    "SUNPHARMA": 1760.0,
    "TITAN": 3790.0,
    "ULTRACEMCO": 11750.0,
    "NTPC": 329.0,
    "POWERGRID": 271.0,
    "ONGC": 249.0,
    "TATASTEEL": 171.0,
    "ADANIENT": 2410.0,
}
"""NSE symbols the simulator knows, with a price near their real market level."""

INDEX_FUTURES: dict[str, tuple[float, int]] = {
    "NIFTY": (26050.0, 75),
    "BANKNIFTY": (59100.0, 35),
}
"""NFO index futures the simulator trades: a price level and the lot size (late-2025)."""

EQUITY_EXCHANGES = frozenset({"NSE", "BSE"})
"""Exchanges whose symbols the simulator checks against its symbol master."""

DERIVATIVE_EXCHANGES = frozenset({"NFO", "BFO", "MCX", "CDS", "BCD", "NCDEX"})

VALID_EXCHANGES: tuple[str, ...] = (
    "NSE",
    "NFO",
    "CDS",
    "BSE",
    "BFO",
    "BCD",
    "MCX",
    "NCDEX",
    "NSE_INDEX",
    "BSE_INDEX",
)


def to_tick(price: float) -> float:
    """Round a price to the exchange's 0.05 step."""
    return round(round(price / TICK) * TICK, 2)


def now_ist() -> datetime:
    return datetime.now(IST)


def knows_symbol(symbol: str, exchange: str) -> bool:
    """Whether a symbol exists on an exchange. Only equities are checked; the simulator accepts any
    derivative symbol because it keeps no contract master."""
    if exchange in EQUITY_EXCHANGES:
        return symbol in REFERENCE_PRICES
    return True


def futures_symbol(name: str, today: date | None = None) -> str:
    """This month's future of an index in OpenAlgo's format (``NIFTY30DEC25FUT``): NSE's monthly
    contracts expire on the month's last Tuesday; after it, next month's contract is the near one."""
    today = today or now_ist().date()
    year, month = today.year, today.month
    expiry = _last_tuesday(year, month)
    if today > expiry:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
        expiry = _last_tuesday(year, month)
    return f"{name}{expiry.strftime('%d%b%y').upper()}FUT"


def _last_tuesday(year: int, month: int) -> date:
    last = date(year, month, calendar.monthrange(year, month)[1])
    return last - timedelta(days=(last.weekday() - calendar.TUESDAY) % 7)


def last_price(symbol: str) -> float:
    """The last traded price the simulator assumes for a symbol (its reference level, or 100)."""
    if symbol in REFERENCE_PRICES:
        return REFERENCE_PRICES[symbol]
    for name, (price, _) in INDEX_FUTURES.items():
        if symbol.startswith(name) and symbol.endswith("FUT") and symbol[len(name)].isdigit():
            return price
    return 100.0


@dataclass(frozen=True)
class OrderIdea:
    """The fields of a realistic working order, before it enters the book."""

    symbol: str
    action: str
    quantity: int
    pricetype: str
    product: str
    price: float
    trigger_price: float
    status: str


def realistic_quantity(rng: random.Random, price: float) -> int:
    """A quantity a retail trader would plausibly send: fewer shares of dear stocks."""
    budget = rng.choice((5_000, 10_000, 25_000, 50_000, 100_000, 200_000))
    return max(1, int(budget / price))


def working_order_idea(rng: random.Random, pricetype: str | None = None) -> OrderIdea:
    """A working order away from the market, so that it would rest in a real book: a BUY LIMIT below
    the last price, a SELL LIMIT above; a stop-loss whose trigger the market has not reached. The
    price type is drawn (mostly LIMIT) unless given."""
    symbol = rng.choice(tuple(REFERENCE_PRICES))
    ltp = REFERENCE_PRICES[symbol]
    action = rng.choice(("BUY", "SELL"))
    if pricetype is None:
        pricetype = rng.choices(("LIMIT", "SL", "SL-M"), weights=(6, 3, 2))[0]
    product = rng.choice(("CNC", "MIS"))
    away = rng.uniform(0.005, 0.04) * ltp
    if pricetype == "LIMIT":
        price = to_tick(ltp - away if action == "BUY" else ltp + away)
        return OrderIdea(symbol, action, realistic_quantity(rng, ltp), pricetype, product, price, 0.0, "open")
    # A stop-loss BUY triggers when the market rises to the trigger, a SELL when it falls to it.
    trigger = to_tick(ltp + away if action == "BUY" else ltp - away)
    if pricetype == "SL":
        slack = to_tick(max(TICK, trigger * 0.002))
        price = to_tick(trigger + slack if action == "BUY" else trigger - slack)
    else:
        price = 0.0
    return OrderIdea(
        symbol, action, realistic_quantity(rng, ltp), pricetype, product, price, trigger, "trigger pending"
    )


def finished_order_idea(rng: random.Random) -> OrderIdea:
    """An order that is already over: filled, cancelled or rejected."""
    idea = working_order_idea(rng)
    status = rng.choices(("complete", "cancelled", "rejected"), weights=(5, 3, 1))[0]
    return OrderIdea(
        idea.symbol,
        idea.action,
        idea.quantity,
        idea.pricetype,
        idea.product,
        idea.price,
        idea.trigger_price,
        status,
    )


@dataclass(frozen=True)
class PositionIdea:
    """An open position to trade into: ``quantity`` is signed (negative = short)."""

    symbol: str
    exchange: str
    product: str
    quantity: int
    price: float


def position_ideas(rng: random.Random, n: int) -> list[PositionIdea]:
    """``n`` open positions a trader could hold at once, each on its own symbol/exchange/product:
    NSE shares (CNC delivery, long only; MIS intraday, long or short) and NFO index futures (NRML or
    MIS, whole lots, long or short), bought or sold within 1.5 % of the last price."""
    groups = [
        [(symbol, "NSE", "CNC") for symbol in REFERENCE_PRICES],
        [(symbol, "NSE", "MIS") for symbol in REFERENCE_PRICES],
        [(futures_symbol(name), "NFO", p) for name in INDEX_FUTURES for p in ("NRML", "MIS")],
    ]
    total = sum(len(group) for group in groups)
    if n > total:
        raise ValueError(f"the simulator can hold at most {total} positions at once, not {n}")
    for group in groups:
        rng.shuffle(group)
    # Deal from each kind in turn, so that even a few positions span delivery, intraday and futures.
    keys: list[tuple[str, str, str]] = []
    while len(keys) < n:
        for group in groups:
            if group and len(keys) < n:
                keys.append(group.pop())
    ideas = []
    for symbol, exchange, product in keys:
        ltp = last_price(symbol)
        if exchange == "NFO":
            lot = INDEX_FUTURES[symbol[: -len("DDMMMYYFUT")]][1]
            size = lot * rng.randint(1, 4)
        else:
            size = realistic_quantity(rng, ltp)
        short = product != "CNC" and rng.random() < 0.4
        price = to_tick(ltp * rng.uniform(0.985, 1.015))
        ideas.append(PositionIdea(symbol, exchange, product, -size if short else size, price))
    return ideas
