"""Bad input, catalogued: every kind of broken reply and network fault, over real sockets.

The contract's error table itself (400/403/404/429/500 bodies, 502/504, redirects, IP ban) is
played byte for byte in test_client.py through ``httpx.MockTransport``; this file adds what only
a real network produces -- error pages of tunnels and proxies, bodies cut short or reset, a
reply slower than the timeout, DNS and TLS failures, 10 MB replies -- and then what the kill
procedure concludes under each fault, against the simulator.

Each fault must end as a typed ``ApiError`` whose sentence a trader can read (one line, no
traceback, no repr, no HTML, no key), and the same lane client must keep working afterwards.
"""

from __future__ import annotations

import gzip
import json
import os
import random
import re
import ssl
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.client import OpenAlgoClient, Timeouts, make_http_client
from core.exchange import Exchange
from core.kill import KillSwitch
from core.replies import ApiError, CancelAllResult, ErrorKind, OrderBook, Pong
from core.report import CancelReport, Verdict
from core.simulator import Quirks, Simulator
from tests.core.loopback import Connection, ScriptedServer, http_reply, replying, self_signed_context

KEY = "catalogue-key-5f0c2a9e7b3d41c8a6e2f9b0d7c4e1a3"

NGROK_OFFLINE = b"""<!DOCTYPE html>
<html lang="en-US"><head><meta charset="utf-8"><title>ngrok - ERR_NGROK_3200</title>
<style>body{font-family:sans-serif}</style></head>
<body><div class="error"><h1>The endpoint abc123.ngrok-free.app is offline.</h1>
<p>ERR_NGROK_3200</p><a href="https://ngrok.com/docs/errors/err_ngrok_3200">docs</a></div></body></html>
"""
NGROK_INTERSTITIAL = b"""<!DOCTYPE html><html><head><title>ngrok</title></head>
<body><p>You are about to visit abc123.ngrok-free.app</p><button>Visit Site</button></body></html>"""
CLOUDFLARE_502 = b"""<!DOCTYPE html>
<!--[if lt IE 7]> <html class="no-js ie6 oldie" lang="en-US"> <![endif]-->
<html lang="en-US"><head><title>trader.example.com | 502: Bad gateway</title>
<meta charset="UTF-8" /></head><body><div id="cf-wrapper"><h1>Bad gateway</h1>
<span>Error code 502</span><p>Visit cloudflare.com for more information.</p></div></body></html>"""
NGINX_502 = b"""<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n
<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.24.0</center>\r\n</body>\r\n</html>\r\n"""

DEFAULT_TIMEOUTS = Timeouts()
PONG = json.dumps({"status": "success", "data": {"message": "pong", "broker": "zerodha"}}).encode()


def assert_trader_sentence(error: object) -> None:
    """A typed error whose sentence is one plain line: no traceback, repr, HTML or key."""
    assert isinstance(error, ApiError), f"expected an ApiError, got {type(error).__name__}"
    sentence = error.sentence
    assert sentence.strip(), "empty sentence"
    assert "\n" not in sentence and "\r" not in sentence
    assert KEY not in sentence
    assert "Traceback" not in sentence and " object at 0x" not in sentence
    assert not re.search(r"\b[A-Z]\w*(Error|Exception)\(", sentence), sentence  # no exception repr
    assert not re.search(r"<\s*/?\s*[a-zA-Z!]", sentence.replace("<APIKEY>", "")), sentence  # no HTML


class Lane:
    """One lane's persistent client, as the app holds it, with every exchange it observed."""

    def __init__(self, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> None:
        self.http = make_http_client()
        self.timeouts = timeouts
        self.exchanges: list[Exchange] = []

    def client(self, url: str) -> OpenAlgoClient:
        return OpenAlgoClient(url, KEY, self.http, observer=self.exchanges.append, timeouts=self.timeouts)

    def still_works(self) -> bool:
        """After a fault, the same httpx.Client talks to a healthy server as if nothing happened."""
        with ScriptedServer(replying(http_reply(200, PONG))) as healthy:
            return isinstance(self.client(healthy.url).ping(), Pong)

    def leaked_key(self) -> bool:
        return any(KEY in repr(e) for e in self.exchanges)


@pytest.fixture
def lane() -> Iterator[Lane]:
    lane = Lane(Timeouts(connect=2.0, read=2.0, cancel_all_read=2.0))
    yield lane
    lane.http.close()


def fault(lane: Lane, respond: Any, call: str = "orderbook") -> Any:
    with ScriptedServer(respond) as server:
        return getattr(lane.client(server.url), call)()


# -- pages that are not OpenAlgo --------------------------------------------------------------


def test_an_offline_ngrok_tunnel_page_says_to_check_the_tunnel(lane: Lane) -> None:
    result = fault(lane, replying(http_reply(404, NGROK_OFFLINE, "text/html; charset=utf-8")), "cancel_all")
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.ENDPOINT_NOT_FOUND and "tunnel" in result.sentence
    assert lane.still_works() and not lane.leaked_key()


def test_ngroks_browser_warning_page_is_not_mistaken_for_success(lane: Lane) -> None:
    result = fault(lane, replying(http_reply(200, NGROK_INTERSTITIAL, "text/html")), "cancel_all")
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.HTML_PAGE and "web page" in result.sentence
    assert lane.still_works()


@pytest.mark.parametrize("page", [CLOUDFLARE_502, NGINX_502], ids=["cloudflare", "nginx"])
def test_a_proxys_502_page_asks_whether_openalgo_is_running(lane: Lane, page: bytes) -> None:
    result = fault(lane, replying(http_reply(502, page, "text/html", reason="Bad Gateway")), "orderbook")
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.GATEWAY and "is OpenAlgo running" in result.sentence
    assert result.transient  # worth another try inside the kill's deadline
    assert lane.still_works()


def test_a_web_page_with_an_unexpected_status_is_reported_as_a_page(lane: Lane) -> None:
    page = b"<html><head><title>Service Unavailable</title></head><body>maintenance</body></html>"
    result = fault(lane, replying(http_reply(418, page, "text/html")))
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.HTML_PAGE
    assert lane.still_works()


# -- bodies empty, short, cut or garbled -------------------------------------------------------


def test_an_empty_body_is_an_empty_reply(lane: Lane) -> None:
    result = fault(lane, replying(http_reply(200, b"")), "cancel_all")
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.EMPTY_REPLY
    assert lane.still_works()


def test_a_body_shorter_than_its_content_length_is_a_dropped_connection(lane: Lane) -> None:
    body = json.dumps({"status": "success", "data": {"orders": []}}).encode()
    result = fault(lane, replying(http_reply(200, body[:20], content_length=len(body) + 1000)))
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.CONNECTION_DROPPED and "may or may not" in result.sentence
    assert lane.still_works()


def test_a_body_cut_by_closing_the_connection_is_not_understood(lane: Lane) -> None:
    # No Content-Length: the body ends where the server closed, in the middle of the JSON.
    result = fault(lane, replying(http_reply(200, b'{"status": "succ', content_length=-1)), "cancel_all")
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.BAD_REPLY
    assert lane.still_works()


def test_a_connection_reset_mid_body_is_a_dropped_connection(lane: Lane) -> None:
    def reset_mid_body(conn: Connection) -> None:
        conn.send(http_reply(200, b'{"status": "success", "canceled_orders": ["1', content_length=5000))
        conn.reset()

    result = fault(lane, reset_mid_body, "cancel_all")
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.CONNECTION_DROPPED and result.transient
    assert lane.still_works()


def test_a_connection_reset_before_any_reply_is_a_dropped_connection(lane: Lane) -> None:
    result = fault(lane, lambda conn: conn.reset())
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.CONNECTION_DROPPED
    assert lane.still_works()


def test_a_reply_that_is_not_http_at_all_is_a_dropped_connection(lane: Lane) -> None:
    result = fault(lane, replying(b"SSH-2.0-OpenSSH_9.6\r\n"))
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.CONNECTION_DROPPED
    assert lane.still_works()


def test_a_body_that_claims_gzip_but_is_not_is_not_understood(lane: Lane) -> None:
    raw = http_reply(200, b"this is not gzip", headers={"Content-Encoding": "gzip"})
    result = fault(lane, replying(raw))
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.BAD_REPLY
    assert lane.still_works()


def test_a_gzipped_reply_is_read_like_any_other(lane: Lane) -> None:
    body = gzip.compress(json.dumps({"status": "success", "data": {"orders": []}}).encode())
    result = fault(lane, replying(http_reply(200, body, headers={"Content-Encoding": "gzip"})))
    assert isinstance(result, OrderBook) and result.orders == ()


# -- JSON of the wrong shape and types -----------------------------------------------------------

WRONG_SHAPES = [
    ("orderbook", {"status": "success", "data": "no orders today"}, ErrorKind.BAD_REPLY),
    ("orderbook", {"status": "success", "data": {"orders": {"1": {"orderid": "1"}}}}, ErrorKind.BAD_REPLY),
    ("orderbook", {"status": "success", "data": {"orders": [{"orderid": "1"}, "2"]}}, ErrorKind.BAD_REPLY),
    ("orderbook", {"status": "success", "data": 17}, ErrorKind.BAD_REPLY),
    ("orderbook", {"data": {"orders": []}}, ErrorKind.BAD_REPLY),  # status missing
    ("orderbook", {"status": {"code": "success"}, "data": {"orders": []}}, ErrorKind.BAD_REPLY),
    ("orderbook", {"status": None}, ErrorKind.BAD_REPLY),
    # A success without the list of orders where OpenAlgo puts it is an unreadable book, not an
    # empty one: each of these once read as "nothing working" and let a kill say flat.
    ("orderbook", {"status": "success"}, ErrorKind.BAD_REPLY),
    ("orderbook", {"status": "success", "data": None}, ErrorKind.BAD_REPLY),
    ("orderbook", {"status": "success", "data": {}}, ErrorKind.BAD_REPLY),
    ("orderbook", {"status": "success", "data": {"orders": None}}, ErrorKind.BAD_REPLY),
    ("orderbook", {"status": "success", "data": {"order_list": []}}, ErrorKind.BAD_REPLY),
    ("orderbook", {"status": "success", "data": []}, ErrorKind.BAD_REPLY),
    ("orderbook", {"status": "success", "data": ""}, ErrorKind.BAD_REPLY),
    ("cancel_all", {"message": "Canceled 3 orders"}, ErrorKind.BAD_REPLY),  # status missing
    ("cancel_all", {"status": "error", "message": {"nested": [1, {"x": None}]}}, ErrorKind.BROKER_ERROR),
    ("analyzer", {"status": "success", "data": "live"}, ErrorKind.BAD_REPLY),
    ("analyzer", {"status": "success", "data": {"mode": ["live"]}}, ErrorKind.BAD_REPLY),
    ("ping", "success", ErrorKind.BAD_REPLY),
    ("ping", None, ErrorKind.BAD_REPLY),
    ("cancel_order", 3.14, ErrorKind.BAD_REPLY),
]


@pytest.mark.parametrize(("call", "body", "kind"), WRONG_SHAPES)
def test_json_of_the_wrong_shape_is_a_typed_error(lane: Lane, call: str, body: Any, kind: ErrorKind) -> None:
    with ScriptedServer(replying(http_reply(200, json.dumps(body).encode()))) as server:
        client = lane.client(server.url)
        result = client.cancel_order("1") if call == "cancel_order" else getattr(client, call)()
    assert_trader_sentence(result)
    assert result.kind is kind


def test_numbers_sent_as_nested_objects_still_give_orders_that_count_as_working(lane: Lane) -> None:
    row = {
        "orderid": {"id": 7},
        "symbol": "SBIN",
        "quantity": {"value": 10},
        "price": [812.5],
        "trigger_price": {"deep": {"er": 1}},
        "order_status": {"code": 1},
    }
    body = {"status": "success", "data": {"orders": [row], "statistics": {}}}
    result = fault(lane, replying(http_reply(200, json.dumps(body).encode())))
    assert isinstance(result, OrderBook)
    (order,) = result.orders
    assert order.quantity == 0.0 and order.price == 0.0 and order.symbol == "SBIN"
    assert order.working  # an unreadable status is never taken for finished


def test_failure_items_of_unknown_shapes_keep_whatever_they_say(lane: Lane) -> None:
    body = {
        "status": "success",
        "message": "Canceled 0 orders. Failed to cancel 5 orders.",
        "canceled_orders": {"orderid": "9"},  # one object instead of a list
        "failed_cancellations": [
            {"ordNo": "A1", "why": {"code": 16, "text": "RMS blocked"}},
            42,
            None,
            ["B2", "exchange closed"],
            True,
        ],
    }
    result = fault(lane, replying(http_reply(200, json.dumps(body).encode())), "cancel_all")
    assert isinstance(result, CancelAllResult)
    assert result.canceled == ("9",)
    assert len(result.failed) == 5
    assert all(f.reason for f in result.failed)
    assert "RMS blocked" in result.failed[0].reason
    assert result.failed[1].orderid == "42"


# -- size ---------------------------------------------------------------------------------------


def _big_book(target_bytes: int) -> tuple[bytes, int]:
    row = {
        "orderid": "0",
        "symbol": "RELIANCE",
        "exchange": "NSE",
        "action": "BUY",
        "quantity": "1",
        "price": "1510.05",
        "trigger_price": "0",
        "pricetype": "LIMIT",
        "product": "MIS",
        "order_status": "open",
        "timestamp": "03-Jan-2026 09:15:00",
        "padding": "x" * 200,
    }
    count = target_bytes // (len(json.dumps(row)) + 2) + 1
    rows = [dict(row, orderid=f"26010300{i:06d}") for i in range(count)]
    return json.dumps({"status": "success", "data": {"orders": rows, "statistics": {}}}).encode(), count


def test_a_10_mb_order_book_is_read_in_full(lane: Lane) -> None:
    body, count = _big_book(10 * 1024 * 1024)
    assert len(body) >= 10 * 1024 * 1024
    result = fault(lane, replying(http_reply(200, body)))
    assert isinstance(result, OrderBook)
    assert len(result.orders) == count and len(result.working) == count


def test_10_mb_of_garbage_is_not_understood(lane: Lane) -> None:
    garbage = bytes(random.Random(6).getrandbits(8) for _ in range(4096)) * 2560
    garbage = b"\x00" + garbage[1:]  # never starts like a web page
    result = fault(lane, replying(http_reply(200, garbage, "application/octet-stream")))
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.BAD_REPLY
    assert lane.still_works()


def test_a_reply_over_the_size_cap_is_refused_unread(lane: Lane) -> None:
    body = b"[" + b"1," * (17 * 1024 * 1024) + b"1]"  # 34 MB, over the 32 MB cap
    result = fault(lane, replying(http_reply(200, body)))
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.REPLY_TOO_LARGE
    assert lane.still_works()


# -- time, names, certificates, redirects ------------------------------------------------------


def test_a_reply_slower_than_the_timeout_is_a_timeout() -> None:
    lane = Lane(Timeouts(connect=2.0, read=0.3, cancel_all_read=0.3))
    try:

        def slow(conn: Connection) -> None:
            conn.wait(5)  # far longer than the client's 0.3 s read timeout
            conn.send(http_reply(200, PONG))

        result = fault(lane, slow, "ping")
        assert_trader_sentence(result)
        assert result.kind is ErrorKind.TIMEOUT and "127.0.0.1" in result.sentence
        assert lane.still_works()
    finally:
        lane.http.close()


def trickle_headers(conn: Connection) -> None:
    conn.send(b"HTTP/1.1 200 OK\r\n")
    for i in range(100):  # a header line every 0.2 s: each restarts httpx's read timeout
        conn.send(b"X-Slow-%d: a\r\n" % i)
        conn.wait(0.2)


def trickle_body(conn: Connection) -> None:
    body = b'{"status":"success","data":{"orders":[],"statistics":{}}}' + b" " * 200
    conn.send(http_reply(200, body)[: -len(body)])
    for byte in body:  # a byte every 0.9 s: the call's deadline falls between two of them
        conn.send(bytes([byte]))
        conn.wait(0.9)


@pytest.mark.parametrize("respond", [trickle_headers, trickle_body], ids=["headers", "body"])
def test_a_reply_trickled_in_never_holds_a_call_past_its_deadline(lane: Lane, respond: Any) -> None:
    with ScriptedServer(respond) as server:
        began = time.perf_counter()
        result = lane.client(server.url).orderbook(within=1.0)
        took = time.perf_counter() - began
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.TIMEOUT and result.delivered
    assert took < 1.3  # the kill's deadline, not an hour of trickle
    assert lane.still_works()


def test_a_server_name_that_does_not_resolve_is_a_dns_error(lane: Lane) -> None:
    result = lane.client("http://openalgo.killswitch-test.invalid:5000").orderbook()
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.DNS and "killswitch-test.invalid" in result.sentence
    assert lane.still_works()


def test_an_untrusted_certificate_is_refused_and_the_key_is_not_sent(lane: Lane, tmp_path: Path) -> None:
    with ScriptedServer(replying(http_reply(200, PONG)), tls=self_signed_context(tmp_path)) as server:
        result = lane.client(server.url).cancel_all()
        assert server.connections >= 1  # the client did reach the server...
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.TLS and "the key was not sent" in result.sentence
    assert server.requests == []  # ...and sent nothing past the failed handshake
    assert lane.still_works() and not lane.leaked_key()


def test_a_tls_error_after_the_request_went_out_says_it_may_have_been_carried_out(tmp_path: Path) -> None:
    server_tls = self_signed_context(tmp_path)
    trusted = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))

    def corrupt_record(conn: Connection) -> None:
        # A TLS application-data record whose MAC cannot check out, as a broken tunnel sends:
        # written beneath the TLS layer, after the whole request was read.
        os.write(conn.sock.fileno(), b"\x17\x03\x03\x00\x40" + b"\x00" * 64)

    with (
        ScriptedServer(corrupt_record, tls=server_tls) as server,
        httpx.Client(verify=trusted, timeout=2.0) as http,
    ):
        result = OpenAlgoClient(server.url, KEY, http).cancel_all()
        assert len(server.requests) == 1  # the cancel-all reached the server whole
    assert_trader_sentence(result)
    assert result.delivered  # never "not sent": the server may have cancelled everything
    assert (
        result.kind is ErrorKind.CONNECTION_DROPPED
        and "may or may not have been carried out" in result.sentence
    )


def test_a_redirect_to_another_host_is_not_followed(lane: Lane) -> None:
    with ScriptedServer(replying(http_reply(200, PONG))) as elsewhere:
        moved = http_reply(307, b"", headers={"Location": f"{elsewhere.url}/api/v1/cancelallorder"})
        result = fault(lane, replying(moved), "cancel_all")
        assert elsewhere.requests == []
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.REDIRECT and "never follows redirects" in result.sentence


def test_a_server_that_closes_without_replying_is_a_dropped_connection(lane: Lane) -> None:
    result = fault(lane, lambda conn: None, "cancel_all")  # request read, then the socket closes
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.CONNECTION_DROPPED
    assert lane.still_works()


@pytest.mark.parametrize("call", ["cancel_all", "orderbook", "ping"])
def test_a_call_on_a_closed_lane_client_is_a_typed_error_not_a_crash(call: str) -> None:
    # A lane being stopped or replaced can close its httpx.Client while a call is still queued;
    # httpx then raises a bare RuntimeError, which must not escape into the kill or the UI.
    lane = Lane()
    with ScriptedServer(replying(http_reply(200, PONG))) as server:
        client = lane.client(server.url)
        lane.http.close()
        result = getattr(client, call)()
        assert server.requests == []
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.CLIENT_CLOSED
    assert "not sent" in result.sentence


def test_a_server_echoing_the_key_back_never_puts_it_on_screen(lane: Lane) -> None:
    echo = http_reply(400, json.dumps({"status": "error", "message": f"bad request {KEY}"}).encode())
    result = fault(lane, replying(echo), "cancel_all")
    assert_trader_sentence(result)
    assert isinstance(result, ApiError) and KEY not in result.server_message
    assert lane.exchanges and not lane.leaked_key()
    assert "<APIKEY>" in lane.exchanges[-1].reply


def test_a_success_message_echoing_the_key_is_redacted(lane: Lane) -> None:
    body = {
        "status": "success",
        "message": f"done for {KEY}",
        "failed_cancellations": [{"orderid": "1", "reason": KEY}],
    }
    result = fault(lane, replying(http_reply(200, json.dumps(body).encode())), "cancel_all")
    assert isinstance(result, CancelAllResult)
    assert KEY not in result.message and KEY not in repr(result.failed)


# -- what the kill concludes under each fault (against the simulator) ----------------------------


class SkippingClock:
    """Real time plus every pause the kill asked for, skipped: the kill's retries of a transient
    fault run back to back instead of waiting out its deadline. Only time is faked; every
    request is real. Books stay under the order rate limit, which this clock would not pace."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def now(self) -> float:
        return time.perf_counter() + self.skipped

    def sleep(self, seconds: float) -> None:
        self.skipped += seconds


def kill(url: str, apikey: str, timeouts: Timeouts = DEFAULT_TIMEOUTS) -> CancelReport:
    clock = SkippingClock()
    with make_http_client() as http:
        client = OpenAlgoClient(url, apikey, http, timeouts=timeouts)
        return KillSwitch(client, deadline_s=3.0, clock=clock.now, sleep=clock.sleep).fire("test")


def assert_trader_report(report: CancelReport, apikey: str) -> None:
    for sentence in (report.message, *report.errors):
        assert_trader_sentence(ApiError(ErrorKind.BAD_REPLY, sentence))
    assert apikey not in json.dumps(report.to_json())


@pytest.mark.parametrize(
    "quirk",
    [
        Quirks(empty_reply={"orderbook"}),
        Quirks(drop_connection={"orderbook"}),
        Quirks(broker_error={"orderbook"}),
        Quirks(html_error={"orderbook"}),
    ],
    ids=["empty", "dropped", "broker-error", "proxy-page"],
)
def test_an_unreadable_book_after_cancel_all_is_unverified_never_flat(quirk: Quirks) -> None:
    with Simulator(orders=4, seed=5, quirks=quirk) as sim:
        report = kill(sim.url, sim.apikey)
        assert sim.working_orders() == []  # the orders did go: only the proof is missing
    assert report.verdict is Verdict.UNVERIFIED and report.exit_code == 1
    assert len(report.canceled_by_server) == 4 and report.trigger_to_verified_ms is None
    assert_trader_report(report, sim.apikey)


@pytest.mark.parametrize(
    "quirk",
    [
        Quirks(empty_reply={"cancelallorder"}),
        Quirks(drop_connection={"cancelallorder"}),
        Quirks(broker_error={"cancelallorder"}),
        Quirks(html_error={"cancelallorder"}),
    ],
    ids=["empty", "dropped", "broker-error", "proxy-page"],
)
def test_a_failed_cancel_all_is_made_good_by_the_sweep(quirk: Quirks) -> None:
    with Simulator(orders=4, seed=5, quirks=quirk) as sim:
        report = kill(sim.url, sim.apikey)
        assert sim.working_orders() == []
    assert report.verdict is Verdict.FLAT and len(report.canceled_by_sweep) == 4
    assert report.errors  # what went wrong with cancel-all is still told
    assert_trader_report(report, sim.apikey)


def test_a_cancel_all_slower_than_its_timeout_is_verified_from_the_book() -> None:
    quirks = Quirks(endpoint_delay_s={"cancelallorder": 3.0})
    with Simulator(orders=4, seed=5, quirks=quirks) as sim:
        report = kill(sim.url, sim.apikey, Timeouts(connect=2.0, read=2.0, cancel_all_read=0.3))
    assert report.verdict is Verdict.FLAT
    assert any("Timed out" in e for e in report.errors)
    assert_trader_report(report, sim.apikey)


def test_a_banned_ip_is_refused_with_exit_3() -> None:
    with Simulator(orders=4, seed=5, quirks=Quirks(ip_banned=True)) as sim:
        report = kill(sim.url, sim.apikey)
        assert len(sim.working_orders()) == 4
    assert report.verdict is Verdict.REFUSED and report.exit_code == 3
    assert "banned" in report.message
    assert_trader_report(report, sim.apikey)


@pytest.mark.parametrize("page", [CLOUDFLARE_502, NGINX_502], ids=["cloudflare", "nginx"])
def test_a_proxys_502_page_on_cancel_all_says_it_may_have_been_carried_out(lane: Lane, page: bytes) -> None:
    # nginx sends the same page when OpenAlgo is down and when a gunicorn worker died mid-request
    result = fault(lane, replying(http_reply(502, page, "text/html", reason="Bad Gateway")), "cancel_all")
    assert_trader_sentence(result)
    assert result.kind is ErrorKind.GATEWAY and "may have carried out" in result.sentence
    assert result.delivered and result.transient


def test_a_proxy_answering_502_to_everything_is_unverified_not_unreachable() -> None:
    # OpenAlgo may be down, or each request may have run and lost its answer: nobody can tell
    everything = {"cancelallorder", "orderbook", "cancelorder"}
    with Simulator(orders=4, seed=5, quirks=Quirks(html_error=everything)) as sim:
        report = kill(sim.url, sim.apikey)
    assert report.verdict is Verdict.UNVERIFIED and report.exit_code == 1
    assert_trader_report(report, sim.apikey)


def test_a_server_name_that_does_not_resolve_is_unreachable_with_exit_4() -> None:
    report = kill("http://openalgo.killswitch-test.invalid:5000", KEY)
    assert report.verdict is Verdict.UNREACHABLE and report.exit_code == 4
    assert "DNS" in report.message or any("DNS" in e for e in report.errors)
    assert_trader_report(report, KEY)


def test_an_untrusted_certificate_is_unreachable_with_exit_4_and_no_key_sent(tmp_path: Path) -> None:
    with ScriptedServer(replying(http_reply(200, PONG)), tls=self_signed_context(tmp_path)) as server:
        report = kill(server.url, KEY)
    assert report.verdict is Verdict.UNREACHABLE and report.exit_code == 4
    assert server.requests == []
    assert_trader_report(report, KEY)


def test_a_cancel_all_whose_answer_a_proxy_replaced_with_502_is_never_called_unreachable() -> None:
    # gunicorn killed the worker just after the broker cancelled everything; nginx answered 502.
    # Nothing after that can be read either: the kill must not say "no request reached it".
    quirks = Quirks(gateway_after_work={"cancelallorder"}, html_error={"orderbook", "cancelorder"})
    with Simulator(orders=4, seed=5, quirks=quirks) as sim:
        report = kill(sim.url, sim.apikey)
        assert sim.working_orders() == []  # the cancel-all did run
    assert report.verdict is Verdict.UNVERIFIED and report.exit_code == 1
    assert report.cancel_all == "sent"  # the next kill will not race it with another
    assert "may have been carried out" in report.message
    assert_trader_report(report, sim.apikey)
