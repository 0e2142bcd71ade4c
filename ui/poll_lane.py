"""The poll lane: reads the order book on its own thread and connection, on a timer.

A plain daemon thread (not a ``QThread``): it sleeps on a queue between reads, so a command
(poll now, new interval, new server, test the connection, stop) wakes it at once, and a read
that hangs can never hold up the app's exit. Results go out as Qt signals, which reach the UI
thread queued.

The reply is parsed here (``OpenAlgoClient.orderbook``, JSON read in short slices of the
interpreter lock: ``core.json_body``), and a ``core.book_changes.BookTracker`` reuses last poll's
``Order`` for every unchanged row and works out what changed, so the UI thread only handles the
orders added, changed or removed. Errors and 429s double the delay up to 10 s; the first good
read returns to the interval. While a kill runs the lane skips its reads, drops a read that was
already in flight when the kill began (its picture predates the kill), and reads at once when
told the kill has ended.

Each read and each command is guarded: an unexpected exception is logged and reported
(``ui.crash_report.report_unexpected``) and the lane goes on.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import httpx
from PySide6.QtCore import QObject, Signal, SignalInstance

from core.book_changes import BookTracker
from core.client import OpenAlgoClient
from core.replies import OrderBook
from ui.connection_state import check_connection
from ui.crash_report import report_unexpected

log = logging.getLogger(__name__)

MAX_BACKOFF_S: Final = 10.0
POSITIONS_EVERY_S: Final = 2.0
MIN_POLL_INTERVAL_S: Final = 0.05


def clamp_interval(seconds: float) -> float:
    return min(max(float(seconds), MIN_POLL_INTERVAL_S), 60.0)


@dataclass(frozen=True)
class _Reconfigure:
    host: str
    apikey: str = field(repr=False)
    strategy: str


@dataclass(frozen=True)
class _SetInterval:
    seconds: float


_POLL_NOW: Final = object()
_TEST: Final = object()
_STOP: Final = object()


class PollLane(QObject):
    """Reads the order book on its own thread, on a timer; also runs "Test connection".

    ``killing()`` says whether a kill is in flight and ``kills()`` how many have started (so a
    read can tell that a kill began while it was on the wire).

    Signals (emitted on the lane's thread; connect them to objects on the UI thread):
        polled(OrderBook, float, BookChanges): a good read, its round trip in ms, what changed.
        failed(ApiError, float): a failed read and its round trip in ms.
        tested(ConnectionTest): the outcome of :meth:`test_connection`.
    """

    polled = Signal(object, float, object)
    failed = Signal(object, float)
    tested = Signal(object)
    positions = Signal(object)  # PositionBook, or ApiError: every few seconds while they are wanted

    def __init__(
        self,
        host: str,
        apikey: str,
        strategy: str,
        interval_s: float,
        http: httpx.Client,
        *,
        killing: Callable[[], bool],
        kills: Callable[[], int],
    ) -> None:
        super().__init__()
        self.http = http
        self._client = OpenAlgoClient(host, apikey, http, strategy=strategy)
        self._interval = clamp_interval(interval_s)
        self._delay = self._interval
        self._killing = killing
        self._kills = kills
        self._tracker = BookTracker()
        self._inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._want_positions = False
        self._next_positions = 0.0
        self._thread = threading.Thread(target=self._serve, name="poll-lane", daemon=True)
        self._closed = threading.Event()

    # -- from any thread ---------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def set_interval(self, seconds: float) -> None:
        self._inbox.put(_SetInterval(clamp_interval(seconds)))

    def reconfigure(self, host: str, apikey: str, strategy: str) -> None:
        self._inbox.put(_Reconfigure(host, apikey, strategy))

    def poll_now(self) -> None:
        self._inbox.put(_POLL_NOW)

    def want_positions(self, wanted: bool) -> None:
        """Read the position book too (every few seconds), or stop reading it."""
        self._want_positions = wanted
        self._next_positions = 0.0

    def test_connection(self) -> None:
        self._inbox.put(_TEST)

    def stop(self) -> None:
        """Ask the lane to end; :meth:`join` waits for it (bounded)."""
        self._closed.set()
        self._inbox.put(_STOP)

    def join(self, timeout_s: float) -> bool:
        """True when the lane's thread has ended within ``timeout_s``."""
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    # -- the lane's thread -------------------------------------------------------------

    def _serve(self) -> None:
        next_read = time.monotonic()
        try:
            while True:
                wait = max(0.0, next_read - time.monotonic())
                try:
                    command = self._inbox.get(timeout=wait)
                except queue.Empty:
                    command = _POLL_NOW
                if command is _STOP:
                    return
                try:
                    next_read = self._handle(command, next_read)
                except Exception as exc:  # one bad read or command must not end the lane
                    log.exception("the poll lane hit an unexpected error")
                    report_unexpected(exc)
                    next_read = time.monotonic() + self._delay
        finally:
            self.http.close()

    def _handle(self, command: object, next_read: float) -> float:
        if isinstance(command, _SetInterval):
            self._interval = self._delay = command.seconds
            return time.monotonic()
        if isinstance(command, _Reconfigure):
            self._client = OpenAlgoClient(command.host, command.apikey, self.http, strategy=command.strategy)
            self._tracker.forget()
            self._delay = self._interval
            return time.monotonic()
        if command is _TEST:
            self._emit(self.tested, check_connection(self._client))
            return next_read
        return time.monotonic() + self._read()

    def _read(self) -> float:
        """One read of the book; returns the seconds until the next one."""
        if self._killing():
            return self._interval  # the end of the kill asks for a read anyway
        kills = self._kills()
        started = time.perf_counter()
        result = self._client.orderbook(parse_row=self._tracker.parse_row)
        rtt_ms = (time.perf_counter() - started) * 1000
        if self._closed.is_set():
            return self._interval
        if self._killing() or self._kills() != kills:
            return self._interval  # a kill began while this read was on the wire: it predates it
        if isinstance(result, OrderBook):
            self._delay = self._interval
            self._emit(self.polled, result, rtt_ms, self._tracker.changes(result.orders))
            if self._want_positions and time.monotonic() >= self._next_positions:
                self._next_positions = time.monotonic() + POSITIONS_EVERY_S
                self._emit(self.positions, self._client.positionbook())
        else:
            ceiling = max(MAX_BACKOFF_S, self._interval)
            self._delay = min(max(self._delay, self._interval) * 2, ceiling)
            self._emit(self.failed, result, rtt_ms)
        return self._delay

    def _emit(self, signal: SignalInstance, *args: object) -> None:
        if self._closed.is_set():
            return
        try:
            signal.emit(*args)
        except RuntimeError:  # the lanes were deleted while this thread finished a read
            self._closed.set()
