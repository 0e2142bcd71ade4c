"""A strategy gone wrong: a TradingView alert firing in a loop, a script stuck in a retry, that keeps
sending new orders to OpenAlgo until someone halts it.

Its orders take the way a strategy's orders take inside OpenAlgo (a webhook calls the order service
with the account's key): past the schema, the key and Semi-Auto, into whichever book the mode says,
but not through the REST front, so they neither use up a client's rate-limit window nor count in
the simulator's request statistics.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from core.simulator.market import working_order_idea
from core.simulator.replies import Reply

RUNAWAY_STRATEGY = "runaway"
"""The strategy label of the runaway's orders, so that a test can tell them from the rest."""

CATCH_UP_S = 1.0
"""After a stall longer than this the runaway starts its schedule afresh instead of placing the
missed orders in one burst."""


class RunawayStrategy:
    """Places ``rate`` (above 0) new LIMIT orders a second -- a fraction is fine: 0.5 is one every two
    seconds -- through ``submit`` on a daemon thread, until :meth:`stop`."""

    def __init__(
        self,
        submit: Callable[[dict[str, Any]], Reply],
        rng: random.Random,
        rate: float,
        apikey: Callable[[], str],
        *,
        strategy: str = RUNAWAY_STRATEGY,
        name: str = "openalgo-sim-runaway",
    ) -> None:
        self.rate = rate
        self.strategy = strategy
        self._submit = submit
        self._rng = rng
        self._apikey = apikey
        self._halt = threading.Event()
        self._lock = threading.Lock()
        self._sent = 0
        self._placed = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def sent(self) -> int:
        """Orders it has sent, whatever became of them."""
        with self._lock:
            return self._sent

    @property
    def placed(self) -> int:
        """Orders the server accepted (an order id came back), in either book."""
        with self._lock:
            return self._placed

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 1.0) -> None:
        self._halt.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        interval = 1.0 / self.rate
        due = time.monotonic()
        while True:
            due += interval
            now = time.monotonic()
            if due < now - CATCH_UP_S:
                due = now
            if self._halt.wait(max(0.0, due - now)):
                return
            reply = self._submit(self._order())
            with self._lock:
                self._sent += 1
                if reply.status == 200 and b'"orderid"' in reply.body:
                    self._placed += 1

    def _order(self) -> dict[str, Any]:
        idea = working_order_idea(self._rng, pricetype="LIMIT")
        return {
            "apikey": self._apikey(),
            "strategy": self.strategy,
            "symbol": idea.symbol,
            "exchange": "NSE",
            "action": idea.action,
            "quantity": idea.quantity,
            "pricetype": "LIMIT",
            "product": idea.product,
            "price": idea.price,
        }
