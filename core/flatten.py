"""Flatten: close every open position once the order kill is verified, and prove it.

Closing positions while orders can still fill would re-open them, so this runs only after the
order book was verified flat. Then:

1. read ``positionbook`` (what is open now: the positions this step must account for);
2. ``closeposition`` once -- it squares off everything with MARKET orders, but its answer says
   nothing about each position (live it always says "All Open Positions Squared Off");
3. read ``positionbook`` again; every position still open gets its own ``placesmartorder`` to
   size 0 (``quantity: 0``, so a position already flat never turns into a new order), within
   the smart-order rate limit, transient failures retried until the deadline;
4. read ``positionbook`` until nothing is open or a few seconds pass (a closing MARKET order takes
   a moment to fill), then ``orderbook``: a closing order resting unfilled is a working order.

Every position open at the start must be closed in that last fresh read -- "absent" and
"quantity 0" both mean closed -- or it is listed with the broker's reason: a rejected closing
order's reason, a refusal, Semi-Auto's approval queue, a closing order resting unfilled.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.orders import Order
from core.pacing import RateLimiter
from core.positions import Position, PositionKey, position_json
from core.replies import ApiError, ClosePositionsResult, ErrorKind, OrderBook, PositionBook, SmartOrderResult

if TYPE_CHECKING:  # a type only: the HTTP client loads when a lane needs it
    from core.client import OpenAlgoClient

log = logging.getLogger(__name__)

SMART_ORDER_RATE_LIMIT = 10  # OpenAlgo's SMART_ORDER_RATE_LIMIT default, per second
FILL_WAIT_S = 3.0  # how long to re-read for closing orders to fill before judging
FILL_POLL_S = 0.25


@dataclass(frozen=True, slots=True)
class PositionLeft:
    position: Position  # as the last read showed it
    reason: str


@dataclass(frozen=True, slots=True)
class FlattenReport:
    """What became of every position open when the step began."""

    outcome: str  # closed | remain | unverified | refused | unreachable
    message: str = ""  # closeposition's own words, or what became of it
    closed_by_server: tuple[Position, ...] = ()  # with the quantity they had when open
    closed_by_sweep: tuple[Position, ...] = ()
    remaining: tuple[PositionLeft, ...] = ()
    working_orders: tuple[Order, ...] = ()  # in the final order-book read (e.g. resting closers)
    closing_orders: tuple[str, ...] = ()  # order ids the sweep placed
    errors: tuple[str, ...] = ()
    refusal: ApiError | None = None
    any_delivered: bool = False  # some request may have reached OpenAlgo
    verified: bool = False  # the final reads of both books succeeded

    @property
    def closed(self) -> tuple[Position, ...]:
        return self.closed_by_server + self.closed_by_sweep

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "message": self.message,
            "positions_closed": [{**position_json(p), "closed_by": "server"} for p in self.closed_by_server]
            + [{**position_json(p), "closed_by": "sweep"} for p in self.closed_by_sweep],
            "positions_remaining": [
                {**position_json(p.position), "reason": p.reason} for p in self.remaining
            ],
            "closing_orders": list(self.closing_orders),
            "errors": list(self.errors),
        }


ProgressCallback = Callable[[str], None]


class Flatten:
    """One run of the flatten step (see the module docstring), within ``deadline`` (a
    ``clock()`` time)."""

    def __init__(
        self,
        client: OpenAlgoClient,
        deadline: float,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        on_progress: ProgressCallback | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self.client = client
        self.deadline = deadline
        self.clock = clock
        self.sleep = sleep
        self.on_progress = on_progress
        self.limiter = limiter or RateLimiter(SMART_ORDER_RATE_LIMIT, clock=clock, sleep=sleep)
        self.errors: list[str] = []
        self.refusal: ApiError | None = None
        self.any_delivered = False
        self.lock = threading.Lock()
        self.why: dict[PositionKey, str] = {}  # what the sweep learned of each position it tried
        self.placed: dict[PositionKey, str] = {}  # closing order id per position
        self.swept: set[PositionKey] = set()

    def left(self) -> float:
        return max(0.0, self.deadline - self.clock())

    def progress(self, text: str) -> None:
        if self.on_progress is not None:
            try:
                self.on_progress(text)
            except Exception:
                log.exception("progress callback failed")

    def note(self, error: ApiError) -> None:
        self.errors.append(error.sentence)
        self.any_delivered = self.any_delivered or error.delivered
        if error.refusal and self.refusal is None:
            self.refusal = error

    # -- the step ------------------------------------------------------------------------

    def run(self) -> FlattenReport:
        host = self.client.host
        self.progress(f"Reading the position book ({host})…")
        first = self.read_positions()
        known: dict[PositionKey, Position] = {p.key: p for p in first.open} if first else {}

        self.progress(f"Closing every position (closeposition on {host})…")
        outcome = self.client.close_positions(within=self.left())
        message: str
        if isinstance(outcome, ClosePositionsResult):
            self.any_delivered = True
            message = outcome.message
        else:
            self.note(outcome)
            message = outcome.sentence
            if outcome.refusal:
                return self.report("refused", message, known, first, first, None)

        self.progress(f"Reading the position book again ({host})…")
        after_close = self.read_positions()
        if after_close is None:
            return self.report(self.unread_outcome(), message, known, first, None, None)
        for position in after_close.open:
            known.setdefault(position.key, position)
        open_now = after_close.open
        if open_now:
            self.sweep(open_now)
        final = self.wait_for_fills(after_close if not open_now else None)
        if final is None:
            return self.report(self.unread_outcome(), message, known, first, None, None)
        orders = self.read_orders()
        return self.report("", message, known, after_close, final, orders)

    def read_positions(self) -> PositionBook | None:
        for delay in (0.1, 0.3, None):
            left = self.left()
            if left <= 0:
                self.errors.append("The kill's deadline passed before the position book could be read.")
                return None
            book = self.client.positionbook(within=left)
            if isinstance(book, PositionBook):
                self.any_delivered = True
                return book
            self.note(book)
            if book.refusal or delay is None or self.clock() + delay >= self.deadline:
                return None
            self.sleep(delay)
        return None

    def read_orders(self) -> OrderBook | None:
        left = self.left()
        if left <= 0:
            return None
        book = self.client.orderbook(within=left)
        if isinstance(book, OrderBook):
            return book
        self.note(book)
        return None

    def wait_for_fills(self, already: PositionBook | None) -> PositionBook | None:
        """Re-read until nothing is open, or a few seconds pass: MARKET closers take a moment."""
        if already is not None:
            return already
        ends = min(self.deadline, self.clock() + FILL_WAIT_S)
        while True:
            self.progress(f"Verifying the position book ({self.client.host})…")
            book = self.read_positions()
            if book is None or not book.open or self.clock() + FILL_POLL_S >= ends:
                return book
            self.sleep(FILL_POLL_S)

    def sweep(self, positions: tuple[Position, ...]) -> None:
        total = len(positions)
        self.progress(f"Closing {total} positions one by one…")
        for done, position in enumerate(positions, 1):
            self.close_one(position)
            self.progress(f"Closed {done} of {total} positions one by one…")

    def close_one(self, position: Position) -> None:
        key = position.key
        self.swept.add(key)
        delay = 0.2
        while True:
            slot = self.limiter.acquire(self.deadline)
            if slot is None:
                self.why[key] = "not closed: the kill's deadline passed before its turn"
                return
            result = self.client.close_position(position, within=self.left())
            slot.settle()
            if isinstance(result, SmartOrderResult):
                self.any_delivered = True
                if result.queued:
                    self.why[key] = (
                        "its closing order was queued for approval in OpenAlgo's Action Center "
                        "(Semi-Auto mode), not sent to the broker"
                    )
                elif result.orderid:
                    self.placed[key] = result.orderid
                else:
                    self.why[key] = result.message or "the server said there was nothing to close"
                return
            if result.kind is ErrorKind.RATE_LIMITED:
                self.limiter.penalise()
                continue
            self.note(result)
            reason = result.server_message or result.sentence
            if result.refusal or not result.transient or self.clock() + delay > self.deadline:
                self.why[key] = reason
                return
            self.sleep(delay)
            delay = min(delay * 2, 1.0)

    def unread_outcome(self) -> str:
        if self.refusal is not None:
            return "refused"
        return "unverified" if self.any_delivered else "unreachable"

    # -- the verdict ---------------------------------------------------------------------

    def report(
        self,
        outcome: str,
        message: str,
        known: dict[PositionKey, Position],
        last_seen: PositionBook | None,
        final: PositionBook | None,
        orders: OrderBook | None,
    ) -> FlattenReport:
        working = orders.working if orders is not None else ()
        by_id = {o.orderid: o for o in orders.orders} if orders is not None else {}
        if final is None:
            still = last_seen.open if last_seen is not None else tuple(known.values())
            remaining = tuple(PositionLeft(p, self.reason_for(p, by_id, fresh=False)) for p in still)
            return self.build(outcome, message, (), (), remaining, working, False)
        open_now = {p.key: p for p in final.open}
        for key, position in open_now.items():
            known.setdefault(key, position)
        closed_server = tuple(p for k, p in known.items() if k not in open_now and k not in self.swept)
        closed_sweep = tuple(p for k, p in known.items() if k not in open_now and k in self.swept)
        remaining = tuple(PositionLeft(p, self.reason_for(p, by_id, fresh=True)) for p in open_now.values())
        verified = orders is not None
        if outcome == "":
            if remaining:
                outcome = "remain"
            elif not verified:
                outcome = "unverified"
                self.errors.append("The order book could not be read after closing the positions.")
            else:
                outcome = "closed"
        return self.build(outcome, message, closed_server, closed_sweep, remaining, working, verified)

    def reason_for(self, position: Position, orders: dict[str, Order], *, fresh: bool) -> str:
        key = position.key
        orderid = self.placed.get(key)
        if orderid:
            order = orders.get(orderid)
            if order is not None and order.working:
                return f"its closing order #{orderid} is resting unfilled ({order.status})"
            if order is not None and order.reason:
                return f"its closing order #{orderid} was {order.status}: {order.reason}"
            if order is not None:
                return f"its closing order #{orderid} is {order.status or 'in an unknown state'}"
            return f"its closing order #{orderid} has not filled"
        if key in self.why:
            return self.why[key]
        if not fresh:
            return "not re-checked: the position book could not be read"
        return "closeposition left it open and no closing order was placed"

    def build(
        self,
        outcome: str,
        message: str,
        closed_server: tuple[Position, ...],
        closed_sweep: tuple[Position, ...],
        remaining: tuple[PositionLeft, ...],
        working: tuple[Order, ...],
        verified: bool,
    ) -> FlattenReport:
        return FlattenReport(
            outcome=outcome,
            message=message,
            closed_by_server=closed_server,
            closed_by_sweep=closed_sweep,
            remaining=remaining,
            working_orders=working,
            closing_orders=tuple(self.placed.values()),
            errors=tuple(dict.fromkeys(self.errors)),
            refusal=self.refusal,
            any_delivered=self.any_delivered,
            verified=verified,
        )
