"""Every kill, durably: a SQLite file in the data directory that survives a crash mid-kill.

A kill is written in three steps, each committed before the next request goes out:

1. :meth:`KillRecord.begin` -- when, what triggered it, which server -- before the kill's first
   request, so even a kill cut short by ``kill -9`` leaves its trace;
2. :meth:`KillRecord.add_exchange` -- each request and reply (key removed) as it happens;
3. :meth:`KillRecord.finish` -- the verdict, every order's outcome with its reason, the timings.

The database runs in WAL mode with ``synchronous=NORMAL``: a committed row is in the
write-ahead log (the operating system's file cache) before the call returns, so a crash or a
``kill -9`` of the app between two commits leaves a database that opens cleanly with everything
committed before it. Only a power cut or an OS crash can lose the last commits: ``FULL`` would
close that gap with an fsync per commit -- on the panic path, before the cancel-all goes out
and after every cancel of the sweep -- and a kill switch must not wait on a disk to fire.
A kill that was begun but never finished is marked ``interrupted`` by
:meth:`KillRecord.mark_interrupted` at the next start.

:class:`RecordingKill` ties a :class:`~core.kill.KillSwitch` to a record: it begins, fires,
records exchanges live through the client's observer chain, and finishes. Recording never
stops a kill: if the disk fails, the kill still runs and the failure is logged.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from core.client import Exchange
from core.files import write_atomically
from core.kill import CancelReport, KillSwitch, order_json
from core.orders import Order, text
from core.replies import redact
from core.settings import data_dir

log = logging.getLogger(__name__)

RECORD_FILE_NAME: Final = "kills.sqlite3"
SCHEMA_VERSION: Final = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kills (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    started_at REAL NOT NULL,
    trigger TEXT NOT NULL,
    server TEXT NOT NULL,
    mode_hint TEXT NOT NULL,
    state TEXT NOT NULL,
    verdict TEXT,
    mode TEXT,
    strategy TEXT,
    message TEXT,
    errors TEXT NOT NULL DEFAULT '[]',
    remaining_verified INTEGER,
    trigger_to_response_ms REAL,
    trigger_to_verified_ms REAL,
    elapsed_ms REAL,
    sweep_rounds INTEGER,
    joined INTEGER,
    exit_code INTEGER,
    finished_at REAL
);
CREATE TABLE IF NOT EXISTS exchanges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kill_id INTEGER NOT NULL REFERENCES kills(id),
    endpoint TEXT NOT NULL,
    request TEXT NOT NULL,
    http_status INTEGER,
    reply TEXT NOT NULL,
    started REAL NOT NULL,
    elapsed_ms REAL NOT NULL,
    error TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS exchanges_by_kill ON exchanges(kill_id, id);
CREATE TABLE IF NOT EXISTS outcomes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kill_id INTEGER NOT NULL REFERENCES kills(id),
    orderid TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    order_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outcomes_by_kill ON outcomes(kill_id, id);
"""


class KillState(StrEnum):
    RUNNING = "running"  # begun, not yet finished (or the process died: see mark_interrupted)
    FINISHED = "finished"
    INTERRUPTED = "interrupted"  # begun, never finished: the app stopped during the kill


class Outcome(StrEnum):
    """What happened to one order in a kill, as the incident report lists it."""

    CANCELLED_BY_SERVER = "cancelled_by_server"
    CANCELLED_BY_SWEEP = "cancelled_by_sweep"
    ALREADY_FINISHED = "already_finished"
    FAILED = "failed"
    REMAINING = "remaining"


@dataclass(frozen=True, slots=True)
class KillSummary:
    """One line of the history view."""

    kill_id: int
    started_at: float
    trigger: str
    server: str
    state: KillState
    verdict: str | None  # a core.kill.Verdict value; None while running or when interrupted
    mode: str
    message: str
    cancelled: int
    failed: int
    remaining: int
    elapsed_ms: float | None
    trigger_to_verified_ms: float | None

    @property
    def headline(self) -> str:
        """One sentence for the history list."""
        when = datetime.fromtimestamp(self.started_at).astimezone().strftime("%Y-%m-%d %H:%M:%S")
        if self.state is KillState.INTERRUPTED:
            return f"{when} ({self.trigger}): interrupted — the app stopped during this kill."
        if self.state is KillState.RUNNING:
            return f"{when} ({self.trigger}): running."
        return (
            f"{when} ({self.trigger}): {(self.verdict or '').replace('_', ' ')} — "
            f"{self.cancelled} cancelled, {self.failed} failed, {self.remaining} remaining."
        )


@dataclass(frozen=True, slots=True)
class OrderOutcome:
    orderid: str
    outcome: Outcome
    reason: str
    order: Mapping[str, Any]  # core.kill.order_json's keys, or {} when the order was never seen


@dataclass(frozen=True, slots=True)
class KillDetails:
    summary: KillSummary
    strategy: str
    errors: tuple[str, ...]
    remaining_verified: bool | None
    trigger_to_response_ms: float | None
    sweep_rounds: int | None
    joined: int | None
    exit_code: int | None
    finished_at: float | None
    outcomes: tuple[OrderOutcome, ...]
    exchanges: tuple[Exchange, ...]

    def to_json(self) -> dict[str, Any]:
        s = self.summary
        return {
            "kill_id": s.kill_id,
            "started_at": s.started_at,
            "started_at_iso": _iso(s.started_at),
            "trigger": s.trigger,
            "server": s.server,
            "state": s.state.value,
            "verdict": s.verdict,
            "mode": s.mode,
            "strategy": self.strategy,
            "message": s.message,
            "errors": list(self.errors),
            "remaining_verified": self.remaining_verified,
            "trigger_to_response_ms": self.trigger_to_response_ms,
            "trigger_to_verified_ms": s.trigger_to_verified_ms,
            "elapsed_ms": s.elapsed_ms,
            "sweep_rounds": self.sweep_rounds,
            "joined_triggers": self.joined,
            "exit_code": self.exit_code,
            "finished_at": self.finished_at,
            "orders": [
                {"orderid": o.orderid, "outcome": o.outcome.value, "reason": o.reason, **o.order}
                for o in self.outcomes
            ],
            "exchanges": [_exchange_json(e) for e in self.exchanges],
        }


CSV_COLUMNS: Final = (
    "kill_id",
    "kill_time",
    "trigger",
    "server",
    "mode",
    "state",
    "verdict",
    "orderid",
    "outcome",
    "reason",
    "symbol",
    "exchange",
    "action",
    "quantity",
    "price",
    "trigger_price",
    "pricetype",
    "product",
    "order_status",
    "message",
    "trigger_to_verified_ms",
)


def default_path() -> Path:
    """``kills.sqlite3`` in the data directory (``KILLSWITCH_DATA_DIR`` overrides it)."""
    return data_dir() / RECORD_FILE_NAME


class KillRecord:
    """The durable record of kills. Safe to share between threads (one lock, one connection).

    ``secret``, when given, is removed from every text stored -- a second line of defence,
    since exchanges already arrive with the key replaced by ``<APIKEY>``.
    """

    def __init__(self, path: Path | str | None = None, *, secret: str = "") -> None:
        self.path = Path(path) if path is not None else default_path()
        self.secret = secret
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        # One connection shared under a lock: writes are few (one per request of a kill) and
        # reads are the history view's, so a lock costs nothing and keeps SQLite's threading
        # rules simple. isolation_level=None: we open and commit each transaction ourselves.
        self._db = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")  # see the module docstring
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            self._db.close()
            raise
        if os.name == "posix":
            # The record names servers and order ids: the trader's own business.
            for suffix in ("", "-wal", "-shm"):
                candidate = Path(str(self.path) + suffix)
                if candidate.exists():
                    candidate.chmod(0o600)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> KillRecord:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"KillRecord({str(self.path)!r})"

    # -- writing -------------------------------------------------------------------------

    def begin(self, trigger: str, server: str, mode_hint: str = "unknown") -> int:
        """Start a kill's record; committed (on disk) when this returns. Returns the kill id."""
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO kills (started_at, trigger, server, mode_hint, state) VALUES (?, ?, ?, ?, ?)",
                (time.time(), self._clean(trigger), self._clean(server), mode_hint, KillState.RUNNING),
            )
            kill_id = cursor.lastrowid
        assert kill_id is not None
        return kill_id

    def add_exchange(self, kill_id: int, exchange: Exchange) -> None:
        """Keep one request and its reply; committed when this returns."""
        request = {k: ("<APIKEY>" if k == "apikey" else v) for k, v in exchange.request.items()}
        with self._transaction() as db:
            db.execute(
                "INSERT INTO exchanges (kill_id, endpoint, request, http_status, reply, started, "
                "elapsed_ms, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    kill_id,
                    exchange.endpoint,
                    self._clean(json.dumps(request, default=str, ensure_ascii=False)),
                    exchange.http_status,
                    self._clean(exchange.reply),
                    exchange.started,
                    exchange.elapsed_ms,
                    self._clean(exchange.error),
                ),
            )

    def finish(self, kill_id: int, report: CancelReport, *, known_orders: Iterable[Order] = ()) -> None:
        """Store the kill's verdict and every order's outcome; committed when this returns.

        Exchanges of the report are stored here only if none were recorded live. Orders named
        by id alone (cancel-all lists) are described from ``known_orders`` (for instance the
        poller's last snapshot) and from the order books read during the kill.
        """
        with self._lock:
            recorded = self._db.execute(
                "SELECT COUNT(*) FROM exchanges WHERE kill_id = ?", (kill_id,)
            ).fetchone()[0]
        if not recorded:
            for exchange in report.exchanges:
                self.add_exchange(kill_id, exchange)
        index = _order_index(report, known_orders, self._stored_books(kill_id))
        rows = list(_outcome_rows(report, index))
        with self._transaction() as db:
            db.execute(
                "UPDATE kills SET state = ?, verdict = ?, mode = ?, strategy = ?, message = ?, "
                "errors = ?, remaining_verified = ?, trigger_to_response_ms = ?, "
                "trigger_to_verified_ms = ?, elapsed_ms = ?, sweep_rounds = ?, joined = ?, "
                "exit_code = ?, finished_at = ? WHERE id = ?",
                (
                    KillState.FINISHED,
                    report.verdict.value,
                    report.mode,
                    self._clean(report.strategy),
                    self._clean(report.message),
                    self._clean(json.dumps(list(report.errors), ensure_ascii=False)),
                    int(report.remaining_verified),
                    report.trigger_to_response_ms,
                    report.trigger_to_verified_ms,
                    report.elapsed_ms,
                    report.sweep_rounds,
                    report.joined,
                    report.exit_code,
                    time.time(),
                    kill_id,
                ),
            )
            db.executemany(
                "INSERT INTO outcomes (kill_id, orderid, outcome, reason, order_json) VALUES (?, ?, ?, ?, ?)",
                [
                    (
                        kill_id,
                        self._clean(orderid),
                        outcome,
                        self._clean(reason),
                        self._clean(json.dumps(order, ensure_ascii=False)),
                    )
                    for orderid, outcome, reason, order in rows
                ],
            )

    def mark_interrupted(self) -> list[int]:
        """Mark every kill begun but never finished as interrupted; call once at start-up.

        Returns their ids, oldest first, so the app can tell the trader to check the book.
        """
        with self._transaction() as db:
            ids = [
                row[0]
                for row in db.execute(
                    "SELECT id FROM kills WHERE state = ? ORDER BY id", (KillState.RUNNING,)
                )
            ]
            db.execute(
                "UPDATE kills SET state = ? WHERE state = ?", (KillState.INTERRUPTED, KillState.RUNNING)
            )
        return ids

    # -- reading -------------------------------------------------------------------------

    def history(self, limit: int = 100) -> list[KillSummary]:
        """The latest kills, newest first."""
        with self._lock:
            rows = self._db.execute(
                f"{_SUMMARY_SELECT} ORDER BY k.id DESC LIMIT ?", (max(0, limit),)
            ).fetchall()
        return [_summary(row) for row in rows]

    def details(self, kill_id: int) -> KillDetails | None:
        """Everything recorded about one kill, or None when there is no such kill."""
        with self._lock:
            row = self._db.execute(f"{_SUMMARY_SELECT} WHERE k.id = ?", (kill_id,)).fetchone()
            if row is None:
                return None
            extra = self._db.execute(
                "SELECT strategy, errors, remaining_verified, trigger_to_response_ms, sweep_rounds, "
                "joined, exit_code, finished_at FROM kills WHERE id = ?",
                (kill_id,),
            ).fetchone()
            outcomes = self._db.execute(
                "SELECT orderid, outcome, reason, order_json FROM outcomes WHERE kill_id = ? ORDER BY id",
                (kill_id,),
            ).fetchall()
            exchanges = self._db.execute(
                "SELECT endpoint, request, http_status, reply, started, elapsed_ms, error "
                "FROM exchanges WHERE kill_id = ? ORDER BY id",
                (kill_id,),
            ).fetchall()
        strategy, errors, verified, response_ms, rounds, joined, exit_code, finished_at = extra
        return KillDetails(
            summary=_summary(row),
            strategy=strategy or "",
            errors=tuple(_json_list(errors)),
            remaining_verified=None if verified is None else bool(verified),
            trigger_to_response_ms=response_ms,
            sweep_rounds=rounds,
            joined=joined,
            exit_code=exit_code,
            finished_at=finished_at,
            outcomes=tuple(
                OrderOutcome(orderid, Outcome(outcome), reason, _json_dict(order))
                for orderid, outcome, reason, order in outcomes
            ),
            exchanges=tuple(
                Exchange(endpoint, _json_dict(request), status, reply, started, elapsed, error)
                for endpoint, request, status, reply, started, elapsed, error in exchanges
            ),
        )

    def integrity_check(self) -> str:
        """SQLite's own verdict on the file: ``"ok"`` when it is sound."""
        with self._lock:
            return ", ".join(str(row[0]) for row in self._db.execute("PRAGMA integrity_check"))

    # -- export --------------------------------------------------------------------------

    def export_csv(self, path: Path | str, kill_ids: Sequence[int] | None = None) -> int:
        """Write the incident report: one row per order outcome (a kill with none gets one
        row of its own). Returns the number of rows written."""
        rows: list[dict[str, Any]] = []
        for details in self._selected(kill_ids):
            s = details.summary
            base = {
                "kill_id": s.kill_id,
                "kill_time": _iso(s.started_at),
                "trigger": s.trigger,
                "server": s.server,
                "mode": s.mode,
                "state": s.state.value,
                "verdict": s.verdict or s.state.value,
                "message": s.message,
                "trigger_to_verified_ms": _ms(s.trigger_to_verified_ms),
            }
            if not details.outcomes:
                rows.append(base)
            for o in details.outcomes:
                order = o.order
                rows.append(
                    base
                    | {
                        "orderid": o.orderid,
                        "outcome": o.outcome.value,
                        "reason": o.reason,
                        "symbol": order.get("symbol", ""),
                        "exchange": order.get("exchange", ""),
                        "action": order.get("action", ""),
                        "quantity": _number(order.get("quantity")),
                        "price": _number(order.get("price")),
                        "trigger_price": _number(order.get("trigger_price")),
                        "pricetype": order.get("pricetype", ""),
                        "product": order.get("product", ""),
                        "order_status": order.get("status", ""),
                    }
                )

        def write(handle: Any) -> None:
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, restval="", lineterminator="\r\n")
            writer.writeheader()
            for row in rows:
                writer.writerow({k: _cell(v) for k, v in row.items()})

        write_atomically(Path(path), write, newline="")
        return len(rows)

    def export_json(self, path: Path | str, kill_ids: Sequence[int] | None = None) -> int:
        """Write whole kills, with every exchange, as JSON. Returns the number of kills."""
        kills = [d.to_json() for d in self._selected(kill_ids)]
        document = {"exported_at": _iso(time.time()), "kills": kills}
        write_atomically(Path(path), lambda handle: json.dump(document, handle, indent=2, ensure_ascii=False))
        return len(kills)

    # -- internals -----------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _clean(self, value: str) -> str:
        return redact(value, self.secret) if self.secret else value

    def _selected(self, kill_ids: Sequence[int] | None) -> list[KillDetails]:
        if kill_ids is None:
            with self._lock:
                kill_ids = [row[0] for row in self._db.execute("SELECT id FROM kills ORDER BY id")]
        found = (self.details(i) for i in kill_ids)
        return [d for d in found if d is not None]

    def _stored_books(self, kill_id: int) -> list[str]:
        with self._lock:
            return [
                row[0]
                for row in self._db.execute(
                    "SELECT reply FROM exchanges WHERE kill_id = ? AND endpoint = 'orderbook' ORDER BY id",
                    (kill_id,),
                )
            ]


_SUMMARY_SELECT = """
SELECT k.id, k.started_at, k.trigger, k.server, k.state, k.verdict, COALESCE(k.mode, k.mode_hint),
       COALESCE(k.message, ''), k.elapsed_ms, k.trigger_to_verified_ms,
       (SELECT COUNT(*) FROM outcomes o WHERE o.kill_id = k.id
            AND o.outcome IN ('cancelled_by_server', 'cancelled_by_sweep')),
       (SELECT COUNT(*) FROM outcomes o WHERE o.kill_id = k.id AND o.outcome = 'failed'),
       (SELECT COUNT(*) FROM outcomes o WHERE o.kill_id = k.id AND o.outcome = 'remaining')
FROM kills k
"""


def _summary(row: Sequence[Any]) -> KillSummary:
    (kill_id, started, trigger, server, state, verdict, mode, message, elapsed, verified, c, f, r) = row
    return KillSummary(
        kill_id=kill_id,
        started_at=started,
        trigger=trigger,
        server=server,
        state=KillState(state),
        verdict=verdict,
        mode=mode,
        message=message,
        cancelled=c,
        failed=f,
        remaining=r,
        elapsed_ms=elapsed,
        trigger_to_verified_ms=verified,
    )


def _order_index(
    report: CancelReport, known: Iterable[Order], books: Iterable[str]
) -> dict[str, dict[str, Any]]:
    """Order descriptions by id, best source last: stored book replies, then known, then remaining."""
    index: dict[str, dict[str, Any]] = {}
    for reply in books:
        try:
            body = json.loads(reply)
        except ValueError:
            continue  # a reply cut at 64 KB, or not JSON: ids stay undescribed
        data = body.get("data") if isinstance(body, Mapping) else None
        rows = data.get("orders") if isinstance(data, Mapping) else data
        if isinstance(rows, list):
            for row in rows:
                if isinstance(row, Mapping):
                    order = Order.from_json(row)
                    if order.orderid:
                        index[order.orderid] = order_json(order)
    for order in (*known, *report.remaining):
        if order.orderid:
            index[order.orderid] = order_json(order)
    return index


def _outcome_rows(
    report: CancelReport, index: Mapping[str, dict[str, Any]]
) -> Iterator[tuple[str, Outcome, str, dict[str, Any]]]:
    def described(orderid: str) -> dict[str, Any]:
        return dict(index.get(orderid, {}))

    for orderid in report.canceled_by_server:
        yield orderid, Outcome.CANCELLED_BY_SERVER, "", described(orderid)
    for orderid in report.canceled_by_sweep:
        yield orderid, Outcome.CANCELLED_BY_SWEEP, "", described(orderid)
    for orderid in report.already_finished:
        yield (
            orderid,
            Outcome.ALREADY_FINISHED,
            "found cancelled when the sweep reached it",
            described(orderid),
        )
    for failure in report.failures:
        yield failure.orderid, Outcome.FAILED, failure.reason, described(failure.orderid)
    seen = "still working" if report.remaining_verified else "last seen working (not re-checked)"
    for order in report.remaining:
        yield order.orderid, Outcome.REMAINING, seen, order_json(order)


def _exchange_json(exchange: Exchange) -> dict[str, Any]:
    return {
        "endpoint": exchange.endpoint,
        "request": dict(exchange.request),
        "http_status": exchange.http_status,
        "reply": exchange.reply,
        "started": exchange.started,
        "started_iso": _iso(exchange.started),
        "elapsed_ms": round(exchange.elapsed_ms, 1),
        "error": exchange.error,
    }


def _iso(timestamp: float) -> str:
    """Local time with its offset, to the millisecond: what a risk manager lines up with logs."""
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="milliseconds")


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _number(value: Any) -> Any:
    return "" if value is None else text(value)


_FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not run: broker text starting like a formula is quoted."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value


def _json_list(raw: str | None) -> list[str]:
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def _json_dict(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return dict(value) if isinstance(value, Mapping) else {}


class RecordingKill:
    """Fires a :class:`KillSwitch` and records the kill: begun before the first request,
    every exchange as it happens, finished with the report.

    Build it right after the switch: it chains itself in front of the switch's observer on
    the client, so it sees each exchange live. Triggers that arrive while a kill is in flight
    join that kill -- one kill, one record -- and get its report.
    """

    def __init__(
        self,
        switch: KillSwitch,
        record: KillRecord,
        *,
        known_orders: Callable[[], Iterable[Order]] | None = None,
    ) -> None:
        self.switch = switch
        self.record = record
        self.known_orders = known_orders
        self.record_failures = 0  # writes that failed (logged); the kills went ahead regardless
        self._lock = threading.Lock()
        self._inflight: _InFlight | None = None
        downstream = switch.client.observer

        def observe(exchange: Exchange) -> None:
            self._observe(exchange)
            if downstream is not None:
                downstream(exchange)

        switch.client.observer = observe

    def fire(self, trigger: str = "button", *, triggered_at: float | None = None) -> CancelReport:
        """Run a recorded kill (or join the one in flight). Never raises."""
        with self._lock:
            current = self._inflight
            if current is None:
                current = self._inflight = _InFlight()
                owner = True
            else:
                current.joined += 1
                owner = False
        if not owner:
            current.done.wait()
            if current.report is None:  # the kill in flight died without a report: fire anew
                return self.fire(trigger, triggered_at=triggered_at)
            return current.report
        try:
            current.kill_id = self._safely(
                lambda: self.record.begin(trigger, self.switch.client.host, "unknown")
            )
            report = self.switch.fire(trigger, triggered_at=triggered_at)
            with self._lock:
                self._inflight = None
                joined = current.joined
            if joined:
                report = replace(report, joined=report.joined + joined)
            kill_id = current.kill_id
            if kill_id is not None:
                known = list(self.known_orders()) if self.known_orders is not None else []
                self._safely(lambda: self.record.finish(kill_id, report, known_orders=known))
            current.report = report
            return report
        finally:
            with self._lock:
                if self._inflight is current:
                    self._inflight = None
            current.done.set()

    def _observe(self, exchange: Exchange) -> None:
        current = self._inflight
        kill_id = current.kill_id if current is not None else None
        if kill_id is not None:
            self._safely(lambda: self.record.add_exchange(kill_id, exchange))

    def _safely(self, write: Callable[[], Any]) -> Any:
        try:
            return write()
        except (sqlite3.Error, OSError, ValueError):
            # The record must never stand between a trader and a kill.
            log.exception("could not write the kill record")
            self.record_failures += 1
            return None


class _InFlight:
    def __init__(self) -> None:
        self.kill_id: int | None = None
        self.joined = 0
        self.report: CancelReport | None = None
        self.done = threading.Event()
