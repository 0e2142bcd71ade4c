"""The poll lane and the kill lane together, as the window sees them: one object, signals out.

Two lanes (``ui.poll_lane``, ``ui.kill_lane``), each a daemon thread with its **own**
``httpx.Client`` (``core.client.make_http_client``), so a panic press never waits behind a poll:
not for the thread, not for a pooled connection. Presses go through one ``core.one_kill.OneKill``
-- the one place that decides whether a press starts a kill or joins the running one, in this
process and across processes -- and a kill is recorded there (``core.record``), with the orders
of the last good poll describing the orders a cancel-all names by id only and counting among the
orders the kill must account for.

Every wait is bounded. A kill that has no verdict a second after its deadline (a server that
trickles its answer past every timeout) is reported as it stands, ``unverified``; closing the
window during a kill reports it interrupted (:meth:`Lanes.interrupt`); :meth:`Lanes.stop` waits
at most the time it is given, since a lane thread stuck on a server is a daemon and never holds
up the app's exit.

Signals (all delivered on the thread that owns the :class:`Lanes`, normally the UI thread):

- ``bookUpdated(OrderBook)`` after each good poll;
- ``bookChanged(OrderBook, BookChanges)`` right after it: the same book and what changed since the
  last one (``core.book_changes``), for views that must not walk the whole book on every poll;
- ``connectionChanged(ConnectionState)`` after each poll and whenever the state changes;
- ``killStarted(str)`` with the trigger's name, once per kill (not for joined presses), once its
  cancel-all is on the wire (at most ~20 ms after the press; see ``ui.kill_lane``);
- ``killProgress(KillProgress)`` as the kill goes, each saying what the kill is waiting on;
- ``killFinished(CancelReport)`` once per kill, with ``joined`` set;
- ``connectionTested(ConnectionTest)`` after :meth:`Lanes.test_connection`.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Final

import httpx
from PySide6.QtCore import QCoreApplication, QObject, Qt, QTimer, Signal, Slot

from core import DEFAULT_DEADLINE_S
from core.book_changes import BookChanges
from core.client import make_http_client
from core.kill import KillSwitch
from core.one_kill import OneKill, RunningKill, ServerLocks
from core.orders import Order
from core.record import KillRecord
from core.replies import ApiError, ErrorKind, OrderBook
from core.report import CancelReport
from core.scope import KillScope
from core.settings import data_dir
from ui.connection_state import ConnectionState, ConnectionTest, initial_state
from ui.kill_lane import Herald, KillLane
from ui.poll_lane import PollLane, clamp_interval

log = logging.getLogger(__name__)

ANNOUNCE_FALLBACK_MS: Final = 20  # the longest the UI waits to show that a kill started
VERDICT_GRACE_S: Final = 1.0  # after the deadline, the longest the UI waits for a verdict
STOP_TIMEOUT_S: Final = 1.0

HttpFactory = Callable[[], httpx.Client]


class Lanes(QObject):
    """Poll lane and kill lane for one server. Call :meth:`start` once and :meth:`stop` before the
    application quits (it is also connected to ``QCoreApplication.aboutToQuit``).

    :meth:`fire` is the panic path: safe from any thread, it hands the press to the kill lane and
    returns. Keep the caller's own work after ``fire()`` short: the kill thread needs the
    interpreter lock that the calling thread holds until it returns.
    """

    bookUpdated = Signal(object)  # noqa: N815 -- core.replies.OrderBook, each good poll
    bookChanged = Signal(object, object)  # noqa: N815 -- the same OrderBook and its BookChanges
    connectionChanged = Signal(object)  # noqa: N815 -- ConnectionState, whenever it changes (and each poll)
    killStarted = Signal(str)  # noqa: N815 -- trigger name ("button", "hotkey", "tray", "command line")
    killProgress = Signal(object)  # noqa: N815 -- core.report.KillProgress
    killFinished = Signal(object)  # noqa: N815 -- core.report.CancelReport
    connectionTested = Signal(object)  # noqa: N815 -- ConnectionTest
    positionsRead = Signal(object)  # noqa: N815 -- PositionBook or ApiError, while wanted

    # Internal: a press from another thread (a hotkey's listener) arms the UI thread's timers.
    _armed = Signal(object)

    def __init__(
        self,
        host: str,
        apikey: str,
        *,
        strategy: str = "KillSwitch",
        poll_interval_s: float = 1.0,
        deadline_s: float = DEFAULT_DEADLINE_S,
        parent: QObject | None = None,
        http_factory: HttpFactory = make_http_client,
        record: KillRecord | None = None,
        locks: ServerLocks | None = None,
        scope: KillScope | None = None,
    ) -> None:
        super().__init__(parent)
        self._host = host
        self._deadline_s = deadline_s
        self._poll_interval_s = poll_interval_s
        self._last_orders: tuple[Order, ...] = ()  # the last good book, to describe killed orders
        self._state = initial_state(host)
        self._started = False
        self._stopped = False
        self._home_ident = threading.get_ident()  # the thread that owns this object and its timers
        # Lock files these lanes opened themselves, closed when they stop; locks passed in are
        # the caller's.
        self._own_locks: ServerLocks | None = None
        if locks is None:
            locks = self._own_locks = ServerLocks(
                (record.path.parent if record is not None else data_dir()) / "locks"
            )

        self._herald = Herald(self)
        # Queued even when emitted on this thread (the fallback timer): the herald emits under
        # its lock, and a kill or sweep thread must never wait on that lock for UI work.
        self._herald.started.connect(self._on_announced, Qt.ConnectionType.QueuedConnection)
        self._herald.progress.connect(self._on_progress, Qt.ConnectionType.QueuedConnection)

        def one_kill(switch: KillSwitch) -> OneKill:
            return OneKill(switch, record=record, locks=locks, known_orders=lambda: self._last_orders)

        self.kill_lane = KillLane(
            host,
            apikey,
            strategy,
            deadline_s,
            http_factory(),
            self._herald,
            one_kill,
            record=record,
            scope=scope,
        )
        self.kill_lane.done.connect(self._on_kill_done, Qt.ConnectionType.QueuedConnection)
        self.one: OneKill = self.kill_lane.one
        self.poll_lane = PollLane(
            host,
            apikey,
            strategy,
            poll_interval_s,
            http_factory(),
            killing=lambda: self.one.in_flight,
            kills=lambda: self.one.started,
        )
        self.poll_lane.polled.connect(self._on_polled, Qt.ConnectionType.QueuedConnection)
        self.poll_lane.failed.connect(self._on_poll_failed, Qt.ConnectionType.QueuedConnection)
        self.poll_lane.tested.connect(self._on_tested, Qt.ConnectionType.QueuedConnection)
        self.poll_lane.positions.connect(self.positionsRead, Qt.ConnectionType.QueuedConnection)
        self.last_kill: RunningKill | None = None  # the last kill reported (its record id, its press)

        self._fallback = QTimer(self)
        self._fallback.setSingleShot(True)
        self._fallback.setInterval(ANNOUNCE_FALLBACK_MS)
        self._fallback.timeout.connect(self._herald.announce)
        self._watchdog = QTimer(self)
        self._watchdog.setSingleShot(True)
        self._watchdog.timeout.connect(self._verdict_overdue)
        self._watched: RunningKill | None = None
        self._finished: weakref.WeakSet[RunningKill] = weakref.WeakSet()  # reported: once each
        self._armed.connect(self._arm, Qt.ConnectionType.QueuedConnection)

        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.stop)

    # -- public interface ------------------------------------------------------------

    @property
    def kill_in_flight(self) -> bool:
        return self.one.in_flight

    @property
    def connection(self) -> ConnectionState:
        """The last state sent on ``connectionChanged``."""
        return self._state

    @property
    def host(self) -> str:
        return self._host

    @property
    def deadline_s(self) -> float:
        return self._deadline_s

    @property
    def poll_interval_s(self) -> float:
        return self._poll_interval_s

    @property
    def record_path(self) -> Path | None:
        return self.one.record.path if self.one.record is not None else None

    def start(self) -> None:
        """Start both lanes: the poll reads at once, the kill lane warms its connection."""
        if self._started or self._stopped:
            return
        self._started = True
        self.kill_lane.start()
        self.poll_lane.start()
        self.connectionChanged.emit(self._state)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> bool:
        """Stop both lanes and close their clients, waiting at most ``timeout_s`` in all.

        False when a lane was still busy (a kill waiting on its server): it ends on its own and
        never holds up the app's exit. Idempotent."""
        if self._stopped:
            return not (self.poll_lane.alive or self.kill_lane.alive)
        self._stopped = True
        self._fallback.stop()
        self._watchdog.stop()
        if not self._started:
            self.poll_lane.http.close()
            self.kill_lane.http.close()
            self._close_locks()
            return True
        self.poll_lane.stop()
        self.kill_lane.stop()
        ends = time.monotonic() + timeout_s
        polled = self.poll_lane.join(timeout_s)
        killed = self.kill_lane.join(max(0.0, ends - time.monotonic()))
        if killed:  # a kill still waiting keeps its server's lock until the process ends
            self._close_locks()
        if not (polled and killed):
            log.warning("a lane was still busy after %.1f s; it is left to end on its own", timeout_s)
        return polled and killed

    def _close_locks(self) -> None:
        if self._own_locks is not None:
            self._own_locks.close()

    def fire(self, trigger: str, *, press: str = "") -> RunningKill | None:
        """Kill now: stamps the press and hands it to the kill lane at once. Safe from any thread.

        A press while a kill runs joins it (the report's ``joined`` counts it); there is never
        more than one cancel-all in flight. ``killStarted`` follows once the cancel-all is on the
        wire. ``press`` names the press this kill is part of when one press fires several
        servers (the record groups them). The kill this press started or joined; None only when
        the lanes have stopped and the press went nowhere.
        """
        triggered_at = time.perf_counter()
        if self._stopped:
            log.warning("fire(%r) after the lanes stopped; ignored", trigger)
            return None
        pressed = self.one.press(trigger, triggered_at=triggered_at)
        if not pressed.owner:
            return pressed.kill
        pressed.kill.press = press
        self._herald.arm(trigger, pressed.kill)
        here = threading.get_ident() == self._home_ident
        if here:  # a few microseconds, and nothing to wake
            self._fallback.start()
            self._watch(pressed.kill)
        # Last: from here the kill thread needs the interpreter lock this thread holds.
        self.kill_lane.submit(pressed.kill)
        if not here:
            self._armed.emit(pressed.kill)
        return pressed.kill

    def set_scope(self, scope: KillScope) -> None:
        """What the next kill does beyond cancelling orders (a running kill keeps its own)."""
        if not self._stopped:
            self.kill_lane.set_scope(scope)

    def want_positions(self, wanted: bool) -> None:
        """Read the position book on the poll lane too (``positionsRead``), or stop."""
        if not self._stopped:
            self.poll_lane.want_positions(wanted)

    def interrupt(self, reason: str) -> CancelReport | None:
        """Stop waiting for the running kill (the window is closing): its report so far, marked
        interrupted in the record at once, sent on ``killFinished``. None when no kill runs."""
        kill = self.one.current
        report = self.one.interrupt(reason)
        if kill is not None and report is not None:
            self._finish(kill, report)
        return report

    def reconfigure(
        self, host: str, apikey: str, strategy: str, poll_interval_s: float, deadline_s: float
    ) -> None:
        """Point both lanes at a new server or key; a running kill finishes on the old one."""
        if self._stopped:
            return
        self._host = host
        self._deadline_s = deadline_s
        self._poll_interval_s = poll_interval_s
        self._last_orders = ()  # the old server's orders are not this server's to account for
        self.kill_lane.reconfigure(host, apikey, strategy, deadline_s)
        self.poll_lane.set_interval(poll_interval_s)
        self.poll_lane.reconfigure(host, apikey, strategy)
        self._set_state(initial_state(host))

    def set_poll_interval(self, seconds: float) -> None:
        self._poll_interval_s = seconds
        if not self._stopped:
            self.poll_lane.set_interval(clamp_interval(seconds))

    def test_connection(self) -> None:
        """Ping and ask the mode on the poll lane (the kill lane stays free); emits
        ``connectionTested``."""
        if not self._stopped:
            self.poll_lane.test_connection()

    # -- kills (this object's thread) ----------------------------------------------------

    @Slot(object)
    def _arm(self, kill: RunningKill) -> None:
        if not self._stopped and kill.report is None:
            self._fallback.start()
            self._watch(kill)

    def _watch(self, kill: RunningKill) -> None:
        self._watched = kill
        self._watchdog.start(max(1, round((self._deadline_s + VERDICT_GRACE_S) * 1000)))

    @Slot()
    def _verdict_overdue(self) -> None:
        kill = self._watched
        if kill is None or self._stopped or kill.report is not None:
            return
        report = self.one.interrupt(
            f"The kill had no verdict when its {self._deadline_s:g} s deadline passed; the server may "
            "still be working on it — check the order book in OpenAlgo.",
            interrupted=False,
            only=kill,
        )
        if report is not None:
            self._herald.announce(kill)
            self._herald.given_up(kill)
            self._finish(kill, report)

    @Slot(object, object, object)
    def _on_kill_done(self, kill: RunningKill, report: CancelReport, semi_auto: bool | None) -> None:
        if self._stopped:
            return
        if semi_auto is not None and semi_auto != self._state.semi_auto:
            state = replace(self._state, semi_auto=semi_auto)
            self._set_state(replace(state, sentence=state.describe()))
        self._finish(kill, report)

    def _finish(self, kill: RunningKill, report: CancelReport) -> None:
        """Report a kill's verdict once, however many ways it arrives."""
        if kill in self._finished:
            return
        self._finished.add(kill)
        if self._watched is kill:
            self._watchdog.stop()
            self._watched = None
        self.poll_lane.poll_now()  # the book as the kill left it, without waiting for the timer
        self.last_kill = kill
        self.killFinished.emit(report)

    @Slot(str)
    def _on_announced(self, trigger: str) -> None:
        if not self._stopped:
            self.killStarted.emit(trigger)

    @Slot()
    def _on_progress(self) -> None:
        for progress in self._herald.take_progress():  # coalesced: the latest of each phase
            if not self._stopped:
                self.killProgress.emit(progress)

    # -- polls (this object's thread) ----------------------------------------------------

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

    def _set_state(self, state: ConnectionState) -> None:
        self._state = state
        self.connectionChanged.emit(state)
