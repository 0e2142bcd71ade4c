"""Kills run from this process -- the command line, and ``trigger`` when no window answers.

One :class:`ServerKill` per server, each on its own thread with its own connection, all started
at once: a slow, hung or dead server never delays another's verdict. Each goes through
``core.one_kill.OneKill`` (one kill at a time per server, across processes; recorded), then its
scope's later steps: the guard holds the account flat for its time, then the halt switches a
verified live server to analyze mode.

The caller's thread only waits, in short steps, so Ctrl+C and SIGTERM are handled at once: a
kill still running is reported as it stands (interrupted, recorded at once), a guard is ended
early and reads the books one last time. Every wait has a bound: the kill's deadline plus a
second, the guard's time plus its last read, the halt's few requests.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from core import DEFAULT_DEADLINE_S
from core.client import OpenAlgoClient, make_http_client
from core.kill import KillSwitch
from core.one_kill import OneKill, ServerLocks
from core.record import KillRecord
from core.report import CancelReport, Verdict, with_guard
from core.scope import GUARD_STOP_BOUND_S, KillScope

if TYPE_CHECKING:  # types only: the guard and the halt load when a kill runs them
    from core.guard import Catch, Guard
    from core.halt import HaltReport

log = logging.getLogger(__name__)

VERDICT_GRACE_S = 1.0  # after the deadline, the longest this process waits for a verdict
GUARD_GRACE_S = GUARD_STOP_BOUND_S + 1.0  # after the guard's time: a request in flight, its last reads
HALT_BOUND_S = 16.0  # the halt's three requests, 5 s each at most
HALT_WITHIN_S = 5.0


@dataclass(frozen=True)
class Target:
    """One server to kill: where, with which key, under which strategy label."""

    host: str
    apikey: str = field(repr=False)
    strategy: str


class ServerKill:
    """One server's kill and its later steps, on its own thread (module docstring)."""

    def __init__(
        self,
        target: Target,
        *,
        deadline_s: float,
        scope: KillScope,
        trigger: str,
        record: KillRecord | None,
        locks: ServerLocks | None,
        on_progress: Callable[[str, str], None] | None = None,
        on_catch: Callable[[str, Catch], None] | None = None,
        press: str = "",
    ) -> None:
        self.target = target
        # NaN or infinity would make every wait end at once or never (settings and the command
        # line refuse them already; this is the last door).
        self.deadline_s = deadline_s if math.isfinite(deadline_s) else DEFAULT_DEADLINE_S
        self.scope = scope
        self.http = make_http_client(only_host=target.host)
        self.client = OpenAlgoClient(target.host, target.apikey, self.http, strategy=target.strategy)
        progress = (lambda p: on_progress(target.host, p.text)) if on_progress is not None else None
        self.switch = KillSwitch(self.client, deadline_s=self.deadline_s, on_progress=progress, scope=scope)
        self.one = OneKill(self.switch, record=record, locks=locks)
        self.record = record
        self._on_catch = on_catch
        self.press = self.one.press(trigger)
        self.press.kill.press = press
        self.guard: Guard | None = None
        self.report: CancelReport | None = None
        self.verdict_at: float | None = None  # time.monotonic() when the kill had its verdict
        self.step = ""  # the later step under way: guard | halt | "" (none, or all done)
        self.interrupted = False  # Ctrl+C or SIGTERM: no later step starts
        self.stopped_why = ""  # why stop() was called, once it was
        self.done = threading.Event()
        self.abandoned = False  # given up on at a deadline: its thread may still be talking
        self._thread = threading.Thread(target=self._run, name=f"kill {target.host}", daemon=True)
        self._started = 0.0

    def start(self) -> None:
        self._started = time.monotonic()
        self._thread.start()

    def _run(self) -> None:
        try:
            report = self.one.run(self.press.kill)
            self.report = report  # published after each step: a kill given up on reports it
            self.verdict_at = time.monotonic()
            guarded = report.verdict not in (Verdict.REFUSED, Verdict.UNREACHABLE)
            if self.scope.guard_s and guarded and not self.interrupted:
                self.step = "guard"
                report = self.report = self._hold_flat(report)
            if self.scope.halt:
                from core.halt import HaltReport

                if self.interrupted:
                    halted = HaltReport(False, "Not halted: the kill was interrupted.", report.mode)
                else:
                    self.step = "halt"
                    halted = halt_after(report, self.client)
                report = self.report = replace(report, halt=halted)
            self.step = ""
            kill_id = self.press.kill.kill_id
            if kill_id is not None and self.record is not None and (self.scope.guard_s or self.scope.halt):
                self.record.amend(kill_id, report)
        except Exception:  # a bug here must end in the report so far, never a silent thread
            log.exception("the kill on %s failed unexpectedly", self.target.host)
        finally:
            # Its connections end with it, also when it was given up on and nobody waits for it.
            with contextlib.suppress(Exception):
                self.http.close()
            self.done.set()

    def _hold_flat(self, report: CancelReport) -> CancelReport:
        from core.guard import Guard

        def caught(catch: Catch) -> None:
            if self._on_catch is not None:
                self._on_catch(self.target.host, catch)

        guard = Guard(
            self.client,
            self.scope.guard_s,
            close_positions=self.scope.close_positions,
            on_catch=caught,
            keep=report.flatten.closers if report.flatten is not None else (),
        )
        self.guard = guard
        if self.stopped_why:  # stop() came while it was being made, after it looked for a guard
            guard.stop(self.stopped_why)
        return with_guard(report, guard.run())

    def bound(self) -> float:
        """time.monotonic() by which this server's whole run must be over."""
        bound = self._started + self.deadline_s + VERDICT_GRACE_S
        if self.scope.guard_s:
            bound += self.scope.guard_s + GUARD_GRACE_S
        if self.scope.halt:
            bound += HALT_BOUND_S
        return bound

    def verdict_overdue(self) -> bool:
        return (
            self.verdict_at is None and time.monotonic() > self._started + self.deadline_s + VERDICT_GRACE_S
        )

    def stop(self, why: str, *, interrupted: bool = True) -> None:
        """End it now: a kill still running is reported as it stands; a guard ends early. An
        interruption (Ctrl+C, SIGTERM) starts no later step: no guard, no halt."""
        self.stopped_why = why  # before the guard is looked at: a guard made after this stops too
        self.interrupted = self.interrupted or interrupted
        if self.verdict_at is None:
            report = self.one.interrupt(why, interrupted=interrupted)
            if report is not None:
                self.report = report
                self.abandoned = True
                self.done.set()
            return
        if self.guard is not None:
            self.guard.stop(why)

    def final_report(self) -> CancelReport:
        report = self.report or self.press.kill.report
        if report is not None and not self.done_talking():
            report = self.unfinished(report)
        if report is None:  # nothing at all: the thread never got going
            report = self.one.interrupt("The kill did not start.", interrupted=False) or CancelReport(
                verdict=Verdict.UNVERIFIED,
                mode="unknown",
                trigger=self.press.kill.trigger,
                server=self.target.host,
                strategy=self.target.strategy,
                started_at=time.time(),
                message="The kill did not start.",
                remaining_verified=False,
            )
        return report

    def done_talking(self) -> bool:
        return not self._thread.is_alive() or self.step == ""

    def unfinished(self, report: CancelReport) -> CancelReport:
        """A kill given up on after its verdict, while a later step still runs: never better
        than unverified, and it says which step did not finish."""
        guard = self.guard
        if self.step == "guard" and guard is not None:
            return with_guard(
                report,
                guard.unfinished(
                    "The guard did not finish by its time limit; it may still be cancelling orders and "
                    "closing positions — check the order book in OpenAlgo."
                ),
            )
        if self.step == "halt":
            from core.halt import HaltReport

            return replace(
                report,
                halt=HaltReport(
                    False,
                    "Halt in progress when this run ended: the server may now be in analyze mode — check "
                    "OpenAlgo's analyzer page.",
                    "unknown",
                ),
            )
        return report

    @property
    def ended(self) -> bool:
        """True once its thread has stopped talking to the server."""
        return not self.abandoned and not self._thread.is_alive()

    def close(self) -> None:
        if self.ended:
            self.http.close()


def halt_after(report: CancelReport, client: OpenAlgoClient) -> HaltReport:
    """The halt step: only once the live account is verified flat (core.halt explains why)."""
    from core.halt import HaltReport, halt

    if report.verdict is not Verdict.FLAT:
        return HaltReport(
            False,
            "Not halted: the account is not verified flat, and in analyze mode whatever is still live "
            "would be out of the API's reach — deal with it first.",
            report.mode,
        )
    if report.mode == "analyze":
        return HaltReport(
            False, "Not switched: the server is in analyze mode (OpenAlgo's sandbox) already.", "analyze"
        )
    return halt(client, within=HALT_WITHIN_S)


def wait_for(kills: Sequence[ServerKill]) -> None:
    """Wait for every kill, in short steps (Ctrl+C and SIGTERM raise here at once), giving each up
    at its bound: a kill with no verdict by its deadline is reported as it stands."""
    while True:
        pending = [k for k in kills if not k.done.is_set()]
        if not pending:
            return
        now = time.monotonic()
        for kill in pending:
            if kill.verdict_overdue():
                kill.stop(
                    f"The kill had no verdict when its {kill.deadline_s:g} s deadline passed; the server "
                    "may still be working on it — check the order book in OpenAlgo.",
                    interrupted=False,
                )
            elif now > kill.bound():
                if kill.guard is not None:  # it must stop placing orders once it is reported on
                    kill.guard.stop("its time limit passed")
                kill.abandoned = True
                kill.done.set()
        # Returns the moment a kill ends (a sleep here kept a finished kill's report back for
        # up to 50 ms), and still every 50 ms for the checks above and for Ctrl+C on Windows.
        pending[0].done.wait(0.05)


def progress_printer(out: Callable[[str], None], many: bool) -> Callable[[str, str], None]:
    started = time.monotonic()

    def show(host: str, text: str) -> None:
        where = f"[{host}] " if many else ""
        out(f"  … {time.monotonic() - started:4.1f} s  {where}{text}")

    return show
