"""The order endpoints: placeorder, modifyorder, cancelorder, cancelallorder, orderbook, orderstatus."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.simulator import broker
from core.simulator.book import Order
from core.simulator.quirks import FailureShape, Quirks
from core.simulator.replies import Reply

if TYPE_CHECKING:
    from core.simulator.api import OpenAlgoApp

NO_OPEN_ORDERS = "No open orders to cancel"

ORDERBOOK_NUMBERS = (
    "quantity",
    "price",
    "trigger_price",
    "average_price",
    "filled_quantity",
    "pending_quantity",
)


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


def present(order: Order, quirks: Quirks, row: dict[str, Any]) -> dict[str, Any]:
    """An order row as the broker words it: its status words, its numbers as strings."""
    row["order_status"] = quirks.status_words.get(order.status, order.status)
    if quirks.numbers_as_strings:
        for key in ORDERBOOK_NUMBERS:
            row[key] = str(row[key])
    return row


def placeorder(app: OpenAlgoApp, data: dict[str, Any], quirks: Quirks) -> Reply:
    app.log()
    placement = broker.place(
        app.book,
        quirks,
        symbol=data["symbol"],
        exchange=data["exchange"],
        action=data["action"].upper(),
        quantity=data["quantity"],
        pricetype=data["pricetype"],
        product=data["product"],
        price=data["price"],
        trigger_price=data["trigger_price"],
        strategy=data["strategy"],
    )
    return placed(app, placement)


def placed(app: OpenAlgoApp, placement: broker.Placement) -> Reply:
    """The answer to an order placement: its id, or why not (see :mod:`core.simulator.broker`)."""
    order = placement.order
    if order is None:
        return app.error(400, placement.message or "Failed to place order")
    if placement.accepted or not app.analyze:
        return app.ok({"orderid": order.orderid})
    # The sandbox stores the rejected order and answers an error that names it.
    return app.error(400, placement.message or "Order rejected", orderid=order.orderid)


def modifyorder(app: OpenAlgoApp, data: dict[str, Any], quirks: Quirks) -> Reply:
    orderid: str = data["orderid"]
    app.log()
    order = app.book.find(orderid)
    if order is None:
        return app.error(404, f"Order {orderid} not found")
    if order.status != "open":
        return app.error(400, f"Cannot modify order in {order.status} status")
    app.book.modify(
        orderid, quantity=data["quantity"], price=data["price"], trigger_price=data["trigger_price"]
    )
    payload: dict[str, Any] = {"orderid": orderid}
    if app.analyze:
        payload["message"] = "Order modified successfully"
    return app.ok(payload)


def cancelorder(app: OpenAlgoApp, data: dict[str, Any], quirks: Quirks) -> Reply:
    orderid: str = data["orderid"]
    app.stats.record_cancelorder_call(orderid)
    app.log()
    step = app.book.cancel_now(orderid, quirks)
    if step is None:
        return app.error(404, f"Order {orderid} not found")
    if step.failure is not None:
        return app.error(400, step.failure)
    payload: dict[str, Any] = {"orderid": orderid}
    if app.analyze:
        payload["message"] = "Order cancelled successfully"
    return app.ok(payload)


def cancelallorder(app: OpenAlgoApp, data: dict[str, Any], quirks: Quirks) -> Reply:
    app.stats.record_cancelall_call()
    app.log()
    if quirks.broken_cancelall_book:
        # The broker's order book could not be read: OpenAlgo still answers 200, having done nothing.
        return app.ok(cancel_all_body([], []))
    # Like OpenAlgo: fetch the book once, newest first, then one broker call per order.
    targets = [
        order.orderid
        for order in reversed(app.book.working())
        if order.pricetype not in quirks.cancelall_skips_pricetypes
        and order.status not in quirks.cancelall_skips_statuses
    ]
    if not targets and app.analyze:
        return app.ok({"message": NO_OPEN_ORDERS, "canceled_orders": [], "failed_cancellations": []})
    canceled: list[Any] = []
    failed: list[Any] = []
    for orderid in targets:
        step = app.book.begin_cancel(orderid, quirks)
        if quirks.cancelall_per_order_s > 0:
            app.wait(quirks.cancelall_per_order_s)
        if step.failure is None:
            step = app.book.finish_cancel(orderid)
        if step.failure is None:
            canceled.append(orderid)
        else:
            failed.append(failure_item(quirks.failure_shape, orderid, step.failure))
    if quirks.canceled_all_marker and canceled:
        canceled = ["all"]
    return app.ok(cancel_all_body(canceled, failed))


def cancel_all_body(canceled: list[Any], failed: list[Any]) -> dict[str, Any]:
    return {
        "message": f"Canceled {len(canceled)} orders. Failed to cancel {len(failed)} orders.",
        "canceled_orders": canceled,
        "failed_cancellations": failed,
    }


def orderbook(app: OpenAlgoApp, data: dict[str, Any], quirks: Quirks) -> Reply:
    book = app.book
    omitted = book.select("orderbook_omits", quirks.orderbook_omits)
    orders = [order for order in reversed(book.orders()) if order.orderid not in omitted]
    rows = [present(order, quirks, order.row()) for order in orders]
    statistics = book.statistics(with_trigger_pending=app.analyze)
    shape = quirks.orderbook_shape
    if shape is None:
        return app.ok({"data": {"orders": rows, "statistics": statistics}})
    unreadable: dict[str, Any] = {
        "no_data": {},
        "data_null": {"data": None},
        "data_empty_dict": {"data": {}},
        "orders_null": {"data": {"orders": None, "statistics": statistics}},
        "orders_other_key": {"data": {"order_list": rows, "statistics": statistics}},
        "orders_empty": {"data": {"orders": [], "statistics": statistics}},
    }
    return app.ok(unreadable[shape])


def orderstatus(app: OpenAlgoApp, data: dict[str, Any], quirks: Quirks) -> Reply:
    orderid: str = data["orderid"]
    order = app.book.find(orderid)
    if order is None:
        return app.error(404, f"Order {orderid} not found")
    return app.ok({"data": present(order, quirks, order.status_row())})
