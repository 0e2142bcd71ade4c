"""The client turns every reply in the contract's error table into a typed result or error.

These tests use ``httpx.MockTransport`` to play the server's exact bytes: the simulator is
tested against the same shapes in test_simulator; here the point is the client's reading.
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from collections.abc import Callable
from typing import Any

import httpcore
import httpx
import pytest

from core import call_deadline
from core.addresses import normalise_host
from core.client import OpenAlgoClient, make_http_client
from core.replies import ApiError, CancelAllResult, ErrorKind, OrderBook, parse_failure

KEY = "k" * 64


def client_for(handler: Callable[[httpx.Request], httpx.Response], **kw: Any) -> OpenAlgoClient:
    http = make_http_client(transport=httpx.MockTransport(handler))
    return OpenAlgoClient("http://127.0.0.1:5000", KEY, http, **kw)


def reply(
    status: int, body: Any, content_type: str = "application/json"
) -> Callable[[httpx.Request], httpx.Response]:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return lambda request: httpx.Response(status, content=raw, headers={"content-type": content_type})


def test_cancel_all_sends_exactly_apikey_and_strategy_as_json() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "success", "message": "No open orders to cancel"})

    client_for(handler, strategy="Desk1").cancel_all()
    assert seen[0].url.path == "/api/v1/cancelallorder"
    assert seen[0].headers["content-type"] == "application/json"
    assert json.loads(seen[0].content) == {"apikey": KEY, "strategy": "Desk1"}


def test_orderbook_sends_only_the_apikey() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        return httpx.Response(200, json={"status": "success", "data": {"orders": []}})

    client_for(handler).orderbook()
    assert seen == [{"apikey": KEY}]


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (["2611250001"], [("2611250001", "no reason given by the broker")]),
        ([{"orderid": "1", "message": "in transit"}], [("1", "in transit")]),
        ([{"orderid": "1", "reason": "RMS rejected"}], [("1", "RMS rejected")]),
        ([{"order_id": 7, "message": "x", "extra": 1}], [("7", "x")]),
        ([{"orderId": "9", "error": "already executed"}], [("9", "already executed")]),
        ([{"weird": {"nested": ["a", "b"]}}], [("", "weird: nested: a; b")]),
        ([["nested", "list"]], [("", "nested; list")]),
    ],
)
def test_failure_items_in_every_broker_shape_keep_id_and_reason(
    items: list[Any], expected: list[Any]
) -> None:
    parsed = [parse_failure(i) for i in items]
    assert [(f.orderid, f.reason) for f in parsed] == expected


def test_analyze_mode_is_read_from_the_reply_and_live_has_no_mode_key() -> None:
    body = {
        "status": "success",
        "message": "Canceled 1 orders. Failed to cancel 0 orders.",
        "canceled_orders": ["1"],
        "failed_cancellations": [],
    }
    live = client_for(reply(200, body)).cancel_all()
    analyze = client_for(reply(200, {**body, "mode": "analyze"})).cancel_all()
    assert isinstance(live, CancelAllResult) and live.mode == "live"
    assert isinstance(analyze, CancelAllResult) and analyze.mode == "analyze"


def test_numbers_as_strings_and_unknown_statuses_are_accepted() -> None:
    rows = [
        {"orderid": "1", "symbol": "SBIN", "quantity": "10", "price": "812.50", "order_status": "TRANSIT"},
        {"orderid": 2, "symbol": "INFY", "quantity": 5, "price": 1500, "order_status": "trigger_pending"},
        {"orderid": "3", "symbol": "TCS", "quantity": "1", "price": "x", "order_status": "Complete"},
        {"orderid": "4", "symbol": "TCS", "quantity": "1", "order_status": "CANCELED"},
    ]
    book = client_for(reply(200, {"status": "success", "data": {"orders": rows}})).orderbook()
    assert isinstance(book, OrderBook)
    assert [o.orderid for o in book.working] == ["1", "2"]
    assert book.orders[0].quantity == 10 and book.orders[0].price == 812.5
    assert book.orders[0].status == "TRANSIT"  # shown as the broker said it
    assert book.orders[2].price == 0.0


CONTRACT_ERRORS = [
    (400, {"status": "error", "message": {"strategy": ["Unknown field."]}}, ErrorKind.VALIDATION, "strategy"),
    (
        400,
        {"status": "error", "message": "{'strategy': ['Missing data for required field.']}"},
        ErrorKind.VALIDATION,
        "strategy: Missing data",
    ),
    (
        400,
        {"message": "The browser (or proxy) sent a request that this server could not understand."},
        ErrorKind.MALFORMED_REQUEST,
        "malformed",
    ),
    (
        403,
        {"status": "error", "message": "Invalid openalgo apikey"},
        ErrorKind.INVALID_KEY,
        "log in to OpenAlgo again",
    ),
    (
        403,
        {
            "status": "error",
            "message": "Cancel all orders operation is not allowed in Semi-Auto mode. "
            "Please switch to Auto mode to cancel orders.",
        },
        ErrorKind.SEMI_AUTO,
        "Kill refused",
    ),
    (403, b"Access Denied: Your IP has been banned", ErrorKind.IP_BANNED, "banned"),
    (
        404,
        {"status": "error", "message": "Broker-specific module not found"},
        ErrorKind.BROKER_MODULE_MISSING,
        "misconfigured",
    ),
    (429, {"message": "50 per 1 second"}, ErrorKind.RATE_LIMITED, "rate limit"),
    (
        500,
        {"status": "error", "message": "Failed to cancel all orders due to internal error"},
        ErrorKind.BROKER_ERROR,
        "Failed to cancel all orders",
    ),
    (500, {"message": "Internal Server Error"}, ErrorKind.SERVER_ERROR, "internal error"),
    (
        502,
        b"<html><head><title>502 Bad Gateway</title></head></html>",
        ErrorKind.GATEWAY,
        "may have carried out cancelallorder",
    ),
    (504, b"", ErrorKind.GATEWAY, "HTTP 504"),
    (200, b"", ErrorKind.EMPTY_REPLY, "empty reply"),
    (200, b"<!DOCTYPE html><html><title>ngrok</title>", ErrorKind.HTML_PAGE, "web page"),
    (200, b'{"status": "succ', ErrorKind.BAD_REPLY, "could not be understood"),
    (200, [1, 2, 3], ErrorKind.BAD_REPLY, "could not be understood"),
    (301, b"", ErrorKind.REDIRECT, "never follows redirects"),
]


@pytest.mark.parametrize(("status", "body", "kind", "phrase"), CONTRACT_ERRORS)
def test_every_error_row_becomes_a_typed_error_with_a_sentence(
    status: int, body: Any, kind: ErrorKind, phrase: str
) -> None:
    content_type = "text/html" if isinstance(body, bytes) and body.startswith(b"<") else "application/json"
    if status == 403 and isinstance(body, bytes):
        content_type = "text/plain"
    result = client_for(reply(status, body, content_type)).cancel_all()
    assert isinstance(result, ApiError)
    assert result.kind is kind
    assert phrase.lower() in result.sentence.lower()
    assert KEY not in result.sentence


def test_invalid_key_sentence_names_both_causes() -> None:
    result = client_for(reply(403, {"status": "error", "message": "Invalid openalgo apikey"})).ping()
    assert isinstance(result, ApiError)
    assert "key is wrong" in result.sentence and "session" in result.sentence and result.refusal


def test_connection_refused_is_a_network_error_naming_the_server() -> None:
    with make_http_client() as http:
        result = OpenAlgoClient("http://127.0.0.1:9", KEY, http).orderbook()
    assert isinstance(result, ApiError)
    assert result.kind is ErrorKind.CONNECTION_REFUSED and result.network
    assert "127.0.0.1:9" in result.sentence


def test_a_bad_url_is_reported_without_sending_anything() -> None:
    with make_http_client() as http:
        result = OpenAlgoClient("ftp://nowhere", KEY, http).cancel_all()
    assert isinstance(result, ApiError) and result.kind is ErrorKind.BAD_URL


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("https://x.ngrok-free.app/", "https://x.ngrok-free.app"),
        ("http://host:5000/api/v1/", "http://host:5000"),
        ("http://host:99999", None),
        ("", None),
        ("not a url at all", None),
    ],
)
def test_server_urls_are_normalised(raw: str, normal: str | None) -> None:
    assert normalise_host(raw) == normal


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (
            403,
            {
                "status": "error",
                "message": "Cancel order operation is not allowed in Semi-Auto mode. "
                "Please switch to Auto mode to cancel orders.",
            },
            True,
        ),
        (404, {"status": "error", "message": "Order 0 not found"}, False),
        (500, {"status": "error", "message": "Order does not exist"}, False),
        (403, {"status": "error", "message": "Invalid openalgo apikey"}, ErrorKind.INVALID_KEY),
    ],
)
def test_the_semi_auto_check_cancels_a_made_up_order_and_reads_the_refusal(
    status: int, body: Any, expected: bool | ErrorKind
) -> None:
    sent: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(status, json=body)

    result = client_for(handler).semi_auto_refuses_kills()
    assert sent == [{"apikey": KEY, "strategy": "KillSwitch", "orderid": "0"}]
    if isinstance(expected, ErrorKind):
        assert isinstance(result, ApiError) and result.kind is expected
    else:
        assert result is expected


def test_a_client_for_one_plain_http_server_trusts_no_certificate_so_https_fails_closed() -> None:
    import ssl

    from core.client import trusts_nothing

    context = trusts_nothing()
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    assert context.cert_store_stats()["x509_ca"] == 0


def test_a_deadline_that_passes_before_the_tls_handshake_closes_the_connection() -> None:
    # A real TCP connection to a real listener; the call's deadline has passed by the time the
    # handshake would start. The kill gets a timeout, and the socket does not stay open (a trader's
    # window runs for days; one leaked socket per slow start would add up).
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        stream = call_deadline._Backend(httpcore.SyncBackend()).connect_tcp("127.0.0.1", port, timeout=2)
        raw = stream.get_extra_info("socket")
        with call_deadline.until(time.perf_counter() - 1), pytest.raises(httpcore.ConnectTimeout):
            stream.start_tls(ssl.create_default_context(), "localhost", timeout=2)
        assert raw.fileno() == -1  # closed
