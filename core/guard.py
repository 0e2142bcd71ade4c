"""The guard ("hold flat"): after a kill, watch the account for a while and undo what arrives.

A runaway strategy -- a TradingView webhook, an Amibroker bridge, a script -- keeps placing
orders a second after the kill. For the chosen time the guard reads the order book at a pace
that stays inside OpenAlgo's API rate limit and cancels every working order it finds, one by one
within the order rate limit; with flatten it also reads the position book (more slowly) and
closes every position that opens. It never sends a cancel-all of its own (a kill does that).

Closing orders are its own work, not a runaway's: the closers the flatten step knew of and those
the guard places are never cancelled. A position with a working closer gets no second one (both
would fill, and the position would reverse); each position's attempts back off (a rejected closer
is not re-sent every half second for an hour), within the smart-order rate limit; and a position
counts as closed only once a later read of the position book shows it flat. The guard's time is
checked between every two requests, so a long list of orders or a server answering 429 cannot
keep it past its end.

Every catch is reported as it happens (``on_catch``), and at the end the guard reads the books
one last time: its verdict is what that read shows.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from core.flatten import SMART_ORDER_RATE_LIMIT, answer_lost, working_closer
from core.orders import Order
from core.pacing import ORDER_RATE_LIMIT, RateLimiter
from core.positions import Position, PositionKey, position_json
from core.replies import ApiError, ErrorKind, OrderBook, PositionBook, SmartOrderResult
from core.scope import GUARD_FINAL_READ_S, GUARD_REQUEST_S

if TYPE_CHECKING:  # a type only: the HTTP client loads when a lane needs it
    from core.client import OpenAlgoClient

log = logging.getLogger(__name__)

BOOK_EVERY_S: Final = 0.12  # orderbook reads: ~8 a second, inside the 10/s API limit with room
POSITIONS_EVERY_S: Final = 0.5  # positionbook reads, with flatten: its own bucket, no hurry
RATE_LIMITED_TRIES: Final = 3  # 429s in a row for one cancel; the next read finds the order again
CLOSE_BACKOFF_S: Final = 1.0  # a position's second close attempt waits this long, then doubling...
CLOSE_BACKOFF_MAX_S: Final = 30.0  # ...up to this


@dataclass(frozen=True, slots=True)
class Catch:
    """One thing the guard undid: an order it cancelled, or a position it closed."""

    at: float  # time.time()
    kind: str  # "order" | "position"
    what: str  # one line a trader recognises
    orderid: str = ""
    ok: bool = True
    reason: str = ""  # why it failed, when it did


@dataclass(frozen=True, slots=True)
class GuardReport:
    seconds: float
    outcome: str  # flat | orders_remain | positions_remain | unverified | stopped
    caught: tuple[str, ...] = ()  # order ids cancelled
    positions_closed: tuple[Position, ...] = ()
    failures: tuple[Catch, ...] = ()
    max_working_seen: int = 0
    reads: int = 0
    ran_s: float = 0.0
    stopped_early: str = ""  # who ended it early and why, when someone did
    remaining: tuple[Order, ...] = ()
    positions_remaining: tuple[Position, ...] = ()
    errors: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "outcome": self.outcome,
            "caught": list(self.caught),
            "positions_closed": [position_json(p) for p in self.positions_closed],
            "failures": [{"what": c.what, "orderid": c.orderid, "reason": c.reason} for c in self.failures],
            "max_working_seen": self.max_working_seen,
            "reads": self.reads,
            "ran_s": round(self.ran_s, 1),
            "stopped_early": self.stopped_early,
            "remaining_orders": [o.orderid for o in self.remaining],
            "positions_remaining": [position_json(p) for p in self.positions_remaining],
            "errors": list(self.errors),
        }


@dataclass
class _Closing:
    """The guard's attempts at one position."""

    position: Position  # as it was when the guard first tried
    orderid: str = ""  # the last closer it placed
    attempts: int = 0
    next_at: float = 0.0  # no new attempt before this clock() time
    failed: str = ""  # the last failure reported, so that a repeat is not reported again


@dataclass
class _Tally:
    caught: list[str] = field(default_factory=list)
    closed: list[Position] = field(default_factory=list)
    failures: list[Catch] = field(default_factory=list)
    errors: dict[str, None] = field(default_factory=dict)
    max_working: int = 0
    reads: int = 0


class Guard:
    """Holds one account flat for ``seconds``; :meth:`run` blocks until then or :meth:`stop`."""

    def __init__(
        self,
        client: OpenAlgoClient,
        seconds: float,
        *,
        close_positions: bool = False,
        on_catch: Callable[[Catch], None] | None = None,
        on_tick: Callable[[float, int], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        limiter: RateLimiter | None = None,
        keep: Iterable[str] = (),
    ) -> None:
        self.client = client
        self.seconds = seconds
        self.close_positions = close_positions
        self.on_catch = on_catch
        self.on_tick = on_tick  # (seconds left, working orders in the last read)
        self.clock = clock
        self.limiter = limiter or RateLimiter(ORDER_RATE_LIMIT)
        self.smart_limiter = RateLimiter(SMART_ORDER_RATE_LIMIT)
        self._own: set[str] = set(keep)  # closing orders: never cancelled
        self._closing: dict[PositionKey, _Closing] = {}
        # A closer's answer was lost: the next MARKET order on that position in its closing
        # direction is most likely it (adopted once, never a runaway's order adding to it).
        self._lost: dict[PositionKey, str] = {}
        self._answer_lost: set[PositionKey] = set()  # for counting the position closed later
        self._last_working: tuple[Order, ...] = ()
        self._last_complete = False  # the last order book read showed every working order
        self._ends = math.inf
        self._started = math.nan
        self._stop = threading.Event()
        self._stopped_by = ""
        self._tally = _Tally()

    def stop(self, why: str) -> None:
        """End the guard early (a deliberate act: the window's hold-to-release, Ctrl+C)."""
        self._stopped_by = why
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def run(self) -> GuardReport:
        started = self._started = self.clock()
        ends = self._ends = started + self.seconds
        next_positions = started
        tally = self._tally
        while not self._stop.is_set():
            now = self.clock()
            if now >= ends:
                break
            round_started = now
            book = self.client.orderbook(within=min(2.0, max(0.1, ends - now)))
            tally.reads += 1
            if isinstance(book, OrderBook):
                working = book.working
                self._last_working = working
                self._last_complete = not book.rows_left_out()  # left out: closers on their way?
                tally.max_working = max(tally.max_working, len(working))
                for order in working:
                    if self.over():
                        break
                    if not self.own(order):
                        self.cancel(order)
                if self.on_tick is not None:
                    self.tick(max(0.0, ends - self.clock()), len(working))
            else:
                self._last_complete = False
                self.error(book)
            if self.close_positions and self.clock() >= next_positions and not self.over():
                next_positions = self.clock() + POSITIONS_EVERY_S
                self.close_open_positions()
            pause = BOOK_EVERY_S - (self.clock() - round_started)
            if pause > 0:
                self._stop.wait(min(pause, max(0.0, ends - self.clock())))
        return self.final(started)

    def tick(self, left: float, working: int) -> None:
        assert self.on_tick is not None
        try:
            self.on_tick(left, working)
        except Exception:
            log.exception("guard tick callback failed")

    def over(self) -> bool:
        """Stopped, or its time is up: checked between every two requests."""
        return self._stop.is_set() or self.clock() >= self._ends

    def within(self) -> float:
        """How long the next request may take: never past the guard's end by much."""
        return min(GUARD_REQUEST_S, max(0.1, self._ends - self.clock()))

    def own(self, order: Order) -> bool:
        """A closing order of the kill's or the guard's own: cancelling it would undo the close."""
        if order.orderid in self._own:
            return True
        key = (order.symbol, order.exchange, order.product)
        side = self._lost.get(key)
        if side is not None and order.action == side and order.pricetype.upper() == "MARKET":
            del self._lost[key]  # one order per lost answer
            self._own.add(order.orderid)  # the closer whose answer was lost, most likely
            return True
        return False

    def cancel(self, order: Order) -> None:
        for _ in range(RATE_LIMITED_TRIES):
            if self.over():
                return
            slot = self.limiter.acquire(
                time.perf_counter() + min(GUARD_REQUEST_S, max(0.0, self._ends - self.clock()))
            )
            if slot is None:
                return  # the order bucket is full: the next read finds it again
            result = self.client.cancel_order(order.orderid, within=self.within())
            slot.settle()
            if isinstance(result, ApiError) and result.kind is ErrorKind.RATE_LIMITED:
                self.limiter.penalise()
                continue
            if isinstance(result, ApiError):
                lower = result.server_message.lower()
                if "cancelled status" in lower or "canceled status" in lower or "complete status" in lower:
                    return  # it finished on its own meanwhile
                self.error(result)
                self.report(
                    Catch(time.time(), "order", order.describe(), order.orderid, False, result.sentence)
                )
                return
            self._tally.caught.append(order.orderid)
            self.report(Catch(time.time(), "order", order.describe(), order.orderid))
            return

    def close_open_positions(self) -> None:
        book = self.client.positionbook(within=self.within())
        if not isinstance(book, PositionBook):
            self.error(book)
            return
        self.count_closed(book)
        if not self._last_complete:
            return  # a closer already working could not be ruled out: a second could reverse it
        cancelled = set(self._tally.caught)
        working = tuple(o for o in self._last_working if o.orderid not in cancelled)
        for position in book.open:
            if self.over():
                return
            state = self._closing.get(position.key)
            if state is not None and self.clock() < state.next_at:
                continue  # its last closer is given time to fill, or its rejection a pause
            if working_closer(position, working) is not None:
                continue  # a closer is on its way: a second one would reverse the position
            self.close(position, state or self._closing.setdefault(position.key, _Closing(position)))

    def close(self, position: Position, state: _Closing) -> None:
        slot = self.smart_limiter.acquire(
            time.perf_counter() + min(GUARD_REQUEST_S, max(0.0, self._ends - self.clock()))
        )
        if slot is None:
            return
        result = self.client.close_position(position, within=self.within())
        slot.settle()
        state.attempts += 1
        state.next_at = self.clock() + min(CLOSE_BACKOFF_MAX_S, CLOSE_BACKOFF_S * 2 ** (state.attempts - 1))
        why = ""
        if isinstance(result, SmartOrderResult) and result.orderid:
            state.orderid = result.orderid
            self._own.add(result.orderid)
        elif isinstance(result, SmartOrderResult) and result.queued:
            why = "queued for approval in the Action Center (Semi-Auto), not sent"
        elif isinstance(result, ApiError):
            if result.kind is ErrorKind.RATE_LIMITED:
                self.smart_limiter.penalise()
                state.attempts -= 1
                state.next_at = 0.0
                return
            self.error(result)
            if answer_lost(result):
                self._lost[position.key] = position.closing_action
                self._answer_lost.add(position.key)
            why = result.sentence
        if why and why != state.failed:
            state.failed = why
            self.report(Catch(time.time(), "position", position.describe(), "", False, why))

    def count_closed(self, book: PositionBook) -> None:
        """A position the guard sent a closer for counts as closed once a read shows it flat."""
        still_open = {p.key for p in book.open}
        for key, state in list(self._closing.items()):
            if key in still_open:
                continue
            del self._closing[key]
            if state.orderid or key in self._answer_lost:
                self._tally.closed.append(state.position)
                self.report(Catch(time.time(), "position", state.position.describe(), state.orderid))

    def report(self, catch: Catch) -> None:
        if not catch.ok:
            self._tally.failures.append(catch)
        if self.on_catch is not None:
            try:
                self.on_catch(catch)
            except Exception:
                log.exception("guard catch callback failed")

    def error(self, error: ApiError) -> None:
        self._tally.errors.setdefault(error.sentence, None)

    def final(self, started: float) -> GuardReport:
        """One last read of the books: the guard's verdict is what it shows."""
        book = self.client.orderbook(within=GUARD_FINAL_READ_S)
        positions: PositionBook | ApiError | None = (
            self.client.positionbook(within=GUARD_FINAL_READ_S) if self.close_positions else None
        )
        remaining: tuple[Order, ...] = ()
        open_positions: tuple[Position, ...] = ()
        if not isinstance(book, OrderBook) or isinstance(positions, ApiError):
            outcome = "unverified"
            for failed in (book, positions):
                if isinstance(failed, ApiError):
                    self.error(failed)
        else:
            remaining = book.working
            if isinstance(positions, PositionBook):
                self.count_closed(positions)
                open_positions = positions.open
            outcome = "orders_remain" if remaining else "positions_remain" if open_positions else "flat"
        return self.so_far(outcome, started, remaining, open_positions)

    def unfinished(self, why: str) -> GuardReport:
        """For a guard given up on while it still runs: what it did so far, unverified."""
        started = self._started if math.isfinite(self._started) else self.clock()
        return self.so_far("unverified", started, error=why)

    def so_far(
        self,
        outcome: str,
        started: float,
        remaining: tuple[Order, ...] = (),
        open_positions: tuple[Position, ...] = (),
        error: str = "",
    ) -> GuardReport:
        """The report from what the guard has done so far (its last read, or none)."""
        tally = self._tally
        if error:
            self._tally.errors.setdefault(error, None)
        return GuardReport(
            seconds=self.seconds,
            outcome=outcome,
            caught=tuple(tally.caught),
            positions_closed=tuple(tally.closed),
            failures=tuple(tally.failures),
            max_working_seen=tally.max_working,
            reads=tally.reads,
            ran_s=self.clock() - started,
            stopped_early=self._stopped_by,
            remaining=remaining,
            positions_remaining=open_positions,
            errors=tuple(tally.errors.copy()),  # copied at once: the guard's thread may add
        )
