"""The scope of a kill: what one press does, beyond cancelling every working order.

* cancel orders -- always, and first;
* close positions (``close_positions``) -- only once the order book is verified flat;
* hold flat for ``guard_s`` seconds -- cancel whatever a runaway strategy places next;
* halt new live orders (``halt``) -- switch the server to analyze mode, live servers only, once
  everything above is verified.

Each step starts only after the one before it is verified.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Final

# The guard's bounds, here rather than in ``core.guard``: a command checks a guard time, and
# waits for a guard to stop, without loading the guard unless it runs one.
GUARD_REQUEST_S: Final = 2.0  # the longest one request of the guard's rounds may take
GUARD_FINAL_READ_S: Final = 3.0  # each of the guard's last reads of the books
GUARD_STOP_BOUND_S: Final = GUARD_REQUEST_S + 2 * GUARD_FINAL_READ_S  # from its stop() to its report, at most
MIN_GUARD_S: Final = 1.0
MAX_GUARD_S: Final = 3600.0


def guard_problem(seconds: float) -> str | None:
    """Why ``seconds`` is not a usable guard time (0 means no guard), or None."""
    if not math.isfinite(seconds) or seconds < 0 or (0 < seconds < MIN_GUARD_S) or seconds > MAX_GUARD_S:
        return f"The guard time must be 0 (off) or between {MIN_GUARD_S:g} and {MAX_GUARD_S:g} seconds."
    return None


@dataclass(frozen=True, slots=True)
class KillScope:
    close_positions: bool = False
    guard_s: float = 0.0
    halt: bool = False

    def steps(self) -> list[str]:
        """The steps, as a trader reads them: ``["cancel orders", "close positions", ...]``."""
        steps = ["cancel orders"]
        if self.close_positions:
            steps.append("close positions")
        if self.guard_s:
            steps.append(f"hold flat {duration(self.guard_s)}")
        if self.halt:
            steps.append("halt new live orders")
        return steps

    def blast_radius(self, orders: int | None, positions: int | None, servers: int = 1) -> str:
        """What a press does right now: ``Cancel 12 orders · close 3 positions · hold 5 min``."""
        parts = [f"Cancel {_count(orders, 'order')}"]
        if self.close_positions:
            parts.append(f"close {_count(positions, 'position')}")
        if self.guard_s:
            parts.append(f"hold {duration(self.guard_s)}")
        if self.halt:
            parts.append("halt live")
        line = " · ".join(parts)
        return f"{line} on {servers} servers" if servers > 1 else line

    def to_json(self) -> dict[str, Any]:
        return {"close_positions": self.close_positions, "guard_s": self.guard_s, "halt": self.halt}

    @classmethod
    def from_json(cls, data: object) -> KillScope:
        """A scope written by :meth:`to_json`; what is missing or unreadable is left out (an
        orders-only kill), never assumed done."""
        if not isinstance(data, dict):
            return cls()
        guard = data.get("guard_s")
        return cls(
            close_positions=data.get("close_positions") is True,
            guard_s=float(guard) if isinstance(guard, int | float) and not isinstance(guard, bool) else 0.0,
            halt=data.get("halt") is True,
        )

    def kill_covers(self, asked: KillScope) -> bool:
        """Whether a kill of this scope did all that a kill of ``asked`` does itself: cancel the
        orders and, when asked, close the positions. Holding flat and halting are each press's own
        steps, run after its kill's verdict, so they do not count."""
        return self.close_positions or not asked.close_positions


def duration(seconds: float) -> str:
    """``45 s``, ``5 min``, ``1 h 30 min``."""
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, rest = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min" + (f" {rest} s" if rest else "")
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h" + (f" {minutes} min" if minutes else "")


def _count(n: int | None, noun: str) -> str:
    if n is None:
        return f"all {noun}s"
    return f"{n} {noun}" + ("" if n == 1 else "s")
