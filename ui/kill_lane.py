"""The kill lane: runs kills on its own thread and warm connection, built for the shortest
trigger-to-wire time.

Its thread does not sit in a Qt event loop: it blocks on a ``queue.SimpleQueue`` and
:meth:`KillLane.submit` puts the kill straight into it. Waking a thread blocked on a Python queue
is one futex hand-off; a queued Qt signal adds event allocation, the dispatcher wake-up and
PySide's slot dispatch, and measured about twice as slow (median ~110 µs against ~210 µs), both
far inside the 2 ms budget. The keep-warm ping (``KillSwitch.keep_warm`` every 30 s) runs on a
small helper thread over the same client, never on the kill thread, so a press never waits behind
a ping; if the two ever overlap, the kill takes another pooled connection.

Kills go through ``core.one_kill.OneKill`` (the one place that decides whether a press starts a
kill or joins one, and that records it). Each command is guarded: an unexpected exception is
logged and reported (``ui.crash_report.report_unexpected``), the kill it hit ends ``unverified``
and is recorded, and the lane takes the next press normally.

**Announcing a kill** (:class:`Herald`). The UI hears of a kill (``started``, then the held
"Sending cancel-all…" progress) only once the ``cancelallorder`` request is on the wire: the
client reports ``cancel_all_sent`` from httpx's ``trace`` extension on the kill thread, a few
hundred microseconds before the server has read the body. Until then the UI thread stays asleep,
so its reaction (button text, repaint, status bar) never competes with the kill thread for the
interpreter lock while it sends. A 20 ms fallback timer on the UI thread announces the kill
anyway when the request cannot get out; the end of the kill announces it at the latest.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import httpx
from PySide6.QtCore import QObject, Signal

from core.client import OpenAlgoClient
from core.kill import KillSwitch
from core.one_kill import OneKill, RunningKill
from core.record import KillRecord
from core.report import CancelReport, KillProgress
from core.scope import KillScope
from ui.connection_state import semi_auto_learned
from ui.crash_report import report_unexpected

log = logging.getLogger(__name__)

KEEP_WARM_S: Final = 30.0
DROP_WATCH_S: Final = 0.5
"""How often the keep-warm thread looks whether the server closed the idle connection."""
MIN_REPING_S: Final = 1.0
"""No closer pings than this, however soon a server closes idle connections."""


class Herald(QObject):
    """Announces each kill to the UI once its cancel-all is on the wire (module docstring).

    ``arm`` (any thread) starts a kill's announcement; ``announce`` (any thread, idempotent per
    kill) sends ``started`` and then the progress held until then; ``pass_on`` holds the kill's
    "Sending cancel-all…" until the announcement and passes everything else on. Both signals are
    emitted under one lock and reach the UI thread queued, so they arrive in order and an
    emitting thread never runs UI code.

    **Progress is coalesced.** ``progress`` carries nothing: it says that progress is waiting,
    and the receiver takes it all with :meth:`take_progress`. Until it has, later progress of the
    same phase replaces the waiting one instead of queueing another signal. A kill whose
    deadline passes with 1,000 orders not yet swept says "failed" 1,000 times within a
    millisecond; one queued signal each kept the UI thread busy for ~15 ms in a row. The UI
    shows the latest of each phase, in order, never a stale count.

    **Only the kill the UI waits for is heard.** When the window gave a stuck kill its verdict
    without it (its deadline passed; ``given_up``) and the trader presses again, the new kill
    waits behind the old one on the kill thread. What the old kill says once it comes unstuck
    is dropped: it would otherwise show as the new press's progress, before that press has sent
    anything.

    Signals:
        started(str): the trigger's name, once per kill.
        progress(): the kill's progress is waiting (:meth:`take_progress`), after ``started``.
    """

    started = Signal(str)
    progress = Signal()

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Lock()
        self._trigger: str | None = None  # the armed kill's trigger, until it is announced
        self._held: list[KillProgress] = []
        self._waiting: list[KillProgress] = []  # passed on, not yet taken; one per phase in a row
        self._armed: RunningKill | None = None  # the kill the UI waits to hear from
        self._running: RunningKill | None = None  # the kill the kill thread runs

    def arm(self, trigger: str, kill: RunningKill) -> None:
        with self._lock:
            self._trigger = trigger
            self._held = []
            self._armed = kill

    def running(self, kill: RunningKill) -> None:
        """The kill thread starts running ``kill``: the progress from now on is its own."""
        with self._lock:
            self._running = kill

    def given_up(self, kill: RunningKill) -> None:
        """The UI gave ``kill`` its verdict without waiting for it any longer (its deadline
        passed and the kill thread never answered): whatever it says later goes unheard, and
        is never shown as the progress of a later press."""
        with self._lock:
            if self._armed is kill:
                self._armed = None

    def announce(self, kill: RunningKill | None = None) -> None:
        """Announce the armed kill; when ``kill`` is given, only if it is the armed one."""
        with self._lock:
            if kill is not None and kill is not self._armed:
                return
            trigger, self._trigger = self._trigger, None
            if trigger is None:
                return
            held, self._held = self._held, []
            self.started.emit(trigger)
            for progress in held:
                self._wait(progress)

    def pass_on(self, progress: KillProgress) -> None:
        """The kill's progress callback (kill thread and sweep threads)."""
        with self._lock:
            if self._running is not self._armed:
                return  # a kill given up on, still running while a later press waits its turn
            if self._trigger is not None and progress.phase == "cancel_all":
                self._held.append(progress)  # said once the request is out
                return
            unannounced = self._trigger is not None
        if unannounced:
            self.announce()  # on the wire (or past it)
        with self._lock:
            self._wait(progress)

    def take_progress(self) -> list[KillProgress]:
        """The progress waiting since the last call, oldest first (the receiver's thread)."""
        with self._lock:
            waiting, self._waiting = self._waiting, []
        return waiting

    def _wait(self, progress: KillProgress) -> None:
        """With ``self._lock`` held: keep ``progress`` for the receiver, and tell it unless a
        signal is already on its way."""
        waiting = self._waiting
        if waiting and waiting[-1].phase == progress.phase:
            waiting[-1] = progress
            return
        waiting.append(progress)
        if len(waiting) == 1:
            self.progress.emit()


@dataclass(frozen=True)
class _Run:
    kill: RunningKill


@dataclass(frozen=True)
class _Reconfigure:
    host: str
    apikey: str = field(repr=False)
    strategy: str
    deadline_s: float


_STOP: Final = object()


class KillLane(QObject):
    """Runs kills, one at a time, on the kill lane's thread through the lane's own client.

    Signals (emitted on the lane's thread):
        done(RunningKill, CancelReport, object): the kill, its report (``joined`` set) and what it
            taught about Semi-Auto mode: True (refused for it), False (a cancel went through) or
            None.
    """

    done = Signal(object, object, object)

    def __init__(
        self,
        host: str,
        apikey: str,
        strategy: str,
        deadline_s: float,
        http: httpx.Client,
        herald: Herald,
        one_kill: Callable[[KillSwitch], OneKill],
        *,
        keep_warm_s: float = KEEP_WARM_S,
        record: KillRecord | None = None,
        scope: KillScope | None = None,
    ) -> None:
        super().__init__()
        self.http = http
        self._herald = herald
        self._record = record
        self._keep_warm_s = keep_warm_s
        self._inbox: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._stopping = threading.Event()
        self.scope = scope or KillScope()
        self.one = one_kill(self._make_switch(host, apikey, strategy, deadline_s))
        self._thread = threading.Thread(target=self._serve, name="kill-lane", daemon=True)
        self._warm = threading.Thread(target=self._keep_warm, name="kill-lane-keep-warm", daemon=True)

    # -- from any thread ---------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self._warm.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, kill: RunningKill) -> None:
        """Hand a kill to the kill thread; never blocks."""
        self._inbox.put(_Run(kill))

    def set_scope(self, scope: KillScope) -> None:
        """Later kills do this much (close positions...); a running kill keeps its own."""
        self._inbox.put(scope)

    def reconfigure(self, host: str, apikey: str, strategy: str, deadline_s: float) -> None:
        """Later kills go to this server with this key; a running kill finishes on the old one."""
        self._inbox.put(_Reconfigure(host, apikey, strategy, deadline_s))

    def stop(self) -> None:
        self._stopping.set()
        self._inbox.put(_STOP)

    def join(self, timeout_s: float) -> bool:
        """True when the kill thread has ended within ``timeout_s`` (a kill still waiting on a
        server may keep it longer; it is a daemon, so it never holds up the app's exit)."""
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        return not self._thread.is_alive()

    # -- the lane's thread -------------------------------------------------------------

    def _make_switch(self, host: str, apikey: str, strategy: str, deadline_s: float) -> KillSwitch:
        client = OpenAlgoClient(host, apikey, self.http, strategy=strategy)
        client.prepare_cancel_all()  # the press then sends a request built ahead
        if self._record is not None:
            self._record.secret = apikey
        return KillSwitch(client, deadline_s=deadline_s, on_progress=self._herald.pass_on, scope=self.scope)

    def _serve(self) -> None:
        try:
            self.one.prepare()  # not on the UI thread: it reads the record
            while True:
                command = self._inbox.get()
                if command is _STOP:
                    return
                try:
                    self._handle(command)
                except Exception as exc:  # one bad command must not end the lane
                    log.exception("the kill lane hit an unexpected error")
                    report_unexpected(exc)
                    if isinstance(command, _Run):
                        self._ended_by(command.kill, exc)
        finally:
            self._stopping.set()
            self.http.close()

    def _handle(self, command: object) -> None:
        if isinstance(command, _Run):
            self._herald.running(command.kill)
            report = self.one.run(command.kill)
            self._herald.announce(command.kill)  # a kill that never sent its cancel-all still started
            self._emit(command.kill, report)
            self.one.switch.client.prepare_cancel_all()  # for the next press
            self.one.prepare()
        elif isinstance(command, _Reconfigure):
            self.one.use(
                self._make_switch(command.host, command.apikey, command.strategy, command.deadline_s)
            )
            self.one.prepare()
        elif isinstance(command, KillScope):  # between kills: the next kill has this scope
            self.scope = command
            self.one.switch.scope = command

    def _ended_by(self, kill: RunningKill, exc: Exception) -> None:
        """The kill hit an unexpected error: it ends unverified (recorded), and the next press
        starts a new kill."""
        reason = (
            f"The kill stopped on an internal error ({type(exc).__name__}); check the order book in OpenAlgo."
        )
        try:
            report = self.one.interrupt(reason, interrupted=False, only=kill) or kill.report
        except Exception:
            log.exception("the failed kill could not be concluded")
            report = kill.report
        self._herald.announce(kill)
        if report is not None:
            self._emit(kill, report)

    def _emit(self, kill: RunningKill, report: CancelReport) -> None:
        try:
            self.done.emit(kill, report, semi_auto_learned(report))
        except RuntimeError:  # the lanes were deleted while the kill finished
            log.warning("a kill finished after its window closed: %s", report.verdict.value)

    def _keep_warm(self) -> None:
        """Ping every ``keep_warm_s``, and at once when the server has closed the idle
        connection (looked at every :data:`DROP_WATCH_S`, without sending anything): the
        ping connects again, so a press never waits for a new connection. Against a server
        that drops idle connections after 2 s (gunicorn's default) that is a ping every ~2.5 s;
        against one that keeps them, nothing more than the regular ping."""
        # The first ping opens the connection, so the first kill does not pay the handshake.
        last_ping = -math.inf
        while not self._stopping.is_set():
            switch = self.one.switch
            try:
                since = time.monotonic() - last_ping
                if since >= self._keep_warm_s or (since >= MIN_REPING_S and switch.connection_dropped()):
                    last_ping = time.monotonic()
                    switch.keep_warm()
            except Exception:  # a ping must never take the lane down
                log.exception("keep-warm ping failed")
            if self._stopping.wait(min(DROP_WATCH_S, self._keep_warm_s)):
                return
