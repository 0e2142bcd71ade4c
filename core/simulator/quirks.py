"""Switchable broker and network misbehaviour for the simulator.

Every field defaults to a well-behaved server. A test or a demo turns on the quirks it wants, either
when it builds the :class:`Simulator` or at run time (``sim.quirks.semi_auto = True``). The server
reads each field afresh for every request, so a change takes effect on the next request.

Assign new values rather than mutating the collections in place (``sim.quirks.html_error = {"ping"}``,
not ``.add("ping")``): an assignment is atomic, while a set that changes under a reading thread is not.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

FailureShape: TypeAlias = Literal[
    "bare", "orderid_message", "orderid_reason", "order_id_message", "orderId_error"
]
"""How ``cancelallorder`` writes one item of ``failed_cancellations``.

- ``bare``: the order id alone, as most live brokers report it (no reason at all)
- ``orderid_message``: ``{"orderid": id, "message": why}``, as OpenAlgo's sandbox does
- ``orderid_reason``: ``{"orderid": id, "reason": why}``, as OpenAlgo's docs show
- ``order_id_message``: ``{"order_id": id, "message": why, "status": "error"}``
- ``orderId_error``: ``{"orderId": id, "error": why}``
"""

T1_REJECTION = (
    "RMS:Rule: Check holding for {exchange}:{symbol}. "
    "CNC position bought today cannot be sold before T+1 settlement."
)
"""The reason a broker gives for refusing to sell CNC shares bought today. Composed in the style of
Zerodha's RMS rejections (they begin ``RMS:Rule:`` and name the rule); no broker publishes this exact
sentence."""

FREEZE_REJECTION = "RMS:Rule: Check freeze quantity for {segment}"
"""The reason for an order above the freeze limit: Zerodha's own words for NSE equities ("RMS:Rule:
Check freeze quantity for NSE CASH", support.zerodha.com); other segments follow the same pattern."""

FAILURE_SHAPES: tuple[FailureShape, ...] = (
    "bare",
    "orderid_message",
    "orderid_reason",
    "order_id_message",
    "orderId_error",
)

OrderbookShape: TypeAlias = Literal[
    "no_data", "data_null", "data_empty_dict", "orders_null", "orders_other_key", "orders_empty"
]
"""A successful ``orderbook`` answer without a readable list of orders (see ``orderbook_shape``)."""

ORDERBOOK_SHAPES: tuple[OrderbookShape, ...] = (
    "no_data",
    "data_null",
    "data_empty_dict",
    "orders_null",
    "orders_other_key",
    "orders_empty",
)

OrderSelector: TypeAlias = Set[str] | Mapping[str, int] | int | float
"""Which orders a quirk hits:

- a set of order ids;
- a mapping of order id to a number of attempts (``fail_in_transit`` only: that order's cancel fails
  that many times; elsewhere only the ids count);
- an ``int`` n: the n oldest working orders;
- a ``float`` in (0, 1]: that fraction of the working orders, picked at random (repeatably with a seed).

A count or fraction is resolved against the working orders when the first cancel meets it, and again
whenever its value changes."""


PositionSelector: TypeAlias = Set[str] | int | float
"""Which positions a quirk hits:

- a set of names: ``"SBIN"`` (every SBIN position), ``"NSE:SBIN"`` (on that exchange) or
  ``"NSE:SBIN:CNC"`` (that one product);
- an ``int`` n: the n oldest open positions;
- a ``float`` in (0, 1]: that fraction of the open positions, picked at random (repeatably with a seed).

A count or fraction is resolved against the open positions when a quirk first meets it, and again
whenever its value changes."""


@dataclass
class Quirks:
    """Broker and network misbehaviour, all off by default."""

    failure_shape: FailureShape = "orderid_message"
    """Shape of each ``failed_cancellations`` item of ``cancelallorder``."""

    canceled_all_marker: bool = False
    """``cancelallorder`` reports ``canceled_orders`` as ``["all"]`` (one broker does) instead of ids."""

    fail_in_transit: OrderSelector = frozenset()
    """Orders whose cancel fails with ``"Order is in transit"`` for their first ``in_transit_attempts``
    cancel attempts (or as many as a mapping gives for the order), in ``cancelallorder`` and
    ``cancelorder`` alike; later attempts go through."""

    in_transit_attempts: int = 1
    """How many cancel attempts of an in-transit order fail before one succeeds."""

    already_executed: OrderSelector = frozenset()
    """Orders that fill just as their cancel arrives: the cancel fails with ``"Order already executed"``
    and the order becomes ``complete``."""

    cancelall_skips_pricetypes: Set[str] = frozenset()
    """Price types (e.g. ``{"SL-M"}``) that ``cancelallorder`` silently leaves working: it neither
    cancels nor reports them. ``cancelorder`` still cancels them."""

    cancelall_skips_statuses: Set[str] = frozenset()
    """Statuses (e.g. ``{"trigger pending"}``, which OpenAlgo's own sandbox misses because it looks for
    ``trigger_pending``) that ``cancelallorder`` silently leaves working."""

    broken_cancelall_book: bool = False
    """``cancelallorder`` cannot read the broker's book: it answers 200 ``"Canceled 0 orders. Failed to
    cancel 0 orders."`` with empty lists and cancels nothing."""

    semi_auto: bool = False
    """The account is in Semi-Auto (Action Center) mode: in live mode ``cancelallorder``,
    ``cancelorder`` and ``closeposition`` answer 403 with OpenAlgo's sentences (no effect in analyze
    mode, as on the real server); in both modes ``placeorder`` and ``placesmartorder`` are queued for
    approval instead of placed (OpenAlgo's order router does not look at the analyzer)."""

    semi_auto_blocks_toggle: bool = False
    """With ``semi_auto``, ``analyzer/toggle`` answers 403 with OpenAlgo's SEBI sentence, as OpenAlgo
    means it to. Off by default because version 2.0.2.1's check never fires and the toggle goes
    through."""

    reply_delay_s: float = 0.0
    """Every reply waits this long after the request was processed (the work is already done)."""

    endpoint_delay_s: Mapping[str, float] = field(default_factory=dict)
    """Extra reply delay per endpoint name, added to ``reply_delay_s``."""

    cancelall_per_order_s: float = 0.0
    """``cancelallorder`` spends this long on each order's broker call, one order after another."""

    idle_close_s: float | None = None
    """The server closes a kept-alive connection that has sat idle this many seconds, as gunicorn,
    nginx and tunnels do: the socket is closed from the server's side and a client that sends its
    next request on it finds it closed. ``None``: kept open until the client closes it."""

    hang: Set[str] = frozenset()
    """Endpoints whose requests are read and then never answered: no reply, the connection left open,
    the request not processed, until the client gives up or the simulator stops."""

    drop_connection: Set[str] = frozenset()
    """Endpoints whose requests are read and then dropped: the socket closes with no reply and the
    request is not processed."""

    lose_reply: Set[str] = frozenset()
    """Endpoints whose requests are carried out and whose answer is then lost: the socket closes
    with no reply after the work is done (a proxy or the network dropped the answer)."""

    html_error: Set[str] = frozenset()
    """Endpoints answered by a reverse proxy with a 502 nginx HTML page (``text/html``) before the
    request reaches OpenAlgo."""

    gateway_after_work: Set[str] = frozenset()
    """Endpoints that OpenAlgo carries out in full and whose answer a reverse proxy replaces with its
    502 nginx page: gunicorn killed the worker at its timeout (a slow broker's cancel-all) just as
    the work was done, or the proxy lost the upstream connection while OpenAlgo answered."""

    empty_reply: Set[str] = frozenset()
    """Endpoints answered 200 with an empty body (as some proxies do on upstream failure)."""

    broker_error: Set[str] = frozenset()
    """Endpoints whose broker call fails: 500 ``{"status": "error", "message": ...}`` with OpenAlgo's
    sentence for it (``"Failed to cancel all orders due to internal error"`` on ``cancelallorder``,
    ``"Failed to close positions due to internal error"``, ``"Failed to place smart order due to
    internal error"``; ``"An unexpected error occurred"`` elsewhere)."""

    ip_banned: bool = False
    """Every request gets OpenAlgo's IP-ban answer: 403 ``text/plain``
    ``"Access Denied: Your IP has been banned"``."""

    numbers_as_strings: bool = False
    """``orderbook`` and ``positionbook`` rows carry their numbers as strings (``"1"``, ``"500.0"``)."""

    status_words: Mapping[str, str] = field(default_factory=dict)
    """``orderbook`` shows these broker words instead of OpenAlgo's statuses, e.g.
    ``{"open": "PENDING", "trigger pending": "trigger_pending"}``. Cancelling is unaffected."""

    closeposition_skips: PositionSelector = frozenset()
    """Open positions that ``closeposition`` silently leaves open: no closing order, not counted as
    closed or failed."""

    closing_orders_rest: PositionSelector = frozenset()
    """Positions whose closing MARKET orders cannot fill (no quote, a circuit limit): an order that
    would reduce one of them rests ``open`` as a working order and the position stays open, while
    ``closeposition`` still counts it closed and ``placesmartorder`` answers with its order id."""

    cnc_bought_today_unsellable: bool = False
    """Long CNC positions were bought today and the broker will not sell them before T+1 settlement:
    every SELL that would reduce one is rejected with :data:`T1_REJECTION`'s reason (closeposition,
    placesmartorder and placeorder alike)."""

    freeze_quantity: int | None = None
    """The exchange's freeze limit: an order for more is rejected by the broker's RMS with
    :data:`FREEZE_REJECTION`'s reason. OpenAlgo's closeposition does not split a large position into
    orders below it (openalgo issue #1241), so its closing order is rejected."""

    orderbook_omits: OrderSelector = frozenset()
    """Orders that ``orderbook`` leaves out of its rows, as a broker whose read is incomplete does;
    its statistics still count them, and cancels still reach them."""

    orderbook_shape: OrderbookShape | None = None
    """``orderbook`` answers 200 success without a readable list of orders:

    - ``no_data``: ``{"status": "success"}`` (no ``data`` at all);
    - ``data_null``: ``"data": null``;
    - ``data_empty_dict``: ``"data": {}``;
    - ``orders_null``: ``"data": {"orders": null, "statistics": {...}}``;
    - ``orders_other_key``: the rows under ``data.order_list`` instead of ``data.orders``;
    - ``orders_empty``: ``"orders": []`` beside statistics that count the orders, as a broker
      module that turns a failed fetch into an empty list answers.

    ``None``: OpenAlgo's own shape."""

    market_closed: bool = False
    """The market is closed, as when the recordings were made (20:05 IST): ``placeorder`` refuses MIS
    orders (past the 15:15 IST square-off) and MARKET orders (no last traded price)."""

    api_rate_limit: int = 50
    """Requests per second per client IP for cancelallorder, closeposition, orderbook, positionbook,
    funds, ping, analyzer, analyzer/toggle and orderstatus, each endpoint with its own moving
    one-second window."""

    order_rate_limit: int = 10
    """Requests per second per client IP for cancelorder, placeorder and modifyorder."""

    smart_order_rate_limit: int = 10
    """Requests per second per client IP for placesmartorder (OpenAlgo's ``SMART_ORDER_RATE_LIMIT``)."""
