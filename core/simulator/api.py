"""OpenAlgo's REST endpoints as the simulator answers them, apart from the HTTP plumbing.

The order of the checks follows the real server: an IP ban and proxy failures come first, then the
route, the rate limit, the content type, the JSON, the schema, the API key, the Semi-Auto mode and
finally the endpoint's own work. Bodies are written as Flask's ``jsonify`` writes them: keys sorted,
compact, with a trailing newline.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from core.simulator.book import Order, OrderBook
from core.simulator.market import (
    DERIVATIVE_EXCHANGES,
    EQUITY_EXCHANGES,
    knows_symbol,
    last_price,
    now_ist,
)
from core.simulator.quirks import FailureShape, Quirks
from core.simulator.ratelimit import MovingWindowLimiter
from core.simulator.stats import SimulatorStats
from core.simulator.validation import (
    ACCOUNT_SCHEMA,
    CANCEL_ORDER_SCHEMA,
    MODIFY_ORDER_SCHEMA,
    ORDER_STATUS_SCHEMA,
    PLACE_ORDER_SCHEMA,
    STRATEGY_SCHEMA,
    Schema,
    load,
    load_order,
)

logger = logging.getLogger(__name__)

JSON_TYPE = "application/json"

NOT_UNDERSTOOD = "The browser (or proxy) sent a request that this server could not understand."
INVALID_APIKEY = "Invalid openalgo apikey"
IP_BANNED = "Access Denied: Your IP has been banned"
NO_OPEN_ORDERS = "No open orders to cancel"

SEMI_AUTO_REFUSALS = {
    "cancelallorder": "Cancel all orders operation is not allowed in Semi-Auto mode. "
    "Please switch to Auto mode to cancel orders.",
    "cancelorder": "Cancel order operation is not allowed in Semi-Auto mode. "
    "Please switch to Auto mode to cancel orders.",
    "closeposition": "Close position operation is not allowed in Semi-Auto mode. "
    "Please switch to Auto mode to close positions.",
}
"""OpenAlgo's exact 403 sentences for a live account in Semi-Auto (Action Center) mode."""

BROKER_FAILURES = {
    "cancelallorder": "Failed to cancel all orders due to internal error",
}
"""What the ``broker_error`` quirk answers; other endpoints get ``"An unexpected error occurred"``."""

NGINX_502 = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.24.0 (Ubuntu)</center>\r\n"
    "</body>\r\n</html>\r\n"
)

ORDERBOOK_NUMBERS = (
    "quantity",
    "price",
    "trigger_price",
    "average_price",
    "filled_quantity",
    "pending_quantity",
)

_ROUTE = re.compile(r"^/api/v1/([A-Za-z_]+)/?$")


@dataclass(frozen=True)
class Reply:
    """An answer to send, or ``dropped``: close the connection without a word."""

    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    dropped: bool = False


DROPPED = Reply(0, dropped=True)


def json_reply(status: int, payload: Any) -> Reply:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")) + "\n"
    return Reply(status, body.encode())


INTERNAL_ERROR = json_reply(500, {"message": "Internal Server Error"})


@dataclass(frozen=True)
class Endpoint:
    schema: Schema
    errors: Literal["object", "string", "string_mode"]
    """How a validation error is written: a JSON object; a Python-repr string; a string that also
    carries ``"mode": "analyze"`` in analyze mode."""
    limit: Literal["api", "order"]
    order_fields: bool = False
    """Apply OpenAlgo's post-load quantity coercion (orders only)."""


ENDPOINTS: dict[str, Endpoint] = {
    "placeorder": Endpoint(PLACE_ORDER_SCHEMA, "string", "order", order_fields=True),
    "modifyorder": Endpoint(MODIFY_ORDER_SCHEMA, "string_mode", "order", order_fields=True),
    "cancelorder": Endpoint(CANCEL_ORDER_SCHEMA, "string_mode", "order"),
    "cancelallorder": Endpoint(STRATEGY_SCHEMA, "string_mode", "api"),
    "closeposition": Endpoint(STRATEGY_SCHEMA, "string_mode", "api"),
    "orderbook": Endpoint(ACCOUNT_SCHEMA, "object", "api"),
    "orderstatus": Endpoint(ORDER_STATUS_SCHEMA, "object", "api"),
    "positionbook": Endpoint(ACCOUNT_SCHEMA, "object", "api"),
    "funds": Endpoint(ACCOUNT_SCHEMA, "object", "api"),
    "ping": Endpoint(ACCOUNT_SCHEMA, "object", "api"),
    "analyzer": Endpoint(ACCOUNT_SCHEMA, "object", "api"),
}


def endpoint_name(path: str) -> str:
    """The endpoint a path names (``/api/v1/orderbook/`` -> ``orderbook``), or the bare path."""
    bare = urlsplit(path).path
    match = _ROUTE.match(bare)
    return match.group(1) if match else bare


def failure_item(shape: FailureShape, orderid: str, reason: str) -> Any:
    """One ``failed_cancellations`` item in the shape a broker uses."""
    if shape == "bare":
        return orderid
    if shape == "orderid_reason":
        return {"orderid": orderid, "reason": reason}
    if shape == "order_id_message":
        return {"order_id": orderid, "message": reason, "status": "error"}
    if shape == "orderId_error":
        return {"orderId": orderid, "error": reason}
    return {"orderid": orderid, "message": reason}


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
        book: OrderBook,
        stats: SimulatorStats,
        apikey: str,
        mode: str,
        quirks: Quirks,
        stopping: threading.Event,
    ) -> None:
        self.book = book
        self.stats = stats
        self.apikey = apikey
        self.mode = mode
        self.quirks = quirks
        self.limiter = MovingWindowLimiter()
        self.on_request: Callable[[str, float], None] | None = None
        self.broker = "zerodha"
        self.started_at = now_ist()
        self._stopping = stopping
        self._logs_lock = threading.Lock()
        self._logs = 0
        self._handlers: dict[str, Callable[[dict[str, Any], Quirks], Reply]] = {
            "placeorder": self._placeorder,
            "modifyorder": self._modifyorder,
            "cancelorder": self._cancelorder,
            "cancelallorder": self._cancelallorder,
            "closeposition": self._closeposition,
            "orderbook": self._orderbook,
            "orderstatus": self._orderstatus,
            "positionbook": self._positionbook,
            "funds": self._funds,
            "ping": self._ping,
            "analyzer": self._analyzer,
        }

    @property
    def analyze(self) -> bool:
        return self.mode == "analyze"

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
        if endpoint in quirks.html_error:
            return Reply(502, NGINX_502.encode(), "text/html")
        if endpoint in quirks.empty_reply:
            return Reply(200, b"")
        spec = ENDPOINTS.get(endpoint)
        if method != "POST" or spec is None:
            return json_reply(404, {"status": "error", "message": "Not found", "path": urlsplit(path).path})
        limit = quirks.api_rate_limit if spec.limit == "api" else quirks.order_rate_limit
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
        loaded, errors = (load_order if spec.order_fields else load)(spec.schema, data)
        if errors:
            return self._invalid(spec, errors)
        if loaded["apikey"] != self.apikey:
            return json_reply(403, {"status": "error", "message": INVALID_APIKEY})
        if quirks.semi_auto and not self.analyze and endpoint in SEMI_AUTO_REFUSALS:
            return json_reply(403, {"status": "error", "message": SEMI_AUTO_REFUSALS[endpoint]})
        if endpoint in quirks.broker_error:
            message = BROKER_FAILURES.get(endpoint, "An unexpected error occurred")
            return json_reply(500, {"status": "error", "message": message})
        return self._handlers[endpoint](loaded, quirks)

    def _invalid(self, spec: Endpoint, errors: dict[str, list[str]]) -> Reply:
        if spec.errors == "object":
            return json_reply(400, {"status": "error", "message": errors})
        body: dict[str, Any] = {"status": "error", "message": str(errors)}
        if spec.errors == "string_mode" and self.analyze:
            body["mode"] = "analyze"
            self._log()
        return json_reply(400, body)

    def _ok(self, payload: dict[str, Any], status: int = 200) -> Reply:
        body = {"status": "success", **payload}
        if self.analyze:
            body["mode"] = "analyze"
        return json_reply(status, body)

    def _error(self, status: int, message: str) -> Reply:
        body = {"status": "error", "message": message}
        if self.analyze:
            body["mode"] = "analyze"
        return json_reply(status, body)

    def _log(self) -> None:
        """The analyzer keeps a log of the order API calls it handled in analyze mode."""
        if self.analyze:
            with self._logs_lock:
                self._logs += 1

    def _present(self, order: Order, quirks: Quirks, row: dict[str, Any]) -> dict[str, Any]:
        row["order_status"] = quirks.status_words.get(order.status, order.status)
        if quirks.numbers_as_strings:
            for key in ORDERBOOK_NUMBERS:
                row[key] = str(row[key])
        return row

    # ---- the endpoints -------------------------------------------------------------------------

    def _placeorder(self, data: dict[str, Any], quirks: Quirks) -> Reply:
        symbol: str = data["symbol"]
        exchange: str = data["exchange"]
        product: str = data["product"]
        pricetype: str = data["pricetype"]
        price: float = data["price"]
        trigger: float = data["trigger_price"]
        self._log()
        if not knows_symbol(symbol, exchange):
            return self._error(400, f"Symbol {symbol} not found on {exchange}")
        if exchange in EQUITY_EXCHANGES and product == "NRML":
            return self._error(
                400,
                f"NRML product not allowed for {exchange} equity segment. "
                "Use CNC for delivery or MIS for intraday.",
            )
        if exchange in DERIVATIVE_EXCHANGES and product == "CNC":
            return self._error(
                400,
                f"CNC product not allowed for {exchange} derivatives segment. "
                "Use NRML for carryforward or MIS for intraday.",
            )
        if quirks.market_closed and product == "MIS":
            return self._error(
                400,
                "MIS orders cannot be placed after square-off time (15:15 IST). "
                "Trading resumes at 09:00 AM IST.",
            )
        if pricetype in ("LIMIT", "SL") and not price:
            return self._error(400, f"{pricetype} orders require price")
        if pricetype in ("SL", "SL-M") and not trigger:
            return self._error(400, f"{pricetype} orders require trigger_price")
        status = "open" if pricetype == "LIMIT" else "trigger pending"
        if pricetype == "MARKET":
            if quirks.market_closed:
                return self._error(
                    400,
                    f"Cannot place MARKET order for {symbol} - unable to fetch current price. "
                    "Please try again later or use LIMIT order with a specific price.",
                )
            # A MARKET order fills at once at the last price, which the sandbox stores as its price.
            status, price = "complete", last_price(symbol)
        order = self.book.place(
            symbol=symbol,
            exchange=exchange,
            action=data["action"].upper(),
            quantity=data["quantity"],
            pricetype=pricetype,
            product=product,
            price=price,
            trigger_price=trigger,
            status=status,
            strategy=data["strategy"],
        )
        return self._ok({"orderid": order.orderid})

    def _modifyorder(self, data: dict[str, Any], quirks: Quirks) -> Reply:
        orderid: str = data["orderid"]
        self._log()
        order = self.book.find(orderid)
        if order is None:
            return self._error(404, f"Order {orderid} not found")
        if order.status != "open":
            return self._error(400, f"Cannot modify order in {order.status} status")
        self.book.modify(
            orderid, quantity=data["quantity"], price=data["price"], trigger_price=data["trigger_price"]
        )
        payload: dict[str, Any] = {"orderid": orderid}
        if self.analyze:
            payload["message"] = "Order modified successfully"
        return self._ok(payload)

    def _cancelorder(self, data: dict[str, Any], quirks: Quirks) -> Reply:
        orderid: str = data["orderid"]
        self.stats.record_cancelorder_call()
        self._log()
        step = self.book.cancel_now(orderid, quirks)
        if step is None:
            return self._error(404, f"Order {orderid} not found")
        if step.failure is not None:
            return self._error(400, step.failure)
        payload: dict[str, Any] = {"orderid": orderid}
        if self.analyze:
            payload["message"] = "Order cancelled successfully"
        return self._ok(payload)

    def _cancelallorder(self, data: dict[str, Any], quirks: Quirks) -> Reply:
        self.stats.record_cancelall_call()
        self._log()
        if quirks.broken_cancelall_book:
            # The broker's order book could not be read: OpenAlgo still answers 200, having done nothing.
            return self._ok(self._cancel_all_body([], []))
        # Like OpenAlgo: fetch the book once, newest first, then one broker call per order.
        targets = [
            order.orderid
            for order in reversed(self.book.working())
            if order.pricetype not in quirks.cancelall_skips_pricetypes
            and order.status not in quirks.cancelall_skips_statuses
        ]
        if not targets and self.analyze:
            return self._ok({"message": NO_OPEN_ORDERS, "canceled_orders": [], "failed_cancellations": []})
        canceled: list[Any] = []
        failed: list[Any] = []
        for orderid in targets:
            step = self.book.begin_cancel(orderid, quirks)
            if quirks.cancelall_per_order_s > 0:
                self._stopping.wait(quirks.cancelall_per_order_s)
            if step.failure is None:
                step = self.book.finish_cancel(orderid)
            if step.failure is None:
                canceled.append(orderid)
            else:
                failed.append(failure_item(quirks.failure_shape, orderid, step.failure))
        if quirks.canceled_all_marker and canceled:
            canceled = ["all"]
        return self._ok(self._cancel_all_body(canceled, failed))

    @staticmethod
    def _cancel_all_body(canceled: list[Any], failed: list[Any]) -> dict[str, Any]:
        return {
            "message": f"Canceled {len(canceled)} orders. Failed to cancel {len(failed)} orders.",
            "canceled_orders": canceled,
            "failed_cancellations": failed,
        }

    def _closeposition(self, data: dict[str, Any], quirks: Quirks) -> Reply:
        self._log()
        closed = self.book.close_all_positions(data["strategy"])
        if not self.analyze:
            # Live OpenAlgo says this whatever happened to each square-off order.
            return self._ok({"message": "All Open Positions Squared Off"})
        if closed == 0:
            return self._ok({"message": "No open positions to close"})
        return self._ok(
            {"message": f"Closed {closed} positions", "closed_positions": closed, "failed_closures": 0}
        )

    def _orderbook(self, data: dict[str, Any], quirks: Quirks) -> Reply:
        rows = [self._present(order, quirks, order.row()) for order in reversed(self.book.orders())]
        statistics = self.book.statistics(with_trigger_pending=self.analyze)
        return self._ok({"data": {"orders": rows, "statistics": statistics}})

    def _orderstatus(self, data: dict[str, Any], quirks: Quirks) -> Reply:
        orderid: str = data["orderid"]
        order = self.book.find(orderid)
        if order is None:
            return self._error(404, f"Order {orderid} not found")
        return self._ok({"data": self._present(order, quirks, order.status_row())})

    def _positionbook(self, data: dict[str, Any], quirks: Quirks) -> Reply:
        rows = [position.row() for position in self.book.positions()]
        if not self.analyze:
            return self._ok({"data": rows})
        unrealized = round(float(sum(row["pnl"] for row in rows if row["quantity"])), 2)
        return self._ok(
            {
                "data": rows,
                "total_pnl": unrealized,
                "total_pnl_today": unrealized,
                "total_today_realized_pnl": 0.0,
                "total_unrealized_pnl": unrealized,
            }
        )

    def _funds(self, data: dict[str, Any], quirks: Quirks) -> Reply:
        if not self.analyze:
            cash = {"availablecash": "10000000.00", "collateral": "0.00", "m2mrealized": "0.00"}
            return self._ok({"data": {**cash, "m2munrealized": "0.00", "utiliseddebits": "0.00"}})
        return self._ok(
            {
                "data": {
                    "availablecash": 10000000.0,
                    "collateral": 0.0,
                    "grossexposure": 0.0,
                    "last_reset": self.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                    "m2mrealized": 0.0,
                    "m2munrealized": 0.0,
                    "reset_count": 0,
                    "today_realized_pnl": 0.0,
                    "total_realized_pnl": 0.0,
                    "totalpnl": 0.0,
                    "utiliseddebits": 0.0,
                }
            }
        )

    def _ping(self, data: dict[str, Any], quirks: Quirks) -> Reply:
        # No mode key on ping, even in analyze mode.
        return json_reply(200, {"status": "success", "data": {"message": "pong", "broker": self.broker}})

    def _analyzer(self, data: dict[str, Any], quirks: Quirks) -> Reply:
        with self._logs_lock:
            logs = self._logs
        analyze = self.analyze
        data_out = {"mode": "analyze" if analyze else "live", "analyze_mode": analyze, "total_logs": logs}
        return json_reply(200, {"status": "success", "data": data_out})
