"""The poll lane and the kill lane: worker objects on their own threads, signals out.

Two lanes, each a ``QThread`` with a worker ``QObject`` moved onto it and its **own**
``httpx.Client`` (``core.client.make_http_client``), so a panic press never waits behind a poll:
not for the thread, not for a pooled connection.

**Poll lane** (:class:`PollWorker`). An ordinary Qt worker: its thread runs an event loop and a
single-shot ``QTimer`` living on that thread schedules each read of the order book. The reply is
parsed on the poll thread (``OpenAlgoClient.orderbook``, JSON read in short slices of the
interpreter lock: ``core.json_body``), and a ``core.book_changes.BookTracker`` there reuses last
poll's ``Order`` for every unchanged row and works out what changed since the last book sent, so
the UI thread only handles the orders added, changed or removed (``bookChanged``), never the whole
book. Errors and 429s double the delay up to 10 s; the first good read returns to the
interval. While a kill runs the lane skips its reads, drops a read that was already in flight when
the kill began (its snapshot predates the kill), and reads at once when the kill ends.

**Kill lane** (:class:`KillWorker`). Built for the shortest trigger-to-wire time. Its thread does
not sit in a Qt event loop: the worker's ``serve()`` loop blocks on a ``queue.SimpleQueue`` and
:meth:`Lanes.fire` puts the trigger straight into it. Waking a thread blocked on a Python queue
is one futex hand-off; a queued Qt signal adds event allocation, the dispatcher wake-up and
PySide's slot dispatch, and measured about twice as slow here (median ~110 µs against ~210 µs on
this machine, both far inside the 2 ms budget). ``fire()`` does nothing after the hand-off, so
the UI thread returns to its event loop and gives up the interpreter lock at once. The keep-warm
ping (``KillSwitch.keep_warm`` every 30 s) runs on a small helper thread over the same client,
never on the kill thread, so a press never waits behind a ping either; if the two ever overlap,
the kill takes another pooled connection.

**Announcing a kill** (:class:`_Herald`). The UI hears of a kill (``killStarted``, then the held
"Cancel-all sent…" progress) only once the ``cancelallorder`` request is on the wire: httpx's
``trace`` request extension reports ``http11.send_request_body.complete`` on the kill thread, a few
hundred microseconds before the server has read the body. Until then the UI thread stays asleep,
so its reaction (button text, tooltip, repaint, status bar) never competes with the kill thread
for the interpreter lock while it sends. A 20 ms fallback timer on the UI thread announces the
kill anyway when the request cannot get out (a dead network, a transport without tracing), and
the cancel-all's answer, or the end of the kill, announces it at the latest; ``killStarted``
always comes before the kill's first ``killProgress`` and before its ``killFinished``.

A fire while a kill runs joins it: there is never more than one ``cancelallorder`` in flight, and
the kill's report counts the joined presses.

Given a ``record`` (``core.record.KillRecord``), the kill lane fires through
``core.record.RecordingKill``: the kill is written to the record, with its trigger's name, before
its first request, each exchange as it happens, and the verdict at the end; the orders of the last
good poll describe the orders a cancel-all names by id only.

Signals (all delivered on the thread that owns the :class:`Lanes`, normally the UI thread):

- ``bookUpdated(OrderBook)`` after each good poll;
- ``bookChanged(OrderBook, BookChanges)`` right after it: the same book and what changed since the
  last one (``core.book_changes``), for views that must not walk the whole book on every poll;
- ``connectionChanged(ConnectionState)`` after each poll and whenever the state changes;
- ``killStarted(str)`` with the trigger's name, once per kill (not for joined presses), once its
  cancel-all is on the wire (at most ~20 ms after the press; see above);
- ``killProgress(KillProgress)`` as the kill goes, starting with "Cancel-all sent…";
- ``killFinished(CancelReport)`` once per kill, with ``joined`` set;
- ``connectionTested(ConnectionTest)`` after :meth:`Lanes.test_connection`.
"""

from __future__ import annotations

import gc
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Final

import httpx
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, QTimer, Signal, Slot

from core.book_changes import BookChanges, BookTracker
from core.client import OpenAlgoClient, make_http_client
from core.kill import KillSwitch
from core.orders import Order
from core.record import KillRecord, RecordingKill
from core.replies import ApiError, ErrorKind, OrderBook, Pong, interpret
from core.report import CancelReport, KillProgress

log = logging.getLogger(__name__)

KEEP_WARM_S: Final = 30.0
MAX_BACKOFF_S: Final = 10.0
MIN_POLL_INTERVAL_S: Final = 0.05
ANNOUNCE_FALLBACK_MS: Final = 20  # the longest the UI waits to show that a kill started
_ON_THE_WIRE: Final = ("http11.send_request_body.complete", "http2.send_request_body.complete")

HttpFactory = Callable[[], httpx.Client]


# -- state handed to the UI ------------------------------------------------------------


@dataclass(frozen=True)
class ConnectionState:
    """What the connection bar shows: can we reach the server, is the key good, which mode."""

    reachable: bool | None  # None = not known yet
    key_ok: bool | None
    mode: str  # "live" | "analyze" | "unknown"
    semi_auto: bool  # learned from a refused kill (403 Semi-Auto)
    last_good: float | None  # time.monotonic() of the last good order book
    rtt_ms: float | None  # round trip of the last poll
    sentence: str  # one line for the connection bar
    problem: str = ""  # why the last poll failed; "" when it brought a book

    @property
    def connected(self) -> bool:
        return bool(self.reachable and self.key_ok)

    def describe(self, now: float | None = None) -> str:
        """The connection line with the age of the last good update as of ``now`` (monotonic).

        A bar that refreshes the age on its own timer calls this; ``sentence`` is the same text
        as of the moment the state was made.
        """
        if self.problem or not self.connected or self.last_good is None:
            return self.sentence
        age = (time.monotonic() if now is None else now) - self.last_good
        parts = ["Connected", "key accepted", self.mode.upper(), _age_text(age)]
        if self.rtt_ms is not None:
            parts.append(f"{self.rtt_ms:.0f} ms")
        line = " · ".join(parts)
        if self.semi_auto:
            line += " · Semi-Auto: OpenAlgo will refuse a kill until it is switched to Auto"
        return line


def _age_text(age: float) -> str:
    if age < 1.0:
        return "updated just now"
    if age < 120:
        return f"updated {age:.0f} s ago"
    return f"updated {age / 60:.0f} min ago"


@dataclass(frozen=True)
class ConnectionTest:
    """The answer to "Test connection": ``ping`` and ``analyzer`` as one sentence."""

    ok: bool
    mode: str
    broker: str
    sentence: str


def _initial_state(host: str) -> ConnectionState:
    return ConnectionState(None, None, "unknown", False, None, None, f"Connecting to {host}…")


# -- the kill gate: shared by the UI thread, the kill lane and the poll lane -------------


class _KillGate:
    """Whether a kill is in flight; presses that joined it; the poll lane's pause.

    ``epoch`` counts kills started, so a poll can tell that a kill began while its read was on
    the wire.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = False
        self._joined = 0
        self.epoch = 0
        self.paused = threading.Event()

    @property
    def in_flight(self) -> bool:
        return self._in_flight

    def enter(self) -> bool:
        """True when this press starts a kill; False when it joined the one in flight."""
        with self._lock:
            if self._in_flight:
                self._joined += 1
                return False
            self._in_flight = True
            self._joined = 0
            self.epoch += 1
            self.paused.set()
            return True

    def leave(self) -> int:
        """The kill is over: resume polling; returns how many presses joined it."""
        with self._lock:
            joined = self._joined
            self._in_flight = False
            self._joined = 0
            self.paused.clear()
            return joined


# -- the poll lane ---------------------------------------------------------------------


class PollWorker(QObject):
    """Reads the order book on its own thread, on a timer; also runs "Test connection".

    Signals:
        polled(OrderBook, float, BookChanges): a good read, its round trip in ms, and what
            changed since the last book sent.
        failed(ApiError, float): a failed read and its round trip in ms.
        tested(ConnectionTest): the outcome of :meth:`test_connection`.
    """

    polled = Signal(object, float, object)
    failed = Signal(object, float)
    tested = Signal(object)

    def __init__(
        self,
        host: str,
        apikey: str,
        strategy: str,
        interval_s: float,
        http: httpx.Client,
        gate: _KillGate,
        home: QThread,
    ) -> None:
        super().__init__()
        self.http = http
        self._client = OpenAlgoClient(host, apikey, http, strategy=strategy)
        self._interval = interval_s
        self._delay = interval_s
        self._gate = gate
        self._home = home
        self._timer: QTimer | None = None
        self._tracker = BookTracker()
        self._closed = False

    @Slot()
    def begin(self) -> None:
        # Made here, not in __init__, so the timer belongs to the poll thread.
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)
        self._tick()

    @Slot(float)
    def set_interval(self, seconds: float) -> None:
        self._interval = seconds
        self._delay = seconds
        self._schedule(seconds)

    @Slot(str, str, str)
    def reconfigure(self, host: str, apikey: str, strategy: str) -> None:
        self._client = OpenAlgoClient(host, apikey, self.http, strategy=strategy)
        self._tracker.forget()
        self._delay = self._interval
        self.poll_now()

    @Slot()
    def poll_now(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._tick()

    @Slot()
    def test_connection(self) -> None:
        self.tested.emit(check_connection(self._client))

    @Slot()
    def shutdown(self) -> None:
        """Runs on the poll thread: stop the timer, close the client, hand back, quit."""
        if self._timer is not None:
            self._timer.stop()
        self._closed = True
        self.http.close()
        thread = QThread.currentThread()
        self.moveToThread(self._home)  # so the UI thread may delete us later without a warning
        thread.quit()

    def _schedule(self, seconds: float) -> None:
        if self._timer is not None and not self._closed:
            self._timer.start(max(1, round(seconds * 1000)))

    @Slot()
    def _tick(self) -> None:
        if self._closed:
            return
        gate = self._gate
        if gate.paused.is_set():
            self._schedule(self._interval)  # the end of the kill calls poll_now() anyway
            return
        epoch = gate.epoch
        started = time.perf_counter()
        result = self._client.orderbook(parse_row=self._tracker.parse_row)
        rtt_ms = (time.perf_counter() - started) * 1000
        if gate.paused.is_set() or gate.epoch != epoch:
            # A kill began while this read was on the wire: its picture predates the kill.
            self._schedule(self._interval)
            return
        if isinstance(result, OrderBook):
            self._delay = self._interval
            self.polled.emit(result, rtt_ms, self._tracker.changes(result.orders))
            _freeze_long_lived()
        else:
            ceiling = max(MAX_BACKOFF_S, self._interval)
            self._delay = min(max(self._delay, self._interval) * 2, ceiling)
            self.failed.emit(result, rtt_ms)
        self._schedule(self._delay)


def _freeze_long_lived() -> None:
    """Once per process, after the first good book: hide everything alive now from the garbage
    collector's full collections (``gc.freeze``).

    A full collection walks every tracked object while holding the interpreter lock: with the
    modules, Qt wrappers and a 10,000-order book that is ~50,000 objects and ~50 ms on a slow
    machine, a frozen window whenever it runs (a kill's reads of the book set one off). Frozen
    objects are still freed the ordinary way when their last reference goes; only garbage cycles
    alive at this moment would never be collected, and start-up leaves few.
    """
    if gc.get_freeze_count() == 0:
        gc.freeze()


def check_connection(client: OpenAlgoClient) -> ConnectionTest:
    """``ping`` (is the key accepted, which broker) then ``analyzer`` (which mode), as one sentence."""
    pong = client.ping()
    if not isinstance(pong, Pong):
        return ConnectionTest(False, "unknown", "", pong.sentence)
    status = client.analyzer()
    mode = pong.mode if isinstance(status, ApiError) else status.mode
    broker = pong.broker or "an unnamed broker"
    where = (
        "ANALYZE mode (OpenAlgo's sandbox: orders are simulated)"
        if mode == "analyze"
        else "LIVE mode (real orders at the broker)"
    )
    return ConnectionTest(True, mode, pong.broker, f"The server accepted the key; {broker} is in {where}.")


# -- the kill lane ---------------------------------------------------------------------


class _Herald(QObject):
    """Announces each kill to the UI once its cancel-all is on the wire (see the module docstring).

    ``arm`` (any thread, in :meth:`Lanes.fire`) starts a kill's announcement; ``announce`` (any
    thread, idempotent per kill) sends ``started`` and then the progress held until then;
    ``progress`` holds the kill's "Cancel-all sent…" until the announcement and passes everything
    else on. Both signals are emitted under one lock and always reach the UI thread queued, so
    they arrive in order and an emitting thread never runs UI code.

    Signals:
        started(str): the trigger's name, once per kill.
        progress(KillProgress): the kill's progress, after ``started``.
    """

    started = Signal(str)
    progress = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._trigger: str | None = None  # the armed kill's trigger, until it is announced
        self._held: list[KillProgress] = []

    @property
    def waiting(self) -> bool:
        """True from ``arm`` until the kill is announced."""
        return self._trigger is not None

    def arm(self, trigger: str) -> None:
        with self._lock:
            self._trigger = trigger
            self._held = []

    def announce(self) -> None:
        with self._lock:
            trigger, self._trigger = self._trigger, None
            if trigger is None:
                return
            held, self._held = self._held, []
            self.started.emit(trigger)
            for progress in held:
                self.progress.emit(progress)

    def pass_on(self, progress: KillProgress) -> None:
        """The kill's progress callback (kill thread and sweep threads)."""
        if self._trigger is not None:
            with self._lock:
                if self._trigger is not None and progress.phase == "cancel_all":
                    self._held.append(progress)  # said once the request is out
                    return
            self.announce()  # the cancel-all answered before any trace or timer said so
        with self._lock:
            self.progress.emit(progress)

    def trace(self, event: str, info: object) -> None:
        """httpx's ``trace`` extension on the cancel-all request (kill thread)."""
        if event in _ON_THE_WIRE:
            self.announce()


@dataclass(frozen=True)
class _Fire:
    trigger: str
    triggered_at: float  # time.perf_counter() at the press


@dataclass(frozen=True)
class _Reconfigure:
    host: str
    apikey: str = field(repr=False)
    strategy: str
    deadline_s: float


_STOP: Final = object()


class KillWorker(QObject):
    """Runs kills on the kill lane's thread, one at a time, through the lane's own client.

    Progress goes out through the lanes' :class:`_Herald` (from the kill thread and the sweep's
    threads), which holds it until the kill is announced.

    Signals:
        done(CancelReport, object): the report (``joined`` set) and what the kill taught about
            Semi-Auto mode: True (refused for it), False (a cancel went through) or None.
    """

    done = Signal(object, object)

    def __init__(
        self,
        host: str,
        apikey: str,
        strategy: str,
        deadline_s: float,
        http: httpx.Client,
        gate: _KillGate,
        home: QThread,
        herald: _Herald,
        *,
        keep_warm_s: float = KEEP_WARM_S,
        record: KillRecord | None = None,
        known_orders: Callable[[], tuple[Order, ...]] | None = None,
    ) -> None:
        super().__init__()
        self.http = http
        self._herald = herald
        # The cancel-all request carries httpx's trace hook, which tells the herald when the
        # request is on the wire. A request hook, not a change to the client: it works for any
        # client the factory makes (tests add hooks of their own).
        http.event_hooks["request"].append(self._trace_cancel_all)
        self._gate = gate
        self._home = home
        self._keep_warm_s = keep_warm_s
        self._record = record
        self._known_orders = known_orders
        self._recording: RecordingKill | None = None
        self._inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self._switch = self._make_switch(host, apikey, strategy, deadline_s)
        self._warm = threading.Thread(target=self._keep_warm, name="kill-lane-keep-warm", daemon=True)

    def _make_switch(self, host: str, apikey: str, strategy: str, deadline_s: float) -> KillSwitch:
        client = OpenAlgoClient(host, apikey, self.http, strategy=strategy)
        switch = KillSwitch(client, deadline_s=deadline_s, on_progress=self._herald.pass_on)
        if self._record is not None:
            # Every kill is begun in the record before its first request and each exchange is
            # written as it happens, so a crash mid-kill leaves its trace (core.record).
            self._record.secret = apikey
            self._recording = RecordingKill(switch, self._record, known_orders=self._known_orders)
        return switch

    def _trace_cancel_all(self, request: httpx.Request) -> None:
        if self._herald.waiting and request.url.path.endswith("/cancelallorder"):
            request.extensions["trace"] = self._herald.trace

    def submit(self, command: object) -> None:
        """Hand a command to the kill thread; safe from any thread, never blocks."""
        self._inbox.put(command)

    @Slot()
    def serve(self) -> None:
        """The kill thread's whole life: wait for a command, run it, until told to stop."""
        self._warm.start()
        try:
            while True:
                command = self._inbox.get()
                if isinstance(command, _Fire):
                    self._kill(command)
                elif isinstance(command, _Reconfigure):
                    self._switch = self._make_switch(
                        command.host, command.apikey, command.strategy, command.deadline_s
                    )
                elif command is _STOP:
                    break
        finally:
            self._stopping.set()
            self._warm.join()
            self.http.close()
            thread = QThread.currentThread()
            self.moveToThread(self._home)
            thread.quit()

    def _kill(self, command: _Fire) -> None:
        fire = self._recording.fire if self._recording is not None else self._switch.fire
        report = fire(command.trigger, triggered_at=command.triggered_at)
        self._herald.announce()  # a kill that never sent its cancel-all still started
        joined = self._gate.leave()
        if joined != report.joined:
            report = replace(report, joined=joined)
        self.done.emit(report, semi_auto_learned(report))

    def _keep_warm(self) -> None:
        # The first ping opens the connection, so the first kill does not pay the handshake.
        while not self._stopping.is_set():
            try:
                self._switch.keep_warm()
            except Exception:  # a ping must never take the lane down
                log.exception("keep-warm ping failed")
            if self._stopping.wait(self._keep_warm_s):
                return


def semi_auto_learned(report: CancelReport) -> bool | None:
    """True when a cancel of this kill was refused for Semi-Auto mode, False when one went
    through, None when the kill never got an answer to a cancel."""
    learned: bool | None = None
    for exchange in report.exchanges:
        if exchange.endpoint not in ("cancelallorder", "cancelorder") or exchange.http_status is None:
            continue
        if exchange.http_status == 200:
            learned = False if learned is None else learned
            continue
        outcome = interpret(
            exchange.endpoint, exchange.http_status, "application/json", exchange.reply.encode()
        )
        if isinstance(outcome, ApiError) and outcome.kind is ErrorKind.SEMI_AUTO:
            return True
    return learned


# -- the two lanes together ------------------------------------------------------------


class Lanes(QObject):
    """Poll lane and kill lane: each a QThread with a worker QObject moved onto it and its OWN
    httpx.Client (core.client.make_http_client). Workers talk to the UI only through signals.

    Call :meth:`start` once and :meth:`stop` before the application quits (it is also connected to
    ``QCoreApplication.aboutToQuit``). :meth:`fire` is the panic path; see the module docstring for
    why it is a queue hand-off. Keep the caller's own work after ``fire()`` short: the kill
    thread needs the interpreter lock that the calling thread holds until it returns.
    """

    bookUpdated = Signal(object)  # noqa: N815 -- core.client.OrderBook, each good poll
    bookChanged = Signal(object, object)  # noqa: N815 -- the same OrderBook and its BookChanges
    connectionChanged = Signal(object)  # noqa: N815 -- ConnectionState, whenever it changes (and each poll)
    killStarted = Signal(str)  # noqa: N815 -- trigger name ("button", "hotkey", "tray", "command line")
    killProgress = Signal(object)  # noqa: N815 -- core.kill.KillProgress
    killFinished = Signal(object)  # noqa: N815 -- core.kill.CancelReport
    connectionTested = Signal(object)  # noqa: N815 -- ConnectionTest

    # Internal: cross-thread requests to the poll worker, and the announcement's fallback timer
    # started from a fire() on another thread (a hotkey's listener).
    _poll_set_interval = Signal(float)
    _poll_reconfigure = Signal(str, str, str)
    _poll_now = Signal()
    _poll_test = Signal()
    _poll_shutdown = Signal()
    _arm_fallback = Signal()

    def __init__(
        self,
        host: str,
        apikey: str,
        *,
        strategy: str = "KillSwitch",
        poll_interval_s: float = 1.0,
        deadline_s: float = 60.0,
        parent: QObject | None = None,
        http_factory: HttpFactory = make_http_client,
        record: KillRecord | None = None,
    ) -> None:
        super().__init__(parent)
        self._host = host
        self._last_orders: tuple[Order, ...] = ()  # the last good book, to describe killed orders
        self._state = _initial_state(host)
        self._started = False
        self._stopped = False
        self._gate = _KillGate()
        home = self.thread()
        interval = _clamp_interval(poll_interval_s)

        self.poll_thread = QThread()
        self.poll_thread.setObjectName("poll-lane")
        self.poll_worker = PollWorker(host, apikey, strategy, interval, http_factory(), self._gate, home)
        self.poll_worker.moveToThread(self.poll_thread)
        self.poll_thread.started.connect(self.poll_worker.begin)
        self.poll_worker.polled.connect(self._on_polled)
        self.poll_worker.failed.connect(self._on_poll_failed)
        self.poll_worker.tested.connect(self._on_tested)
        self._poll_set_interval.connect(self.poll_worker.set_interval)
        self._poll_reconfigure.connect(self.poll_worker.reconfigure)
        self._poll_now.connect(self.poll_worker.poll_now)
        self._poll_test.connect(self.poll_worker.test_connection)
        self._poll_shutdown.connect(self.poll_worker.shutdown)

        self._home_ident = threading.get_ident()  # the thread that owns this object and its timer
        self._herald = _Herald(self)
        # Queued even when emitted on this thread (the fallback timer): the herald emits under
        # its lock, and a kill or sweep thread must never wait on that lock for UI work.
        self._herald.started.connect(self._on_announced, Qt.ConnectionType.QueuedConnection)
        self._herald.progress.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)
        self._fallback = QTimer(self)
        self._fallback.setSingleShot(True)
        self._fallback.setInterval(ANNOUNCE_FALLBACK_MS)
        self._fallback.timeout.connect(self._herald.announce)
        self._arm_fallback.connect(self._fallback.start, Qt.ConnectionType.QueuedConnection)

        self.kill_thread = QThread()
        self.kill_thread.setObjectName("kill-lane")
        self.kill_worker = KillWorker(
            host,
            apikey,
            strategy,
            deadline_s,
            http_factory(),
            self._gate,
            home,
            self._herald,
            record=record,
            known_orders=lambda: self._last_orders,
        )
        self.kill_worker.moveToThread(self.kill_thread)
        self.kill_thread.started.connect(self.kill_worker.serve)
        self.kill_worker.done.connect(self._on_kill_done)

        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)

    # -- public interface ------------------------------------------------------------

    @property
    def kill_in_flight(self) -> bool:
        return self._gate.in_flight

    @property
    def connection(self) -> ConnectionState:
        """The last state sent on ``connectionChanged``."""
        return self._state

    def start(self) -> None:
        """Start both lanes: the poll reads at once, the kill lane warms its connection."""
        if self._started or self._stopped:
            return
        self._started = True
        # The interpreter lets a thread that holds the GIL keep it for up to 5 ms before a
        # waiting thread gets a turn; a woken kill thread must not wait that long behind a
        # busy UI or poll thread, so hand-offs happen at least every millisecond.
        if sys.getswitchinterval() > 0.001:
            sys.setswitchinterval(0.001)
        self.kill_thread.start(QThread.Priority.HighestPriority)
        self.poll_thread.start()
        self.connectionChanged.emit(self._state)

    def stop(self) -> None:
        """Stop both lanes and close both clients; waits for a running kill to finish."""
        if self._stopped:
            return
        self._stopped = True
        if not self._started:
            self.poll_worker.http.close()
            self.kill_worker.http.close()
            return
        self._poll_shutdown.emit()
        self.kill_worker.submit(_STOP)
        self.poll_thread.wait()
        self.kill_thread.wait()

    def fire(self, trigger: str) -> bool:
        """Kill now: stamps the press and hands it to the kill lane at once. Safe from any thread.

        A press while a kill runs joins it (the report's ``joined`` counts it); there is never
        more than one cancel-all in flight. ``killStarted`` follows once the cancel-all is on the
        wire (module docstring). False only when the lanes have stopped and the press went
        nowhere.
        """
        triggered_at = time.perf_counter()
        if self._stopped:
            log.warning("fire(%r) after the lanes stopped; ignored", trigger)
            return False
        if not self._gate.enter():
            return True
        self._herald.arm(trigger)
        here = threading.get_ident() == self._home_ident
        if here:
            self._fallback.start()  # a few microseconds, and nothing to wake
        self.kill_worker.submit(_Fire(trigger, triggered_at))
        if not here:
            self._arm_fallback.emit()
        return True

    def reconfigure(
        self, host: str, apikey: str, strategy: str, poll_interval_s: float, deadline_s: float
    ) -> None:
        """Point both lanes at a new server or key; a running kill finishes on the old one."""
        if self._stopped:
            return
        self._host = host
        self.kill_worker.submit(_Reconfigure(host, apikey, strategy, deadline_s))
        self._poll_set_interval.emit(_clamp_interval(poll_interval_s))
        self._poll_reconfigure.emit(host, apikey, strategy)
        self._set_state(_initial_state(host))

    def set_poll_interval(self, seconds: float) -> None:
        if not self._stopped:
            self._poll_set_interval.emit(_clamp_interval(seconds))

    def test_connection(self) -> None:
        """Ping and ask the mode on the poll lane (the kill lane stays free); emits
        ``connectionTested``."""
        if not self._stopped:
            self._poll_test.emit()

    # -- results arriving from the lanes (on this object's thread) ---------------------

    @Slot(object, float, object)
    def _on_polled(self, book: OrderBook, rtt_ms: float, changes: BookChanges) -> None:
        if self._stopped:
            return
        state = replace(
            self._state,
            reachable=True,
            key_ok=True,
            mode=book.mode,
            last_good=time.monotonic(),
            rtt_ms=rtt_ms,
            problem="",
        )
        self._last_orders = book.orders
        self.bookUpdated.emit(book)
        self.bookChanged.emit(book, changes)
        self._set_state(replace(state, sentence=state.describe(state.last_good)))

    @Slot(object, float)
    def _on_poll_failed(self, error: ApiError, rtt_ms: float) -> None:
        if self._stopped:
            return
        state = replace(self._state, rtt_ms=rtt_ms, sentence=error.sentence, problem=error.sentence)
        if error.kind is ErrorKind.INVALID_KEY:
            state = replace(state, reachable=True, key_ok=False)
        elif error.network:
            state = replace(state, reachable=False, key_ok=None)
        elif error.kind is ErrorKind.IP_BANNED:
            state = replace(state, reachable=True, key_ok=None)
        else:  # the server answered, but not with a book (rate limit, broker error, bad reply)
            state = replace(state, reachable=True)
        self._set_state(state)

    @Slot(object)
    def _on_tested(self, test: ConnectionTest) -> None:
        if self._stopped:
            return
        if test.ok:
            self._set_state(replace(self._state, reachable=True, key_ok=True, mode=test.mode))
        self.connectionTested.emit(test)

    @Slot(str)
    def _on_announced(self, trigger: str) -> None:
        if not self._stopped:
            self.killStarted.emit(trigger)

    @Slot(object)
    def _on_progress(self, progress: object) -> None:
        if not self._stopped:
            self.killProgress.emit(progress)

    @Slot(object, object)
    def _on_kill_done(self, report: CancelReport, semi_auto: bool | None) -> None:
        if self._stopped:
            return
        self._poll_now.emit()  # the book as the kill left it, without waiting for the timer
        if semi_auto is not None and semi_auto != self._state.semi_auto:
            state = replace(self._state, semi_auto=semi_auto)
            self._set_state(replace(state, sentence=state.describe()))
        self.killFinished.emit(report)

    def _set_state(self, state: ConnectionState) -> None:
        self._state = state
        self.connectionChanged.emit(state)


def _clamp_interval(seconds: float) -> float:
    return min(max(float(seconds), MIN_POLL_INTERVAL_S), 60.0)
