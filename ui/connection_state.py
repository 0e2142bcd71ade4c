"""What the window knows of its server between kills: reachable, key accepted, mode, Semi-Auto,
and how fresh that knowledge is -- one sentence for the connection line."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.replies import ApiError, ErrorKind, Pong, interpret
from core.report import CancelReport

if TYPE_CHECKING:  # a type only: the HTTP client loads when a lane needs it
    from core.client import OpenAlgoClient


@dataclass(frozen=True)
class ConnectionState:
    """What the connection bar shows: can we reach the server, is the key good, which mode."""

    reachable: bool | None  # None = not known yet
    key_ok: bool | None
    mode: str  # "live" | "analyze" | "unknown"
    semi_auto: bool  # learned from a refused kill (403 Semi-Auto)
    last_good: float | None  # time.monotonic() of the last good order book
    rtt_ms: float | None  # round trip of the last poll
    sentence: str  # one line for the connection bar
    problem: str = ""  # why the last poll failed; "" when it brought a book

    @property
    def connected(self) -> bool:
        return bool(self.reachable and self.key_ok)

    def describe(self, now: float | None = None) -> str:
        """The connection line with the age of the last good update as of ``now`` (monotonic).

        A bar that refreshes the age on its own timer calls this; ``sentence`` is the same text
        as of the moment the state was made.
        """
        if self.problem or not self.connected or self.last_good is None:
            return self.sentence
        age = (time.monotonic() if now is None else now) - self.last_good
        parts = ["Connected", "key accepted", self.mode.upper(), _age_text(age)]
        if self.rtt_ms is not None:
            parts.append(f"{self.rtt_ms:.0f} ms")
        line = " · ".join(parts)
        if self.semi_auto:
            line += " · Semi-Auto: OpenAlgo will refuse a kill until it is switched to Auto"
        return line


def _age_text(age: float) -> str:
    if age < 1.0:
        return "updated just now"
    if age < 120:
        return f"updated {age:.0f} s ago"
    return f"updated {age / 60:.0f} min ago"


@dataclass(frozen=True)
class ConnectionTest:
    """The answer to "Test connection": ``ping`` and ``analyzer`` as one sentence."""

    ok: bool
    mode: str
    broker: str
    sentence: str


def initial_state(host: str) -> ConnectionState:
    return ConnectionState(None, None, "unknown", False, None, None, f"Connecting to {host}…")


def check_connection(client: OpenAlgoClient) -> ConnectionTest:
    """``ping`` (is the key accepted, which broker) then ``analyzer`` (which mode), as one sentence."""
    pong = client.ping()
    if not isinstance(pong, Pong):
        return ConnectionTest(False, "unknown", "", pong.sentence)
    status = client.analyzer()
    mode = pong.mode if isinstance(status, ApiError) else status.mode
    broker = pong.broker or "an unnamed broker"
    where = (
        "ANALYZE mode (OpenAlgo's sandbox: orders are simulated)"
        if mode == "analyze"
        else "LIVE mode (real orders at the broker)"
    )
    return ConnectionTest(True, mode, pong.broker, f"The server accepted the key; {broker} is in {where}.")


def semi_auto_learned(report: CancelReport) -> bool | None:
    """True when a cancel of this kill was refused for Semi-Auto mode, False when one went
    through, None when the kill never got an answer to a cancel."""
    learned: bool | None = None
    for exchange in report.exchanges:
        if exchange.endpoint not in ("cancelallorder", "cancelorder") or exchange.http_status is None:
            continue
        if exchange.http_status == 200:
            learned = False if learned is None else learned
            continue
        outcome = interpret(
            exchange.endpoint, exchange.http_status, "application/json", exchange.reply.encode()
        )
        if isinstance(outcome, ApiError) and outcome.kind is ErrorKind.SEMI_AUTO:
            return True
    return learned
