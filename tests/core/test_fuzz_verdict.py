"""The kill's verdict, fuzzed: whatever the server answers, ``flat`` only ever comes from a final
read of the order book that held a list of orders (``data.orders``) in which every row is
finished, every order the kill knew was working is present, and the book's own counts show
nothing working.

Each example plays a generated cancel-all reply, generated order books (a fresh one for every
read) and generated cancel replies through ``httpx.MockTransport`` into the real kill procedure,
with a clock that skips the kill's pauses. The oracle reads the last book served with its own
code, not the client's.
"""

from __future__ import annotations

import json
import random
from typing import Any

import httpx
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from core.client import OpenAlgoClient, make_http_client
from core.kill import KillSwitch
from core.orders import Order
from core.report import Verdict
from tests.core.test_fuzz import near_valid, tree

KNOWN = ("26113000000001", "26113000000002", "26113000000003")
POOL = (*KNOWN, "26113000000004", "26113000000005", "all", "")
# The oracle's own list of finished statuses, from the OpenAlgo API contract (orderbook's order_status),
# not the kill's: a mistake in core.orders must not be able to agree with itself.
FINISHED = frozenset({"complete", "traded", "filled", "cancelled", "canceled", "rejected", "expired"})


def finished(status: object) -> bool:
    """Clearly terminal, case- and separator-insensitively ("CANCELLED", "Traded")."""
    word = "" if status is None else str(status)
    return "".join(c for c in word.lower() if c not in " _-") in FINISHED


STATUS_WORDS = (
    "open", "trigger pending", "complete", "cancelled", "rejected", "CANCELLED", "canceled", "TRANSIT",
    "PENDING", "Traded", "expired", "", "unknown",
)  # fmt: skip


def book_body(rng: random.Random) -> Any:
    """An order book that is right, nearly right, or wrong in one of the ways servers are."""
    pick = rng.randrange(10)
    if pick == 0:
        return near_valid(rng)
    if pick == 1:
        return tree(rng)
    if pick < 6:  # every order there and finished: flat, unless one more thing is wrong
        chosen = [*KNOWN, *rng.sample(POOL[3:], rng.randrange(3))]
    else:
        chosen = rng.sample(POOL, rng.randrange(len(POOL) + 1))
    rows = []
    finished = pick < 6 and rng.random() < 0.8
    for orderid in chosen:
        row: dict[str, Any] = {"orderid": orderid, "symbol": "SBIN"}
        if finished:
            row["order_status"] = rng.choice(("complete", "cancelled", "rejected", "CANCELED"))
        elif rng.random() < 0.9:
            row["order_status" if rng.random() < 0.8 else "status"] = rng.choice(STATUS_WORDS)
        rows.append(row if rng.random() < 0.97 else rng.choice((orderid, None, [row])))
    stats: Any = {}
    if rng.random() < 0.7:
        zero = finished and rng.random() < 0.8
        stats = (
            {
                key: 0
                for key in ("total_open_orders", "total_trigger_pending_orders", "total_completed_orders")
            }
            if zero
            else {
                key: rng.choice((0, 0, 0, 1, 3, "2", "0", None))
                for key in ("total_open_orders", "total_trigger_pending_orders", "total_completed_orders")
            }
        )
    data: Any = {"orders": rows, "statistics": stats}
    shape = rng.randrange(30)
    if shape == 0:
        data = {"order_list": rows, "statistics": stats}  # the rows under another key
    elif shape == 1:
        data = rows  # the rows where data should be
    elif shape == 2:
        data = rng.choice((None, {}, {"orders": None}, "", []))
    body: dict[str, Any] = {"status": "success" if rng.random() < 0.95 else "error", "data": data}
    if rng.random() < 0.3:
        body["mode"] = "analyze"
    return body


def cancel_all_body(rng: random.Random) -> Any:
    if rng.random() < 0.3:
        return near_valid(rng)
    return {
        "status": "success",
        "message": "Canceled some orders",
        "canceled_orders": rng.sample(POOL, rng.randrange(4)),
        "failed_cancellations": [{"orderid": i, "message": "x"} for i in rng.sample(POOL, rng.randrange(3))],
    }


class Script:
    """Answers each request from a per-example random stream; remembers the last book served."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.last_book: bytes = b""
        self.books = 0

    def answer(self, request: httpx.Request) -> httpx.Response:
        endpoint = request.url.path.rsplit("/", 1)[-1]
        rng = self.rng
        status = 200 if rng.random() < 0.95 else rng.choice((400, 403, 429, 500, 502, 504))
        if endpoint == "orderbook":
            body = json.dumps(book_body(rng)).encode()
            self.last_book = body if status == 200 else b""
            self.books += 1
        elif endpoint == "cancelallorder":
            body = json.dumps(cancel_all_body(rng)).encode()
        else:
            body = json.dumps(rng.choice(({"status": "success", "orderid": "1"}, near_valid(rng)))).encode()
        return httpx.Response(status, content=body, headers={"content-type": "application/json"})


class SkippingClock:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        self.now += 0.0001
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def flat_is_proven_by(book: bytes, known: tuple[str, ...]) -> str:
    """'' when this reply proves nothing is working and every known order is there; else why not."""
    try:
        body = json.loads(book)
    except ValueError:
        return "the last book was not JSON"
    data = body.get("data") if isinstance(body, dict) else None
    rows = data.get("orders") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        return "the last book held no list at data.orders"
    ids = set()
    for row in rows:
        if not isinstance(row, dict):
            return "a row was not an order"
        status = row.get("order_status", row.get("status", ""))
        if not finished(status):
            return f"row {row} is not finished"
        ids.add(str(row.get("orderid")))
    if not set(known) <= ids:
        return f"known orders {set(known) - ids} are missing"
    stats = data.get("statistics") if isinstance(data, dict) else None
    if isinstance(stats, dict):
        for key in ("total_open_orders", "total_trigger_pending_orders"):
            try:
                if float(stats.get(key) or 0) > 0:
                    return f"the book's {key} says orders are working"
            except (TypeError, ValueError):
                pass
    return ""


@settings(
    max_examples=2_000,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**64 - 1), knows=st.booleans())
def test_flat_only_from_a_final_book_that_proves_it(seed: int, knows: bool) -> None:
    known = KNOWN if knows else ()
    script = Script(seed)
    clock = SkippingClock()
    with make_http_client(transport=httpx.MockTransport(script.answer)) as http:
        client = OpenAlgoClient("http://127.0.0.1:5000", "fuzz-key-00000000", http)
        switch = KillSwitch(client, deadline_s=30.0, clock=clock.clock, sleep=clock.sleep)
        report = switch.fire("fuzz", known=[Order(i, status="open") for i in known])
    if report.verdict is Verdict.FLAT:
        note(f"last book: {script.last_book!r}")
        assert flat_is_proven_by(script.last_book, known) == ""
    assert report.verdict is not Verdict.UNREACHABLE  # every reply here came from the server
