"""What the record holds about past kills, as plain data: summaries for the history list, the
details of one kill (every order's outcome, every exchange) for the incident report."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from core.exchange import Exchange


class KillState(StrEnum):
    RUNNING = "running"  # begun, not yet finished (or the process died: see mark_interrupted)
    FINISHED = "finished"
    INTERRUPTED = "interrupted"  # stopped before its verdict (Ctrl+C, closed window, crash)


class Outcome(StrEnum):
    """What happened to one order (or position) in a kill, as the incident report lists it."""

    CANCELLED_BY_SERVER = "cancelled_by_server"
    CANCELLED_BY_SWEEP = "cancelled_by_sweep"
    ALREADY_FINISHED = "already_finished"
    FAILED = "failed"
    REMAINING = "remaining"
    MISSING = "missing"  # known working, absent from the final read
    POSITION_CLOSED = "position_closed"
    POSITION_REMAINING = "position_remaining"
    GUARD_CANCELLED = "guard_cancelled"  # placed after the kill, cancelled by the guard
    GUARD_FAILED = "guard_failed"
    GUARD_POSITION_CLOSED = "guard_position_closed"


@dataclass(frozen=True, slots=True)
class KillSummary:
    """One line of the history view."""

    kill_id: int
    started_at: float
    trigger: str
    server: str
    state: KillState
    verdict: str | None  # a core.report.Verdict value ("unverified" if interrupted); None while running
    mode: str
    message: str
    cancelled: int
    failed: int
    remaining: int
    elapsed_ms: float | None
    trigger_to_verified_ms: float | None


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
            "started_at_iso": iso(s.started_at),
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
            "exchanges": [exchange_json(e) for e in self.exchanges],
        }


def exchange_json(exchange: Exchange) -> dict[str, Any]:
    return {
        "endpoint": exchange.endpoint,
        "request": dict(exchange.request),
        "http_status": exchange.http_status,
        "reply": exchange.reply,
        "started": exchange.started,
        "started_iso": iso(exchange.started),
        "elapsed_ms": round(exchange.elapsed_ms, 1),
        "error": exchange.error,
    }


def iso(timestamp: float) -> str:
    """Local time with its offset, to the millisecond: what a risk manager lines up with logs."""
    return datetime.fromtimestamp(timestamp).astimezone().isoformat(timespec="milliseconds")
