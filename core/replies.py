"""Reading OpenAlgo's replies: typed results, typed errors, and one sentence for each failure.

:func:`interpret` turns one HTTP reply into the JSON body of a success or an :class:`ApiError`;
the ``read_*`` functions turn a success body into the typed result of its endpoint. Reading is
liberal in what it accepts (brokers leak their own words and shapes) and strict in what it
claims: a body that does not hold what its endpoint promises is an error, never an empty result.
In particular an order book without the list of orders where OpenAlgo puts it (``data.orders``)
is an unreadable book, not an empty one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Final

from core import json_body
from core.orders import Order, number, order_id_from, text
from core.positions import Position
from core.redaction import redact


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
    delivered: bool = True
    """False only when the request certainly never reached the server (nothing listening, DNS,
    TLS, no connection in time, the kill's deadline already past): then nothing it asked for can
    have happened. Any answer, a timeout waiting for one and a dropped connection leave it True:
    the request may have been carried out."""

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
    canceled: tuple[str, ...]  # order ids the server says it cancelled
    failed: tuple[CancelFailure, ...]
    mode: str
    all_marker: bool = False  # the broker said "all" instead of listing ids (one broker does)


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

    def counted_working(self) -> int:
        """Open plus trigger-pending orders as the book's own ``statistics`` count them (0 when
        it has no counts). Not trusted over the rows; but counts above zero with no working row
        mean the rows are not the whole book."""
        stats = self.statistics
        return sum(
            max(0, int(number(stats.get(key))))
            for key in ("total_open_orders", "total_trigger_pending_orders")
        )

    def rows_left_out(self) -> bool:
        """The book's own counts show more working orders than its rows do: some rows are
        missing, and a missing row may be the very order a caller is looking for."""
        return self.counted_working() > len(self.working)

    def ids(self) -> frozenset[str]:
        return frozenset(o.orderid for o in self.orders if o.orderid)


@dataclass(frozen=True, slots=True)
class PositionBook:
    positions: tuple[Position, ...]
    mode: str

    @property
    def open(self) -> tuple[Position, ...]:
        return tuple(p for p in self.positions if p.open)


@dataclass(frozen=True, slots=True)
class ClosePositionsResult:
    """``closeposition``'s answer. Live it always says "All Open Positions Squared Off", whatever
    happened to each closing order: only a fresh read of the position book proves anything."""

    message: str
    mode: str


@dataclass(frozen=True, slots=True)
class SmartOrderResult:
    """``placesmartorder``'s answer: an order placed (``orderid``), nothing to do (the position was
    already where it was asked to be), or queued for approval (Semi-Auto's Action Center)."""

    message: str
    mode: str
    orderid: str = ""
    queued: bool = False

    @property
    def nothing_to_do(self) -> bool:
        return not self.orderid and not self.queued


@dataclass(frozen=True, slots=True)
class Pong:
    broker: str
    message: str
    mode: str


@dataclass(frozen=True, slots=True)
class AnalyzerStatus:
    mode: str  # "live" or "analyze"


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


# Answers that come from something in front of OpenAlgo -- a proxy that is unavailable (503), a
# tunnel's or a captive portal's web page, a redirect, a 404 without OpenAlgo's API -- mean the
# request never reached OpenAlgo. A gateway *timeout* (504) means it did and is still being worked
# on. A 502 proves nothing either way: nginx sends the same page when OpenAlgo is down and when a
# gunicorn worker died mid-request (killed at its 30 s timeout during a slow broker's cancel-all,
# after cancelling orders), so a call that changes state may have been carried out.
_IN_FRONT_OF_OPENALGO: Final = frozenset(
    {ErrorKind.HTML_PAGE, ErrorKind.ENDPOINT_NOT_FOUND, ErrorKind.REDIRECT}
)
CHANGES_STATE: Final = frozenset(
    {"cancelallorder", "cancelorder", "closeposition", "placesmartorder", "placeorder", "analyzer/toggle"}
)
"""Endpoints whose request changes something on the server (or at the broker)."""


def _reached_openalgo(endpoint: str, kind: ErrorKind, status: int) -> bool:
    if kind is ErrorKind.GATEWAY:
        return status == 504 or (status == 502 and endpoint in CHANGES_STATE)
    return kind not in _IN_FRONT_OF_OPENALGO


def interpret(endpoint: str, status: int | None, content_type: str, raw: bytes) -> dict[str, Any] | ApiError:
    """Turn one HTTP reply into the JSON body of a success, or an ApiError with a sentence."""
    status = status or 0

    def err(kind: ErrorKind, sentence: str, message: str = "") -> ApiError:
        return ApiError(kind, sentence, endpoint, status, message, _reached_openalgo(endpoint, kind, status))

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
        if status == 502 and endpoint in CHANGES_STATE:
            return err(
                ErrorKind.GATEWAY,
                "The proxy or tunnel in front of OpenAlgo lost its answer (HTTP 502) — OpenAlgo may "
                f"be down, or it may have carried out {endpoint} and failed while answering.",
            )
        if status == 504 and endpoint in CHANGES_STATE:
            return err(
                ErrorKind.GATEWAY,
                "The proxy or tunnel in front of OpenAlgo gave up waiting for its answer (HTTP 504) — "
                f"OpenAlgo may still be carrying out {endpoint}.",
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


# -- success bodies into typed results ------------------------------------------------------

_ALL_MARKERS: Final = frozenset({"all", "*"})


def bad_shape(endpoint: str, what: str) -> ApiError:
    """A success reply that does not hold what ``endpoint`` promises."""
    return ApiError(
        ErrorKind.BAD_REPLY,
        f"The server's reply to {endpoint} could not be understood ({what}).",
        endpoint,
        200,
    )


def read_cancel_all(body: Mapping[str, Any], secret: str) -> CancelAllResult:
    """``cancelallorder``'s lists, in whatever shape the broker writes their items."""
    ids = [i for i in (_item_id(item) for item in _as_list(body.get("canceled_orders"))) if i]
    marker = bool(ids) and all(i.lower() in _ALL_MARKERS for i in ids)
    return CancelAllResult(
        message=redact(text(body.get("message", "")), secret),
        canceled=() if marker else tuple(i for i in ids if i.lower() not in _ALL_MARKERS),
        failed=tuple(
            _redacted_failure(parse_failure(item), secret)
            for item in _as_list(body.get("failed_cancellations"))
        ),
        mode=mode_of(body),
        all_marker=marker,
    )


def read_cancel(body: Mapping[str, Any], orderid: str, secret: str) -> CancelResult:
    return CancelResult(
        orderid=text(body.get("orderid", orderid)) or orderid,
        message=redact(text(body.get("message", "")), secret),
        mode=mode_of(body),
    )


def read_orderbook(
    body: Mapping[str, Any], parse_row: Callable[[Mapping[str, Any]], Order] = Order.from_json
) -> OrderBook | ApiError:
    """The order book from ``data.orders``, strictly.

    OpenAlgo always answers a good read with ``data.orders`` as a list (possibly empty) beside
    ``data.statistics``. A success without that list -- no ``data``, ``data: null``, ``data: {}``,
    ``orders: null``, the rows under another key -- says nothing about which orders are working,
    so it is an unreadable book, never an empty one.
    """
    data = body.get("data")
    rows = data.get("orders") if isinstance(data, Mapping) else None
    if not isinstance(rows, list):
        return bad_shape("orderbook", "it held no list of orders where OpenAlgo puts it")
    orders = tuple(parse_row(row) for row in rows if isinstance(row, Mapping))
    if len(orders) != len(rows):
        return bad_shape("orderbook", "some rows of the order book were not orders")
    assert isinstance(data, Mapping)
    stats = data.get("statistics")
    return OrderBook(orders, mode_of(body), stats if isinstance(stats, Mapping) else {})


def read_ping(body: Mapping[str, Any]) -> Pong:
    data = body.get("data")
    data = data if isinstance(data, Mapping) else {}
    return Pong(text(data.get("broker", "")), text(data.get("message", "")), mode_of(body))


def read_analyzer(body: Mapping[str, Any]) -> AnalyzerStatus | ApiError:
    data = body.get("data")
    if not isinstance(data, Mapping):
        return bad_shape("analyzer", "the mode was missing")
    mode = text(data.get("mode", "")).lower()
    if mode not in ("live", "analyze"):
        flag = data.get("analyze_mode")
        if not isinstance(flag, bool):
            return bad_shape("analyzer", "the mode was missing")
        mode = "analyze" if flag else "live"
    return AnalyzerStatus(mode)


def read_positionbook(body: Mapping[str, Any]) -> PositionBook | ApiError:
    """The position book, strictly: OpenAlgo answers a good read with ``data`` as a list (possibly
    empty). A success without that list is an unreadable book, never "no positions"."""
    rows = body.get("data")
    if not isinstance(rows, list):
        return bad_shape("positionbook", "it held no list of positions")
    read = [Position.read(row) for row in rows if isinstance(row, Mapping)]
    positions = tuple(p for p in read if p is not None)
    if len(positions) != len(rows):
        return bad_shape("positionbook", "some rows of the position book had no readable quantity")
    return PositionBook(positions, mode_of(body))


def read_close_positions(body: Mapping[str, Any], secret: str) -> ClosePositionsResult:
    return ClosePositionsResult(redact(message_text(body.get("message", "")), secret), mode_of(body))


_QUEUED = re.compile(r"queued|action center|pending approval", re.I)


def read_smart_order(body: Mapping[str, Any], secret: str) -> SmartOrderResult:
    message = redact(message_text(body.get("message", "")), secret)
    queued = (
        "pending_order_id" in body
        or text(body.get("mode", "")).lower() == "semi_auto"
        or bool(_QUEUED.search(message))
    )
    orderid = "" if queued else text(body.get("orderid", ""))
    return SmartOrderResult(message, mode_of(body), orderid, queued)
