"""OpenAlgo's rate limiting: per client IP, per endpoint, a moving one-second window."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

WINDOW_S = 1.0


class MovingWindowLimiter:
    """Counts accepted hits per key over the last second; refused hits do not count (as in the
    ``limits`` library's moving window that Flask-Limiter uses)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._hits: dict[tuple[str, str], deque[float]] = {}

    def allow(self, client_ip: str, endpoint: str, limit: int, now: float | None = None) -> bool:
        """Count a hit at ``now`` (default: the clock) if fewer than ``limit`` hits from this client to
        this endpoint fall within the second before it."""
        if now is None:
            now = self._clock()
        with self._lock:
            hits = self._hits.setdefault((client_ip, endpoint), deque())
            while hits and now - hits[0] >= WINDOW_S:
                hits.popleft()
            if len(hits) >= limit:
                return False
            hits.append(now)
            return True

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()
