"""The simulator answers every recorded exchange as the real OpenAlgo server did.

The recording (tests/data/recorded-responses.json) was made against OpenAlgo 2.0.2.1 in analyze mode,
one request after another. The replay sends the same requests, in the same order, to one simulator and
compares each answer with the recorded one: the status code, the content type, and the body -- every
key, every value -- except where the real server's value cannot repeat:

- order ids are random: each recorded id is mapped to the id the simulator gave the same order (learnt
  from the ``placeorder`` answers), and the expected body is translated before comparing;
- timestamps (``timestamp``, ``last_reset``) and the analyzer's ``total_logs`` counter are compared
  by type and format only.

The state the recording relied on but did not record is set up explicitly (``SETUP`` below):

- an SBIN order that the first ``cancelallorder`` cleaned away, and a TCS SL order placed by hand
  between the ``placeorder`` calls and the ``orderbook`` call;
- the recording was made at 20:05 IST with the market closed. The placeorder entries that depend on
  market time and prices (MIS after the 15:15 square-off; MARKET with no last traded price) map to
  the simulator's ``market_closed`` quirk, which gives the same answers; the unknown-symbol and
  NRML-on-NSE entries map to the simulator's small symbol master and segment rules. No entry is out
  of scope;
- the recording was made slowly, so the rate-limit windows are cleared before each entry, except for
  the two 429 entries, which are preceded by a burst that uses up the limit as the recording did.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.simulator import Quirks, Simulator

NO_TLS = False
"""Plain HTTP on loopback: skip loading the CA bundle, which costs ~100 ms per client."""

RECORDINGS: list[dict[str, Any]] = json.loads(
    (Path(__file__).parent.parent / "data" / "recorded-responses.json").read_text(encoding="utf-8")
)
LABELS = [entry["label"] for entry in RECORDINGS]
PLACEHOLDER_KEY = "<APIKEY>"

PRE_CLEAN_ORDER = "26112544061494"
"""The open SBIN order the recording's first cancel-all found."""
HAND_PLACED_SL_ORDER = "26112581322279"
"""The TCS SL order that appears in the recorded order book without a recorded placeorder."""

NO_CONTENT_TYPE = {"cancelallorder no content-type"}
VOLATILE = {"timestamp", "last_reset", "total_logs"}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")


@dataclass
class Exchange:
    status: int
    content_type: str
    body: Any


def _place_hand_sl_order(sim: Simulator, client: httpx.Client) -> None:
    sim.place_order(
        symbol="TCS",
        quantity=1,
        pricetype="SL",
        price=4000.5,
        trigger_price=4000.0,
        product="CNC",
        strategy="ks-test",
        orderid=HAND_PLACED_SL_ORDER,
    )


def _use_up_the_orderbook_limit(sim: Simulator, client: httpx.Client) -> None:
    for _ in range(sim.quirks.api_rate_limit):
        client.post("/api/v1/orderbook", json={"apikey": sim.apikey})


def _use_up_the_placeorder_limit(sim: Simulator, client: httpx.Client) -> None:
    order = {"apikey": sim.apikey, "strategy": "ks-test", "symbol": "SBIN", "exchange": "NSE"}
    order |= {"action": "BUY", "quantity": 1, "pricetype": "LIMIT", "price": 500, "product": "CNC"}
    for _ in range(sim.quirks.order_rate_limit):
        client.post("/api/v1/placeorder", json=order)


SETUP: dict[str, Callable[[Simulator, httpx.Client], None]] = {
    "orderbook": _place_hand_sl_order,
    "orderbook over the rate limit (50 per second)": _use_up_the_orderbook_limit,
    "placeorder over the rate limit (10 per second)": _use_up_the_placeorder_limit,
}


def _with_key(value: Any, apikey: str) -> Any:
    if isinstance(value, str):
        return value.replace(PLACEHOLDER_KEY, apikey)
    if isinstance(value, dict):
        return {key: _with_key(item, apikey) for key, item in value.items()}
    return value


def _translate(value: Any, ids: dict[str, str]) -> Any:
    """A recorded body with the recorded order ids replaced by the simulator's."""
    if isinstance(value, str):
        return ids.get(value, value)
    if isinstance(value, dict):
        return {key: _translate(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_translate(item, ids) for item in value]
    return value


def _send(client: httpx.Client, entry: dict[str, Any], apikey: str, ids: dict[str, str]) -> httpx.Response:
    request = _with_key(entry["request"], apikey)
    headers = {} if entry["label"] in NO_CONTENT_TYPE else {"Content-Type": "application/json"}
    if isinstance(request, dict):
        if "orderid" in request:
            request["orderid"] = ids.get(request["orderid"], request["orderid"])
        content = json.dumps(request).encode()
    else:
        content = request.encode()
    return client.post(entry["path"], content=content, headers=headers)


@pytest.fixture(scope="module")
def replay() -> Iterator[tuple[dict[str, Exchange], dict[str, str]]]:
    """Every recorded request, replayed in order against one simulator: the answers by label, and the
    recorded-id -> simulator-id map."""
    exchanges: dict[str, Exchange] = {}
    ids = {PRE_CLEAN_ORDER: PRE_CLEAN_ORDER, HAND_PLACED_SL_ORDER: HAND_PLACED_SL_ORDER}
    with (
        Simulator(seed=2026, quirks=Quirks(market_closed=True)) as sim,
        httpx.Client(base_url=sim.url, timeout=5.0, verify=NO_TLS) as client,
    ):
        sim.place_order(symbol="SBIN", quantity=1, price=500.0, strategy="ks-test", orderid=PRE_CLEAN_ORDER)
        for entry in RECORDINGS:
            sim.reset_rate_limits()
            setup = SETUP.get(entry["label"])
            if setup is not None:
                setup(sim, client)
            response = _send(client, entry, sim.apikey, ids)
            body = response.json()
            recorded = entry["response"]
            if entry["path"].endswith("/placeorder") and "orderid" in recorded and "orderid" in body:
                ids[recorded["orderid"]] = body["orderid"]
            exchanges[entry["label"]] = Exchange(
                response.status_code, response.headers.get("Content-Type", ""), body
            )
        yield exchanges, ids


def _assert_same(actual: Any, expected: Any, where: str) -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: {actual!r} is not an object"
        assert sorted(actual) == sorted(expected), f"{where}: keys differ"
        for key, value in expected.items():
            if key in VOLATILE:
                assert type(actual[key]) is type(value), f"{where}.{key}: type differs"
                if key != "total_logs":
                    assert TIMESTAMP.match(actual[key]), f"{where}.{key}: {actual[key]!r} is no timestamp"
            else:
                _assert_same(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: {actual!r} is not a list"
        assert len(actual) == len(expected), f"{where}: length differs"
        if expected and all(isinstance(item, dict) and "orderid" in item for item in expected):
            # Rows of a book: the recording orders them by time, which a fast replay cannot repeat.
            actual = sorted(actual, key=lambda row: str(row.get("orderid")))
            expected = sorted(expected, key=lambda row: str(row["orderid"]))
        for index, (mine, theirs) in enumerate(zip(actual, expected, strict=True)):
            _assert_same(mine, theirs, f"{where}[{index}]")
    else:
        assert type(actual) is type(expected), f"{where}: {actual!r} is not a {type(expected).__name__}"
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def test_every_recorded_exchange_has_its_own_label() -> None:
    assert len(set(LABELS)) == len(LABELS)


@pytest.mark.parametrize("label", LABELS)
def test_the_simulator_answers_as_the_recorded_server_did(
    label: str, replay: tuple[dict[str, Exchange], dict[str, str]]
) -> None:
    exchanges, ids = replay
    entry = RECORDINGS[LABELS.index(label)]
    exchange = exchanges[label]
    assert exchange.status == entry["http_status"]
    assert exchange.content_type.split(";")[0] == entry["content_type"]
    _assert_same(exchange.body, _translate(entry["response"], ids), "body")
