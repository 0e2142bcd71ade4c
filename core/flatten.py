"""Flatten: close every open position once the order kill is verified, and prove it.

Closing positions while orders can still fill would re-open them, so this runs only after the
order book was verified flat. Then:

1. read ``positionbook`` (what is open now: the positions this step must account for);
2. ``closeposition`` once -- it squares off everything with MARKET orders, but its answer says
   nothing about each position (live it always says "All Open Positions Squared Off");
3. read ``positionbook`` until nothing is open or a few seconds pass: a closing MARKET order takes
   a moment to fill, and a position still open may only be waiting for its closer;
4. if some are still open, read ``orderbook``: a position with a working order on its own symbol,
   exchange and product in the closing direction already has its closer, and gets no second one
   (the server sizes a smart order from its position book, so a second closer for the full
   quantity would reverse the position once both fill). Every other position still open gets its
   own ``placesmartorder`` to size 0 (``quantity: 0``, so a position already flat never turns into
   a new order), within the smart-order rate limit. A request that never reached the server is
   retried; one whose answer was lost after sending is never sent again -- the final reads say
   what became of it. An unreadable order book closes nothing one by one;
5. read ``positionbook`` again until nothing is open or a few seconds pass, then ``orderbook``,
   held to the kill's accounting: every closing order the step knows of must be in it and
   finished, and the book's own counts must agree with its rows.

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
# No answer from OpenAlgo itself although the request went out: it may have been carried out.
_ANSWER_LOST = frozenset(
    {
        ErrorKind.TIMEOUT,
        ErrorKind.CONNECTION_DROPPED,
        ErrorKind.GATEWAY,
        ErrorKind.HTML_PAGE,
        ErrorKind.EMPTY_REPLY,
        ErrorKind.BAD_REPLY,
    }
)


def answer_lost(error: ApiError) -> bool:
    """The request may have been carried out and its answer never came back: an order request
    like this must not be sent again blind."""
    return error.delivered and error.kind in _ANSWER_LOST


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
    closers: tuple[str, ...] = ()  # every closing order the step knows of (closeposition's too)
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
            "closers_seen": list(self.closers),
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
        self.resting: dict[PositionKey, str] = {}  # a closer already working when the sweep came
        self.swept: set[PositionKey] = set()
        self.by_key: dict[PositionKey, list[Order]] = {}  # working orders in the final read

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

        after_close = self.wait_for_fills()
        if after_close is None:
            return self.report(self.unread_outcome(), message, known, first, None, None)
        for position in after_close.open:
            known.setdefault(position.key, position)
        if not after_close.open:
            return self.report("", message, known, after_close, after_close, self.read_orders())
        self.progress(f"Reading the order book for closing orders already working ({host})…")
        book = self.read_orders()
        if book is not None and book.rows_left_out():
            self.errors.append(
                f"The order book's own counts show {book.counted_working()} working orders but only "
                f"{len(book.working)} of its rows do: the read was incomplete."
            )
            book = None  # rows left out may be the very closers: as good as unread
        if book is None:
            for position in after_close.open:
                self.why[position.key] = (
                    "not closed one by one: the order book could not be read, so a closing order "
                    "already working for it could not be ruled out (a second one could reverse it)"
                )
            return self.report("", message, known, after_close, after_close, None)
        to_close = []
        for position in after_close.open:
            closer = working_closer(position, book.orders)
            if closer is not None:
                self.resting[position.key] = closer.orderid
            else:
                to_close.append(position)
        if to_close:
            self.sweep(tuple(to_close))
        final = self.wait_for_fills()
        if final is None:
            return self.report(self.unread_outcome(), message, known, after_close, None, None)
        return self.report("", message, known, after_close, final, self.read_orders())

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

    def wait_for_fills(self) -> PositionBook | None:
        """Re-read until nothing is open, or a few seconds pass: MARKET closers take a moment."""
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
            if answer_lost(result):
                # It may have been placed: a second one could reverse the position. The final
                # reads of both books say what became of it.
                self.why[key] = (
                    f"the answer to its closing order was lost ({result.sentence.rstrip('.')}); "
                    "not sent again, so that it cannot be closed twice"
                )
                return
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
        self.by_key = {}
        if orders is not None:
            for order in working:
                self.by_key.setdefault((order.symbol, order.exchange, order.product), []).append(order)
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
        verified = orders is not None and self.accounted(orders)
        if outcome == "":
            if remaining:
                outcome = "remain"
            elif not verified:
                outcome = "unverified"
                if orders is None:
                    self.errors.append("The order book could not be read after closing the positions.")
            else:
                outcome = "closed"
        return self.build(outcome, message, closed_server, closed_sweep, remaining, working, verified)

    def accounted(self, book: OrderBook) -> bool:
        """The kill's accounting (core.kill) for the closers: each one this step knows of is in
        the read, and the book's own counts agree with its rows; else the read was incomplete."""
        present = book.ids()
        missing = [orderid for orderid in self.closers() if orderid not in present]
        if missing:
            shown = ", ".join(f"#{orderid}" for orderid in missing[:10])
            self.errors.append(
                f"The closing orders {shown} are missing from the final read of the order book: the "
                "read was incomplete, so whether they are still working is not known."
            )
        counted = book.counted_working()
        if counted and not book.working:
            self.errors.append(
                f"The order book's own counts show {counted} working orders but none of its rows "
                "does: the read was incomplete."
            )
            return False
        return not missing

    def closers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.resting.values(), *self.placed.values())))

    def reason_for(self, position: Position, orders: dict[str, Order], *, fresh: bool) -> str:
        key = position.key
        orderid = self.placed.get(key) or self.resting.get(key)
        if orderid:
            order = orders.get(orderid)
            if order is not None and order.working:
                return f"its closing order #{orderid} is resting unfilled ({order.status})"
            if order is not None and order.reason:
                return f"its closing order #{orderid} was {order.status}: {order.reason}"
            if order is not None:
                return f"its closing order #{orderid} is {order.status or 'in an unknown state'}"
            return f"its closing order #{orderid} has not filled"
        working = [o for o in self.by_key.get(key, ()) if o.action == position.closing_action]
        if working:
            ids = ", ".join(f"#{o.orderid}" for o in working)
            lost = f"{self.why[key]}; " if key in self.why else ""
            return f"{lost}closing order {ids} is resting unfilled"
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
            closers=self.closers(),
            errors=tuple(dict.fromkeys(self.errors)),
            refusal=self.refusal,
            any_delivered=self.any_delivered,
            verified=verified,
        )


def working_closer(position: Position, orders: tuple[Order, ...]) -> Order | None:
    """A working order on ``position``'s own symbol, exchange and product in the direction that
    closes it: its closer is already on its way (resting, partly filled, or not yet filled)."""
    key, action = position.key, position.closing_action
    for order in orders:
        if order.working and (order.symbol, order.exchange, order.product) == key and order.action == action:
            return order
    return None
