"""What a kill says when it is over: the verdict, order by order, with the reasons.

A verdict is proven by what the order book showed in a fresh read, never by what a reply claimed.
``flat`` is said only when the last read held a list of orders in which nothing was working and
every order the kill knew about was present, finished; anything less is named for what it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from core.exchange import Exchange
from core.orders import Order, number, text
from core.positions import Position, position_json
from core.replies import CancelFailure
from core.scope import KillScope

if TYPE_CHECKING:  # types only: a report is read (History, the window's start) without the steps
    from core.flatten import FlattenReport
    from core.guard import GuardReport
    from core.halt import HaltReport


class Verdict(StrEnum):
    FLAT = "flat"
    ORDERS_REMAIN = "orders_remain"
    POSITIONS_REMAIN = "positions_remain"
    UNVERIFIED = "unverified"
    REFUSED = "refused"
    UNREACHABLE = "unreachable"

    @property
    def exit_code(self) -> int:
        return _EXIT_CODES[self]

    @property
    def headline(self) -> str:
        return _HEADLINES[self]


_EXIT_CODES = {
    Verdict.FLAT: 0,
    Verdict.ORDERS_REMAIN: 1,
    Verdict.POSITIONS_REMAIN: 1,
    Verdict.UNVERIFIED: 1,
    Verdict.REFUSED: 3,
    Verdict.UNREACHABLE: 4,
}
_HEADLINES = {
    Verdict.FLAT: "FLAT — verified: no working orders remain",
    Verdict.ORDERS_REMAIN: "ORDERS REMAIN — some orders are still working",
    Verdict.POSITIONS_REMAIN: "POSITIONS REMAIN — some positions are still open",
    Verdict.UNVERIFIED: "UNVERIFIED — the kill could not prove that nothing is working",
    Verdict.REFUSED: "REFUSED — the server refused the kill",
    Verdict.UNREACHABLE: "UNREACHABLE — OpenAlgo could not be reached; no request reached it",
}
URGENCY: tuple[Verdict, ...] = (
    Verdict.ORDERS_REMAIN,
    Verdict.POSITIONS_REMAIN,
    Verdict.UNVERIFIED,
    Verdict.REFUSED,
    Verdict.UNREACHABLE,
)
"""Most urgent first: what the trader must act on. Several servers' (or steps') verdicts combine
to the most urgent of them; ``flat`` only when all are flat."""


def most_urgent(verdicts: list[Verdict]) -> Verdict:
    for verdict in URGENCY:
        if verdict in verdicts:
            return verdict
    return Verdict.FLAT


def with_guard(report: CancelReport, held: GuardReport) -> CancelReport:
    """The kill's report once its guard has ended: the guard's last read of the books can only
    make the verdict more urgent, never better."""
    outcome = {
        "flat": Verdict.FLAT,
        "orders_remain": Verdict.ORDERS_REMAIN,
        "positions_remain": Verdict.POSITIONS_REMAIN,
    }.get(held.outcome, Verdict.UNVERIFIED)
    return replace(report, guard=held, verdict=most_urgent([report.verdict, outcome]))


EXIT_HALT_MISSED = 1  # flat, but a requested halt did not happen
EXIT_INTERRUPTED_SIGINT = 130
EXIT_INTERRUPTED_SIGTERM = 143


@dataclass(frozen=True, slots=True)
class KillProgress:
    """Where a running kill is: ``text`` says what it is doing or waiting on; ``done``/``total``
    count sweep cancels.

    Phases: ``cancel_all`` (sending it), ``cancel_all_sent`` (on the wire, waiting for the answer),
    ``reading_book``, ``sweeping``, ``verifying``.
    """

    phase: str
    text: str
    done: int = 0
    total: int = 0


@dataclass(frozen=True, slots=True)
class CancelReport:
    verdict: Verdict
    mode: str  # live | analyze | unknown
    trigger: str
    server: str
    strategy: str
    started_at: float  # wall clock, time.time()
    message: str  # the server's own words on cancelallorder, or what became of it
    canceled_by_server: tuple[str, ...] = ()
    canceled_by_sweep: tuple[str, ...] = ()
    failures: tuple[CancelFailure, ...] = ()  # server's and sweep's, with their reasons
    already_finished: tuple[str, ...] = ()  # found cancelled by the time the sweep reached them
    remaining: tuple[Order, ...] = ()
    remaining_verified: bool = True  # False: the last list we saw, not a fresh read
    missing: tuple[Order, ...] = ()  # known working, absent from the final read (it was incomplete)
    errors: tuple[str, ...] = ()  # sentences, in the order they happened
    cancel_all: str = "not_sent"  # not_sent | sent (never answered: may still run) | answered | skipped
    trigger_to_response_ms: float | None = None
    trigger_to_verified_ms: float | None = None
    elapsed_ms: float = 0.0
    deadline_s: float = 0.0
    sweep_rounds: int = 0
    joined: int = 0  # triggers that arrived during this kill and joined it
    interrupted: bool = False  # stopped before its verdict (Ctrl+C, closing the window)
    scope: KillScope = field(default_factory=KillScope)
    flatten: FlattenReport | None = None  # the positions step, when it ran
    flatten_skipped: str = ""  # why the positions step did not run, when it was asked for
    open_positions: tuple[Position, ...] = ()  # positions seen open when flatten could not run
    guard: GuardReport | None = None
    halt: HaltReport | None = None
    exchanges: tuple[Exchange, ...] = field(default=(), repr=False)

    @property
    def exit_code(self) -> int:
        """The verdict's code; 1 for a flat kill whose requested halt did not happen (refused, not
        read back, skipped): a script that asked for new orders to stop must not read success."""
        code = self.verdict.exit_code
        return EXIT_HALT_MISSED if code == 0 and self.halt_missed else code

    @property
    def halt_missed(self) -> bool:
        """The halt was asked for and the server is not known to be in analyze mode after it."""
        if not self.scope.halt:
            return False
        return self.halt is None or not (self.halt.halted or self.halt.mode_after == "analyze")

    @property
    def canceled(self) -> tuple[str, ...]:
        return self.canceled_by_server + self.canceled_by_sweep

    def summary(self) -> str:
        """One paragraph a trader reads after the kill."""
        parts = [self.verdict.headline + "."]
        if self.interrupted:
            parts.append("The kill was interrupted before its verdict: check the order book in OpenAlgo.")
        parts.append(
            f"{len(self.canceled_by_server)} cancelled by the server, "
            f"{len(self.canceled_by_sweep)} by the sweep"
            + (f", {len(self.failures)} failed" if self.failures else "")
            + "."
        )
        if self.remaining:
            seen = "still working" if self.remaining_verified else "last seen working (not re-checked)"
            parts.append(f"{len(self.remaining)} {seen}.")
        if self.missing:
            parts.append(f"{len(self.missing)} known orders were missing from the final read.")
        if self.flatten is not None:
            closed, left = len(self.flatten.closed), len(self.flatten.remaining)
            parts.append(f"{closed} positions closed" + (f", {left} still open." if left else "."))
        elif self.flatten_skipped:
            parts.append(self.flatten_skipped)
        if self.guard is not None:
            closed = len(self.guard.positions_closed)
            parts.append(
                f"Held flat {self.guard.ran_s:.0f} s: caught {len(self.guard.caught)} orders"
                + (f" and {closed} positions" if closed else "")
                + "."
            )
        if self.halt is not None:
            parts.append(self.halt.reason)
        if self.verdict is not Verdict.FLAT and self.errors and self.errors[-1] != self.message:
            parts.append(self.errors[-1])
        if self.trigger_to_verified_ms is not None:
            parts.append(f"Verified in {self.trigger_to_verified_ms:.0f} ms.")
        return " ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The report for scripts: stable keys, plain types, no key anywhere."""
        return {
            "verdict": self.verdict.value,
            "mode": self.mode,
            "trigger": self.trigger,
            "server": self.server,
            "strategy": self.strategy,
            "started_at": self.started_at,
            "message": self.message,
            "canceled_orders": list(self.canceled),
            "canceled_by_server": list(self.canceled_by_server),
            "canceled_by_sweep": list(self.canceled_by_sweep),
            "failed_cancellations": [{"orderid": f.orderid, "reason": f.reason} for f in self.failures],
            "already_finished": list(self.already_finished),
            "remaining_orders": [order_json(o) for o in self.remaining],
            "remaining_verified": self.remaining_verified,
            "missing_orders": [order_json(o) for o in self.missing],
            "errors": list(self.errors),
            "cancel_all": self.cancel_all,
            "elapsed_ms": round(self.elapsed_ms, 1),
            "deadline_s": self.deadline_s,
            "trigger_to_response_ms": _round(self.trigger_to_response_ms),
            "trigger_to_verified_ms": _round(self.trigger_to_verified_ms),
            "sweep_rounds": self.sweep_rounds,
            "joined_triggers": self.joined,
            "interrupted": self.interrupted,
            "scope": self.scope.to_json(),
            "positions_closed": self.positions_closed_json(),
            "positions_remaining": self.positions_remaining_json(),
            "flatten": self.flatten.to_json() if self.flatten is not None else None,
            "flatten_skipped": self.flatten_skipped,
            "guard": self.guard.to_json() if self.guard is not None else None,
            "halted": bool(self.halt and self.halt.halted),
            "halt": self.halt.to_json() if self.halt is not None else None,
            "exit_code": self.exit_code,
        }

    def positions_closed_json(self) -> list[dict[str, Any]]:
        closed = list(self.flatten.closed) if self.flatten is not None else []
        if self.guard is not None:
            closed.extend(self.guard.positions_closed)
        return [position_json(p) for p in closed]

    def positions_remaining_json(self) -> list[dict[str, Any]]:
        if self.flatten is not None:
            return [{**position_json(p.position), "reason": p.reason} for p in self.flatten.remaining]
        return [{**position_json(p), "reason": self.flatten_skipped} for p in self.open_positions]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CancelReport:
        """A report written by :meth:`to_json` (this process, another one, an older version);
        whatever is missing or unreadable becomes ``unverified`` and empty, never ``flat``."""

        def ids(key: str) -> tuple[str, ...]:
            value = data.get(key)
            return tuple(text(v) for v in value if text(v)) if isinstance(value, list) else ()

        def orders(key: str) -> tuple[Order, ...]:
            value = data.get(key)
            if not isinstance(value, list):
                return ()
            return tuple(
                Order.from_json({**row, "order_status": row.get("status", "")})
                for row in value
                if isinstance(row, Mapping)
            )

        def rows(key: str) -> list[Mapping[str, Any]]:
            value = data.get(key)
            return [row for row in value if isinstance(row, Mapping)] if isinstance(value, list) else []

        def ms(key: str) -> float | None:
            value = data.get(key)
            return float(number(value)) if isinstance(value, int | float) else None

        try:
            verdict = Verdict(str(data.get("verdict")))
        except ValueError:
            verdict = Verdict.UNVERIFIED
        failures = data.get("failed_cancellations")
        return cls(
            verdict=verdict,
            mode=text(data.get("mode")) or "unknown",
            trigger=text(data.get("trigger")),
            server=text(data.get("server")),
            strategy=text(data.get("strategy")),
            started_at=number(data.get("started_at")),
            message=text(data.get("message")),
            canceled_by_server=ids("canceled_by_server"),
            canceled_by_sweep=ids("canceled_by_sweep"),
            failures=tuple(
                CancelFailure(text(f.get("orderid")), text(f.get("reason")))
                for f in (failures if isinstance(failures, list) else ())
                if isinstance(f, Mapping)
            ),
            already_finished=ids("already_finished"),
            remaining=orders("remaining_orders"),
            remaining_verified=data.get("remaining_verified") is True,
            missing=orders("missing_orders"),
            errors=ids("errors"),
            cancel_all=text(data.get("cancel_all")) or "not_sent",
            trigger_to_response_ms=ms("trigger_to_response_ms"),
            trigger_to_verified_ms=ms("trigger_to_verified_ms"),
            elapsed_ms=number(data.get("elapsed_ms")),
            deadline_s=number(data.get("deadline_s")),
            sweep_rounds=int(number(data.get("sweep_rounds"))),
            joined=int(number(data.get("joined_triggers"))),
            interrupted=data.get("interrupted") is True,
            scope=KillScope.from_json(data.get("scope")),
            flatten_skipped=text(data.get("flatten_skipped")),
            # The positions step's own report is not rebuilt; the positions it left open are kept.
            open_positions=tuple(Position.from_json(row) for row in rows("positions_remaining")),
        )


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def order_json(order: Order) -> dict[str, Any]:
    return {
        "orderid": order.orderid,
        "symbol": order.symbol,
        "exchange": order.exchange,
        "action": order.action,
        "quantity": order.quantity,
        "price": order.price,
        "trigger_price": order.trigger_price,
        "pricetype": order.pricetype,
        "product": order.product,
        "status": order.status,
    }


@dataclass(frozen=True, slots=True)
class PressReport:
    """One press on several servers: each server's report, and the overall verdict -- ``flat``
    only when every server is flat, otherwise the most urgent of theirs (:data:`URGENCY`)."""

    reports: tuple[CancelReport, ...]
    trigger: str = ""

    @property
    def verdict(self) -> Verdict:
        return most_urgent([r.verdict for r in self.reports])

    @property
    def exit_code(self) -> int:
        code = self.verdict.exit_code
        return EXIT_HALT_MISSED if code == 0 and any(r.exit_code for r in self.reports) else code

    def summary(self) -> str:
        flat = sum(1 for r in self.reports if r.verdict is Verdict.FLAT)
        return f"{self.verdict.headline}. {flat} of {len(self.reports)} servers flat."

    def to_json(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict.value,
            "exit_code": self.exit_code,
            "trigger": self.trigger,
            "servers": [{**r.to_json(), "server": r.server} for r in self.reports],
            "summary": self.summary(),
        }
