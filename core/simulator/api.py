"""OpenAlgo's REST endpoints as the simulator answers them, apart from the HTTP plumbing.

The order of the checks follows the real server: an IP ban and proxy failures come first, then the
route, the rate limit, the content type, the JSON, the schema, the API key, the Semi-Auto mode and
finally the endpoint's own work, which lives in one module per story (``orders_api``,
``positions_api``, ``account_api``).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from core.simulator import account_api, orders_api, positions_api
from core.simulator.book import OrderBook
from core.simulator.market import now_ist
from core.simulator.quirks import Quirks
from core.simulator.ratelimit import MovingWindowLimiter
from core.simulator.replies import DROPPED, INTERNAL_ERROR, JSON_TYPE, Reply, json_reply
from core.simulator.stats import SimulatorStats
from core.simulator.validation import (
    ACCOUNT_SCHEMA,
    ANALYZER_SCHEMA,
    ANALYZER_TOGGLE_SCHEMA,
    CANCEL_ORDER_SCHEMA,
    MODIFY_ORDER_SCHEMA,
    ORDER_STATUS_SCHEMA,
    PLACE_ORDER_SCHEMA,
    SMART_ORDER_SCHEMA,
    STRATEGY_SCHEMA,
    Schema,
    load,
    load_order,
)

logger = logging.getLogger(__name__)

NOT_UNDERSTOOD = "The browser (or proxy) sent a request that this server could not understand."
INVALID_APIKEY = "Invalid openalgo apikey"
IP_BANNED = "Access Denied: Your IP has been banned"

SEMI_AUTO_REFUSALS = {
    "cancelallorder": "Cancel all orders operation is not allowed in Semi-Auto mode. "
    "Please switch to Auto mode to cancel orders.",
    "cancelorder": "Cancel order operation is not allowed in Semi-Auto mode. "
    "Please switch to Auto mode to cancel orders.",
    "closeposition": "Close position operation is not allowed in Semi-Auto mode. "
    "Please switch to Auto mode to close positions.",
}
"""OpenAlgo's exact 403 sentences for a live account in Semi-Auto (Action Center) mode."""

QUEUED_IN_SEMI_AUTO = {"placeorder": "placeorder", "placesmartorder": "smartorder"}
"""Endpoints whose orders a Semi-Auto account queues in the Action Center, with the ``api_type``
OpenAlgo files them under (services/order_router_service.py)."""

BROKER_FAILURES = {
    "cancelallorder": "Failed to cancel all orders due to internal error",
    "closeposition": "Failed to close positions due to internal error",
    "placesmartorder": "Failed to place smart order due to internal error",
}
"""What the ``broker_error`` quirk answers; other endpoints get ``"An unexpected error occurred"``."""

NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.24.0 (Ubuntu)</center>\r\n"
    "</body>\r\n</html>\r\n"
)

_ROUTE = re.compile(r"^/api/v1/([A-Za-z_]+(?:/[A-Za-z_]+)?)/?$")

Handler = Callable[["OpenAlgoApp", dict[str, Any], Quirks], Reply]
"""An endpoint's own work, given the loaded request fields and the quirks in force."""


@dataclass(frozen=True)
class Endpoint:
    schema: Schema
    errors: Literal["object", "string", "string_mode"]
    """How a validation error is written: a JSON object; a Python-repr string; a string that also
    carries ``"mode": "analyze"`` in analyze mode."""
    limit: Literal["api", "order", "smart"]
    handler: Handler
    order_fields: bool = False
    """Apply OpenAlgo's post-load quantity coercion (orders only)."""


ENDPOINTS: dict[str, Endpoint] = {
    "placeorder": Endpoint(PLACE_ORDER_SCHEMA, "string", "order", orders_api.placeorder, order_fields=True),
    "modifyorder": Endpoint(
        MODIFY_ORDER_SCHEMA, "string_mode", "order", orders_api.modifyorder, order_fields=True
    ),
    "placesmartorder": Endpoint(
        SMART_ORDER_SCHEMA, "string_mode", "smart", positions_api.placesmartorder, order_fields=True
    ),
    "cancelorder": Endpoint(CANCEL_ORDER_SCHEMA, "string_mode", "order", orders_api.cancelorder),
    "cancelallorder": Endpoint(STRATEGY_SCHEMA, "string_mode", "api", orders_api.cancelallorder),
    "closeposition": Endpoint(STRATEGY_SCHEMA, "string_mode", "api", positions_api.closeposition),
    "orderbook": Endpoint(ACCOUNT_SCHEMA, "object", "api", orders_api.orderbook),
    "orderstatus": Endpoint(ORDER_STATUS_SCHEMA, "object", "api", orders_api.orderstatus),
    "positionbook": Endpoint(ACCOUNT_SCHEMA, "object", "api", positions_api.positionbook),
    "funds": Endpoint(ACCOUNT_SCHEMA, "object", "api", account_api.funds),
    "ping": Endpoint(ACCOUNT_SCHEMA, "object", "api", account_api.ping),
    "analyzer": Endpoint(ANALYZER_SCHEMA, "string", "api", account_api.analyzer),
    "analyzer/toggle": Endpoint(ANALYZER_TOGGLE_SCHEMA, "string", "api", account_api.analyzer_toggle),
}


def endpoint_name(path: str) -> str:
    """The endpoint a path names (``/api/v1/orderbook/`` -> ``orderbook``), or the bare path."""
    bare = urlsplit(path).path
    match = _ROUTE.match(bare)
    return match.group(1) if match else bare


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    mimetype = content_type.split(";", 1)[0].strip().lower()
    return mimetype == JSON_TYPE or (mimetype.startswith("application/") and mimetype.endswith("+json"))


class OpenAlgoApp:
    """The simulated server's behaviour: takes a parsed request, returns a :class:`Reply`."""

    def __init__(
        self,
        *,
        books: Mapping[str, OrderBook],
        stats: SimulatorStats,
        apikey: str,
        mode: str,
        quirks: Quirks,
        stopping: threading.Event,
    ) -> None:
        self.stats = stats
        self.apikey = apikey
        self.quirks = quirks
        self.limiter = MovingWindowLimiter()
        self.on_request: Callable[[str, float], None] | None = None
        self.broker = "zerodha"
        self.started_at = now_ist()
        self._stopping = stopping
        self._logs_lock = threading.Lock()
        self._logs = 0
        self._mode_lock = threading.Lock()
        self._pending_lock = threading.Lock()
        self._pending: list[dict[str, Any]] = []
        # The mode and the books change together, as one value, so a reader never sees half a switch.
        self._state: tuple[str, Mapping[str, OrderBook]] = (mode, dict(books))

    @property
    def mode(self) -> str:
        return self._state[0]

    @property
    def analyze(self) -> bool:
        return self._state[0] == "analyze"

    @property
    def book(self) -> OrderBook:
        """The book the endpoints act on: the current mode's."""
        mode, books = self._state
        return books[mode]

    def book_of(self, mode: str) -> OrderBook:
        """The live book (``"live"``) or the sandbox book (``"analyze"``)."""
        return self._state[1][mode]

    def set_mode(self, mode: str, *, switch_books: bool) -> None:
        """Go to ``mode``. With ``switch_books`` the endpoints move to that mode's own book, as
        OpenAlgo's analyzer toggle does; without it the book in front stays in front and becomes that
        mode's book (the other book takes the other mode)."""
        with self._mode_lock:
            old, books = self._state
            if switch_books or mode == old:
                self._state = (mode, books)
            else:
                self._state = (mode, {mode: books[old], old: books[mode]})

    # ---- the request pipeline ------------------------------------------------------------------

    def serve(self, method: str, path: str, content_type: str | None, body: bytes, client_ip: str) -> Reply:
        """Answer one request whose body has just been read."""
        arrived = time.perf_counter()
        endpoint = endpoint_name(path)
        self.stats.record_arrival(endpoint, arrived)
        hook = self.on_request
        if hook is not None:
            try:
                hook(endpoint, arrived)
            except Exception:
                logger.exception("on_request hook failed")
        quirks = self.quirks
        status: int | None = None
        try:
            reply = self._answer(method, path, endpoint, content_type, body, client_ip, quirks, arrived)
        except Exception:
            logger.exception("simulator failed on %s", endpoint)
            reply = INTERNAL_ERROR
        if endpoint in quirks.lose_reply:
            reply = DROPPED  # the work is done; the answer never leaves
        try:
            if not reply.dropped:
                delay = quirks.reply_delay_s + quirks.endpoint_delay_s.get(endpoint, 0.0)
                if delay > 0:
                    self._stopping.wait(delay)
                status = reply.status
            return reply
        finally:
            self.stats.record_reply(endpoint, status)

    def _answer(
        self,
        method: str,
        path: str,
        endpoint: str,
        content_type: str | None,
        body: bytes,
        client_ip: str,
        quirks: Quirks,
        arrived: float,
    ) -> Reply:
        if quirks.ip_banned:
            return Reply(403, IP_BANNED.encode(), "text/plain; charset=utf-8")
        # A proxy in front of OpenAlgo fails before the request reaches it.
        if endpoint in quirks.drop_connection:
            return DROPPED
        if endpoint in quirks.hang:
            self._stopping.wait()
            return DROPPED
        if endpoint in quirks.html_error:
            return Reply(502, NGINX_502.encode(), "text/html")
        if endpoint in quirks.empty_reply:
            return Reply(200, b"")
        spec = ENDPOINTS.get(endpoint)
        if method != "POST" or spec is None:
            return json_reply(404, {"status": "error", "message": "Not found", "path": urlsplit(path).path})
        limit = {
            "api": quirks.api_rate_limit,
            "order": quirks.order_rate_limit,
            "smart": quirks.smart_order_rate_limit,
        }[spec.limit]
        # The window is judged on the arrival time that stats record, so that "no 429" and "never more
        # than the limit within a second of arrivals" are one and the same fact.
        if not self.limiter.allow(client_ip, endpoint, limit, now=arrived):
            return json_reply(429, {"message": f"{limit} per 1 second"})
        if not _is_json(content_type):
            return INTERNAL_ERROR
        try:
            data = json.loads(body)
        except ValueError:
            return json_reply(400, {"message": NOT_UNDERSTOOD})
        if not isinstance(data, dict):
            return INTERNAL_ERROR
        reply = self._process(endpoint, spec, data, quirks)
        if endpoint in quirks.gateway_after_work:
            return Reply(502, NGINX_502.encode(), "text/html")  # done, but the answer was lost
        return reply

    def submit(self, endpoint: str, data: dict[str, Any]) -> Reply:
        """Hand a request to OpenAlgo's service layer directly, as its own webhooks and strategies do:
        schema, key, Semi-Auto and the endpoint's work, but no HTTP front, rate limit or statistics."""
        try:
            return self._process(endpoint, ENDPOINTS[endpoint], data, self.quirks)
        except Exception:
            logger.exception("simulator failed on an internal %s", endpoint)
            return INTERNAL_ERROR

    def _process(self, endpoint: str, spec: Endpoint, data: dict[str, Any], quirks: Quirks) -> Reply:
        loaded, errors = (load_order if spec.order_fields else load)(spec.schema, data)
        if errors:
            return self._invalid(spec, errors)
        if loaded["apikey"] != self.apikey:
            return json_reply(403, {"status": "error", "message": INVALID_APIKEY})
        if quirks.semi_auto and not self.analyze and endpoint in SEMI_AUTO_REFUSALS:
            return json_reply(403, {"status": "error", "message": SEMI_AUTO_REFUSALS[endpoint]})
        if quirks.semi_auto and endpoint in QUEUED_IN_SEMI_AUTO:
            return self._queue(QUEUED_IN_SEMI_AUTO[endpoint], loaded)
        if endpoint in quirks.broker_error:
            message = BROKER_FAILURES.get(endpoint, "An unexpected error occurred")
            return json_reply(500, {"status": "error", "message": message})
        return spec.handler(self, loaded, quirks)

    def _queue(self, api_type: str, loaded: dict[str, Any]) -> Reply:
        """Semi-Auto: file the order for approval in the Action Center instead of placing it. The
        reply is OpenAlgo's queue_order's, whatever the mode (its ``mode`` is ``"semi_auto"``)."""
        order_data = {key: value for key, value in loaded.items() if key != "apikey"}
        with self._pending_lock:
            pending_id = len(self._pending) + 1
            self._pending.append(
                {"pending_order_id": pending_id, "api_type": api_type, "order_data": order_data}
            )
        return json_reply(
            200,
            {
                "status": "success",
                "message": "Order queued for approval in Action Center",
                "mode": "semi_auto",
                "pending_order_id": pending_id,
            },
        )

    @property
    def pending_orders(self) -> list[dict[str, Any]]:
        """The Action Center's queue: orders a Semi-Auto account filed for approval, oldest first."""
        with self._pending_lock:
            return [dict(item, order_data=dict(item["order_data"])) for item in self._pending]

    def _invalid(self, spec: Endpoint, errors: dict[str, list[str]]) -> Reply:
        if spec.errors == "object":
            return json_reply(400, {"status": "error", "message": errors})
        body: dict[str, Any] = {"status": "error", "message": str(errors)}
        if spec.errors == "string_mode" and self.analyze:
            body["mode"] = "analyze"
            self.log()
        return json_reply(400, body)

    # ---- for the endpoints ---------------------------------------------------------------------

    def ok(self, payload: dict[str, Any], status: int = 200) -> Reply:
        """A success body, marked ``"mode": "analyze"`` in analyze mode."""
        body = {"status": "success", **payload}
        if self.analyze:
            body["mode"] = "analyze"
        return json_reply(status, body)

    def error(self, status: int, message: str, **extra: Any) -> Reply:
        """An error body (with any ``extra`` keys), marked ``"mode": "analyze"`` in analyze mode."""
        body = {"status": "error", "message": message, **extra}
        if self.analyze:
            body["mode"] = "analyze"
        return json_reply(status, body)

    def log(self) -> None:
        """The analyzer keeps a log of the order API calls it handled in analyze mode."""
        if self.analyze:
            with self._logs_lock:
                self._logs += 1

    @property
    def logs(self) -> int:
        """How many calls the analyzer has logged (``total_logs``)."""
        with self._logs_lock:
            return self._logs

    def wait(self, seconds: float) -> None:
        """Spend ``seconds`` as a broker call would; cut short when the simulator stops."""
        self._stopping.wait(seconds)
