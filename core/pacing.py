"""Pacing requests within OpenAlgo's rate limits, as the server counts them.

OpenAlgo limits each endpoint per client IP in a moving one-second window; a 429 carries no
``Retry-After``. A kill's sweep, the flatten step and the guard pace themselves here so they run
close to the limit without tripping it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

ORDER_RATE_LIMIT = 10  # OpenAlgo's ORDER_RATE_LIMIT default: cancelorder and placeorder, per second


class RateLimiter:
    """At most ``limit`` requests in any moving window of ``window`` seconds, as the server counts.

    The server stamps a request when it arrives, which is some time after we send it and before
    its reply reaches us. So a slot is stamped when it is taken and stamped again when the reply
    comes back (:meth:`Slot.settle`): the window is counted from a moment no earlier than the
    arrival, and the sweep runs close to the limit without tripping it, however the network (or
    a loaded machine) delays an individual request.
    """

    def __init__(
        self,
        limit: int,
        window: float = 1.0,
        margin: float = 0.02,
        *,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = max(1, limit)
        self.window = window + margin
        self._clock = clock
        self._sleep = sleep
        self._slots: list[Slot] = []
        self._lock = threading.Lock()

    def acquire(self, deadline: float) -> Slot | None:
        """Wait for a slot; None when the deadline comes first."""
        while True:
            with self._lock:
                now = self._clock()
                self._slots = [s for s in self._slots if s.stamp > now - self.window]
                if len(self._slots) < self.limit:
                    slot = Slot(self._clock, now)
                    self._slots.append(slot)
                    return slot
                wait = min(s.stamp for s in self._slots) + self.window - now
            if now + wait > deadline:
                return None
            self._sleep(max(wait, 0.001))

    def penalise(self) -> None:
        """The server said 429: treat the window as full from now."""
        with self._lock:
            now = self._clock()
            self._slots = [Slot(self._clock, now) for _ in range(self.limit)]


class Slot:
    """One request's place in the rate window."""

    __slots__ = ("_clock", "stamp")

    def __init__(self, clock: Callable[[], float], stamp: float) -> None:
        self._clock = clock
        self.stamp = stamp

    def settle(self) -> None:
        """The reply is back, so the request arrived no later than now."""
        self.stamp = self._clock()
