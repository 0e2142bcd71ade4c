"""What the window tells a trader before anyone presses: the warning on the button, whether its
count of working orders is fresh, as plain functions of the connection
state, so each sentence is decided in one place and tested without a window."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from ui.connection_state import ConnectionState

NO_KEY: Final = "NO API KEY — open Settings to add one"
READING_KEY: Final = "READING THE API KEY — the keyring may be waiting to be unlocked"
UNREACHABLE: Final = "SERVER UNREACHABLE — a kill will still be tried and reported"
KEY_REJECTED: Final = "KEY REJECTED — the server will refuse a kill; fix the key in Settings"
SEMI_AUTO: Final = "SEMI-AUTO MODE — OpenAlgo will refuse the kill; switch the account to Auto"
STALE_AFTER_S: Final = 10.0
"""A count this old, from a server that answers but gives no book (a rate limit the poll lane
backs off from), is said to be old; from a server that is down or refuses the key, at once."""


def ago(seconds: float) -> str:
    """How long ago, as a trader reads it: 25 s ago, 3 min ago, 2 h ago."""
    if seconds < 120:
        return f"{max(seconds, 0):.0f} s ago"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.0f} h ago"


def stale_count(state: ConnectionState | None, count: int | None, now: float) -> str:
    """'' while ``count`` comes from a fresh read; once reads fail, what it was and how old:
    "3 working orders at the last good read, 25 s ago". ``now`` is ``time.monotonic()``."""
    if state is None or not state.problem or state.last_good is None or count is None:
        return ""
    age = now - state.last_good
    if state.reachable is not False and state.key_ok is not False and age < STALE_AFTER_S:
        return ""
    noun = "order" if count == 1 else "orders"
    return f"{count} working {noun} at the last good read, {ago(age)}"


def warning(state: ConnectionState | None, stale: str) -> str:
    """What a trader must know before pressing, or '' (the window has its key and lanes)."""
    if state is None:
        return ""
    if state.reachable is False:
        return f"SERVER UNREACHABLE — {stale}; a kill will still be tried" if stale else UNREACHABLE
    if state.key_ok is False:
        return f"KEY REJECTED — fix it in Settings; {stale}" if stale else KEY_REJECTED
    if state.semi_auto:
        return SEMI_AUTO
    return f"ORDER BOOK NOT READ — {stale}" if stale else ""
