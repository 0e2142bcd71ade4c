"""Exactly one kill at a time: in this process, and across every process of this user.

The one mechanism behind "a press during a kill joins it", for the window's button, hotkey, tray
and local socket and for the command line alike:

* In this process, :meth:`OneKill.press` decides on the caller's thread, without blocking: a press
  while a kill runs joins it and gets its report; a press after that kill's **verdict** starts a
  new kill, even while the finished one is still being written to the record.
* Across processes, a running kill holds a lock file for its server (:class:`ServerLock`; the
  operating system lets go of it if the process dies). A kill that finds its server's lock held
  by another process sends nothing: it waits for that kill and reports the verdict that process
  recorded. So ``killswitch trigger`` while the window is closing, or a script's ``cancel-all``
  while the window's kill runs, never puts a second cancel-all in flight.

It also keeps the record (``core.record``): a kill is begun there as soon as its cancel-all is on
the wire (while the server works on it, so the press does not wait for the disk), each exchange
is written as it happens and the verdict at the end. A kill stopped before its verdict
(Ctrl+C, closing the window) is marked interrupted at once, with its report so far
(:meth:`OneKill.interrupt`). Recording never stands between a trader and a kill: when the disk
fails the kill goes ahead and the failure is logged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import sqlite3
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from core.exchange import Exchange
from core.orders import Order
from core.record import KillRecord
from core.report import CancelReport, Verdict

if TYPE_CHECKING:  # a type only: reading who holds a lock needs no HTTP client
    from core.kill import KillSwitch

log = logging.getLogger(__name__)

JOIN_GRACE_S: Final = 5.0  # beyond our own deadline, how long to wait for another process's kill
CANCEL_ALL_MAY_RUN_S: Final = 60.0
"""How long a cancel-all that went out and was never answered may still be running on the
server (a real broker's cancel-all of a busy book takes tens of seconds). A kill within that
time after one does not send another -- two at once race inside the server -- but reads the
book and cancels what is left one by one."""
_LOCK_POLL_S: Final = 0.05


@dataclass(eq=False)
class RunningKill:
    """One kill from its first press to its verdict."""

    trigger: str
    triggered_at: float  # time.perf_counter() at the first press
    joined: int = 0  # presses that joined it
    kill_id: int | None = None  # its row in the record, once the kill is under way
    written_down: bool = False  # begun in the record (or tried) and named in its lock's note
    press: str = ""  # the press it is part of, when one press fired several servers
    started: bool = False  # OneKill.run has begun it
    report: CancelReport | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def wait(self, timeout: float | None = None) -> CancelReport | None:
        """Its report once it has a verdict (None if ``timeout`` passes first)."""
        self.done.wait(timeout)
        return self.report


@dataclass(frozen=True)
class Press:
    kill: RunningKill
    owner: bool  # True: this press started the kill and must run it; False: it joined


class OneKill:
    """Presses, kills and the record of them for one server (see the module docstring).

    ``switch`` runs the procedure; it can be replaced between kills (:meth:`use`), for instance
    when the window's settings change. ``known_orders`` gives the orders the caller last saw
    (the window's last good poll): they describe orders named by id only, and each working one
    must be accounted for in the kill's final read.
    """

    def __init__(
        self,
        switch: KillSwitch,
        *,
        record: KillRecord | None = None,
        locks: ServerLocks | None = None,
        known_orders: Callable[[], Iterable[Order]] | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()  # a kill is begun in the record once
        # server -> (its lock's turns, its unsettled kills in the record then): see prepare()
        self._read_ahead: dict[str, tuple[int, list[tuple[int, float]]]] = {}
        self._current: RunningKill | None = None
        self._recording: RunningKill | None = None  # the kill run() is running: its exchanges are kept
        self.started = 0  # kills started in this process, so a reader can tell one began
        self._switch = switch
        self.record = record
        self.locks = locks
        self.known_orders = known_orders
        self.record_failures = 0  # writes that failed (logged); the kills went ahead regardless
        self._clock = clock
        self._observe_switch(switch)

    @property
    def switch(self) -> KillSwitch:
        return self._switch

    def use(self, switch: KillSwitch) -> None:
        """Run later kills through ``switch`` (a kill already running keeps its own)."""
        self._switch = switch
        self._observe_switch(switch)

    @property
    def in_flight(self) -> bool:
        return self._current is not None

    @property
    def current(self) -> RunningKill | None:
        return self._current

    # -- presses -------------------------------------------------------------------------

    def press(self, trigger: str, *, triggered_at: float | None = None) -> Press:
        """Start a kill or join the running one; never blocks. The owner must then :meth:`run` it."""
        stamp = self._clock() if triggered_at is None else triggered_at
        with self._lock:
            current = self._current
            if current is not None:
                current.joined += 1
                return Press(current, owner=False)
            current = self._current = RunningKill(trigger, stamp)
            self.started += 1
            return Press(current, owner=True)

    def fire(self, trigger: str, *, triggered_at: float | None = None) -> CancelReport:
        """Press and wait for the verdict (run it here when this press started the kill). A
        press that joined waits no longer than the running kill's deadline and the grace beyond
        it; past that it gets the running kill's report so far (``unverified``)."""
        press = self.press(trigger, triggered_at=triggered_at)
        if press.owner:
            return self.run(press.kill)
        report = press.kill.wait(self._switch.deadline_s + JOIN_GRACE_S)
        if report is not None:
            return report
        return self.interrupt(
            "The kill this press joined had no verdict by its deadline; check the order book in OpenAlgo.",
            interrupted=False,
            only=press.kill,
        ) or self._elsewhere_report(
            press.kill, self._switch, "The kill this press joined ended without a verdict."
        )

    # -- running -------------------------------------------------------------------------

    def run(self, kill: RunningKill) -> CancelReport:
        """Run ``kill`` on this thread to its verdict, record it, and return its report.

        A kill given up on before it started (:meth:`interrupt`) stays given up: its trader was
        told that nothing was sent, so nothing is sent."""
        with self._lock:
            if kill.report is not None:
                return kill.report
            kill.started = True
        switch = self._switch
        server = switch.client.host
        lock = self.locks.for_server(server) if self.locks is not None else None
        earlier: CancelReport | None = None  # a kill elsewhere whose verdict did not cover ours
        if lock is not None and not lock.acquire():
            joined = self._join_elsewhere(kill, lock, switch)
            if isinstance(joined, CancelReport):
                return self._verdict(kill, joined)
            earlier = joined.earlier
        try:
            known = self._known()
            skip = self._cancel_all_may_be_running(server, lock) or _still_cancelling(earlier)
            report = switch.fire(
                kill.trigger,
                triggered_at=kill.triggered_at,
                known=known,
                skip_cancel_all=skip,
                on_underway=lambda: self._write_down(kill, server, lock),
            )
            self._write_down(kill, server, lock)  # in case the switch never got that far
            report = self._verdict(kill, report)  # from here a press starts a new kill
            kill_id = kill.kill_id
            if kill_id is not None and self.record is not None:
                record = self.record
                self._safely(lambda: record.finish(kill_id, report, known_orders=self._known()))
            return report
        finally:
            if self._recording is kill:
                self._recording = None
            if lock is not None:
                lock.release()

    def interrupt(
        self, reason: str, *, interrupted: bool = True, only: RunningKill | None = None
    ) -> CancelReport | None:
        """Stop waiting for the running kill: its report so far (``unverified``; ``interrupted``
        unless the caller gave up at the deadline rather than being stopped), recorded at once
        and given to every press that joined it. None when no kill runs.

        The kill's own thread may still be sending requests; its later verdict is not recorded
        over this one. With ``only``, nothing happens unless that kill is the one running."""
        kill = self._current
        if kill is None or (only is not None and kill is not only):
            return None
        with self._lock:  # run() starts a kill under this lock: started or given up, never both
            if not kill.started and kill.report is None:
                kill.report = self._nothing_sent(kill, reason, interrupted)
                if self._current is kill:
                    self._current = None
                kill.done.set()
                return kill.report
        report = self._switch.report_so_far(reason)
        if report is not None:  # under way, perhaps not yet in the record: it must be kept
            server = self._switch.client.host
            self._write_down(kill, server, self.locks.for_server(server) if self.locks else None)
            if not interrupted:
                report = replace(report, interrupted=False)
        if report is None:
            report = self._nothing_sent(kill, reason, interrupted)
        kill_id = kill.kill_id
        if kill_id is not None and self.record is not None:
            record = self.record
            self._safely(lambda: record.interrupt(kill_id, report, known_orders=self._known()))
        return self._verdict(kill, report)

    def _nothing_sent(self, kill: RunningKill, reason: str, interrupted: bool) -> CancelReport:
        return CancelReport(
            verdict=Verdict.UNVERIFIED,
            mode="unknown",
            trigger=kill.trigger,
            server=self._switch.client.host,
            strategy=self._switch.client.strategy,
            started_at=time.time(),
            message=f"Nothing was sent. {reason}",
            errors=(reason,),
            remaining_verified=False,
            deadline_s=self._switch.deadline_s,
            interrupted=interrupted,
            joined=kill.joined,
        )

    # -- internals -----------------------------------------------------------------------

    def _verdict(self, kill: RunningKill, report: CancelReport) -> CancelReport:
        """The kill has its verdict: joiners get it and the next press starts a new kill."""
        with self._lock:
            if kill.report is not None:  # interrupted earlier: that report stands
                return kill.report
            if report.joined != kill.joined:
                report = replace(report, joined=kill.joined)
            kill.report = report
            if self._current is kill:
                self._current = None
        kill.done.set()
        return report

    def _join_elsewhere(
        self, kill: RunningKill, lock: ServerLock, switch: KillSwitch
    ) -> CancelReport | _OwnKill:
        """Another process is killing this server: wait for its verdict instead of firing.

        Its verdict is this press's only when that kill did all this press asks of its kill
        (:meth:`KillScope.kill_covers`) and was running when this press came. Otherwise -- it
        closed no positions and this press asks it to, it ended without a verdict (it crashed),
        or the report found is an older kill's -- this press holds the lock once it is free and
        runs its own kill (:class:`_OwnKill`)."""
        pressed_at = time.time()
        note = lock.held_by() or {}
        waited_until = self._clock() + switch.deadline_s + JOIN_GRACE_S
        while not lock.acquire():
            if self._clock() >= waited_until:
                return self._elsewhere_report(
                    kill,
                    switch,
                    f"A kill on {switch.client.host} is still running in another process "
                    f"({_who(note)}); this press sent nothing. Check that kill's verdict and the order book.",
                )
            time.sleep(_LOCK_POLL_S)
            # The holder names its kill only once the record has begun it: keep reading.
            now = lock.held_by()
            if now and (now.get("kill_id") is not None or not note.get("kill_id")):
                note = now
        # It has ended and the lock is ours: read its verdict from the record it named.
        who = _who(note)
        document = _recorded_report(note, self.record)
        if document is None:
            log.warning("the kill holding the lock (%s) ended without a verdict; running our own", who)
            return _OwnKill(None)
        report = CancelReport.from_json(document)
        ended = report.started_at + report.elapsed_ms / 1000
        if ended < pressed_at - _CLOCK_SLACK_S:
            # Not the kill this press found running: an earlier one, whose note was still there.
            log.warning("the report named by %s is of a kill that had ended; running our own", who)
            return _OwnKill(report)
        if not report.scope.kill_covers(switch.scope):
            log.info("the kill in %s did not do all this press asks; running our own", who)
            return _OwnKill(report)
        lock.release()
        sentence = (
            f"This press joined a kill already running in another process ({who}); it sent nothing itself."
        )
        return replace(report, errors=(*report.errors, sentence), exchanges=())

    def _elsewhere_report(self, kill: RunningKill, switch: KillSwitch, sentence: str) -> CancelReport:
        return CancelReport(
            verdict=Verdict.UNVERIFIED,
            mode="unknown",
            trigger=kill.trigger,
            server=switch.client.host,
            strategy=switch.client.strategy,
            started_at=time.time(),
            message=sentence,
            errors=(sentence,),
            remaining_verified=False,
            deadline_s=switch.deadline_s,
        )

    def _cancel_all_may_be_running(self, server: str, lock: ServerLock | None) -> str | None:
        """Why this kill must not send a cancel-all (an earlier one on this server, in the last
        :data:`CANCEL_ALL_MAY_RUN_S`, went out and was never answered, or nobody knows what became
        of it, so it may still be running there), or None.

        Every such kill counts, not only the last: a kill that skipped its cancel-all because of
        an earlier one says nothing about whether that earlier one is still running.

        The record's answer read ahead (:meth:`prepare`) is used when the lock's turns have not
        moved since: no kill of this server was written down or ended anywhere in between. A
        query of the record costs ~0.25 ms on a CPU just woken by a press; the turns, one read
        of eight bytes."""
        record = self.record
        if record is None:
            return None
        since = time.time() - CANCEL_ALL_MAY_RUN_S
        turns = lock.turns() if lock is not None else None
        ahead = self._read_ahead.get(server)
        if turns is not None and ahead is not None and ahead[0] == turns:
            rows = ahead[1]  # read earlier: its older kills are left out below
        else:
            try:
                rows = record.unsettled_kills(server, since)
            except Exception:  # the record must never stand between a trader and a kill
                log.exception("could not read the last kills on %s", server)
                return None
        running = [started_at for _, started_at in rows if started_at >= since]
        if not running:
            return None
        return _skip_sentence(max(running))

    def prepare(self) -> None:
        """Read ahead, off the panic path, what the next press's check of earlier kills needs
        (:meth:`_cancel_all_may_be_running`). The kill lane calls it when it starts and after
        each kill, on its own thread; a press that finds it stale reads the record itself."""
        record, locks = self.record, self.locks
        if record is None or locks is None:
            return
        server = self._switch.client.host
        try:
            turns = locks.for_server(server).turns()  # first: a turn taken after it makes this stale
            if turns is not None:
                rows = record.unsettled_kills(server, time.time() - CANCEL_ALL_MAY_RUN_S)
                self._read_ahead[server] = (turns, rows)
        except Exception:  # the press reads the record itself
            log.exception("could not read the last kills on %s ahead", server)

    def _write_down(self, kill: RunningKill, server: str, lock: ServerLock | None) -> None:
        """Begin ``kill`` in the record and say in the lock's note who holds it; once per kill.

        Not before the cancel-all but while it is on its way (``KillSwitch.fire``'s
        ``on_underway``): the record's INSERT and the two small writes cost ~0.3 ms on a CPU
        just woken by a press, a fifth of a bare request's whole trip, and the server spends
        longer than that on the cancel-all. Until then the lock is held with an empty note (it
        is wiped whenever a lock is released): a process that finds it taken keeps reading the
        note until it names the kill."""
        with self._write_lock:
            if kill.written_down:
                return
            kill.written_down = True
            record = self.record
            if record is not None:
                kill.kill_id = self._safely(
                    lambda: record.begin(kill.trigger, server, "unknown", press=kill.press)
                )
            self._recording = kill
        if lock is not None:
            lock.describe(kill.kill_id, record.path if record is not None else None, kill.trigger)

    def _known(self) -> tuple[Order, ...]:
        if self.known_orders is None:
            return ()
        try:
            # No copy when the caller keeps its orders in a tuple, as the lanes do: this runs
            # before the cancel-all, and a book can hold 10,000 orders.
            return tuple(self.known_orders())
        except Exception:  # describing orders must never stop a kill
            log.exception("the known orders could not be read")
            return ()

    def _observe_switch(self, switch: KillSwitch) -> None:
        switch.on_exchange = self._record_exchange  # each exchange is recorded as it happens

    def _record_exchange(self, exchange: Exchange) -> None:
        # The kill run() runs, not the current press's: an interrupted kill is no longer current
        # but its thread may still send requests, and each must be kept.
        running = self._recording
        kill_id = running.kill_id if running is not None else None
        record = self.record
        if kill_id is not None and record is not None:
            self._safely(lambda: record.add_exchange(kill_id, exchange))

    def _safely(self, write: Callable[[], Any]) -> Any:
        try:
            return write()
        except Exception:
            # The record must never stand between a trader and a kill: whatever it raises
            # (a full disk, a reply nested too deep to parse, a bug) is logged, never raised.
            log.exception("could not write the kill record")
            self.record_failures += 1
            return None


@dataclass(frozen=True)
class _OwnKill:
    """The other process's verdict is not this press's: run our own kill, holding the lock.
    ``earlier`` is that process's report, when one was read (its cancel-all may still run)."""

    earlier: CancelReport | None


_CLOCK_SLACK_S: Final = 2.0  # a report is that kill's end; its lock is let go a moment later


def _who(note: dict[str, Any]) -> str:
    return f"{note.get('trigger') or 'another kill'}, process {note.get('pid') or '?'}"


def _skip_sentence(started_at: float) -> str:
    when = time.strftime("%H:%M:%S", time.localtime(started_at))
    return (
        f"No cancel-all sent: the one the kill at {when} sent was never answered and may still be "
        "running on the server (two at once race inside it), so this kill read the order book "
        "and cancelled what was left one by one."
    )


def _still_cancelling(earlier: CancelReport | None) -> str | None:
    """Why not to send a cancel-all because of ``earlier``, a kill in another process that just
    ended (its record may be another file than ours), or None."""
    if earlier is None or time.time() - earlier.started_at > CANCEL_ALL_MAY_RUN_S:
        return None
    if earlier.cancel_all in ("answered", "not_sent", "skipped"):
        return None
    return _skip_sentence(earlier.started_at)


def running_now(locks: ServerLocks, record: Path) -> Callable[[int, str], bool]:
    """``still_running(kill_id, server)`` for ``KillRecord.mark_interrupted``: True while a live
    process holds the server's lock and its note names that kill of that record.

    The lock must be held (``held_by`` is None when it is free), and by the process the note
    names: a note outlives a process that died before letting go of it."""

    def still_running(kill_id: int, server: str) -> bool:
        note = locks.for_server(server).held_by()
        return (
            note is not None
            and note.get("kill_id") == kill_id
            and note.get("record") == str(record)
            and _alive(note.get("pid"))
        )

    return still_running


def _alive(pid: object) -> bool:
    """Whether process ``pid`` exists (True when that cannot be told, as on Windows)."""
    if not isinstance(pid, int) or pid <= 0:
        return False
    if sys.platform == "win32" or pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists, under another user
    return True


def _recorded_report(note: dict[str, Any], ours: KillRecord | None) -> dict[str, Any] | None:
    kill_id = note.get("kill_id")
    path = note.get("record")
    if not isinstance(kill_id, int) or not isinstance(path, str):
        return None
    try:
        if ours is not None and str(ours.path) == path:
            return ours.report_json(kill_id)
        with KillRecord(path) as record:
            return record.report_json(kill_id)
    except (sqlite3.Error, OSError):
        log.exception("could not read another process's kill record")
        return None


# -- the cross-process lock ---------------------------------------------------------------


class ServerLocks:
    """Lock files, one per server, in ``directory`` (made private when first used).

    One :class:`ServerLock` per server for the life of this object, so a process that kills the
    same server again reuses its open lock file instead of opening it anew on the panic path."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._guard = threading.Lock()
        self._by_server: dict[str, ServerLock] = {}

    def for_server(self, server: str) -> ServerLock:
        with self._guard:
            lock = self._by_server.get(server)
            if lock is None:
                digest = hashlib.sha256(server.encode()).hexdigest()[:20]
                lock = self._by_server[server] = ServerLock(self.directory / f"{digest}.lock", server)
            return lock

    def close(self) -> None:
        """Release and close every lock file: on Windows an open file cannot be deleted, so a
        data directory cannot be removed while its lock files are open. Call it only once no
        kill of this object's runs any more; a later kill opens its lock file anew."""
        with self._guard:
            locks, self._by_server = list(self._by_server.values()), {}
        for lock in locks:
            lock.close()


_TURNS_AT: Final = 1  # after the one byte that Windows' msvcrt.locking locks: the turns counter
_TURNS = struct.Struct("<Q")
_NOTE_AT: Final = _TURNS_AT + _TURNS.size  # then the holder's note


class ServerLock:
    """An exclusive lock on one server's kills, held by one process at a time; the operating
    system releases it when its holder exits or dies. In the lock file, after its first byte, a
    counter of turns and a note that says who holds it.

    **Turns** (:meth:`turns`): every holder adds one when it names its kill in the note and
    again when it lets go, so a process that reads the same count twice knows that no kill of
    this server, in any process, was written down or ended in between. That lets a press skip
    reading the record for an earlier kill whose cancel-all may still be running
    (:class:`OneKill` keeps the last answer with the count it was read at).

    Advisory file locks: ``flock`` on Linux and macOS, ``msvcrt.locking`` on Windows. The file
    stays open between kills (taking the lock is then one system call); it is opened again if
    it was removed or replaced meanwhile, so two processes never lock two different files.
    When the lock file cannot be used at all (a read-only disk), the lock is treated as free: a
    broken disk must not stop a kill.

    The note is written in place (one write of a few hundred bytes into the open file), not as
    a new file renamed over the old one: a rename costs 0.3-2 ms on a journalling file system,
    and the note is written while the cancel-all is on its way. A reader that catches it half
    written reads no note ({}), as it would a missing one.
    """

    def __init__(self, path: Path, server: str) -> None:
        self.path = path
        self.server = server
        self._fd: int | None = None
        self._file_id: tuple[int, int] = (0, 0)  # (device, inode) of the file self._fd has open
        self._held = False

    def acquire(self) -> bool:
        """Take the lock without waiting: True when this process holds it now."""
        if self._held:
            return True
        try:
            fd = self._open()
        except OSError:
            log.exception("the lock file %s could not be opened; going ahead without it", self.path)
            return True
        if not _try_lock(fd):
            return False
        self._held = True
        return True

    def _open(self) -> int:
        """The lock file's descriptor, opened once and again only if the file was replaced."""
        fd = self._fd
        if fd is not None:
            try:
                now = os.stat(self.path)
                if (now.st_dev, now.st_ino) == self._file_id:
                    return fd
            except OSError:
                pass
            self._fd = None
            os.close(fd)
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
        opened = os.fstat(fd)
        self._file_id = (opened.st_dev, opened.st_ino)
        return fd

    def describe(self, kill_id: int | None, record: Path | None, trigger: str) -> None:
        """Say who holds the lock, for a process that finds it taken (first without a kill, as
        soon as it is taken; then again once the record has begun the kill)."""
        fd = self._fd
        if fd is None or not self._held:
            return
        note = {
            "pid": os.getpid(),
            "kill_id": kill_id,
            "record": str(record) if record else None,
            "trigger": trigger,
            "server": self.server,
            "since": time.time(),
        }
        with contextlib.suppress(OSError):
            data = _TURNS.pack(self._turns_in(fd) + 1) + json.dumps(note).encode()
            _write_at(fd, _TURNS_AT, data)
            os.ftruncate(fd, _TURNS_AT + len(data))

    def turns(self) -> int | None:
        """How many times kills of this server were named here or ended (see the class
        docstring); None when the lock file cannot be read."""
        try:
            fd = self._fd if self._fd is not None else self._open()
            return self._turns_in(fd)
        except OSError:
            return None

    @staticmethod
    def _turns_in(fd: int) -> int:
        raw = _read_at(fd, _TURNS_AT, _TURNS.size)
        return _TURNS.unpack(raw)[0] if len(raw) == _TURNS.size else 0

    def release(self) -> None:
        """Let go of the lock, its note wiped first: a process that takes the lock next must
        never be read as this one's kill. The file stays open for the next kill."""
        if not self._held:
            return
        self._held = False
        fd = self._fd
        if fd is not None:
            with contextlib.suppress(OSError):
                _write_at(fd, _TURNS_AT, _TURNS.pack(self._turns_in(fd) + 1))
            with contextlib.suppress(OSError):
                os.ftruncate(fd, _NOTE_AT)
            with contextlib.suppress(OSError):
                _unlock(fd)

    def close(self) -> None:
        self.release()
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def held_by(self) -> dict[str, Any] | None:
        """The holder's note when another process (or another ``ServerLock``) holds the lock;
        None when it is free."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_BINARY", 0), 0o600)
        except OSError:
            return None  # no usable lock file: nobody can hold it
        try:
            if _try_lock(fd):
                _unlock(fd)
                return None
            try:
                raw = _read_from(fd, _NOTE_AT)
                note = json.loads(raw)
            except (OSError, ValueError):
                return {}
            return note if isinstance(note, dict) else {}
        finally:
            os.close(fd)


def _read_from(fd: int, offset: int) -> bytes:
    size = os.fstat(fd).st_size
    return _read_at(fd, offset, size - offset) if size > offset else b""


def _read_at(fd: int, offset: int, size: int) -> bytes:
    if hasattr(os, "pread"):
        return os.pread(fd, size, offset)
    os.lseek(fd, offset, os.SEEK_SET)
    return os.read(fd, size)


def _write_at(fd: int, offset: int, data: bytes) -> None:
    if hasattr(os, "pwrite"):
        os.pwrite(fd, data, offset)
        return
    os.lseek(fd, offset, os.SEEK_SET)
    os.write(fd, data)


if sys.platform == "win32":
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            os.lseek(fd, 0, os.SEEK_SET)
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True

    def _unlock(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_UN)
