"""The OpenAlgo client: one persistent ``httpx.Client`` per lane, typed results, typed errors.

Every call returns either a typed result or an :class:`~core.replies.ApiError` carrying one
sentence a trader understands. Nothing raw -- a traceback, an HTML page, a Python repr -- escapes.
The API key travels only in the request body and never appears in an error, a log line or
an exchange record (see :func:`core.replies.redact`).

This module makes the calls; ``core.replies`` reads what comes back and ``core.net_errors``
turns network failures into sentences. Every call can be given ``within`` -- the seconds a
caller (a kill with a deadline) can still wait -- and then no part of it waits longer: not the
connection, not the reply's headers, not the rest of its body, however slowly they trickle in
(``core.call_deadline``). A call without ``within`` is bounded too, by its timeouts plus
:data:`BODY_ALLOWANCE_S`.
"""

from __future__ import annotations

import contextlib
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from core import DEFAULT_STRATEGY, __version__, call_deadline
from core.addresses import normalise_host
from core.exchange import Exchange, ExchangeObserver
from core.net_errors import classify_exception
from core.orders import Order
from core.positions import Position
from core.redaction import redact
from core.replies import (
    AnalyzerStatus,
    ApiError,
    CancelAllResult,
    CancelResult,
    ClosePositionsResult,
    ErrorKind,
    OrderBook,
    Pong,
    PositionBook,
    SmartOrderResult,
    interpret,
    read_analyzer,
    read_cancel,
    read_cancel_all,
    read_close_positions,
    read_orderbook,
    read_ping,
    read_positionbook,
    read_smart_order,
)

SEMI_AUTO_PROBE_ORDER_ID: Final = "0"  # no broker issues it; see semi_auto_refuses_kills
MAX_BODY_BYTES: Final = 32 * 1024 * 1024

# Timeouts per kind of call. cancelallorder is slow on real brokers (the server cancels one
# order at a time), so it gets a long read timeout; reads and single cancels are quick.
CONNECT_TIMEOUT_S: Final = 5.0
READ_TIMEOUT_S: Final = 10.0
CANCEL_ALL_READ_TIMEOUT_S: Final = 60.0
BODY_ALLOWANCE_S: Final = 60.0
"""A call given no ``within`` still ends: by its connect and read timeouts plus this much for a
large reply arriving slowly (a busy book over a slow tunnel)."""


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait for a connection and for replies; ``cancel_all`` gets its own read limit."""

    connect: float = CONNECT_TIMEOUT_S
    read: float = READ_TIMEOUT_S
    cancel_all_read: float = CANCEL_ALL_READ_TIMEOUT_S


OnSent = Callable[[], None]
_ON_THE_WIRE: Final = ("http11.send_request_body.complete", "http2.send_request_body.complete")


_tls_lock = threading.Lock()
_tls: list[ssl.SSLContext] = []  # the one context, once made


def verified_tls() -> ssl.SSLContext:
    """The OS-trust verified TLS context (``core.tls``), made once for every client: loading the CA
    bundle takes 30-40 ms, and each lane's client (and each connection test) used to load its own.

    Thread-safe: a caller that arrives while another thread loads it waits for that load. OpenSSL
    reads the bundle without the interpreter lock, so a window start can load it on a helper
    thread while it builds the window (``ui.app``).
    """
    with _tls_lock:
        if not _tls:
            from core import tls

            _tls.append(tls.verified_tls())
        return _tls[0]


def trusts_nothing() -> ssl.SSLContext:
    """A TLS context with no trusted certificates: every https connection through it fails
    verification. For a client that only ever talks plain http (costs ~0.5 ms, not the CA
    bundle's 25-40 ms)."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificates and host names


def make_http_client(
    *, transport: httpx.BaseTransport | None = None, only_host: str | None = None
) -> httpx.Client:
    """A client for one lane: kept-alive connections, redirects refused, TLS verified.

    ``only_host``: the one server this client will ever call (a command's kill). When it is a
    plain ``http://`` URL the CA bundle is not loaded: nothing would use it, and redirects are
    refused, so the client can never reach an https server."""
    plain = only_host is not None and urlsplit(only_host.strip()).scheme == "http"
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
        # A panic press after minutes of quiet must not pay a new TCP/TLS handshake: keep
        # idle connections for an hour (the kill lane also pings to keep them warm).
        limits=httpx.Limits(max_connections=16, max_keepalive_connections=8, keepalive_expiry=3600),
        follow_redirects=False,  # a redirect could carry the key to another host
        verify=trusts_nothing() if plain else verified_tls(),
        headers={
            "User-Agent": f"openalgo-killswitch/{__version__}",
            # Keeps ngrok's free-plan browser interstitial away; harmless to OpenAlgo.
            "ngrok-skip-browser-warning": "true",
        },
    )


class OpenAlgoClient:
    """Typed access to the endpoints a kill needs. One instance per lane.

    ``http`` is the lane's persistent ``httpx.Client`` (see :func:`make_http_client`); the
    caller owns it. ``observer`` sees every exchange with the key removed.

    Every endpoint method takes ``within``: the most seconds the call may take in all (None: the
    lane's own timeouts only). A call with no time left is not sent at all.
    """

    def __init__(
        self,
        host: str,
        apikey: str,
        http: httpx.Client,
        *,
        strategy: str = DEFAULT_STRATEGY,
        observer: ExchangeObserver | None = None,
        timeouts: Timeouts = Timeouts(),
    ) -> None:
        normal = normalise_host(host)
        self.host = normal or host
        self._valid_host = normal is not None
        self._apikey = apikey
        self._http = http
        self.strategy = strategy or DEFAULT_STRATEGY
        self.observer = observer
        self.timeouts = timeouts
        self._cancel_all_ready: httpx.Request | None = None
        call_deadline.install(http)  # every call ends by its deadline, however the reply trickles

    def __repr__(self) -> str:
        return f"OpenAlgoClient(host={self.host!r})"

    # -- endpoints -------------------------------------------------------------------

    def cancel_all(
        self, *, within: float | None = None, on_sent: OnSent | None = None
    ) -> CancelAllResult | ApiError:
        """``cancelallorder``. ``on_sent`` is called (on this thread) once the whole request has
        been written to the connection: from then on it may be carried out whatever happens.
        Sends the request :meth:`prepare_cancel_all` built, if there is one."""
        ready, self._cancel_all_ready = self._cancel_all_ready, None
        body = self._call(
            "cancelallorder",
            {"strategy": self.strategy},
            read_timeout=self.timeouts.cancel_all_read,
            within=within,
            on_sent=on_sent,
            ready=ready,
        )
        return body if isinstance(body, ApiError) else read_cancel_all(body, self._apikey)

    def prepare_cancel_all(self) -> None:
        """Build the next ``cancelallorder`` request now, off the panic path (the kill lane does
        it at start and after each kill). Building one (URL, headers, JSON body) costs 0.04 ms on
        a busy CPU but ~0.3 ms on one just woken from idle, as a CPU is when a trader presses.
        Each built request is sent once; only the thread that fires calls this."""
        if self._valid_host:
            with contextlib.suppress(httpx.HTTPError, ValueError, RuntimeError):
                self._cancel_all_ready = self._http.build_request(
                    "POST",
                    f"{self.host}/api/v1/cancelallorder",
                    json={"apikey": self._apikey, "strategy": self.strategy},
                )

    def cancel_order(self, orderid: str, *, within: float | None = None) -> CancelResult | ApiError:
        body = self._call("cancelorder", {"strategy": self.strategy, "orderid": orderid}, within=within)
        return body if isinstance(body, ApiError) else read_cancel(body, orderid, self._apikey)

    def semi_auto_refuses_kills(self, *, within: float | None = None) -> bool | ApiError:
        """True when the account's Semi-Auto mode would refuse a kill (live accounts only).

        OpenAlgo has no read-only way to tell, so this asks it to cancel order id ``"0"``, which
        no broker issues: Semi-Auto refuses the request before any broker is called, and in Auto
        mode the broker answers that there is no such order. Nothing real can be cancelled.
        """
        result = self.cancel_order(SEMI_AUTO_PROBE_ORDER_ID, within=within)
        if not isinstance(result, ApiError):
            return False
        if result.kind is ErrorKind.SEMI_AUTO:
            return True
        if result.kind in (ErrorKind.INVALID_KEY, ErrorKind.IP_BANNED) or result.network:
            return result
        return False  # "order not found" and the like: Auto mode let the request through

    def orderbook(
        self,
        parse_row: Callable[[Mapping[str, Any]], Order] = Order.from_json,
        *,
        within: float | None = None,
    ) -> OrderBook | ApiError:
        """The order book, read strictly (``core.replies.read_orderbook``); ``parse_row`` turns
        each row into an ``Order`` (a poller passes ``core.book_changes.BookTracker.parse_row``
        to reuse last poll's unchanged orders)."""
        body = self._call("orderbook", {}, within=within)
        return body if isinstance(body, ApiError) else read_orderbook(body, parse_row)

    def close_positions(self, *, within: float | None = None) -> ClosePositionsResult | ApiError:
        """``closeposition``: square off every open position of the account (a log label, not a
        filter). Its success says nothing about each position: read the position book."""
        body = self._call("closeposition", {"strategy": self.strategy}, within=within)
        return body if isinstance(body, ApiError) else read_close_positions(body, self._apikey)

    def positionbook(self, *, within: float | None = None) -> PositionBook | ApiError:
        body = self._call("positionbook", {}, within=within)
        return body if isinstance(body, ApiError) else read_positionbook(body)

    def close_position(
        self, position: Position, *, within: float | None = None
    ) -> SmartOrderResult | ApiError:
        """``placesmartorder`` moving one symbol/exchange/product's net position to 0.

        ``quantity`` is always 0: when the position is already flat (another close got there
        first), some broker modules fall back to the request's own action and quantity and place
        a new order -- with 0 there is nothing to place."""
        fields = {
            "strategy": self.strategy,
            "exchange": position.exchange,
            "symbol": position.symbol,
            "action": position.closing_action,
            "quantity": 0,
            "position_size": 0,
            "product": position.product,
            "pricetype": "MARKET",
        }
        body = self._call("placesmartorder", fields, within=within)
        return body if isinstance(body, ApiError) else read_smart_order(body, self._apikey)

    def set_analyze_mode(self, on: bool, *, within: float | None = None) -> AnalyzerStatus | ApiError:
        """``analyzer/toggle``: switch the whole server to analyze (sandbox) or live mode. What it
        answers is a claim; :meth:`analyzer` reads the mode back."""
        body = self._call("analyzer/toggle", {"mode": on}, within=within)
        return body if isinstance(body, ApiError) else read_analyzer(body)

    def ping(self, *, within: float | None = None) -> Pong | ApiError:
        body = self._call("ping", {}, within=within)
        return body if isinstance(body, ApiError) else read_ping(body)

    def dropped_idle_connection(self) -> bool:
        """True when the server has closed one of this client's idle kept-alive connections
        (gunicorn does after 2 idle seconds, nginx after 75, tunnels as they like): the next
        request would have to connect again first. Sends nothing; reads the state of httpx's
        connection pool (httpcore's public ``connections`` and ``has_expired``), and says False
        when a transport has no such pool."""
        pool = getattr(getattr(self._http, "_transport", None), "_pool", None)
        try:
            connections = list(getattr(pool, "connections", ()))
            return any(c.is_idle() and c.has_expired() for c in connections)
        except Exception:  # a pool this code does not know: no answer, never a failure
            return False

    def analyzer(self, *, within: float | None = None) -> AnalyzerStatus | ApiError:
        body = self._call("analyzer", {}, within=within)
        return body if isinstance(body, ApiError) else read_analyzer(body)

    # -- transport -------------------------------------------------------------------

    def _timeout(self, read_cap: float, within: float | None) -> httpx.Timeout | None:
        """The call's timeouts, none longer than ``within``; None when no time is left."""
        connect = self.timeouts.connect
        if within is None:
            return httpx.Timeout(read_cap, connect=connect)
        if within <= 0.001:
            return None
        return httpx.Timeout(min(read_cap, within), connect=min(connect, within))

    def _call(
        self,
        endpoint: str,
        fields: Mapping[str, Any],
        *,
        read_timeout: float | None = None,
        within: float | None = None,
        on_sent: OnSent | None = None,
        ready: httpx.Request | None = None,
    ) -> dict[str, Any] | ApiError:
        if not self._valid_host:
            return ApiError(
                ErrorKind.BAD_URL,
                f"The server address {self.host!r} is not a usable URL (expected http://host:port).",
                endpoint,
                delivered=False,
            )
        started_wall = time.time()
        started = time.perf_counter()
        read_cap = self.timeouts.read if read_timeout is None else read_timeout
        timeout = self._timeout(read_cap, within)
        if timeout is None:
            return ApiError(
                ErrorKind.TIMEOUT,
                f"{endpoint} was not sent to {self.host}: the kill's deadline had passed.",
                endpoint,
                delivered=False,
            )
        # One budget for the whole call: connecting, sending, the headers and the body.
        budget = self.timeouts.connect + read_cap + BODY_ALLOWANCE_S if within is None else within
        ends = started + budget
        status: int | None = None
        raw = b""
        try:
            if ready is not None:  # built ahead with this payload (prepare_cancel_all)
                request = ready
                request.extensions["timeout"] = timeout.as_dict()
            else:
                payload = {"apikey": self._apikey, **fields}
                request = self._http.build_request(
                    "POST", f"{self.host}/api/v1/{endpoint}", json=payload, timeout=timeout
                )
            if on_sent is not None:
                request.extensions["trace"] = _trace_sent(on_sent)
            with call_deadline.until(ends):
                response = self._http.send(request, stream=True)
                try:
                    status = response.status_code
                    raw = _read_capped(response, ends)
                finally:
                    response.close()
        except _TooLargeError:
            result: dict[str, Any] | ApiError = ApiError(
                ErrorKind.REPLY_TOO_LARGE,
                f"The server's reply to {endpoint} was larger than "
                f"{MAX_BODY_BYTES // (1024 * 1024)} MB and was not read.",
                endpoint,
                status,
            )
        except _PastDeadlineError:
            result = ApiError(
                ErrorKind.TIMEOUT,
                f"The answer from {self.host} to {endpoint} was still arriving when the kill's "
                "deadline passed; the request may have been carried out.",
                endpoint,
                status,
            )
        except httpx.HTTPError as exc:
            result = self._network_error(endpoint, exc)
        except (OSError, ssl.SSLError, ValueError) as exc:  # defensive: httpx maps these itself
            result = self._network_error(endpoint, exc)
        except RuntimeError:
            if not self._http.is_closed:
                raise
            # httpx refuses with a bare RuntimeError once its client is closed (a lane being
            # stopped or replaced while a call was still queued): nothing went on the wire.
            result = ApiError(
                ErrorKind.CLIENT_CLOSED,
                f"The request to {self.host} was not sent: the app had already closed this "
                "connection (it is stopping, or the settings changed).",
                endpoint,
                delivered=False,
            )
        else:
            result = interpret(endpoint, status, response.headers.get("content-type", ""), raw)
            if isinstance(result, ApiError) and self._apikey in raw.decode("utf-8", "replace"):
                # A server that echoes the request back puts the key into its message, and the
                # message into the sentence: take it out before anyone can see it.
                result = replace(
                    result,
                    sentence=redact(result.sentence, self._apikey),
                    server_message=redact(result.server_message, self._apikey),
                )
            if isinstance(result, ApiError) and result.kind is ErrorKind.REDIRECT:
                location = redact(response.headers.get("location", ""), self._apikey)
                result = ApiError(
                    ErrorKind.REDIRECT,
                    f"The server answered with a redirect to {location or 'another address'}; "
                    "the kill switch never follows redirects so the key cannot leak. "
                    "Set the server URL to the final address (http vs https?).",
                    endpoint,
                    status,
                )
        if self.observer is not None:
            self._observe(endpoint, fields, status, raw, result, started_wall, started)
        return result

    def _observe(
        self,
        endpoint: str,
        fields: Mapping[str, Any],
        status: int | None,
        raw: bytes,
        result: dict[str, Any] | ApiError,
        started_wall: float,
        started: float,
    ) -> None:
        assert self.observer is not None
        reply = redact(raw[:65536].decode("utf-8", "replace"), self._apikey)
        exchange = Exchange(
            endpoint=endpoint,
            request={"apikey": "<APIKEY>", **fields},
            http_status=status,
            reply=reply,
            started=started_wall,
            elapsed_ms=(time.perf_counter() - started) * 1000,
            error=result.sentence if isinstance(result, ApiError) else "",
        )
        with contextlib.suppress(Exception):  # an observer must never break a kill
            self.observer(exchange)

    def _network_error(self, endpoint: str, exc: BaseException) -> ApiError:
        kind, sentence, delivered = classify_exception(exc, self.host)
        return ApiError(kind, sentence, endpoint, delivered=delivered)


def _trace_sent(on_sent: OnSent) -> Callable[[str, Any], None]:
    """httpx's ``trace`` request extension, calling ``on_sent`` once the body is written."""

    def trace(event: str, info: Any) -> None:
        if event in _ON_THE_WIRE:
            with contextlib.suppress(Exception):  # a progress callback must never break a call
                on_sent()

    return trace


class _TooLargeError(Exception):
    pass


class _PastDeadlineError(Exception):
    pass


def _read_capped(response: httpx.Response, ends: float | None) -> bytes:
    """The body, refused past ``MAX_BODY_BYTES`` and abandoned at ``ends`` (perf_counter time):
    a server trickling its answer must not hold a kill past its deadline."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLargeError
        if ends is not None and time.perf_counter() > ends:
            raise _PastDeadlineError
        chunks.append(chunk)
    return b"".join(chunks)
