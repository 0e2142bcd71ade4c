"""``cancel-all`` and ``trigger``'s own kill: one or many servers, with the chosen scope, from
this process (``core.headless``), and what they print.

One server prints today's report (``CancelReport.to_json()``); several print
``{"verdict", "exit_code", "servers": [...]}`` (``core.report.PressReport``) and, for a person,
one block per server and the overall line.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, TextIO

from core import settings as settings_store
from core.addresses import is_loopback, normalise_host
from core.headless import ServerKill, Target, progress_printer, wait_for
from core.one_kill import ServerLocks, running_now
from core.record import KillRecord
from core.report import (
    EXIT_INTERRUPTED_SIGINT,
    EXIT_INTERRUPTED_SIGTERM,
    CancelReport,
    PressReport,
)
from core.scope import GUARD_STOP_BOUND_S, KillScope, guard_problem
from core.usage import UsageError

if TYPE_CHECKING:  # a type only: the guard loads when a kill holds flat
    from core.guard import Catch

SURFACE = "command line"  # how this process names itself in the record's announcements
STOP_GRACE_S = GUARD_STOP_BOUND_S + 1.0  # after Ctrl+C: a guard's request in flight and its last reads
CHECK_THE_BOOK = "some orders may have been cancelled and others not — check the order book in OpenAlgo."


class _TerminatedError(Exception):
    """SIGTERM arrived while this process waited for its kills."""


def resolve_scope(args: argparse.Namespace) -> KillScope:
    guard = getattr(args, "guard", None)
    if guard is not None:
        problem = guard_problem(guard)
        if problem is not None:
            raise UsageError(f"--guard: {problem}")
    return KillScope(
        close_positions=bool(getattr(args, "flatten", False)),
        guard_s=float(guard or 0.0),
        halt=bool(getattr(args, "halt", False)),
    )


def resolve_hosts(args: argparse.Namespace) -> list[str]:
    """Every server this command reaches: each ``--host``, or ``--all`` saved ones, or the one
    server of ``$OPENALGO_HOST`` / Settings (``core.cli.resolve_host``)."""
    from core.cli import resolve_host

    hosts: list[str] | None = getattr(args, "host", None)
    if getattr(args, "all", False):
        if hosts:
            raise UsageError("Give --host or --all, not both.")
        servers = settings_store.load().enabled_servers() if settings_store.saved_host() is not None else ()
        if not servers:
            raise UsageError("--all: no servers are saved (add them in the window's Settings).")
        return [server.url for server in servers]
    if not hosts:
        return [resolve_host(None)]
    resolved = [resolve_host(host) for host in hosts]
    if len(set(resolved)) != len(resolved):
        raise UsageError("The same server was given more than once.")
    return resolved


def resolve_targets(args: argparse.Namespace, hosts: Sequence[str]) -> list[Target]:
    from core.cli import resolve_key

    saved = settings_store.load()
    by_url = {server.url: server for server in saved.server_list()}
    explicit = (getattr(args, "strategy", None) or "").strip()
    targets = []
    for host in hosts:
        server = by_url.get(host)
        strategy = explicit or (server.strategy if server is not None else saved.strategy)
        targets.append(Target(host, resolve_key(host), strategy))
    return targets


def run_kills(
    targets: Sequence[Target],
    *,
    deadline_s: float,
    scope: KillScope,
    trigger: str,
    err: TextIO,
    quiet: bool,
) -> tuple[list[CancelReport], int | None]:
    """Kill every target at once from this process; their reports, and 130/143 when a signal
    stopped the wait (None otherwise)."""
    record: KillRecord | None
    try:
        record = KillRecord(secret=targets[0].apikey)
        for target in targets[1:]:
            record.secret = target.apikey  # every key is kept out of the record
    except (OSError, sqlite3.Error) as exc:  # a broken disk must never stop a kill
        print(f"killswitch: this kill will not be recorded ({exc})", file=err)
        record = None
    locks = ServerLocks((record.path.parent if record is not None else settings_store.data_dir()) / "locks")
    if record is not None:
        announce_interrupted(record, locks, err)
    many = len(targets) > 1

    def line(text: str) -> None:
        print(text, file=err, flush=True)

    progress = None if quiet else progress_printer(line, many)

    def caught(host: str, catch: Catch) -> None:
        if quiet:
            return
        where = f"[{host}] " if many else ""
        what = "closed" if catch.kind == "position" else "cancelled"
        line(
            f"  guard: {where}{catch.what} — {what}"
            if catch.ok
            else f"  guard: {where}{catch.what} — FAILED: {catch.reason}"
        )

    press = os.urandom(8).hex() if many else ""  # not uuid: its import costs a command ~3 ms
    kills = [
        ServerKill(
            target,
            deadline_s=deadline_s,
            scope=scope,
            trigger=trigger,
            record=record,
            locks=locks,
            on_progress=progress,
            on_catch=caught,
            press=press,
        )
        for target in targets
    ]
    previous = _raise_on_sigterm()
    code: int | None = None
    try:
        for kill in kills:
            kill.start()
        wait_for(kills)
    except (KeyboardInterrupt, _TerminatedError) as stop:
        code = EXIT_INTERRUPTED_SIGTERM if isinstance(stop, _TerminatedError) else EXIT_INTERRUPTED_SIGINT
        what = "Stopped by SIGTERM" if code == EXIT_INTERRUPTED_SIGTERM else "Interrupted by Ctrl+C"
        for kill in kills:
            kill.stop(f"{what} before the verdict: {CHECK_THE_BOOK}")
        _let_guards_finish(kills)
    finally:
        _restore_sigterm(previous)
    reports = [kill.final_report() for kill in kills]
    if code is None:
        if record is not None:
            # Once more: a process that died just before this one started (a window killed as
            # `trigger` waited on it) can still hold its lock for a moment while it exits, and
            # its kill then looked alive. It is gone by now; each kill is named once either way.
            announce_interrupted(record, locks, err)
        for kill in kills:
            kill.close()
        if all(kill.ended for kill in kills):  # a kill given up on keeps its lock until exit
            locks.close()
        if record is not None:
            record.close()
    return reports, code


def run_headless_kill(
    host: str,
    apikey: str,
    strategy: str,
    deadline_s: float,
    trigger: str = "command line",
    *,
    scope: KillScope | None = None,
    err: TextIO | None = None,
) -> tuple[CancelReport, int]:
    """One server's kill from this process, quietly: its report and exit status."""
    reports, code = run_kills(
        [Target(host, apikey, strategy)],
        deadline_s=deadline_s,
        scope=scope or KillScope(),
        trigger=trigger,
        err=err or sys.stderr,
        quiet=True,
    )
    return reports[0], reports[0].exit_code if code is None else code


def _let_guards_finish(kills: Sequence[ServerKill]) -> None:
    """After Ctrl+C: guards were told to stop; give them a moment for their last read (a second
    Ctrl+C stops waiting)."""
    ends = time.monotonic() + STOP_GRACE_S
    try:
        while time.monotonic() < ends and not all(k.done.is_set() for k in kills):
            time.sleep(0.05)
    except (KeyboardInterrupt, _TerminatedError):
        pass


def cancel_all(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.cli import resolve_deadline

    hosts = resolve_hosts(args)
    deadline = resolve_deadline(args.deadline)
    scope = resolve_scope(args)
    targets = resolve_targets(args, hosts)
    for target in targets:
        if not target.host.startswith("https://") and not is_loopback(target.host):
            print(
                f"warning: the API key is being sent over plain http:// to {target.host}; use "
                "https:// unless this is a private network you trust.",
                file=err,
            )
    reports, code = run_kills(
        targets, deadline_s=deadline, scope=scope, trigger="command line", err=err, quiet=args.json
    )
    press = PressReport(tuple(reports), "command line")
    exit_code = code if code is not None else (reports[0].exit_code if len(reports) == 1 else press.exit_code)
    if args.json:
        document = reports[0].to_json() if len(reports) == 1 else press.to_json()
        document["exit_code"] = exit_code
        json.dump(document, out, indent=2)
        out.write("\n")
    else:
        print_press(reports, out)
    out.flush()
    return exit_code


def print_press(reports: Sequence[CancelReport], out: TextIO) -> None:
    from core.cli import print_report

    if len(reports) == 1:
        print_report(reports[0], out)
        print_steps(reports[0], out)
        return
    for report in reports:
        print(f"── {report.server}", file=out)
        print_report(report, out)
        print_steps(report, out)
        print(file=out)
    press = PressReport(tuple(reports))
    print(f"OVERALL: {press.summary()}", file=out)


def print_steps(report: CancelReport, out: TextIO) -> None:
    """The positions, guard and halt lines of one report (after its orders)."""
    flatten = report.flatten
    if flatten is not None:
        for position in flatten.closed_by_server:
            print(f"  position closed (closeposition)  {position.describe()}", file=out)
        for position in flatten.closed_by_sweep:
            print(f"  position closed (its own order)  {position.describe()}", file=out)
        for left in flatten.remaining:
            print(f"  POSITION STILL OPEN  {left.position.describe()}: {left.reason}", file=out)
    elif report.flatten_skipped:
        print(f"  positions: {report.flatten_skipped}", file=out)
        for position in report.open_positions:
            print(f"  POSITION STILL OPEN  {position.describe()}", file=out)
    guard = report.guard
    if guard is not None:
        ended = f" (ended early: {guard.stopped_early})" if guard.stopped_early else ""
        print(
            f"  guard: held {guard.ran_s:.0f} of {guard.seconds:.0f} s{ended}; caught "
            f"{len(guard.caught)} orders, closed {len(guard.positions_closed)} positions; "
            f"at most {guard.max_working_seen} working at once; "
            f"at the end: {guard.outcome.replace('_', ' ')}",
            file=out,
        )
    if report.halt is not None:
        print(f"  halt: {report.halt.reason}", file=out)


def trigger_fallback_hosts(args: argparse.Namespace) -> list[str] | None:
    """The servers a ``trigger`` names (None: the window's own set)."""
    hosts: list[str] | None = getattr(args, "host", None)
    if not hosts:
        return None
    return [normalise_host(h) or h for h in hosts]


def announce_interrupted(record: KillRecord, locks: ServerLocks, err: TextIO) -> None:
    """Name, once, each earlier kill that was interrupted before its verdict."""
    try:
        record.mark_interrupted(running_now(locks, record.path))
        kills = record.unannounced_interruptions(SURFACE)
        for kill in kills:
            print(f"note: {interrupted_sentence(kill.server, kill.started_at)}", file=err)
        record.mark_announced((k.kill_id for k in kills), SURFACE)
    except sqlite3.Error:
        pass  # the record is a help here, never a reason to stop


def interrupted_sentence(server: str, started_at: float) -> str:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started_at))
    return (
        f"the kill on {server} started at {when} was interrupted before its verdict — "
        "some orders may still be working there: check the order book in OpenAlgo."
    )


def _raise_on_sigterm() -> object:
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum: int, frame: object) -> None:
        raise _TerminatedError

    return signal.signal(signal.SIGTERM, handler)


def _restore_sigterm(previous: object) -> None:
    if previous is not None and threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, previous)  # type: ignore[arg-type]
