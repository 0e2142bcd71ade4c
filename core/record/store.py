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
close that gap with an fsync per commit -- on the kill's path, while the cancel-all is on its
way and after every cancel of the sweep -- and a kill switch must not wait on a disk.
A kill stopped before its verdict (Ctrl+C, the window closed anyway) is marked ``interrupted``
at once with its report so far (:meth:`KillRecord.interrupt`); one whose process died is marked
at the next start (:meth:`KillRecord.mark_interrupted`), unless it is still running in another
process. Each row keeps the finished kill's whole JSON report, so a press in another process
that joined the kill can read its verdict (``core.one_kill``).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from core.exchange import Exchange
from core.orders import Order
from core.positions import position_json
from core.record import export
from core.record.model import KillDetails, KillState, KillSummary, OrderOutcome, Outcome
from core.redaction import redact
from core.report import CancelReport, Verdict, order_json
from core.settings import data_dir

log = logging.getLogger(__name__)

RECORD_FILE_NAME: Final = "kills.sqlite3"
SCHEMA_VERSION: Final = 2

_ADDED_COLUMNS: Final = (  # schema 2: who runs the kill, its whole report, who announced it
    ("pid", "INTEGER"),
    ("report", "TEXT"),
    ("announced", "TEXT NOT NULL DEFAULT ''"),
    ("cancel_all", "TEXT"),
    ("press", "TEXT NOT NULL DEFAULT ''"),
)
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
    finished_at REAL,
    pid INTEGER,
    report TEXT,
    announced TEXT NOT NULL DEFAULT '',
    cancel_all TEXT,
    press TEXT NOT NULL DEFAULT ''
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
CREATE INDEX IF NOT EXISTS kills_by_server ON kills(server, id);
CREATE INDEX IF NOT EXISTS kills_by_server_start ON kills(server, started_at);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    server TEXT NOT NULL,
    what TEXT NOT NULL,
    detail TEXT NOT NULL
);
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
        self._secrets: list[str] = []
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
            self._migrate()
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

    def _migrate(self) -> None:
        """Bring a record written by an earlier version up to this schema (columns only added)."""
        have = {row[1] for row in self._db.execute("PRAGMA table_info(kills)")}
        for column, kind in _ADDED_COLUMNS:
            if column not in have:
                self._db.execute(f"ALTER TABLE kills ADD COLUMN {column} {kind}")

    @property
    def secret(self) -> str:
        """The last key given; every key ever given is removed from what is stored."""
        return self._secrets[-1] if self._secrets else ""

    @secret.setter
    def secret(self, value: str) -> None:
        if value and value not in self._secrets:
            self._secrets.append(value)

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

    def begin(self, trigger: str, server: str, mode_hint: str = "unknown", *, press: str = "") -> int:
        """Start a kill's record; committed (on disk) when this returns. Returns the kill id.

        ``press`` groups the kills one press fired on several servers (one record per press,
        every server's part in it)."""
        # One statement in autocommit mode is its own transaction: no BEGIN and COMMIT to run
        # on the panic path (0.26 -> 0.21 ms on a CPU just woken, as it is at a press).
        with self._lock:
            cursor = self._db.execute(
                "INSERT INTO kills (started_at, trigger, server, mode_hint, state, pid, press) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    time.time(),
                    self._clean(trigger),
                    self._clean(server),
                    mode_hint,
                    KillState.RUNNING,
                    os.getpid(),
                    press,
                ),
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

    def finish(self, kill_id: int, report: CancelReport, *, known_orders: Iterable[Order] = ()) -> bool:
        """Store the kill's verdict, its report and every order's outcome; committed when this
        returns. False (nothing written) when the kill was already marked interrupted.

        Exchanges of the report are stored here only if none were recorded live. Orders named
        by id alone (cancel-all lists) are described from ``known_orders`` (for instance the
        poller's last snapshot) and from the order books read during the kill.
        """
        return self._conclude(kill_id, report, KillState.FINISHED, known_orders)

    def interrupt(self, kill_id: int, report: CancelReport, *, known_orders: Iterable[Order] = ()) -> bool:
        """Mark a running kill interrupted, with its report so far; committed when this returns.
        False when the kill had already ended."""
        return self._conclude(kill_id, report, KillState.INTERRUPTED, known_orders)

    def _conclude(
        self, kill_id: int, report: CancelReport, state: KillState, known_orders: Iterable[Order]
    ) -> bool:
        if self.state_of(kill_id) is not KillState.RUNNING:
            return False
        with self._lock:
            recorded = self._db.execute(
                "SELECT COUNT(*) FROM exchanges WHERE kill_id = ?", (kill_id,)
            ).fetchone()[0]
        if not recorded:
            for exchange in report.exchanges:
                self.add_exchange(kill_id, exchange)
        index = _order_index(report, known_orders, self._stored_books(kill_id))
        rows = list(_outcome_rows(report, index))
        document = json.dumps(report.to_json(), ensure_ascii=False, default=str)
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE kills SET state = ?, verdict = ?, mode = ?, strategy = ?, message = ?, "
                "errors = ?, remaining_verified = ?, trigger_to_response_ms = ?, "
                "trigger_to_verified_ms = ?, elapsed_ms = ?, sweep_rounds = ?, joined = ?, "
                "exit_code = ?, finished_at = ?, report = ?, cancel_all = ? WHERE id = ? AND state = ?",
                (
                    state,
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
                    self._clean(document),
                    report.cancel_all,
                    kill_id,
                    KillState.RUNNING,
                ),
            )
            if cursor.rowcount != 1:  # another thread concluded it first
                return False
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
        return True

    def amend(self, kill_id: int, report: CancelReport) -> bool:
        """Replace a concluded kill's verdict, report and outcomes with ``report`` (the same kill,
        now with the steps that ran after its verdict: the guard, the halt). Committed when this
        returns; False when there is no such concluded kill."""
        index = _order_index(report, (), self._stored_books(kill_id))
        rows = list(_outcome_rows(report, index))
        document = json.dumps(report.to_json(), ensure_ascii=False, default=str)
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE kills SET verdict = ?, message = ?, errors = ?, exit_code = ?, report = ? "
                "WHERE id = ? AND state != ?",
                (
                    report.verdict.value,
                    self._clean(report.message),
                    self._clean(json.dumps(list(report.errors), ensure_ascii=False)),
                    report.exit_code,
                    self._clean(document),
                    kill_id,
                    KillState.RUNNING,
                ),
            )
            if cursor.rowcount != 1:
                return False
            db.execute("DELETE FROM outcomes WHERE kill_id = ?", (kill_id,))
            db.executemany(
                "INSERT INTO outcomes (kill_id, orderid, outcome, reason, order_json) VALUES (?, ?, ?, ?, ?)",
                [
                    (kill_id, self._clean(o), outcome, self._clean(reason), self._clean(json.dumps(order)))
                    for o, outcome, reason, order in rows
                ],
            )
        return True

    def mark_interrupted(
        self, still_running: Callable[[int, str], bool] = lambda _id, _server: False
    ) -> list[int]:
        """Mark every kill begun but never finished as interrupted, except those
        ``still_running(kill_id, server)`` says another process is running now; call at start-up.

        Returns the ids marked, oldest first.
        """
        with self._lock:
            running = self._db.execute(
                "SELECT id, server FROM kills WHERE state = ? ORDER BY id", (KillState.RUNNING,)
            ).fetchall()
        dead = [kill_id for kill_id, server in running if not still_running(kill_id, server)]
        if dead:
            with self._transaction() as db:
                db.executemany(
                    "UPDATE kills SET state = ?, verdict = ?, exit_code = ? WHERE id = ? AND state = ?",
                    [
                        (KillState.INTERRUPTED, Verdict.UNVERIFIED.value, 1, kill_id, KillState.RUNNING)
                        for kill_id in dead
                    ],
                )
        return dead

    def unannounced_interruptions(self, surface: str) -> list[KillSummary]:
        """Interrupted kills ``surface`` ("window", "command line") has not told the trader of yet,
        oldest first."""
        with self._lock:
            rows = self._db.execute(
                f"{_SUMMARY_SELECT} WHERE k.state = ? AND instr(k.announced, ?) = 0 ORDER BY k.id",
                (KillState.INTERRUPTED, f"[{surface}]"),
            ).fetchall()
        return [_summary(row) for row in rows]

    def mark_announced(self, kill_ids: Iterable[int], surface: str) -> None:
        with self._transaction() as db:
            db.executemany(
                "UPDATE kills SET announced = announced || ? WHERE id = ? AND instr(announced, ?) = 0",
                [(f"[{surface}]", kill_id, f"[{surface}]") for kill_id in kill_ids],
            )

    def unsettled_kills(self, server: str, since: float) -> list[tuple[int, float]]:
        """Kills on ``server`` started at or after ``since`` (wall clock) whose cancel-all may
        still be running there: it went out and was never answered, or nobody knows what became of
        it (the kill's process died and no answer was kept). Id and start, newest first. Kills
        whose cancel-all was answered, never sent or skipped are left out in the query, so the
        usual answer is no rows at all."""
        with self._lock:
            rows = self._db.execute(
                "SELECT k.id, k.started_at FROM kills k WHERE k.server = ? AND k.started_at >= ?"
                " AND (k.cancel_all IS NULL OR k.cancel_all NOT IN ('answered', 'not_sent', 'skipped'))"
                " AND (k.cancel_all IS NOT NULL OR NOT EXISTS ("
                "  SELECT 1 FROM exchanges e WHERE e.kill_id = k.id AND e.endpoint = 'cancelallorder'"
                "  AND e.http_status IS NOT NULL"
                " )) ORDER BY k.id DESC",
                (self._clean(server), since),
            ).fetchall()
        return [(kill_id, started_at) for kill_id, started_at in rows]

    def add_event(self, server: str, what: str, detail: str = "") -> None:
        """Keep a deliberate act that is not a kill (resuming live trading after a halt)."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO events (at, server, what, detail) VALUES (?, ?, ?, ?)",
                (time.time(), self._clean(server), what, self._clean(detail)),
            )

    def events(self) -> list[tuple[float, str, str, str]]:
        """Every event kept, oldest first: (time, server, what, detail)."""
        with self._lock:
            rows = self._db.execute("SELECT at, server, what, detail FROM events ORDER BY id").fetchall()
        return [(at, server, what, detail) for at, server, what, detail in rows]

    def press_of(self, kill_id: int) -> list[int]:
        """Every kill fired by the same press as ``kill_id`` (itself included), oldest first."""
        with self._lock:
            row = self._db.execute("SELECT press FROM kills WHERE id = ?", (kill_id,)).fetchone()
            if row is None:
                return []
            if not row[0]:
                return [kill_id]
            return [
                r[0] for r in self._db.execute("SELECT id FROM kills WHERE press = ? ORDER BY id", (row[0],))
            ]

    def state_of(self, kill_id: int) -> KillState | None:
        with self._lock:
            row = self._db.execute("SELECT state FROM kills WHERE id = ?", (kill_id,)).fetchone()
        return None if row is None else KillState(row[0])

    def report_json(self, kill_id: int) -> dict[str, Any] | None:
        """The stored JSON report of a kill that has ended (finished or interrupted), or None."""
        with self._lock:
            row = self._db.execute("SELECT report FROM kills WHERE id = ?", (kill_id,)).fetchone()
        if row is None or not row[0]:
            return None
        value = _json_dict(row[0])
        return value or None

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

    def export_csv(self, path: Path | str, kill_ids: Sequence[int] | None = None) -> int:
        """One row per order outcome (``core.record.export``); returns the rows written."""
        return export.export_csv(self._selected(kill_ids), path)

    def export_json(self, path: Path | str, kill_ids: Sequence[int] | None = None) -> int:
        """Whole kills with every exchange (``core.record.export``); returns the kills written."""
        return export.export_json(self._selected(kill_ids), path)

    def integrity_check(self) -> str:
        """SQLite's own verdict on the file: ``"ok"`` when it is sound."""
        with self._lock:
            return ", ".join(str(row[0]) for row in self._db.execute("PRAGMA integrity_check"))

    # -- export --------------------------------------------------------------------------

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
        for secret in self._secrets:
            value = redact(value, secret)
        return value

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
        except (ValueError, RecursionError):
            continue  # a reply cut at 64 KB, not JSON, or nested too deep: ids stay undescribed
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
    for order in report.missing:
        yield (
            order.orderid,
            Outcome.MISSING,
            "missing from the final read of the book",
            described(order.orderid),
        )
    if report.flatten is not None:
        for position in report.flatten.closed_by_server:
            yield "", Outcome.POSITION_CLOSED, "closed by closeposition", position_json(position)
        for position in report.flatten.closed_by_sweep:
            yield "", Outcome.POSITION_CLOSED, "closed by its own closing order", position_json(position)
        for left in report.flatten.remaining:
            yield "", Outcome.POSITION_REMAINING, left.reason, position_json(left.position)
    for position in report.open_positions:
        yield "", Outcome.POSITION_REMAINING, report.flatten_skipped, position_json(position)
    if report.guard is not None:
        for orderid in report.guard.caught:
            yield orderid, Outcome.GUARD_CANCELLED, "placed after the kill; cancelled by the guard", {}
        for catch in report.guard.failures:
            yield catch.orderid, Outcome.GUARD_FAILED, f"{catch.what}: {catch.reason}", {}
        for position in report.guard.positions_closed:
            yield (
                "",
                Outcome.GUARD_POSITION_CLOSED,
                "opened after the kill; closed by the guard",
                position_json(position),
            )


def _json_list(raw: str | None) -> list[str]:
    try:
        value = json.loads(raw or "[]")
    except (ValueError, RecursionError):
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def _json_dict(raw: str | None) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except (ValueError, RecursionError):
        return {}
    return dict(value) if isinstance(value, Mapping) else {}
