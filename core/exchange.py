"""One request and its reply, key removed: what the record keeps of every call a kill makes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and its reply, key removed, for the record of a kill."""

    endpoint: str
    request: Mapping[str, Any]
    http_status: int | None
    reply: str
    started: float  # time.time()
    elapsed_ms: float
    error: str = ""


ExchangeObserver = Callable[[Exchange], None]
