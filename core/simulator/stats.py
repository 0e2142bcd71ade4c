"""What the simulator saw, counted thread-safely so that tests and benchmarks can check a client's
manners: its request rate, its concurrency, its connection reuse."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque

ARRIVALS_KEPT = 10_000
"""Arrival timestamps kept per endpoint (the oldest are dropped)."""


class SimulatorStats:
    """Counters of one simulator; every property returns a copy taken under the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._responses: Counter[tuple[str, int]] = Counter()
        self._arrivals: dict[str, deque[float]] = {}
        self._connections = 0
        self._cancelall_in_flight = 0
        self._max_concurrent_cancelall = 0
        self._cancelall_calls = 0
        self._cancelorder_calls = 0
        self._cancel_asked: dict[str, float] = {}  # orderid -> first cancelorder's arrival

    # ---- reading -------------------------------------------------------------------------------

    @property
    def requests(self) -> dict[str, int]:
        """Requests received per endpoint name (``"cancelallorder"``), whatever their outcome."""
        with self._lock:
            return dict(self._requests)

    @property
    def responses(self) -> dict[tuple[str, int], int]:
        """Replies sent per (endpoint, HTTP status). Dropped connections send none."""
        with self._lock:
            return dict(self._responses)

    @property
    def arrivals(self) -> dict[str, list[float]]:
        """``time.perf_counter()`` of each request's arrival (body read), per endpoint."""
        with self._lock:
            return {endpoint: list(times) for endpoint, times in self._arrivals.items()}

    @property
    def connections(self) -> int:
        """TCP connections accepted: a client that keeps its connection alive opens one."""
        with self._lock:
            return self._connections

    @property
    def cancelall_in_flight(self) -> int:
        """``cancelallorder`` requests received and not yet answered."""
        with self._lock:
            return self._cancelall_in_flight

    @property
    def max_concurrent_cancelall(self) -> int:
        """The most ``cancelallorder`` requests ever in flight at once; a good client keeps it at 1."""
        with self._lock:
            return self._max_concurrent_cancelall

    @property
    def cancelall_calls(self) -> int:
        """``cancelallorder`` requests that got past validation, the key, the rate limit and the
        Semi-Auto check, i.e. that actually swept the book."""
        with self._lock:
            return self._cancelall_calls

    @property
    def cancelorder_calls(self) -> int:
        """``cancelorder`` requests that actually reached the broker (same gates as above)."""
        with self._lock:
            return self._cancelorder_calls

    def arrivals_for(self, endpoint: str) -> list[float]:
        with self._lock:
            return list(self._arrivals.get(endpoint, ()))

    def max_in_window(self, endpoint: str, window_s: float = 1.0) -> int:
        """The most requests to ``endpoint`` that arrived within any ``window_s`` seconds: compare it
        with the rate limit to prove a sweep never exceeded it."""
        times = sorted(self.arrivals_for(endpoint))
        most = 0
        start = 0
        for end, arrived in enumerate(times):
            while arrived - times[start] >= window_s:
                start += 1
            most = max(most, end - start + 1)
        return most

    def reset(self) -> None:
        """Forget everything counted so far (requests in flight stay counted)."""
        with self._lock:
            self._requests.clear()
            self._responses.clear()
            self._arrivals.clear()
            self._connections = 0
            self._max_concurrent_cancelall = self._cancelall_in_flight
            self._cancelall_calls = 0
            self._cancelorder_calls = 0
            self._cancel_asked.clear()

    # ---- recording (the server's side) ---------------------------------------------------------

    def record_connection(self) -> None:
        with self._lock:
            self._connections += 1

    def record_arrival(self, endpoint: str, at: float) -> None:
        with self._lock:
            self._requests[endpoint] += 1
            times = self._arrivals.get(endpoint)
            if times is None:
                times = self._arrivals[endpoint] = deque(maxlen=ARRIVALS_KEPT)
            times.append(at)
            if endpoint == "cancelallorder":
                self._cancelall_in_flight += 1
                self._max_concurrent_cancelall = max(
                    self._max_concurrent_cancelall, self._cancelall_in_flight
                )

    def record_reply(self, endpoint: str, status: int | None) -> None:
        """A request is over: answered with ``status``, or dropped (``None``)."""
        with self._lock:
            if status is not None:
                self._responses[(endpoint, status)] += 1
            if endpoint == "cancelallorder":
                self._cancelall_in_flight -= 1

    def record_cancelall_call(self) -> None:
        with self._lock:
            self._cancelall_calls += 1

    def record_cancelorder_call(self, orderid: str = "", at: float | None = None) -> None:
        with self._lock:
            self._cancelorder_calls += 1
            if orderid and orderid not in self._cancel_asked:
                self._cancel_asked[orderid] = time.perf_counter() if at is None else at

    def cancel_asked_at(self, orderid: str) -> float | None:
        """``time.perf_counter()`` when the first ``cancelorder`` for ``orderid`` arrived."""
        with self._lock:
            return self._cancel_asked.get(orderid)
