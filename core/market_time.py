"""Clock times as the market reads them: India Standard Time, labelled.

OpenAlgo's order timestamps are the broker's IST strings, and the market opens and closes on IST.
So every time the app shows next to them (when a kill ran, when History recorded it) is IST
too, with "IST" written after it, whatever time zone the computer is set to: one clock on the
screen, never two unlabelled ones. IST is UTC+05:30 all year (no daylight saving), so no
time-zone database is needed.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Final

IST: Final = timezone(timedelta(hours=5, minutes=30), "IST")


def ist(timestamp: float) -> datetime:
    """``timestamp`` (seconds since the epoch) as an IST datetime."""
    return datetime.fromtimestamp(timestamp, UTC).astimezone(IST)


def ist_clock(timestamp: float) -> str:
    """The IST clock time, labelled: ``09:15:02 IST``."""
    return ist(timestamp).strftime("%H:%M:%S IST")


def ist_date_time(timestamp: float) -> str:
    """The IST date and time, labelled: ``2026-11-30 09:15:02 IST``."""
    return ist(timestamp).strftime("%Y-%m-%d %H:%M:%S IST")


def ist_when(timestamp: float, now: float | None = None) -> str:
    """The clock time alone for a moment of today's (IST) trading day, else date and time."""
    today = ist(time.time() if now is None else now).date()
    when = ist(timestamp)
    return ist_clock(timestamp) if when.date() == today else ist_date_time(timestamp)
