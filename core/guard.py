"""The guard ("hold flat"): after a kill, watch the account for a while and undo what arrives.

A runaway strategy -- a TradingView webhook, an Amibroker bridge, a script -- keeps placing
orders a second after the kill. For the chosen time the guard reads the order book at a pace
that stays inside OpenAlgo's API rate limit and cancels every working order it finds, one by one
within the order rate limit; with flatten it also reads the position book (more slowly) and
closes every position that opens. It never sends a cancel-all of its own (a kill does that).

Every catch is reported as it happens (``on_catch``), and at the end the guard reads the books
one last time: its verdict is what that read shows.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from core.orders import Order
from core.pacing import ORDER_RATE_LIMIT, RateLimiter
from core.positions import Position, position_json
from core.replies import ApiError, ErrorKind, OrderBook, PositionBook, SmartOrderResult

if TYPE_CHECKING:  # a type only: the HTTP client loads when a lane needs it
    from core.client import OpenAlgoClient

log = logging.getLogger(__name__)

BOOK_EVERY_S: Final = 0.12  # orderbook reads: ~8 a second, inside the 10/s API limit with room
POSITIONS_EVERY_S: Final = 0.5  # positionbook reads, with flatten: its own bucket, no hurry
MIN_GUARD_S: Final = 1.0
MAX_GUARD_S: Final = 3600.0


def guard_problem(seconds: float) -> str | None:
    """Why ``seconds`` is not a usable guard time (0 means no guard), or None."""
    if not math.isfinite(seconds) or seconds < 0 or (0 < seconds < MIN_GUARD_S) or seconds > MAX_GUARD_S:
        return f"The guard time must be 0 (off) or between {MIN_GUARD_S:g} and {MAX_GUARD_S:g} seconds."
    return None


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
    ) -> None:
        self.client = client
        self.seconds = seconds
        self.close_positions = close_positions
        self.on_catch = on_catch
        self.on_tick = on_tick  # (seconds left, working orders in the last read)
        self.clock = clock
        self.limiter = limiter or RateLimiter(ORDER_RATE_LIMIT)
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
        started = self.clock()
        ends = started + self.seconds
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
                tally.max_working = max(tally.max_working, len(working))
                for order in working:
                    if self._stop.is_set():
                        break
                    self.cancel(order)
                if self.on_tick is not None:
                    self.tick(max(0.0, ends - self.clock()), len(working))
            else:
                self.error(book)
            if self.close_positions and self.clock() >= next_positions:
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

    def cancel(self, order: Order) -> None:
        while not self._stop.is_set():
            slot = self.limiter.acquire(time.perf_counter() + 2.0)
            if slot is None:
                return  # the order bucket is full: the next read finds it again
            result = self.client.cancel_order(order.orderid, within=2.0)
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
        book = self.client.positionbook(within=2.0)
        if not isinstance(book, PositionBook):
            self.error(book)
            return
        for position in book.open:
            if self._stop.is_set():
                return
            result = self.client.close_position(position, within=2.0)
            if isinstance(result, SmartOrderResult) and result.orderid:
                self._tally.closed.append(position)
                self.report(Catch(time.time(), "position", position.describe(), result.orderid))
            elif isinstance(result, SmartOrderResult) and result.queued:
                why = "queued for approval in the Action Center (Semi-Auto), not sent"
                self.report(Catch(time.time(), "position", position.describe(), "", False, why))
            elif isinstance(result, ApiError):
                self.error(result)
                self.report(Catch(time.time(), "position", position.describe(), "", False, result.sentence))

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
        tally = self._tally
        book = self.client.orderbook(within=5.0)
        positions: PositionBook | ApiError | None = (
            self.client.positionbook(within=5.0) if self.close_positions else None
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
            open_positions = positions.open if isinstance(positions, PositionBook) else ()
            outcome = "orders_remain" if remaining else "positions_remain" if open_positions else "flat"
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
            errors=tuple(tally.errors),
        )
