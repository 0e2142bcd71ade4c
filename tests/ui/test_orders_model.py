"""The orders model against order books read from the simulator over loopback.

Qt's own QAbstractItemModelTester (through ``qtmodeltester``) watches every change; it reports
through Qt warnings, which fail these tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from pytestqt.modeltest import ModelTester

from core.client import OpenAlgoClient, OrderBook, make_http_client
from core.orders import Order
from core.simulator import Quirks, Simulator
from ui.orders_model import ORDER_ROLE, OrdersModel

pytestmark = pytest.mark.qt_log_level_fail("WARNING")

ReadBook = Callable[[], tuple[Order, ...]]


@pytest.fixture
def read_book(simulator: Simulator) -> Iterator[ReadBook]:
    """The simulator's order book, parsed by the same client the poll lane uses."""
    http = make_http_client()
    client = OpenAlgoClient(simulator.url, simulator.apikey, http)

    def read() -> tuple[Order, ...]:
        book = client.orderbook()
        assert isinstance(book, OrderBook), book
        return book.orders

    yield read
    http.close()


class Signals:
    """Every row signal the model sends, as (kind, first, last)."""

    def __init__(self, model: OrdersModel) -> None:
        self.seen: list[tuple[str, int, int]] = []
        model.dataChanged.connect(self._changed)
        model.rowsInserted.connect(lambda _p, first, last: self.seen.append(("inserted", first, last)))
        model.rowsRemoved.connect(lambda _p, first, last: self.seen.append(("removed", first, last)))
        model.modelReset.connect(lambda: self.seen.append(("reset", -1, -1)))
        model.layoutChanged.connect(lambda *_: self.seen.append(("layout", -1, -1)))

    def _changed(self, top: QModelIndex, bottom: QModelIndex, _roles: object = None) -> None:
        self.seen.append(("changed", top.row(), bottom.row()))

    def changed_rows(self) -> set[int]:
        return {row for kind, first, last in self.seen if kind == "changed" for row in range(first, last + 1)}

    def kinds(self) -> set[str]:
        return {kind for kind, _, _ in self.seen}


def shown_ids(model: OrdersModel) -> set[str]:
    return {model.orderAt(row).orderid for row in range(model.rowCount())}


def working_ids(simulator: Simulator) -> set[str]:
    return {str(row["orderid"]) for row in simulator.working_orders()}


def test_first_book_fills_the_table_with_the_working_orders(
    qtmodeltester: ModelTester, simulator: Simulator, read_book: ReadBook
) -> None:
    simulator.add_finished_orders(5)
    model = OrdersModel()
    qtmodeltester.check(model)
    signals = Signals(model)

    model.update(read_book())

    assert signals.kinds() == {"reset"}
    assert shown_ids(model) == working_ids(simulator)
    assert model.rowCount() == model.working_count() == 25
    assert model.headerData(1, Qt.Orientation.Horizontal) == "Symbol"
    order = model.orderAt(0)
    assert model.data(model.index(0, 9)) == order.orderid
    assert model.data(model.index(0, 9), ORDER_ROLE) is order


def test_only_rows_that_changed_are_signalled_across_polls(
    qtmodeltester: ModelTester, simulator: Simulator, read_book: ReadBook
) -> None:
    model = OrdersModel()
    qtmodeltester.check(model)
    model.update(read_book())
    signals = Signals(model)

    model.update(read_book())  # the same book again, freshly parsed objects
    assert signals.seen == []

    # A broker that spells "trigger pending" its own way changes exactly those rows.
    simulator.quirks = Quirks(status_words={"trigger pending": "TRIGGER_PENDING"})
    model.update(read_book())

    stops = {row for row in range(model.rowCount()) if model.orderAt(row).status == "TRIGGER_PENDING"}
    assert stops, "the seeded book has stop orders"
    assert signals.kinds() == {"changed"}
    assert signals.changed_rows() == stops


def test_new_orders_are_inserted_and_finished_ones_removed_without_a_reset(
    qtmodeltester: ModelTester, simulator: Simulator, read_book: ReadBook
) -> None:
    model = OrdersModel()
    qtmodeltester.check(model)
    model.update(read_book())
    before = [model.orderAt(row) for row in range(model.rowCount())]
    signals = Signals(model)
    gone = [before[3].orderid, before[4].orderid, before[10].orderid]
    for orderid in gone:
        simulator.fill_order(orderid)
    new = simulator.add_random_orders(4)

    model.update(read_book())

    assert shown_ids(model) == working_ids(simulator)
    assert "reset" not in signals.kinds()
    assert sorted(s for s in signals.seen if s[0] == "removed") == [("removed", 3, 4), ("removed", 10, 10)]
    assert [s for s in signals.seen if s[0] == "inserted"] == [("inserted", 22, 25)]
    assert {model.orderAt(row).orderid for row in range(22, 26)} == set(new)
    assert signals.changed_rows() == set()
    assert model.working_count() == 26


def test_showing_all_orders_adds_the_finished_ones_and_hiding_removes_them(
    qtmodeltester: ModelTester, simulator: Simulator, read_book: ReadBook
) -> None:
    finished = set(simulator.add_finished_orders(6))
    model = OrdersModel()
    qtmodeltester.check(model)
    model.update(read_book())
    working_rows = [model.orderAt(row) for row in range(model.rowCount())]
    signals = Signals(model)

    model.show_all = True
    assert shown_ids(model) == working_ids(simulator) | finished
    assert signals.kinds() == {"inserted"}
    assert [model.orderAt(row) for row in range(25)] == working_rows  # untouched, same places

    signals.seen.clear()
    model.show_all = False
    assert shown_ids(model) == working_ids(simulator)
    assert signals.kinds() == {"removed"}
    assert model.working_count() == 25


def test_an_order_that_fills_changes_its_row_when_all_orders_are_shown(
    qtmodeltester: ModelTester, simulator: Simulator, read_book: ReadBook
) -> None:
    model = OrdersModel()
    qtmodeltester.check(model)
    model.show_all = True
    model.update(read_book())
    signals = Signals(model)
    target = model.orderAt(7).orderid

    simulator.fill_order(target)
    model.update(read_book())

    assert signals.seen == [("changed", 7, 7)]
    assert model.data(model.index(7, 8)) == "complete"
    assert model.working_count() == 24


def test_sorting_by_price_is_numeric(simulator: Simulator, read_book: ReadBook) -> None:
    model = OrdersModel()
    model.update(read_book())
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setSortRole(Qt.ItemDataRole.UserRole)
    price = OrdersModel.COLUMNS.index("Price")

    proxy.sort(price, Qt.SortOrder.AscendingOrder)

    role = Qt.ItemDataRole.UserRole
    prices = [proxy.data(proxy.index(row, price), role) for row in range(proxy.rowCount())]
    assert all(isinstance(p, float) for p in prices)
    assert prices == sorted(o.price for o in model.orders())


def test_order_ids_sort_as_numbers_even_when_longer_than_a_float_holds() -> None:
    model = OrdersModel()
    ids = ["25112500000000010", "9", "25112500000000002", "100"]
    model.update([Order(orderid=i, status="open") for i in ids])
    proxy = QSortFilterProxyModel()
    proxy.setSourceModel(model)
    proxy.setSortRole(Qt.ItemDataRole.UserRole)
    column = OrdersModel.COLUMNS.index("Order ID")

    proxy.sort(column, Qt.SortOrder.AscendingOrder)

    shown = [proxy.data(proxy.index(row, column)) for row in range(proxy.rowCount())]
    assert shown == ["9", "100", "25112500000000002", "25112500000000010"]


def test_a_selected_row_survives_a_poll_that_changes_other_rows(
    simulator: Simulator, read_book: ReadBook
) -> None:
    model = OrdersModel()
    model.update(read_book())
    keep = QPersistentModelIndex(model.index(12, 1))
    kept = model.orderAt(12)
    simulator.fill_order(model.orderAt(2).orderid)
    simulator.add_random_orders(2)

    orders = read_book()
    # Same id, new price: a modified order is a changed row, not a new one.
    model.update([replace(o, price=o.price + 1) if o.orderid == kept.orderid else o for o in orders])

    assert keep.isValid()
    assert model.orderAt(keep.row()).orderid == kept.orderid
    assert model.orderAt(keep.row()).price == kept.price + 1
