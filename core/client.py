"""The OpenAlgo client: one persistent ``httpx.Client`` per lane, typed results, typed errors.

Every call returns either a typed result or an :class:`ApiError` carrying one sentence a
trader understands. Nothing raw -- a traceback, an HTML page, a Python repr -- escapes.
The API key travels only in the request body and never appears in an error, a log line or
an exchange record (see :func:`redact`).
"""

from __future__ import annotations

import contextlib
import re
import ssl
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Final
from urllib.parse import urlsplit

import httpx

from core import __version__, json_body
from core.orders import Order, order_id_from, text

DEFAULT_STRATEGY: Final = "KillSwitch"
SEMI_AUTO_PROBE_ORDER_ID: Final = "0"  # no broker issues it; see semi_auto_refuses_kills
MAX_BODY_BYTES: Final = 32 * 1024 * 1024

# Timeouts per kind of call. cancelallorder is slow on real brokers (the server cancels one
# order at a time), so it gets a long read timeout; reads and single cancels are quick.
CONNECT_TIMEOUT_S: Final = 5.0
READ_TIMEOUT_S: Final = 10.0
CANCEL_ALL_READ_TIMEOUT_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class Timeouts:
    """Seconds to wait for a connection and for replies; ``cancel_all`` gets its own read limit."""

    connect: float = CONNECT_TIMEOUT_S
    read: float = READ_TIMEOUT_S
    cancel_all_read: float = CANCEL_ALL_READ_TIMEOUT_S


class ErrorKind(StrEnum):
    INVALID_KEY = "invalid_key"
    SEMI_AUTO = "semi_auto"
    VALIDATION = "validation"
    MALFORMED_REQUEST = "malformed_request"
    IP_BANNED = "ip_banned"
    FORBIDDEN = "forbidden"
    BROKER_MODULE_MISSING = "broker_module_missing"
    ENDPOINT_NOT_FOUND = "endpoint_not_found"
    ORDER_NOT_FOUND = "order_not_found"
    ORDER_NOT_CANCELLABLE = "order_not_cancellable"
    ORDER_REJECTED = "order_rejected"
    RATE_LIMITED = "rate_limited"
    BROKER_ERROR = "broker_error"
    SERVER_ERROR = "server_error"
    GATEWAY = "gateway"
    HTML_PAGE = "html_page"
    EMPTY_REPLY = "empty_reply"
    BAD_REPLY = "bad_reply"
    REPLY_TOO_LARGE = "reply_too_large"
    REDIRECT = "redirect"
    TIMEOUT = "timeout"
    CONNECTION_REFUSED = "connection_refused"
    DNS = "dns"
    TLS = "tls"
    CONNECTION_DROPPED = "connection_dropped"
    BAD_URL = "bad_url"
    CLIENT_CLOSED = "client_closed"


# The server said no: firing again will not help until a person changes something.
REFUSALS: Final = frozenset(
    {
        ErrorKind.INVALID_KEY,
        ErrorKind.SEMI_AUTO,
        ErrorKind.VALIDATION,
        ErrorKind.MALFORMED_REQUEST,
        ErrorKind.IP_BANNED,
        ErrorKind.FORBIDDEN,
        ErrorKind.BROKER_MODULE_MISSING,
    }
)
# The request never got an answer from OpenAlgo itself.
NETWORK: Final = frozenset(
    {
        ErrorKind.TIMEOUT,
        ErrorKind.CONNECTION_REFUSED,
        ErrorKind.DNS,
        ErrorKind.TLS,
        ErrorKind.CONNECTION_DROPPED,
        ErrorKind.GATEWAY,
        ErrorKind.BAD_URL,
        ErrorKind.ENDPOINT_NOT_FOUND,
        ErrorKind.REDIRECT,
        ErrorKind.HTML_PAGE,
    }
)
# Worth another try within the kill's deadline.
TRANSIENT: Final = frozenset(
    {
        ErrorKind.RATE_LIMITED,
        ErrorKind.BROKER_ERROR,
        ErrorKind.SERVER_ERROR,
        ErrorKind.GATEWAY,
        ErrorKind.HTML_PAGE,
        ErrorKind.EMPTY_REPLY,
        ErrorKind.TIMEOUT,
        ErrorKind.CONNECTION_REFUSED,
        ErrorKind.CONNECTION_DROPPED,
    }
)

_IN_TRANSIT = re.compile(r"transit|try again|temporar|in progress|pending modification", re.I)


@dataclass(frozen=True, slots=True)
class ApiError:
    """A failed call, as data. ``sentence`` is what the trader reads."""

    kind: ErrorKind
    sentence: str
    endpoint: str = ""
    http_status: int | None = None
    server_message: str = ""

    @property
    def transient(self) -> bool:
        if self.kind is ErrorKind.ORDER_REJECTED:
            return bool(_IN_TRANSIT.search(self.server_message))
        return self.kind in TRANSIENT

    @property
    def refusal(self) -> bool:
        return self.kind in REFUSALS

    @property
    def network(self) -> bool:
        return self.kind in NETWORK

    def __post_init__(self) -> None:
        # A sentence is one line on screen, whatever the server put in the message it quotes.
        one_line = " ".join(self.sentence.split())
        if one_line != self.sentence:
            object.__setattr__(self, "sentence", one_line)

    def __str__(self) -> str:
        return self.sentence


@dataclass(frozen=True, slots=True)
class CancelFailure:
    """An order the server (or the sweep) failed to cancel, with whatever reason it gave."""

    orderid: str
    reason: str


@dataclass(frozen=True, slots=True)
class CancelAllResult:
    message: str
    canceled: tuple[str, ...]
    failed: tuple[CancelFailure, ...]
    mode: str


@dataclass(frozen=True, slots=True)
class CancelResult:
    orderid: str
    message: str
    mode: str


@dataclass(frozen=True, slots=True)
class OrderBook:
    orders: tuple[Order, ...]
    mode: str
    statistics: Mapping[str, Any] = field(default_factory=dict)

    @property
    def working(self) -> tuple[Order, ...]:
        return tuple(o for o in self.orders if o.working)


@dataclass(frozen=True, slots=True)
class Pong:
    broker: str
    message: str
    mode: str


@dataclass(frozen=True, slots=True)
class AnalyzerStatus:
    mode: str  # "live" or "analyze"


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request and its reply, key removed, for the record of a kill."""

    endpoint: str
    request: Mapping[str, Any]
    http_status: int | None
    reply: str
    started: float  # time.time()
    elapsed_ms: float
    error: str = ""


ExchangeObserver = Callable[[Exchange], None]


def redact(text_: str, secret: str) -> str:
    """Remove the key from any text (a URL, a body, an exception) before it is shown or kept."""
    if secret and len(secret) >= 4:
        text_ = text_.replace(secret, "<APIKEY>")
    return text_


def normalise_host(url: str) -> str | None:
    """``http(s)://host[:port][/prefix]`` without a trailing slash, or None when not a usable URL."""
    url = url.strip()
    if not url:
        return None
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        return None
    path = parts.path.rstrip("/")
    if path.endswith("/api/v1"):
        path = path[: -len("/api/v1")]
    return f"{parts.scheme}://{parts.netloc}{path}"


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")


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


def make_http_client(*, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    """A client for one lane: kept-alive connections, redirects refused, TLS verified."""
    return httpx.Client(
        transport=transport,
        timeout=httpx.Timeout(READ_TIMEOUT_S, connect=CONNECT_TIMEOUT_S),
        # A panic press after minutes of quiet must not pay a new TCP/TLS handshake: keep
        # idle connections for an hour (the kill lane also pings to keep them warm).
        limits=httpx.Limits(max_connections=16, max_keepalive_connections=8, keepalive_expiry=3600),
        follow_redirects=False,  # a redirect could carry the key to another host
        verify=verified_tls(),
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

    def __repr__(self) -> str:
        return f"OpenAlgoClient(host={self.host!r})"

    # -- endpoints -------------------------------------------------------------------

    def cancel_all(self) -> CancelAllResult | ApiError:
        body = self._call(
            "cancelallorder",
            {"strategy": self.strategy},
            read_timeout=self.timeouts.cancel_all_read,
        )
        if isinstance(body, ApiError):
            return body
        canceled = _as_list(body.get("canceled_orders"))
        failed = _as_list(body.get("failed_cancellations"))
        return CancelAllResult(
            message=redact(text(body.get("message", "")), self._apikey),
            canceled=tuple(filter(None, (_item_id(i) for i in canceled))),
            failed=tuple(_redacted_failure(parse_failure(i), self._apikey) for i in failed),
            mode=mode_of(body),
        )

    def cancel_order(self, orderid: str) -> CancelResult | ApiError:
        body = self._call("cancelorder", {"strategy": self.strategy, "orderid": orderid})
        if isinstance(body, ApiError):
            return body
        return CancelResult(
            orderid=text(body.get("orderid", orderid)) or orderid,
            message=redact(text(body.get("message", "")), self._apikey),
            mode=mode_of(body),
        )

    def semi_auto_refuses_kills(self) -> bool | ApiError:
        """True when the account's Semi-Auto mode would refuse a kill (live accounts only).

        OpenAlgo has no read-only way to tell, so this asks it to cancel order id ``"0"``, which
        no broker issues: Semi-Auto refuses the request before any broker is called, and in Auto
        mode the broker answers that there is no such order. Nothing real can be cancelled.
        """
        result = self.cancel_order(SEMI_AUTO_PROBE_ORDER_ID)
        if not isinstance(result, ApiError):
            return False
        if result.kind is ErrorKind.SEMI_AUTO:
            return True
        if result.kind in (ErrorKind.INVALID_KEY, ErrorKind.IP_BANNED) or result.network:
            return result
        return False  # "order not found" and the like: Auto mode let the request through

    def orderbook(
        self, parse_row: Callable[[Mapping[str, Any]], Order] = Order.from_json
    ) -> OrderBook | ApiError:
        """The order book; ``parse_row`` turns each row into an ``Order`` (a poller passes
        ``core.book_changes.BookTracker.parse_row`` to reuse last poll's unchanged orders)."""
        body = self._call("orderbook", {})
        if isinstance(body, ApiError):
            return body
        data = body.get("data")
        rows: Any
        stats: Any = {}
        if isinstance(data, Mapping):
            rows = data.get("orders", [])
            stats = data.get("statistics", {})
        elif isinstance(data, list):  # some brokers hand back the rows directly
            rows = data
        elif data is None or data == "":
            rows = []  # an empty book is sometimes "data": null
        else:
            return self._bad_shape("orderbook", "the order book was not a list of orders")
        if rows is None:
            rows = []
        if not isinstance(rows, list):
            return self._bad_shape("orderbook", "the order book was not a list of orders")
        orders = tuple(parse_row(r) for r in rows if isinstance(r, Mapping))
        if len(orders) != len(rows):
            return self._bad_shape("orderbook", "some rows of the order book were not orders")
        return OrderBook(orders, mode_of(body), stats if isinstance(stats, Mapping) else {})

    def ping(self) -> Pong | ApiError:
        body = self._call("ping", {})
        if isinstance(body, ApiError):
            return body
        data = body.get("data")
        data = data if isinstance(data, Mapping) else {}
        return Pong(text(data.get("broker", "")), text(data.get("message", "")), mode_of(body))

    def analyzer(self) -> AnalyzerStatus | ApiError:
        body = self._call("analyzer", {})
        if isinstance(body, ApiError):
            return body
        data = body.get("data")
        if not isinstance(data, Mapping):
            return self._bad_shape("analyzer", "the mode was missing")
        mode = text(data.get("mode", "")).lower()
        if mode not in ("live", "analyze"):
            flag = data.get("analyze_mode")
            if not isinstance(flag, bool):
                return self._bad_shape("analyzer", "the mode was missing")
            mode = "analyze" if flag else "live"
        return AnalyzerStatus(mode)

    # -- transport -------------------------------------------------------------------

    def _bad_shape(self, endpoint: str, what: str) -> ApiError:
        return ApiError(
            ErrorKind.BAD_REPLY,
            f"The server's reply to {endpoint} could not be understood ({what}).",
            endpoint,
            200,
        )

    def _call(
        self, endpoint: str, fields: Mapping[str, Any], *, read_timeout: float | None = None
    ) -> dict[str, Any] | ApiError:
        if not self._valid_host:
            return ApiError(
                ErrorKind.BAD_URL,
                f"The server address {self.host!r} is not a usable URL (expected http://host:port).",
                endpoint,
            )
        payload = {"apikey": self._apikey, **fields}
        started_wall = time.time()
        started = time.perf_counter()
        status: int | None = None
        raw = b""
        try:
            request = self._http.build_request(
                "POST",
                f"{self.host}/api/v1/{endpoint}",
                json=payload,
                timeout=httpx.Timeout(
                    self.timeouts.read if read_timeout is None else read_timeout,
                    connect=self.timeouts.connect,
                ),
            )
            response = self._http.send(request, stream=True)
            try:
                status = response.status_code
                raw = _read_capped(response)
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
        kind, sentence = classify_exception(exc, self.host)
        return ApiError(kind, sentence, endpoint)


class _TooLargeError(Exception):
    pass


def _read_capped(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _TooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


# -- interpreting replies ----------------------------------------------------------------


def mode_of(body: Mapping[str, Any]) -> str:
    """``analyze`` when the reply says so; live replies carry no ``mode`` key at all."""
    return "analyze" if text(body.get("mode", "")).lower() == "analyze" else "live"


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, tuple):
        return list(value)
    return [value]  # a single id or item instead of a list


def _item_id(item: Any) -> str:
    if isinstance(item, Mapping):
        return order_id_from(item)
    if isinstance(item, str | int | float) and not isinstance(item, bool):
        return text(item)
    return ""


_REASON_KEYS = ("reason", "message", "error", "emsg", "errorMessage", "error_message", "msg", "status")


def parse_failure(item: Any) -> CancelFailure:
    """One failure item, in any shape a broker uses; keeps whatever it says."""
    if isinstance(item, Mapping):
        orderid = order_id_from(item)
        for key in _REASON_KEYS:
            value = item.get(key)
            if value not in (None, ""):
                return CancelFailure(orderid, _flatten(value))
        rest = {k: v for k, v in item.items() if text(v) != orderid}
        reason = _flatten(rest) if rest else "no reason given by the broker"
        return CancelFailure(orderid, reason)
    orderid = _item_id(item)
    if orderid:
        return CancelFailure(orderid, "no reason given by the broker")
    return CancelFailure("", _flatten(item) or "no reason given by the broker")


def _redacted_failure(failure: CancelFailure, secret: str) -> CancelFailure:
    reason = redact(failure.reason, secret)
    return failure if reason == failure.reason else CancelFailure(failure.orderid, reason)


def _flatten(value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_flatten(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return "; ".join(_flatten(v) for v in value)
    return text(value)


def message_text(value: Any) -> str:
    """The server's ``message`` as one readable line: objects and Python reprs flattened."""
    if isinstance(value, str):
        stripped = value.strip()
        # cancelallorder/cancelorder send validation errors as a Python repr of a dict.
        if stripped.startswith("{") and stripped.endswith("}"):
            pairs = re.findall(r"'([^']+)':\s*\[([^\]]*)\]", stripped)
            if pairs:
                return "; ".join(f"{k}: {v.strip().strip(chr(39))}" for k, v in pairs)
        return stripped
    return _flatten(value)


def _looks_html(content_type: str, raw: bytes) -> bool:
    head = raw[:512].lstrip().lower()
    return "html" in content_type.lower() or head.startswith((b"<!doctype", b"<html", b"<"))


def _html_title(raw: bytes) -> str:
    match = re.search(rb"<title[^>]*>(.*?)</title>", raw[:65536], re.I | re.S)
    if not match:
        return ""
    title = re.sub(r"\s+", " ", match.group(1).decode("utf-8", "replace")).strip()
    return title[:120]


def interpret(endpoint: str, status: int | None, content_type: str, raw: bytes) -> dict[str, Any] | ApiError:
    """Turn one HTTP reply into the JSON body of a success, or an ApiError with a sentence."""
    status = status or 0

    def err(kind: ErrorKind, sentence: str, message: str = "") -> ApiError:
        return ApiError(kind, sentence, endpoint, status, message)

    if 300 <= status < 400:
        return err(ErrorKind.REDIRECT, "The server answered with a redirect, which is never followed.")

    body: Any = None
    if raw.strip():
        try:
            body = json_body.loads(raw)  # json.loads, but fast and in short holds of the GIL
        except (ValueError, RecursionError):
            body = None

    message = ""
    if isinstance(body, Mapping):
        message = message_text(body.get("message", ""))

    if status == 200:
        if not raw.strip():
            return err(ErrorKind.EMPTY_REPLY, f"The server sent an empty reply to {endpoint}.")
        if not isinstance(body, Mapping):
            if _looks_html(content_type, raw):
                title = _html_title(raw)
                return err(
                    ErrorKind.HTML_PAGE,
                    "The server answered with a web page instead of OpenAlgo's API"
                    + (f" ({title})" if title else "")
                    + " — check the server URL; a tunnel or proxy may be in the way.",
                )
            return err(ErrorKind.BAD_REPLY, f"The server's reply to {endpoint} could not be understood.")
        state = text(body.get("status", "")).lower()
        if state == "success":
            return dict(body)
        if state == "error":
            return err(
                ErrorKind.BROKER_ERROR,
                f"The server reported an error on {endpoint}: {message or 'no reason given'}.",
                message,
            )
        return err(
            ErrorKind.BAD_REPLY,
            f"The server's reply to {endpoint} did not say whether it succeeded.",
            message,
        )

    if status == 429:
        return err(
            ErrorKind.RATE_LIMITED,
            f"The server's rate limit was hit on {endpoint} ({message or 'too many requests'}).",
            message,
        )

    if not isinstance(body, Mapping):
        plain = raw[:300].decode("utf-8", "replace").strip()
        if status == 403 and "banned" in plain.lower():
            return err(
                ErrorKind.IP_BANNED,
                "OpenAlgo has banned this computer's IP address (Access Denied) — "
                "lift the ban in OpenAlgo's security settings.",
                plain,
            )
        if status in (502, 503, 504):
            return err(
                ErrorKind.GATEWAY,
                f"The proxy or tunnel in front of OpenAlgo could not reach it (HTTP {status}) — "
                "is OpenAlgo running?",
            )
        if raw.strip() and _looks_html(content_type, raw):
            title = _html_title(raw)
            if status == 404:
                return err(
                    ErrorKind.ENDPOINT_NOT_FOUND,
                    "The server has no OpenAlgo API at this address (HTTP 404"
                    + (f", {title}" if title else "")
                    + ") — check the server URL, or whether the tunnel is still online.",
                )
            return err(
                ErrorKind.HTML_PAGE,
                f"The server answered with a web page (HTTP {status}"
                + (f", {title}" if title else "")
                + ") instead of OpenAlgo's API — a proxy or tunnel may be in the way.",
            )
        if not raw.strip():
            return err(
                ErrorKind.EMPTY_REPLY, f"The server sent an empty reply (HTTP {status}) to {endpoint}."
            )
        if status >= 500:
            return err(ErrorKind.SERVER_ERROR, f"The server failed (HTTP {status}) on {endpoint}.")
        return err(
            ErrorKind.BAD_REPLY,
            f"The server's reply to {endpoint} (HTTP {status}) could not be understood.",
        )

    lower = message.lower()
    if status == 403:
        if "invalid openalgo apikey" in lower or "apikey" in lower:
            return err(
                ErrorKind.INVALID_KEY,
                "The server rejected the API key: either the key is wrong, or the broker session "
                "behind it has expired (it ends daily at 03:00 IST) — log in to OpenAlgo again.",
                message,
            )
        if "semi-auto" in lower or "semi auto" in lower:
            return err(
                ErrorKind.SEMI_AUTO,
                "Kill refused: the account is in Semi-Auto mode, where OpenAlgo does not let the "
                "API cancel orders. Switch to Auto mode in OpenAlgo and fire again.",
                message,
            )
        if "banned" in lower:
            return err(
                ErrorKind.IP_BANNED,
                "OpenAlgo has banned this computer's IP address — lift the ban in OpenAlgo.",
                message,
            )
        return err(ErrorKind.FORBIDDEN, f"The server refused {endpoint}: {message or 'forbidden'}.", message)
    if status == 400:
        if "could not understand" in lower:
            return err(
                ErrorKind.MALFORMED_REQUEST,
                "The server could not read the request (malformed JSON) — this is a bug in the "
                "kill switch; please report it.",
                message,
            )
        if "cannot cancel order in" in lower or "already cancel" in lower:
            return err(ErrorKind.ORDER_NOT_CANCELLABLE, f"Not cancellable: {message}.", message)
        if isinstance(body.get("message"), Mapping) or re.search(
            r"missing data|unknown field|length must|not a valid|field", lower
        ):
            return err(
                ErrorKind.VALIDATION,
                f"The server rejected the request's fields ({message}) — check the strategy label "
                "and that this OpenAlgo version is supported.",
                message,
            )
        return err(ErrorKind.ORDER_REJECTED, message or f"The server rejected {endpoint}.", message)
    if status == 404:
        if "broker-specific module" in lower or "broker module" in lower:
            return err(
                ErrorKind.BROKER_MODULE_MISSING,
                "OpenAlgo is misconfigured: its broker module was not found — check the broker "
                "set up in OpenAlgo.",
                message,
            )
        if endpoint == "cancelorder" and "order" in lower:
            return err(ErrorKind.ORDER_NOT_FOUND, message or "Order not found.", message)
        return err(
            ErrorKind.ENDPOINT_NOT_FOUND,
            "The server has no OpenAlgo API at this address (HTTP 404) — check the server URL.",
            message,
        )
    if status in (502, 503, 504):
        return err(
            ErrorKind.GATEWAY,
            f"The proxy or tunnel in front of OpenAlgo could not reach it (HTTP {status}) — "
            "is OpenAlgo running?",
            message,
        )
    if status >= 500:
        if "status" in body:
            return err(
                ErrorKind.BROKER_ERROR,
                f"The broker call failed on {endpoint}: {message or 'internal error'}.",
                message,
            )
        return err(
            ErrorKind.SERVER_ERROR,
            f"OpenAlgo failed with an internal error (HTTP {status}) on {endpoint}.",
            message,
        )
    return err(
        ErrorKind.BAD_REPLY,
        f"The server answered {endpoint} with an unexpected HTTP {status}"
        + (f": {message}" if message else "")
        + ".",
        message,
    )


_DNS_HINTS = (
    "name or service not known",
    "nodename nor servname",
    "getaddrinfo",
    "name resolution",
    "no address associated",
    "errno -2",
    "errno -3",
    "errno -5",
    "errno 11001",
)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def classify_exception(exc: BaseException, host: str) -> tuple[ErrorKind, str]:
    """A network failure as a kind and a sentence naming the server, never the key."""
    chain = _chain(exc)
    described = " ".join(str(e) for e in chain).lower()
    if isinstance(exc, httpx.TimeoutException):
        phase = "connect to" if isinstance(exc, httpx.ConnectTimeout) else "get an answer from"
        return ErrorKind.TIMEOUT, f"Timed out trying to {phase} {host}."
    if any(isinstance(e, ssl.SSLError) for e in chain) or "certificate" in described or "ssl" in described:
        return (
            ErrorKind.TLS,
            f"The secure connection to {host} failed (TLS certificate not trusted or TLS error); "
            "the key was not sent.",
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ErrorKind.BAD_URL, f"The server address {host} is not a usable URL."
    if isinstance(exc, httpx.ConnectError):
        if any(hint in described for hint in _DNS_HINTS):
            return ErrorKind.DNS, f"The server name in {host} could not be found (DNS) — check the URL."
        if "refused" in described:
            return (
                ErrorKind.CONNECTION_REFUSED,
                f"Nothing is listening at {host} (connection refused) — is OpenAlgo running?",
            )
        return ErrorKind.CONNECTION_REFUSED, f"Could not connect to {host} — is it reachable?"
    if isinstance(exc, httpx.DecodingError):
        return ErrorKind.BAD_REPLY, f"The reply from {host} could not be decoded."
    return (
        ErrorKind.CONNECTION_DROPPED,
        f"The connection to {host} dropped before the reply was complete — the request may or may "
        "not have been carried out.",
    )
