"""Response parsing, fuzzed: whatever comes back, the client answers with a typed result or an
ApiError whose sentence is one non-empty line without the key -- it never raises.

Each endpoint gets 10,000 generated replies through the whole client path (``httpx`` response,
size cap, ``interpret``, typed parsing), played by ``httpx.MockTransport``: the sockets add
nothing here (test_catalogue covers them) and would make 50,000 examples too slow.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from core.client import OpenAlgoClient, make_http_client
from core.replies import AnalyzerStatus, ApiError, CancelAllResult, CancelResult, OrderBook, Pong

KEY = "fuzz-key-0b9d8e7f6a5c4b3d2e1f0a9b8c7d6e5f"

ENDPOINTS: dict[str, tuple[Callable[[OpenAlgoClient], object], tuple[type, ...]]] = {
    "cancelallorder": (lambda c: c.cancel_all(), (CancelAllResult,)),
    "cancelorder": (lambda c: c.cancel_order("26010300000001"), (CancelResult,)),
    "orderbook": (lambda c: c.orderbook(), (OrderBook,)),
    "ping": (lambda c: c.ping(), (Pong,)),
    "analyzer": (lambda c: c.analyzer(), (AnalyzerStatus,)),
}

# -- what a server might send ----------------------------------------------------------------------
#
# Hypothesis draws a seed (plus the status and content type) and a plain ``random.Random`` grows
# the body from it: growing JSON trees with Hypothesis's own strategies costs ~10x more per
# example, which would put 10,000 bodies per endpoint far past a minute. The failing body is
# printed with ``note`` since shrinking a seed says nothing.

WORDS = (
    "success",
    "error",
    "Success",
    "",
    "analyze",
    "live",
    "open",
    "trigger pending",
    "TRANSIT",
    "complete",
    "cancelled",
    "Invalid openalgo apikey",
    "Cancel all orders operation is not allowed in Semi-Auto mode.",
    "Access Denied: Your IP has been banned",
    "Order is in transit",
    "Cannot cancel order in cancelled status",
    "The browser (or proxy) sent a request that this server could not understand.",
    "Broker-specific module not found",
    "line one\nline two",
    "tab\tand\r\nbreaks",
    "{'strategy': ['Missing data for required field.']}",
    "<html><title>x</title></html>",
    KEY,
    f"echo {KEY} back",
)
KEY_WORDS = (
    "status",
    "message",
    "data",
    "mode",
    "orders",
    "statistics",
    "orderid",
    "order_id",
    "orderId",
    "reason",
    "error",
    "order_status",
    "quantity",
    "price",
    "canceled_orders",
    "failed_cancellations",
    "broker",
    "analyze_mode",
)
ROW_KEYS = (
    *("orderid", "order_id", "symbol", "exchange", "action", "quantity", "price", "trigger_price"),
    *("pricetype", "product", "order_status", "status", "timestamp", "filled_quantity"),
)
CHARS = "aZ09 _-.,:;'\"{}[]<>/\\\n\t\u00e9\u20b9\u0939\U0001f600\x00"
FLOATS = (0.0, -0.0, 0.5, 812.05, 1e308, -1e-308, float("nan"), float("inf"), float("-inf"))
ODD = (
    b"",
    b"   ",
    b"null",
    b"<!DOCTYPE html><html><head><title>ngrok</title></head></html>",
    b"<html><title>\n502\n Bad Gateway</title>",
    b"Access Denied: Your IP has been banned",
    b'{"status": "succ',
    b"[" * 5000,  # deeper than the JSON parser will go
    b"\xff\xfe\x00{",
    b'{"status": "success"}' * 3,
)


def scalar(rng: random.Random) -> Any:
    pick = rng.randrange(8)
    if pick == 0:
        return None
    if pick == 1:
        return rng.random() < 0.5
    if pick == 2:
        return rng.choice((0, 1, -1, 7, 10**6, 2**70, -(2**70), rng.randrange(-(10**9), 10**9)))
    if pick == 3:
        return rng.choice(FLOATS)
    if pick == 4:
        return "".join(rng.choice(CHARS) for _ in range(rng.randrange(12)))
    if pick == 5:
        return str(rng.randrange(10**14))  # an order id
    return rng.choice(WORDS)


def tree(rng: random.Random, depth: int = 3) -> Any:
    if depth == 0 or rng.random() < 0.35:
        return scalar(rng)
    if rng.random() < 0.5:
        return [tree(rng, depth - 1) for _ in range(rng.randrange(5))]
    return {
        rng.choice(KEY_WORDS) if rng.random() < 0.7 else str(scalar(rng)): tree(rng, depth - 1)
        for _ in range(rng.randrange(5))
    }


def order_row(rng: random.Random) -> dict[str, Any]:
    return {
        k: (scalar(rng) if rng.random() < 0.8 else tree(rng, 2))
        for k in rng.sample(ROW_KEYS, rng.randrange(9))
    }


def near_valid(rng: random.Random) -> dict[str, Any]:
    def maybe() -> bool:
        return rng.random() < 0.5

    body: dict[str, Any] = {}
    if rng.random() < 0.9:
        body["status"] = rng.choice(("success", "success", "error", "Success", "", None, 1))
    if maybe():
        body["message"] = scalar(rng) if maybe() else tree(rng)
    if maybe():
        body["mode"] = rng.choice(("analyze", "live", "", None, 3))
    if maybe():
        shape = rng.randrange(3)
        if shape == 0:
            data: dict[str, Any] = {}
            if maybe():
                data["orders"] = [order_row(rng) for _ in range(rng.randrange(5))] if maybe() else tree(rng)
            for key in ("statistics", "mode", "analyze_mode", "broker", "message"):
                if maybe():
                    data[key] = scalar(rng) if maybe() else tree(rng, 2)
            body["data"] = data
        else:
            body["data"] = [order_row(rng) for _ in range(rng.randrange(4))] if shape == 1 else tree(rng)
    for key in ("canceled_orders", "failed_cancellations"):
        if maybe():
            body[key] = [tree(rng, 2) for _ in range(rng.randrange(5))] if maybe() else tree(rng)
    if maybe():
        body["orderid"] = scalar(rng)
    return body


def odd_bytes(rng: random.Random) -> bytes:
    pick = rng.randrange(5)
    if pick == 0:
        return rng.randbytes(rng.randrange(121))
    if pick == 1:
        return "".join(rng.choice(CHARS) for _ in range(rng.randrange(60))).encode("utf-8", "surrogatepass")
    if pick == 2:
        whole = _json_bytes(near_valid(rng))
        return whole[: rng.randrange(len(whole) + 1)]  # a body cut short
    return rng.choice(ODD)


def _json_bytes(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


# Three families of bodies, 10,000 in all; each body is played to every endpoint.
FAMILIES: dict[str, tuple[Callable[[random.Random], bytes], int]] = {
    "near-valid": (lambda rng: _json_bytes(near_valid(rng)), 4_000),
    "json-trees": (lambda rng: _json_bytes(tree(rng)), 3_000),
    "odd-bytes": (odd_bytes, 3_000),
}
STATUSES = st.one_of(st.just(200), st.integers(min_value=200, max_value=599))
CONTENT_TYPES = st.sampled_from(
    ["application/json", "application/json; charset=utf-8", "text/html", "text/plain", "", "x/y"]
)


class Replay:
    """A MockTransport that answers every request with the reply the current example chose."""

    def __init__(self) -> None:
        self.status = 200
        self.body = b""
        self.content_type = ""
        self.http = make_http_client(transport=httpx.MockTransport(self.answer))
        self.client = OpenAlgoClient("http://127.0.0.1:5000", KEY, self.http)

    def answer(self, request: httpx.Request) -> httpx.Response:
        headers = {"content-type": self.content_type} if self.content_type else {}
        if 300 <= self.status < 400:
            headers["location"] = f"http://elsewhere.invalid/?k={KEY}"
        return httpx.Response(self.status, content=self.body, headers=headers)


@pytest.fixture(scope="module")
def replay() -> Any:
    replay = Replay()
    yield replay
    replay.http.close()


def check(replay: Replay, status: int, content_type: str, body: bytes) -> None:
    replay.status, replay.content_type, replay.body = status, content_type, body
    for endpoint, (call, result_types) in ENDPOINTS.items():
        result = call(replay.client)  # must not raise
        if isinstance(result, ApiError):
            sentence = result.sentence
            assert sentence.strip(), endpoint
            assert "\n" not in sentence and "\r" not in sentence, endpoint
            assert KEY not in sentence and KEY not in result.server_message, endpoint
        else:
            assert isinstance(result, result_types), endpoint
            if isinstance(result, OrderBook):
                assert held_a_list_of_orders(replay.body, len(result.orders)), "an order book from no list"


def held_a_list_of_orders(body: bytes, count: int) -> bool:
    """The oracle for a book: the reply held ``count`` rows at ``data.orders`` (an empty book is
    an empty list there, never a reply without one)."""
    try:
        data = json.loads(body).get("data")
    except (ValueError, AttributeError, RecursionError):
        return False
    rows = data.get("orders") if isinstance(data, dict) else None
    return isinstance(rows, list) and len(rows) == count


def fuzz(family: str) -> Callable[[Replay], None]:
    grow, examples = FAMILIES[family]

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,  # the same bodies on every run: CI never flakes on a new draw
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(status=STATUSES, content_type=CONTENT_TYPES, seed=st.integers(0, 2**64 - 1))
    def run(replay: Replay, status: int, content_type: str, seed: int) -> None:
        body = grow(random.Random(seed))
        note(f"body={body!r}")
        check(replay, status, content_type, body)

    return run


def test_near_valid_replies_give_typed_results_or_one_line_sentences_without_the_key(replay: Replay) -> None:
    fuzz("near-valid")(replay)


def test_arbitrary_json_gives_typed_results_or_one_line_sentences_without_the_key(replay: Replay) -> None:
    fuzz("json-trees")(replay)


def test_bytes_that_are_not_json_give_one_line_sentences_without_the_key(replay: Replay) -> None:
    fuzz("odd-bytes")(replay)
