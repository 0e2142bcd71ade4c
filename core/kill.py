"""The kill procedure: fire once, read the book, sweep survivors, read again, verdict.

A 200 from ``cancelallorder`` proves nothing (the contract explains why), so a kill only
reports ``flat`` after a fresh read of the order book that holds a list of orders in which
nothing is working and every order the kill knew about is present and finished. Every other
outcome is named for what it is: orders remain, the result could not be verified, the server
refused, or it could not be reached.

One deadline bounds the whole kill. Every request is given what is left of it
(``OpenAlgoClient``'s ``within``), so whatever the server does -- hang, trickle, drop -- the
verdict arrives by the deadline. The report so far can be taken from another thread at any time
(:meth:`KillSwitch.report_so_far`), for a kill interrupted by Ctrl+C or by closing the window.

``KillSwitch`` runs one kill at a time on the thread that calls it; keeping presses from
starting a second kill is ``core.one_kill``'s job.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

from core import DEFAULT_DEADLINE_S
from core.exchange import Exchange
from core.orders import Order, text
from core.pacing import ORDER_RATE_LIMIT, RateLimiter
from core.positions import Position
from core.replies import ApiError, CancelAllResult, CancelFailure, ErrorKind, OrderBook, PositionBook
from core.report import CancelReport, KillProgress, Verdict
from core.scope import KillScope

if TYPE_CHECKING:  # a type only: the kill is handed a client, it never makes one
    from core.client import OpenAlgoClient

log = logging.getLogger(__name__)

MIN_DEADLINE_S = 1.0
MAX_DEADLINE_S = 600.0
BOOK_RETRY_DELAYS_S = (0.1, 0.3, 0.6, 1.0)  # an unreadable book is read again this often


def deadline_problem(seconds: float) -> str | None:
    """Why ``seconds`` is not a usable kill deadline, or None."""
    if not math.isfinite(seconds):
        return "The deadline must be a number of seconds."
    if seconds < MIN_DEADLINE_S or seconds > MAX_DEADLINE_S:
        return (
            f"The deadline must be between {MIN_DEADLINE_S:.0f} and {MAX_DEADLINE_S:.0f} seconds, "
            f"not {seconds:g}."
        )
    return None


ProgressCallback = Callable[[KillProgress], None]


class KillSwitch:
    """Runs kills against one server through one client (the kill lane's), one at a time.

    ``fire()`` runs a kill on the calling thread and returns its report; it never raises.
    ``known`` are orders the caller saw working before the press (the window's last good
    poll): each must be accounted for in the kill's final read of the book.
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
        scope: KillScope | None = None,
    ) -> None:
        self.client = client
        self.deadline_s = deadline_s
        self.scope = scope if scope is not None else KillScope()
        self.sweep_workers = max(1, sweep_workers)
        self.max_rounds = max(1, max_rounds)
        self.on_progress = on_progress
        self._clock = clock
        self._sleep = sleep
        self._limiter = RateLimiter(order_rate_limit, clock=clock, sleep=sleep)
        self._run: _KillRun | None = None
        self.on_exchange: Callable[[Exchange], None] | None = None  # e.g. the record's writer
        self._forward = client.observer
        client.observer = self._observe

    @property
    def in_flight(self) -> bool:
        return self._run is not None

    def fire(
        self,
        trigger: str = "button",
        *,
        triggered_at: float | None = None,
        known: Iterable[Order] = (),
        skip_cancel_all: str | None = None,
        on_underway: Callable[[], None] | None = None,
    ) -> CancelReport:
        """Run a kill and return its report. Never raises.

        ``skip_cancel_all`` (a sentence why) makes the kill read the book and cancel what is left
        one by one without a cancel-all: for when an earlier cancel-all may still be running on
        the server, since two at once race inside it.

        ``on_underway`` is called once, on this thread, as soon as the cancel-all is on the wire
        (while the server works on it), or before anything else when the kill sends none or the
        request could not be written, and always before the first exchange is passed on: the
        bookkeeping that must not delay the cancel-all (``core.one_kill`` begins the kill's record
        there)."""
        t0 = self._clock() if triggered_at is None else triggered_at
        run = _KillRun(self, trigger, t0, known, skip_cancel_all, on_underway)
        self._run = run
        try:
            return run.execute()
        except Exception as exc:  # the kill must end in a report, whatever happened
            log.exception("kill failed unexpectedly")
            return run.report_so_far(
                f"The kill stopped on an internal error ({type(exc).__name__}); check the order book "
                "in OpenAlgo.",
                interrupted=False,
            )
        finally:
            self._run = None

    def report_so_far(self, reason: str) -> CancelReport | None:
        """The running kill's report as it stands, marked interrupted (None when none runs).

        Safe from any thread: for Ctrl+C on the command line and for closing the window during
        a kill. Its verdict is ``unverified``: nothing was proven."""
        run = self._run
        return None if run is None else run.report_so_far(reason, interrupted=True)

    def keep_warm(self) -> ApiError | None:
        """Touch the server so the kill lane's connection stays open; skipped during a kill."""
        if self.in_flight:
            return None
        result = self.client.ping()
        return result if isinstance(result, ApiError) else None

    def connection_dropped(self) -> bool:
        """The server closed the kill's idle connection: a press now would connect first."""
        return not self.in_flight and self.client.dropped_idle_connection()

    # -- plumbing ------------------------------------------------------------------------

    def _observe(self, exchange: Exchange) -> None:
        run = self._run
        if run is not None:
            run.underway()
            run.exchanges.append(exchange)
        if self.on_exchange is not None:
            self.on_exchange(exchange)
        if self._forward is not None:
            self._forward(exchange)

    def _progress(self, phase: str, text_: str, done: int = 0, total: int = 0) -> None:
        if self.on_progress is not None:
            try:
                self.on_progress(KillProgress(phase, text_, done, total))
            except Exception:
                log.exception("progress callback failed")


class _KillRun:
    """The state of one kill; lives only while the kill runs."""

    def __init__(
        self,
        switch: KillSwitch,
        trigger: str,
        t0: float,
        known: Iterable[Order],
        skip_cancel_all: str | None = None,
        on_underway: Callable[[], None] | None = None,
    ) -> None:
        self.switch = switch
        self._on_underway = on_underway
        self.client = switch.client
        self.trigger = trigger
        self.t0 = t0
        self.clock = switch._clock
        self.sleep = switch._sleep
        self.deadline = t0 + switch.deadline_s
        self.started_at = time.time()
        self.exchanges: list[Exchange] = []
        self.errors: list[ApiError] = []
        self.extra_errors: list[str] = []  # sentences of the kill's own (accounting, deadline)
        self.mode = "unknown"
        self.any_success = False
        self.message = ""
        self.response_ms: float | None = None
        self.skip_cancel_all = skip_cancel_all
        self.cancel_all = "not_sent"  # not_sent | sent (may still run) | answered | skipped
        self.canceled_by_server: list[str] = []
        self.canceled_by_sweep: list[str] = []
        self.failures: dict[str, CancelFailure] = {}
        self.server_failures: list[CancelFailure] = []
        self.already_finished: list[str] = []
        self.refusal: ApiError | None = None
        self.last_book: OrderBook | None = None
        self.rounds = 0
        # Every order the kill knows was working: each must be in the final read, finished.
        # Indexed once the cancel-all is on its way (take_known): a 10,000-order book takes
        # milliseconds to index, and nothing needs it before the cancel-all's answer.
        self.known: dict[str, Order] = {}
        self._known_source: Iterable[Order] | None = known
        self.lock = threading.Lock()

    # -- time ----------------------------------------------------------------------------

    def ms_since_trigger(self) -> float:
        return (self.clock() - self.t0) * 1000

    def left(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - self.clock())

    # -- bookkeeping ---------------------------------------------------------------------

    def note_error(self, error: ApiError) -> None:
        with self.lock:
            self.errors.append(error)
            if error.refusal and self.refusal is None:
                self.refusal = error

    def note_mode(self, mode: str) -> None:
        self.any_success = True
        self.mode = mode

    def take_known(self) -> None:
        """Index the orders the caller knew were working (once; from any thread)."""
        with self.lock:
            source, self._known_source = self._known_source, None
            if source is not None:
                self.known = {o.orderid: o for o in source if o.orderid and o.working}

    def learn(self, orderids: Iterable[str]) -> None:
        """Orders named by the server (cancel-all's lists) join the orders to account for."""
        with self.lock:
            for orderid in orderids:
                if orderid and orderid not in self.known:
                    self.known[orderid] = Order(orderid)

    def progress(self, phase: str, text_: str, done: int = 0, total: int = 0) -> None:
        self.switch._progress(phase, text_, done, total)

    # -- the procedure -------------------------------------------------------------------

    def underway(self) -> None:
        """Call ``on_underway`` the first time (see :meth:`KillSwitch.fire`); never raises."""
        then, self._on_underway = self._on_underway, None
        if then is not None:
            try:
                then()
            except Exception:  # bookkeeping must never stop a kill
                log.exception("the kill's on_underway callback failed")

    def execute(self) -> CancelReport:
        if self.skip_cancel_all:
            self.underway()
            self.cancel_all = "skipped"
            self.message = self.skip_cancel_all
            self.take_known()
        else:
            self.send_cancel_all()
            self.underway()  # when the request could not be written
        return self.verify()

    def sent(self) -> None:
        self.underway()  # the request is out: the server works on it while this runs
        self.cancel_all = "sent"
        self.progress("cancel_all_sent", f"Cancel-all sent — waiting for {self.client.host} to answer…")

    def send_cancel_all(self) -> None:
        host = self.client.host
        self.progress("cancel_all", f"Sending cancel-all to {host}…")
        outcome = self.client.cancel_all(within=self.left(), on_sent=self.sent)
        self.response_ms = self.ms_since_trigger()
        self.take_known()
        if isinstance(outcome, CancelAllResult):
            self.cancel_all = "answered"
        elif not outcome.delivered:
            self.cancel_all = "not_sent"
        elif outcome.http_status is not None and outcome.http_status not in (502, 504):
            self.cancel_all = "answered"  # OpenAlgo said no or failed: it is not running any more
        else:
            self.cancel_all = "sent"  # written, never answered: it may still be running there
        if isinstance(outcome, CancelAllResult):
            self.note_mode(outcome.mode)
            self.canceled_by_server = list(outcome.canceled)
            self.server_failures = list(outcome.failed)
            self.learn(outcome.canceled)
            self.learn(f.orderid for f in outcome.failed)
            self.message = outcome.message
        else:
            self.note_error(outcome)
            if outcome.delivered and not outcome.refusal:
                # It went out and its answer was lost: it may well have cancelled orders. The
                # book decides; the report must never say "nothing was cancelled".
                self.message = (
                    f"Cancel-all may have been carried out; its answer was lost: {outcome.sentence}"
                )
            elif outcome.delivered:
                self.message = outcome.sentence
            else:
                self.message = f"Cancel-all was not sent: {outcome.sentence}"

    def verify(self) -> CancelReport:
        host = self.client.host
        final_book: OrderBook | None = None
        verified_ms: float | None = None
        reread = False
        while True:
            verifying = bool(self.rounds) or reread
            self.progress(
                "verifying" if verifying else "reading_book",
                f"Reading the order book again to verify ({host})…"
                if verifying
                else f"Reading the order book ({host})…",
            )
            book = self.read_book()
            if book is None:
                break
            if self.last_book is None:
                with self.lock:
                    for order in book.working:
                        self.known[order.orderid] = order
            self.last_book = book
            working = book.working
            out_of_time = self.left() <= 0
            refused_sweep = self.refusal is not None and self.rounds > 0  # stop asking
            if working and self.rounds < self.switch.max_rounds and not out_of_time and not refused_sweep:
                self.rounds += 1
                self.sweep(working)
                continue
            incomplete = bool(self.unaccounted(book)) or book.counted_working() > 0
            if not working and incomplete and not reread and not out_of_time:
                reread = True  # a read that left orders out may be a blip: read once more
                continue
            final_book = book
            verified_ms = self.ms_since_trigger()
            break
        return self.report(final_book, verified_ms)

    def read_book(self) -> OrderBook | None:
        """Read the order book, retrying a failed read a few times within the deadline.

        The book decides the verdict, so a blip must not end the kill; but a server that is
        down must be reported quickly, not after the whole deadline.
        """
        for delay in (*BOOK_RETRY_DELAYS_S, None):
            left = self.left()
            if left <= 0:
                self.extra_errors.append("The kill's deadline passed before the order book could be read.")
                return None
            book = self.client.orderbook(within=left)
            if isinstance(book, OrderBook):
                self.note_mode(book.mode)
                return book
            self.note_error(book)
            if book.refusal or delay is None or self.clock() + delay >= self.deadline:
                return None
            self.sleep(delay)
        return None

    def unaccounted(self, book: OrderBook) -> list[Order]:
        """Orders the kill knew were working that this read of the book leaves out."""
        present = book.ids()
        with self.lock:
            missing = [order for orderid, order in self.known.items() if orderid not in present]
        return missing

    def sweep(self, orders: Iterable[Order]) -> None:
        done_already = set(self.canceled_by_sweep)  # a set: a sweep can hold 1,000 orders
        targets = [o for o in orders if o.orderid and o.orderid not in done_already]
        if not targets:
            return
        total = len(targets)
        done = [0]
        self.progress("sweeping", f"Cancelling {total} surviving orders one by one…", 0, total)
        stop = threading.Event()
        # Counted and said under a lock of their own, so the counts arrive in order; not the
        # kill's lock, which a report from another thread (a deadline, Ctrl+C) needs at once
        # even while a progress line waits on a full pipe.
        counting = threading.Lock()

        def cancel(order: Order) -> None:
            self.cancel_one(order, stop)
            with counting:
                done[0] += 1
                count = done[0]
                self.progress("sweeping", f"Cancelled {count} of {total} surviving orders…", count, total)

        workers = min(self.switch.sweep_workers, total)
        if workers == 1:
            for order in targets:
                cancel(order)
            return
        # Each worker takes the next order when it is free. Not ``pool.map``: that makes a future
        # (a condition, a lock, a work item) for every order at once -- thousands of objects the
        # garbage collector then walks, holding the interpreter lock while the window waits.
        untaken = iter(targets)
        taking = threading.Lock()

        def work() -> None:
            while True:
                with taking:
                    order = next(untaken, None)
                if order is None:
                    return
                cancel(order)

        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="kill-sweep") as pool:
            for worker in [pool.submit(work) for _ in range(workers)]:
                worker.result()

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
            result = self.client.cancel_order(order.orderid, within=self.left())
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

    # -- the verdict ---------------------------------------------------------------------

    def report(self, final_book: OrderBook | None, verified_ms: float | None) -> CancelReport:
        missing: list[Order] = []
        extra = list(self.extra_errors)
        remaining: tuple[Order, ...]
        if final_book is not None:
            remaining = final_book.working
            remaining_verified = True
            missing = self.unaccounted(final_book)
            counted = final_book.counted_working()
            if remaining:
                verdict = Verdict.REFUSED if self.refusal is not None else Verdict.ORDERS_REMAIN
            elif missing:
                verdict = Verdict.UNVERIFIED
            elif counted:
                verdict = Verdict.UNVERIFIED
                extra.append(
                    f"The order book's own counts show {counted} working orders but none of its rows "
                    "does: the read was incomplete."
                )
            else:
                verdict = Verdict.FLAT
            if missing:
                extra.append(_missing_sentence(missing))
                verified_ms = None
            if verdict is Verdict.UNVERIFIED:
                verified_ms = None
        else:
            remaining, remaining_verified = self.last_seen_working(), False
            verified_ms = None
            verdict = self.unproven_verdict()
        report = self.build(verdict, remaining, remaining_verified, missing, extra, verified_ms, False)
        if self.switch.scope.close_positions:
            report = self.close_positions(report)
        return report

    def close_positions(self, report: CancelReport) -> CancelReport:
        """The positions step (``core.flatten``), only after the orders are verified flat:
        closing positions while orders can still fill would re-open them."""
        if report.verdict is not Verdict.FLAT:
            return replace(
                report,
                flatten_skipped=(
                    "Positions were not closed: the order book was not verified flat, and closing "
                    "positions while orders can still fill would re-open them."
                ),
                open_positions=self.positions_now(),
            )
        from core.flatten import Flatten  # loaded only by a kill that closes positions

        flat_ms = report.trigger_to_verified_ms
        step = Flatten(
            self.client,
            self.deadline,
            clock=self.clock,
            sleep=self.sleep,
            on_progress=lambda text_: self.progress("flattening", text_),
        )
        result = step.run()
        errors = tuple(dict.fromkeys((*report.errors, *result.errors)))
        # Flat only when the step proved every position closed and no order working; any other
        # outcome, one this code does not know included, is unverified: the order step reached
        # the server, so something may have run.
        verdict, remaining, message = Verdict.UNVERIFIED, report.remaining, report.message
        if result.outcome == "closed":
            if result.working_orders:
                verdict, remaining = Verdict.ORDERS_REMAIN, result.working_orders
            else:
                verdict = Verdict.FLAT
        elif result.outcome == "remain":
            verdict, remaining = Verdict.POSITIONS_REMAIN, result.working_orders
        elif result.outcome == "refused":
            verdict = Verdict.REFUSED
            message = result.refusal.sentence if result.refusal is not None else result.message
        verified_ms = self.ms_since_trigger() if verdict is Verdict.FLAT else flat_ms
        return replace(
            report,
            verdict=verdict,
            message=message,
            remaining=remaining,
            errors=errors,
            flatten=result,
            trigger_to_verified_ms=verified_ms if verdict is Verdict.FLAT else None,
            elapsed_ms=self.ms_since_trigger(),
            exchanges=tuple(self.exchanges),
        )

    def positions_now(self) -> tuple[Position, ...]:
        """The open positions, for a report that could not close them (one quick read)."""
        left = self.left()
        if left <= 0:
            return ()
        book = self.client.positionbook(within=min(left, 5.0))
        return book.open if isinstance(book, PositionBook) else ()

    def unproven_verdict(self) -> Verdict:
        """The verdict when no good final read exists."""
        if self.refusal is not None:
            return Verdict.REFUSED
        nothing_reached = not self.any_success and all(not e.delivered for e in self.errors)
        return Verdict.UNREACHABLE if nothing_reached and self.errors else Verdict.UNVERIFIED

    def last_seen_working(self) -> tuple[Order, ...]:
        with self.lock:
            swept = set(self.canceled_by_sweep) | set(self.canceled_by_server) | set(self.already_finished)
            seen = self.last_book.working if self.last_book is not None else tuple(self.known.values())
        return tuple(o for o in seen if o.orderid not in swept)

    def report_so_far(self, reason: str, *, interrupted: bool) -> CancelReport:
        """The report as it stands (from any thread): nothing is proven, so ``unverified``
        unless the server refused."""
        self.take_known()
        verdict = Verdict.REFUSED if self.refusal is not None else Verdict.UNVERIFIED
        return self.build(verdict, self.last_seen_working(), False, [], [reason], None, interrupted)

    def build(
        self,
        verdict: Verdict,
        remaining: tuple[Order, ...],
        remaining_verified: bool,
        missing: list[Order],
        extra_errors: list[str],
        verified_ms: float | None,
        interrupted: bool,
    ) -> CancelReport:
        message = self.message
        if verdict in (Verdict.REFUSED, Verdict.UNREACHABLE) and self.refusal is not None:
            message = self.refusal.sentence
        with self.lock:
            swept_ids = set(self.canceled_by_sweep)
            # Failures of orders that ended up finished still matter to the trader (an order that
            # filled instead of cancelling), so they are all kept, server's first.
            failures = list(self.server_failures) + [
                f for f in self.failures.values() if f.orderid not in swept_ids
            ]
            errors = [e.sentence for e in self.errors]
            canceled_by_sweep = tuple(self.canceled_by_sweep)
            already_finished = tuple(self.already_finished)
            exchanges = tuple(self.exchanges)
        return CancelReport(
            verdict=verdict,
            mode=self.mode,
            trigger=self.trigger,
            server=self.client.host,
            strategy=self.client.strategy,
            started_at=self.started_at,
            message=message,
            canceled_by_server=tuple(self.canceled_by_server),
            canceled_by_sweep=canceled_by_sweep,
            failures=tuple(failures),
            already_finished=already_finished,
            remaining=remaining,
            remaining_verified=remaining_verified,
            missing=tuple(missing),
            errors=tuple(_dedupe([*errors, *extra_errors])),
            cancel_all=self.cancel_all,
            trigger_to_response_ms=self.response_ms,
            trigger_to_verified_ms=verified_ms,
            elapsed_ms=self.ms_since_trigger(),
            deadline_s=self.switch.deadline_s,
            sweep_rounds=self.rounds,
            interrupted=interrupted,
            scope=self.switch.scope,
            exchanges=exchanges,
        )


def _missing_sentence(missing: list[Order]) -> str:
    shown = ", ".join(f"#{o.orderid}" for o in missing[:10])
    more = f" and {len(missing) - 10} more" if len(missing) > 10 else ""
    return (
        f"{len(missing)} orders the kill knew were working are missing from the final read of the "
        f"order book ({shown}{more}): a broker's day book keeps every order, so the read was "
        "incomplete and cannot prove they are gone — check them in OpenAlgo."
    )


def _says_cancelled(message: str) -> bool:
    lower = text(message).lower()
    return "cancelled status" in lower or "canceled status" in lower or "already cancel" in lower


def _dedupe(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        if item:
            seen.setdefault(item, None)
    return list(seen)
