"""The kill procedure: fire once, read the book, sweep survivors, read again, verdict.

A 200 from ``cancelallorder`` proves nothing (the contract explains why), so a kill only
reports ``flat`` after reading the order book and finding nothing working. Every other
outcome is named for what it is: orders remain, the result could not be verified, the
server refused, or it could not be reached.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from core.client import Exchange, OpenAlgoClient
from core.orders import Order, text
from core.replies import ApiError, CancelAllResult, CancelFailure, ErrorKind, OrderBook

log = logging.getLogger(__name__)

DEFAULT_DEADLINE_S = 60.0
ORDER_RATE_LIMIT = 10  # OpenAlgo's ORDER_RATE_LIMIT default: cancelorder, per second


class Verdict(StrEnum):
    FLAT = "flat"
    ORDERS_REMAIN = "orders_remain"
    UNVERIFIED = "unverified"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"

    @property
    def exit_code(self) -> int:
        return _EXIT_CODES[self]

    @property
    def headline(self) -> str:
        return _HEADLINES[self]


_EXIT_CODES = {
    Verdict.FLAT: 0,
    Verdict.ORDERS_REMAIN: 1,
    Verdict.UNVERIFIED: 1,
    Verdict.REFUSED: 3,
    Verdict.UNREACHABLE: 4,
}
_HEADLINES = {
    Verdict.FLAT: "FLAT — verified: no working orders remain",
    Verdict.ORDERS_REMAIN: "ORDERS REMAIN — some orders are still working",
    Verdict.UNVERIFIED: "UNVERIFIED — the order book could not be read afterwards",
    Verdict.REFUSED: "REFUSED — the server refused the kill",
    Verdict.UNREACHABLE: "UNREACHABLE — the server could not be reached",
}


@dataclass(frozen=True, slots=True)
class KillProgress:
    """Where a running kill is; ``done``/``total`` count sweep cancels."""

    phase: str  # cancel_all | reading_book | sweeping | verifying
    text: str
    done: int = 0
    total: int = 0


@dataclass(frozen=True, slots=True)
class CancelReport:
    verdict: Verdict
    mode: str  # live | analyze | unknown
    trigger: str
    server: str
    strategy: str
    started_at: float  # wall clock, time.time()
    message: str  # the server's own words on cancelallorder, or what went wrong
    canceled_by_server: tuple[str, ...] = ()
    canceled_by_sweep: tuple[str, ...] = ()
    failures: tuple[CancelFailure, ...] = ()  # server's and sweep's, with their reasons
    already_finished: tuple[str, ...] = ()  # found cancelled by the time the sweep reached them
    remaining: tuple[Order, ...] = ()
    remaining_verified: bool = True  # False: the last list we saw, not a fresh read
    errors: tuple[str, ...] = ()  # sentences, in the order they happened
    trigger_to_response_ms: float | None = None
    trigger_to_verified_ms: float | None = None
    elapsed_ms: float = 0.0
    sweep_rounds: int = 0
    joined: int = 0  # triggers that arrived during this kill and joined it
    exchanges: tuple[Exchange, ...] = field(default=(), repr=False)

    @property
    def exit_code(self) -> int:
        return self.verdict.exit_code

    @property
    def canceled(self) -> tuple[str, ...]:
        return self.canceled_by_server + self.canceled_by_sweep

    def summary(self) -> str:
        """One paragraph a trader reads after the kill."""
        parts = [self.verdict.headline + "."]
        parts.append(
            f"{len(self.canceled_by_server)} cancelled by the server, "
            f"{len(self.canceled_by_sweep)} by the sweep"
            + (f", {len(self.failures)} failed" if self.failures else "")
            + "."
        )
        if self.remaining:
            seen = "still working" if self.remaining_verified else "last seen working (not re-checked)"
            parts.append(f"{len(self.remaining)} {seen}.")
        if self.verdict is not Verdict.FLAT and self.errors:
            parts.append(self.errors[-1])
        if self.trigger_to_verified_ms is not None:
            parts.append(f"Verified in {self.trigger_to_verified_ms:.0f} ms.")
        return " ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The report for scripts: stable keys, plain types, no key anywhere."""
        return {
            "verdict": self.verdict.value,
            "mode": self.mode,
            "trigger": self.trigger,
            "server": self.server,
            "strategy": self.strategy,
            "started_at": self.started_at,
            "message": self.message,
            "canceled_orders": list(self.canceled),
            "canceled_by_server": list(self.canceled_by_server),
            "canceled_by_sweep": list(self.canceled_by_sweep),
            "failed_cancellations": [{"orderid": f.orderid, "reason": f.reason} for f in self.failures],
            "already_finished": list(self.already_finished),
            "remaining_orders": [order_json(o) for o in self.remaining],
            "remaining_verified": self.remaining_verified,
            "errors": list(self.errors),
            "elapsed_ms": round(self.elapsed_ms, 1),
            "trigger_to_response_ms": _round(self.trigger_to_response_ms),
            "trigger_to_verified_ms": _round(self.trigger_to_verified_ms),
            "sweep_rounds": self.sweep_rounds,
            "joined_triggers": self.joined,
            "exit_code": self.exit_code,
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def order_json(order: Order) -> dict[str, Any]:
    return {
        "orderid": order.orderid,
        "symbol": order.symbol,
        "exchange": order.exchange,
        "action": order.action,
        "quantity": order.quantity,
        "price": order.price,
        "trigger_price": order.trigger_price,
        "pricetype": order.pricetype,
        "product": order.product,
        "status": order.status,
    }


class RateLimiter:
    """At most ``limit`` requests in any moving window of ``window`` seconds, as the server counts.

    The server stamps a request when it arrives, which is some time after we send it and before
    its reply reaches us. So a slot is stamped when it is taken and stamped again when the reply
    comes back (:meth:`Slot.settle`): the window is counted from a moment no earlier than the
    arrival, and the sweep runs close to the limit without tripping it, however the network (or
    a loaded machine) delays an individual request.
    """

    def __init__(
        self,
        limit: int,
        window: float = 1.0,
        margin: float = 0.02,
        *,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = max(1, limit)
        self.window = window + margin
        self._clock = clock
        self._sleep = sleep
        self._slots: list[Slot] = []
        self._lock = threading.Lock()

    def acquire(self, deadline: float) -> Slot | None:
        """Wait for a slot; None when the deadline comes first."""
        while True:
            with self._lock:
                now = self._clock()
                self._slots = [s for s in self._slots if s.stamp > now - self.window]
                if len(self._slots) < self.limit:
                    slot = Slot(self._clock, now)
                    self._slots.append(slot)
                    return slot
                wait = min(s.stamp for s in self._slots) + self.window - now
            if now + wait > deadline:
                return None
            self._sleep(max(wait, 0.001))

    def penalise(self) -> None:
        """The server said 429: treat the window as full from now."""
        with self._lock:
            now = self._clock()
            self._slots = [Slot(self._clock, now) for _ in range(self.limit)]


class Slot:
    """One request's place in the rate window."""

    __slots__ = ("_clock", "stamp")

    def __init__(self, clock: Callable[[], float], stamp: float) -> None:
        self._clock = clock
        self.stamp = stamp

    def settle(self) -> None:
        """The reply is back, so the request arrived no later than now."""
        self.stamp = self._clock()


ProgressCallback = Callable[[KillProgress], None]


class KillSwitch:
    """Runs kills against one server through one client (the kill lane's).

    ``fire()`` is safe to call from any thread; a call while a kill is in flight joins that
    kill and returns its report, so there is never more than one ``cancelallorder`` in flight.
    """

    def __init__(
        self,
        client: OpenAlgoClient,
        *,
        deadline_s: float = DEFAULT_DEADLINE_S,
        order_rate_limit: int = ORDER_RATE_LIMIT,
        sweep_workers: int = 4,
        max_rounds: int = 3,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.client = client
        self.deadline_s = deadline_s
        self.sweep_workers = max(1, sweep_workers)
        self.max_rounds = max(1, max_rounds)
        self.on_progress = on_progress
        self._clock = clock
        self._sleep = sleep
        self._limiter = RateLimiter(order_rate_limit, clock=clock, sleep=sleep)
        self._lock = threading.Lock()
        self._inflight: Future[CancelReport] | None = None
        self._joined = 0
        self._exchanges: list[Exchange] | None = None
        self._forward = client.observer
        client.observer = self._observe

    @property
    def in_flight(self) -> bool:
        with self._lock:
            return self._inflight is not None

    def fire(self, trigger: str = "button", *, triggered_at: float | None = None) -> CancelReport:
        """Run a kill (or join the one in flight) and return its report. Never raises."""
        t0 = self._clock() if triggered_at is None else triggered_at
        future: Future[CancelReport] = Future()
        with self._lock:
            joining = self._inflight
            if joining is not None:
                self._joined += 1
            else:
                self._inflight = future
                self._joined = 0
        if joining is not None:
            return joining.result()
        try:
            report = self._run(trigger, t0)
        except Exception as exc:  # the kill must end in a report, whatever happened
            log.exception("kill failed unexpectedly")
            report = CancelReport(
                verdict=Verdict.UNVERIFIED,
                mode="unknown",
                trigger=trigger,
                server=self.client.host,
                strategy=self.client.strategy,
                started_at=time.time(),
                message=f"The kill stopped on an internal error ({type(exc).__name__}); "
                "check the order book in OpenAlgo.",
                errors=(f"Internal error: {type(exc).__name__}",),
            )
        with self._lock:
            report = _with_joined(report, self._joined)
            self._inflight = None
            self._exchanges = None
        future.set_result(report)
        return report

    def keep_warm(self) -> ApiError | None:
        """Touch the server so the kill lane's connection stays open; skipped during a kill."""
        if self.in_flight:
            return None
        result = self.client.ping()
        return result if isinstance(result, ApiError) else None

    # -- the procedure -----------------------------------------------------------------

    def _observe(self, exchange: Exchange) -> None:
        exchanges = self._exchanges
        if exchanges is not None:
            exchanges.append(exchange)
        if self._forward is not None:
            self._forward(exchange)

    def _progress(self, phase: str, text_: str, done: int = 0, total: int = 0) -> None:
        if self.on_progress is not None:
            try:
                self.on_progress(KillProgress(phase, text_, done, total))
            except Exception:
                log.exception("progress callback failed")

    def _run(self, trigger: str, t0: float) -> CancelReport:
        run = _KillRun(self, trigger, t0)
        self._exchanges = run.exchanges
        return run.execute()


def _with_joined(report: CancelReport, joined: int) -> CancelReport:
    return report if joined == report.joined else replace(report, joined=joined)


class _KillRun:
    """The state of one kill; lives only while the kill runs."""

    def __init__(self, switch: KillSwitch, trigger: str, t0: float) -> None:
        self.switch = switch
        self.client = switch.client
        self.trigger = trigger
        self.t0 = t0
        self.clock = switch._clock
        self.sleep = switch._sleep
        self.deadline = t0 + switch.deadline_s
        self.started_at = time.time()
        self.exchanges: list[Exchange] = []
        self.errors: list[ApiError] = []
        self.mode = "unknown"
        self.any_success = False
        self.canceled_by_server: list[str] = []
        self.canceled_by_sweep: list[str] = []
        self.failures: dict[str, CancelFailure] = {}
        self.server_failures: list[CancelFailure] = []
        self.already_finished: list[str] = []
        self.refusal: ApiError | None = None
        self.lock = threading.Lock()

    def ms_since_trigger(self) -> float:
        return (self.clock() - self.t0) * 1000

    def note_error(self, error: ApiError) -> None:
        with self.lock:
            self.errors.append(error)
            if error.refusal and self.refusal is None:
                self.refusal = error

    def note_mode(self, mode: str) -> None:
        self.any_success = True
        self.mode = mode

    def execute(self) -> CancelReport:
        switch = self.switch
        switch._progress("cancel_all", "Cancel-all sent…")
        outcome = self.client.cancel_all()
        response_ms = self.ms_since_trigger()
        message: str
        if isinstance(outcome, CancelAllResult):
            self.note_mode(outcome.mode)
            self.canceled_by_server = list(outcome.canceled)
            self.server_failures = list(outcome.failed)
            message = outcome.message
        else:
            self.note_error(outcome)
            message = outcome.sentence

        last_book: OrderBook | None = None
        verified_ms: float | None = None
        rounds = 0
        final_book: OrderBook | None = None
        while True:
            phase = "verifying" if rounds else "reading_book"
            switch._progress(phase, "Verifying the order book…" if rounds else "Reading the order book…")
            book = self.read_book()
            if book is None:
                break
            last_book = book
            working = book.working
            if not working or rounds >= switch.max_rounds or self.clock() >= self.deadline:
                final_book = book
                verified_ms = self.ms_since_trigger()
                break
            if self.refusal is not None and rounds:  # the server refused the sweep: stop asking
                final_book = book
                verified_ms = self.ms_since_trigger()
                break
            rounds += 1
            self.sweep(working)

        return self.report(message, response_ms, verified_ms, final_book, last_book, rounds)

    def read_book(self) -> OrderBook | None:
        """Read the order book, retrying transient failures a few times (about 1.5 s in all).

        The book decides the verdict, so a blip must not end the kill; but a server that is
        down must be reported quickly, not after the whole sweep deadline.
        """
        delays = (0.1, 0.3, 0.6, 1.0)
        for delay in (*delays, None):
            book = self.client.orderbook()
            if isinstance(book, OrderBook):
                self.note_mode(book.mode)
                return book
            self.note_error(book)
            if not book.transient or delay is None:
                return None
            self.sleep(delay)
        return None

    def sweep(self, orders: Iterable[Order]) -> None:
        done_already = set(self.canceled_by_sweep)  # a set: a sweep can hold 1,000 orders
        targets = [o for o in orders if o.orderid and o.orderid not in done_already]
        if not targets:
            return
        total = len(targets)
        done = [0]
        self.switch._progress("sweeping", f"Cancelling {total} surviving orders…", 0, total)
        stop = threading.Event()

        def cancel(order: Order) -> None:
            self.cancel_one(order, stop)
            with self.lock:
                done[0] += 1
                count = done[0]
            self.switch._progress("sweeping", f"Cancelled {count} of {total}…", count, total)

        workers = min(self.switch.sweep_workers, total)
        if workers == 1:
            for order in targets:
                cancel(order)
            return
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kill-sweep") as pool:
            list(pool.map(cancel, targets))

    def cancel_one(self, order: Order, stop: threading.Event) -> None:
        limiter = self.switch._limiter
        delay = 0.2
        while not stop.is_set():
            slot = limiter.acquire(self.deadline)
            if slot is None:
                self.fail(order, "not cancelled: the kill's deadline passed before its turn")
                return
            if stop.is_set():
                return
            result = self.client.cancel_order(order.orderid)
            slot.settle()
            if not isinstance(result, ApiError):
                self.note_mode(result.mode)
                with self.lock:
                    self.canceled_by_sweep.append(order.orderid)
                    self.failures.pop(order.orderid, None)
                return
            if result.kind is ErrorKind.ORDER_NOT_CANCELLABLE and _says_cancelled(result.server_message):
                with self.lock:
                    self.already_finished.append(order.orderid)
                return
            if result.refusal:
                self.note_error(result)
                self.fail(order, result.sentence)
                stop.set()  # the server refuses every cancel now; do not hammer it
                return
            if result.kind is ErrorKind.RATE_LIMITED:
                limiter.penalise()
                continue
            if not result.transient:
                self.fail(order, result.server_message or result.sentence)
                return
            self.note_error(result)
            if self.clock() + delay > self.deadline:
                self.fail(order, result.server_message or result.sentence)
                return
            self.sleep(delay)
            delay = min(delay * 2, 1.0)

    def fail(self, order: Order, reason: str) -> None:
        with self.lock:
            self.failures[order.orderid] = CancelFailure(order.orderid, reason)

    def report(
        self,
        message: str,
        response_ms: float,
        verified_ms: float | None,
        final_book: OrderBook | None,
        last_book: OrderBook | None,
        rounds: int,
    ) -> CancelReport:
        remaining: tuple[Order, ...]
        if final_book is not None:
            remaining = final_book.working
            remaining_verified = True
            if not remaining:
                verdict = Verdict.FLAT
            elif self.refusal is not None:
                verdict = Verdict.REFUSED
            else:
                verdict = Verdict.ORDERS_REMAIN
        else:
            swept = set(self.canceled_by_sweep) | set(self.canceled_by_server)
            remaining = tuple(o for o in (last_book.working if last_book else ()) if o.orderid not in swept)
            remaining_verified = False
            verified_ms = None
            if self.refusal is not None:
                verdict = Verdict.REFUSED
            elif not self.any_success and all(e.network for e in self.errors):
                verdict = Verdict.UNREACHABLE
            else:
                verdict = Verdict.UNVERIFIED
        if verdict in (Verdict.REFUSED, Verdict.UNREACHABLE) and self.refusal is not None:
            message = message if message == self.refusal.sentence else self.refusal.sentence
        # Failures of orders that ended up finished still matter to the trader (an order that
        # filled instead of cancelling), so they are all kept, server's first.
        swept_ids = set(self.canceled_by_sweep)
        failures = list(self.server_failures) + [
            f for f in self.failures.values() if f.orderid not in swept_ids
        ]
        return CancelReport(
            verdict=verdict,
            mode=self.mode,
            trigger=self.trigger,
            server=self.client.host,
            strategy=self.client.strategy,
            started_at=self.started_at,
            message=message,
            canceled_by_server=tuple(self.canceled_by_server),
            canceled_by_sweep=tuple(self.canceled_by_sweep),
            failures=tuple(failures),
            already_finished=tuple(self.already_finished),
            remaining=remaining,
            remaining_verified=remaining_verified,
            errors=tuple(_dedupe(e.sentence for e in self.errors)),
            trigger_to_response_ms=response_ms,
            trigger_to_verified_ms=verified_ms,
            elapsed_ms=self.ms_since_trigger(),
            sweep_rounds=rounds,
            exchanges=tuple(self.exchanges),
        )


def _says_cancelled(message: str) -> bool:
    lower = text(message).lower()
    return "cancelled status" in lower or "canceled status" in lower or "already cancel" in lower


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
