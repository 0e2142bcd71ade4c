"""Every kill, durably (SQLite): ``store`` writes and reads it, ``model`` is what it holds,
``export`` writes the incident report."""

from core.record.model import KillDetails, KillState, KillSummary, OrderOutcome, Outcome
from core.record.store import RECORD_FILE_NAME, SCHEMA_VERSION, KillRecord, default_path

__all__ = [
    "RECORD_FILE_NAME",
    "SCHEMA_VERSION",
    "KillDetails",
    "KillRecord",
    "KillState",
    "KillSummary",
    "OrderOutcome",
    "Outcome",
    "default_path",
]
