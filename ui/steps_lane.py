"""The steps after a kill's verdict, for one server, on a thread of their own: hold the account
flat for the guard's time, then halt new live orders -- and, later, resume them.

They run apart from the kill lane, so a panic press during a guard fires at once (and its own
scope starts a fresh guard, ending this one). Each step goes through ``core.guard`` and
``core.halt`` over this lane's own connection; what they catch and conclude comes out as signals,
delivered queued to the thread that owns the lane (the UI thread).

Signals:
    guardStarted(float): the guard is on, for this many seconds.
    guardTick(float, int): seconds left, and orders working in its last read.
    caught(Catch): an order it cancelled or a position it closed (or failed to).
    finished(CancelReport): the kill's report with the guard and halt added.
    resumed(HaltReport): the outcome of :meth:`StepsLane.resume_live`.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from dataclasses import replace

import httpx
from PySide6.QtCore import QObject, Signal

from core.client import OpenAlgoClient
from core.guard import Guard, GuardReport
from core.halt import HaltReport, resume
from core.headless import halt_after
from core.record import KillRecord
from core.report import CancelReport, Verdict, with_guard
from core.scope import KillScope
from ui.crash_report import report_unexpected

log = logging.getLogger(__name__)


class StepsLane(QObject):
    """Guard and halt for one server (module docstring)."""

    guardStarted = Signal(float)  # noqa: N815
    guardTick = Signal(float, int)  # noqa: N815
    caught = Signal(object)
    finished = Signal(object)
    resumed = Signal(object)

    def __init__(self, http: httpx.Client, record: KillRecord | None = None) -> None:
        super().__init__()
        self.http = http
        self.record = record
        self._client: OpenAlgoClient | None = None
        self._guard: Guard | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._stopping = False  # stop() has run: the last thread out closes the connection

    def configure(self, host: str, apikey: str, strategy: str) -> None:
        self._client = OpenAlgoClient(host, apikey, self.http, strategy=strategy)

    @property
    def guarding(self) -> bool:
        guard = self._guard
        return guard is not None and not guard.stopped

    def after(self, report: CancelReport, scope: KillScope, kill_id: int | None) -> bool:
        """Start the steps after ``report``'s verdict; False when there are none to take."""
        wants_guard = bool(scope.guard_s) and report.verdict not in (Verdict.REFUSED, Verdict.UNREACHABLE)
        if not (wants_guard or scope.halt) or self._client is None:
            return False
        self.release("a new kill began")
        client = self._client
        guard = (
            Guard(
                client,
                scope.guard_s,
                close_positions=scope.close_positions,
                on_catch=lambda catch: self._emit(self.caught, catch),
                on_tick=lambda left, working: self._emit(self.guardTick, left, working),
                keep=report.flatten.closers if report.flatten is not None else (),  # never undo a close
            )
            if wants_guard
            else None
        )
        with self._lock:
            self._guard = guard
        thread = threading.Thread(
            target=self._run, args=(report, scope, kill_id, client, guard), name="steps-lane", daemon=True
        )
        self._thread = thread
        thread.start()
        return True

    def release(self, why: str) -> None:
        """End a running guard early (its last read still decides its verdict)."""
        with self._lock:
            guard = self._guard
        if guard is not None:
            guard.stop(why)

    def resume_live(self) -> None:
        """Switch the server back to live mode and read it back; emits ``resumed``."""
        client = self._client
        if client is None:
            return

        def run() -> None:
            try:
                outcome = resume(client)
            except Exception as exc:
                report_unexpected(exc)
                outcome = HaltReport(True, "The switch back to live could not be made (an internal error).")
            self._emit(self.resumed, outcome)

        threading.Thread(target=run, name="resume-live", daemon=True).start()

    def stop(self, timeout_s: float = 0.5) -> None:
        """End a guard and close the lane's connection (waiting at most ``timeout_s``)."""
        self._stopping = True
        self.release("the window closed")
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        if thread is None or not thread.is_alive():
            self.http.close()
        # Otherwise the steps' thread closes it as it ends (its last read still needs it).

    def _run(
        self,
        report: CancelReport,
        scope: KillScope,
        kill_id: int | None,
        client: OpenAlgoClient,
        guard: Guard | None,
    ) -> None:
        try:
            if guard is not None:
                self._emit(self.guardStarted, scope.guard_s)
                report = with_guard(report, guard.run())
            if scope.halt:
                report = replace(report, halt=halt_after(report, client))
            if kill_id is not None and self.record is not None:
                try:
                    self.record.amend(kill_id, report)
                except Exception:
                    log.exception("could not add the guard and halt to the record")
        except Exception as exc:  # the steps must end in a report, never a silent thread
            report_unexpected(exc)
            if guard is not None and report.guard is None:  # the guard did not end: never "held"
                why = "The guard stopped on an internal error; it is not watching the account."
                report = with_guard(
                    report, GuardReport(scope.guard_s, "unverified", stopped_early=why, errors=(why,))
                )
        finally:
            with self._lock:
                if self._guard is guard:
                    self._guard = None
            self._emit(self.finished, report)
            if self._stopping:
                self.http.close()

    def _emit(self, signal: object, *args: object) -> None:
        with contextlib.suppress(RuntimeError):  # the window is gone
            signal.emit(*args)  # type: ignore[attr-defined]
