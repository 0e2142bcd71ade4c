"""The orders model against order books read from the simulator over loopback.

Qt's own QAbstractItemModelTester (through ``qtmodeltester``) watches every change; it reports
through Qt warnings, which fail these tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtTest import QAbstractItemModelTester
from pytestqt.modeltest import ModelTester

from core.book_changes import BookTracker
from core.client import OpenAlgoClient, make_http_client
from core.orders import Order
from core.replies import OrderBook
from core.simulator import Quirks, Simulator
from ui.orders_model import ORDER_ROLE, OrdersModel
from ui.server_orders import AllServersModel

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


# -- sorting and changes inside the model ------------------------------------------------------

PRICE = OrdersModel.COLUMNS.index("Price")
STATUS = OrdersModel.COLUMNS.index("Status")


def column_values(model: OrdersModel, column: int) -> list[object]:
    role = Qt.ItemDataRole.UserRole
    return [model.data(model.index(row, column), role) for row in range(model.rowCount())]


def test_sorting_by_price_puts_the_rows_in_numeric_order_and_keeps_the_selection(
    qtmodeltester: ModelTester, read_book: ReadBook
) -> None:
    model = OrdersModel()
    qtmodeltester.check(model)
    model.update(read_book())
    selected = QPersistentModelIndex(model.index(5, 1))
    order = model.orderAt(5)

    model.sort(PRICE, Qt.SortOrder.DescendingOrder)

    prices = column_values(model, PRICE)
    assert prices == sorted(prices, reverse=True)
    assert model.orderAt(selected.row()) is order


def test_a_new_order_is_inserted_at_its_sorted_place(
    qtmodeltester: ModelTester, simulator: Simulator, read_book: ReadBook
) -> None:
    model = OrdersModel()
    qtmodeltester.check(model)
    model.update(read_book())
    model.sort(PRICE, Qt.SortOrder.AscendingOrder)
    signals = Signals(model)
    simulator.add_random_orders(1)

    model.update(read_book())

    assert [kind for kind, _, _ in signals.seen] == ["inserted"]
    prices = column_values(model, PRICE)
    assert prices == sorted(prices)
    assert model.rowCount() == 26


def test_an_order_whose_sort_key_changes_moves_to_its_new_place_and_stays_selected(
    qtmodeltester: ModelTester, simulator: Simulator, read_book: ReadBook
) -> None:
    model = OrdersModel()
    qtmodeltester.check(model)
    model.show_all = True
    model.update(read_book())
    model.sort(STATUS, Qt.SortOrder.AscendingOrder)
    moved: list[int] = []
    model.rowsMoved.connect(lambda _p, first, _last, _d, _row: moved.append(first))
    last = model.orderAt(model.rowCount() - 1)  # "trigger pending" or "open": after "complete"
    selected = QPersistentModelIndex(model.index(model.rowCount() - 1, 0))

    simulator.fill_order(last.orderid)
    model.update(read_book())

    assert moved == [24]
    assert model.orderAt(selected.row()).orderid == last.orderid
    assert model.orderAt(selected.row()).status == "complete"
    statuses = column_values(model, STATUS)
    assert statuses == sorted(statuses)


def test_a_poll_that_ends_most_orders_is_one_layout_change_and_one_removal(
    qtmodeltester: ModelTester, simulator: Simulator, read_book: ReadBook
) -> None:
    simulator.add_random_orders(50)
    model = OrdersModel()
    qtmodeltester.check(model)
    model.update(read_book())
    signals = Signals(model)
    keep = {model.orderAt(row).orderid for row in range(0, 75, 3)}  # 25 gaps: more than a few
    for row in range(75):
        if model.orderAt(row).orderid not in keep:
            simulator.fill_order(model.orderAt(row).orderid)

    model.update(read_book())

    assert shown_ids(model) == keep == working_ids(simulator)
    assert [kind for kind, _, _ in signals.seen] == ["layout", "removed"]


def test_changes_computed_against_another_book_are_applied_as_a_whole_book(
    qtmodeltester: ModelTester, simulator: Simulator, read_book: ReadBook
) -> None:
    model = OrdersModel()
    qtmodeltester.check(model)
    tracker = BookTracker()
    model.apply(tracker.changes(read_book()))
    simulator.fill_order(model.orderAt(0).orderid)
    skipped = tracker.changes(read_book())  # a poll the model never saw
    simulator.add_random_orders(3)

    latest = tracker.changes(read_book())
    assert latest.base == skipped.serial
    model.apply(latest)

    assert shown_ids(model) == working_ids(simulator)
    assert model.working_count() == 27


BOOK_ORDERS = st.builds(
    Order,
    orderid=st.sampled_from([str(i) for i in range(30)]),
    symbol=st.sampled_from(["SBIN", "INFY", "TCS"]),
    status=st.sampled_from(["open", "complete", "trigger pending", "cancelled"]),
    price=st.sampled_from([0.0, 10.0, 12.5, 99.0]),
    quantity=st.sampled_from([1.0, 5.0]),
)
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("book"), st.lists(BOOK_ORDERS, max_size=40)),
        st.tuples(st.just("sort"), st.integers(min_value=-1, max_value=9), st.booleans()),
        st.tuples(st.just("show all"), st.booleans()),
        # a poll where a few orders change and a few arrive, as most polls are
        st.tuples(st.just("tweak"), st.lists(BOOK_ORDERS, max_size=4), st.lists(BOOK_ORDERS, max_size=2)),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS)
def test_whatever_happens_the_rows_are_the_filtered_book_in_sorted_order(
    qapp: object, steps: list[tuple[Any, ...]]
) -> None:
    model = OrdersModel()
    tester = QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Warning)
    tracker = BookTracker()
    latest: dict[str, Order] = {}
    column, descending = -1, False
    for step in steps:
        # Every row held, as a selection would: each must follow its order, or die with it.
        held = [
            (QPersistentModelIndex(model.index(r, 0)), model.orderAt(r).orderid)
            for r in range(model.rowCount())
        ]
        if step[0] == "book":
            orders = [replace(o) for o in step[1]]
            latest = {o.orderid: o for o in orders}
            model.apply(tracker.changes(orders))
        elif step[0] == "tweak":
            ids = list(latest)
            for i, change in enumerate(step[1]):
                if ids:
                    orderid = ids[(i * 7 + len(ids) // 2) % len(ids)]
                    latest[orderid] = replace(change, orderid=orderid)
            for order in step[2]:
                latest.setdefault(order.orderid, order)
            model.apply(tracker.changes([replace(o) for o in latest.values()]))
        elif step[0] == "sort":
            column, descending = step[1], step[2]
            model.sort(column, Qt.SortOrder.DescendingOrder if descending else Qt.SortOrder.AscendingOrder)
        else:
            model.show_all = step[1]

        expected = {i for i, o in latest.items() if model.show_all or o.working}
        assert shown_ids(model) == expected
        assert model.rowCount() == len(expected)
        assert all(
            model.orderAt(row) == latest[model.orderAt(row).orderid] for row in range(model.rowCount())
        )
        assert model.working_count() == sum(o.working for o in latest.values())
        if 0 <= column <= 9:
            keys = column_values(model, column)
            assert keys == sorted(keys, reverse=descending)
        for index, orderid in held:
            if orderid in expected:
                assert index.isValid() and model.orderAt(index.row()).orderid == orderid
            else:
                assert not index.isValid()
    del tester


def test_hundreds_of_orders_ending_or_arriving_at_once_keep_the_table_sorted_and_selected(
    qtmodeltester: ModelTester,
) -> None:
    book = [
        Order(orderid=str(26112500000000 + i), symbol=f"S{i % 37}", price=float(i % 101), status="open")
        for i in range(600)
    ]
    model = OrdersModel()
    qtmodeltester.check(model)
    tracker = BookTracker()
    model.apply(tracker.changes(book))
    model.sort(PRICE, Qt.SortOrder.DescendingOrder)
    survivor = book[10]  # i % 10 == 0 survives
    selected = QPersistentModelIndex(model.index(model.orders().index(survivor), 0))
    signals = Signals(model)

    ended = [o if i % 10 == 0 else replace(o, status="cancelled") for i, o in enumerate(book)]
    model.apply(tracker.changes(ended))

    assert shown_ids(model) == {o.orderid for o in book[::10]}
    assert [kind for kind, _, _ in signals.seen] == ["layout", "removed"]
    assert model.orderAt(selected.row()) is survivor
    signals.seen.clear()

    model.apply(tracker.changes(book))  # they all come back

    assert model.rowCount() == 600
    assert [kind for kind, _, _ in signals.seen] == ["inserted", "layout"]
    prices = column_values(model, PRICE)
    assert prices == sorted(prices, reverse=True)
    assert model.orderAt(selected.row()) is survivor


def test_a_kill_that_ends_thousands_of_orders_is_shown_over_several_turns_and_ends_as_the_book(
    qtmodeltester: ModelTester, qtbot: Any
) -> None:
    book = [Order(orderid=str(26113000000000 + i), symbol=f"S{i % 41}", status="open") for i in range(4000)]
    model = OrdersModel()
    qtmodeltester.check(model)
    tracker = BookTracker()
    model.apply(tracker.changes(book))
    survivor = book[7]  # i % 7 == 0 survives
    selected = QPersistentModelIndex(model.index(model.orders().index(survivor), 0))
    shown: list[int] = []

    ended = [o if i % 7 == 0 else replace(o, status="cancelled") for i, o in enumerate(book)]
    steps: list[int] = []
    model.rowsRemoved.connect(lambda *_: steps.append(model.rowCount()))
    model.apply_paced(tracker.changes(ended), lambda: shown.append(model.rowCount()))

    assert model.pacing and model.rowCount() == 4000  # every step on a later turn
    qtbot.waitUntil(lambda: bool(shown))
    assert shown == [572] and not model.pacing
    assert len(steps) > 1 and steps[-1] == 572  # part of the way a step at a time
    assert shown_ids(model) == {o.orderid for o in book[::7]}
    assert model.orderAt(selected.row()) is survivor


def test_a_book_that_arrives_while_steps_wait_first_shows_them_all(qtmodeltester: ModelTester) -> None:
    book = [Order(orderid=str(i), symbol="SBIN", status="open") for i in range(3000)]
    model = OrdersModel()
    qtmodeltester.check(model)
    tracker = BookTracker()
    model.apply(tracker.changes(book))
    shown: list[str] = []
    ended = tracker.changes([replace(o, status="cancelled") for o in book])
    model.apply_paced(ended, lambda: shown.append("1"))
    assert model.pacing

    later = [Order(orderid="new", symbol="INFY", status="open")]
    model.apply(tracker.changes([replace(o, status="cancelled") for o in book] + later))

    assert shown == ["1"] and not model.pacing
    assert shown_ids(model) == {"new"}


def test_the_all_servers_table_keeps_its_rows_when_an_order_on_a_later_server_fills(
    qtmodeltester: ModelTester, simulator: Simulator, read_book: ReadBook
) -> None:
    # A reset would clear the trader's selection and scroll position on every poll.
    first, second = OrdersModel(), OrdersModel()
    first.update([Order(orderid=str(i), status="open") for i in range(3)])
    second.show_all = True
    second.update(read_book())
    both = AllServersModel()
    both.set_sources([("Zerodha", first), ("Dhan", second)])
    qtmodeltester.check(both)
    signals = Signals(both)  # type: ignore[arg-type]

    simulator.fill_order(second.orderAt(7).orderid)
    second.update(read_book())

    assert signals.seen == [("changed", 3 + 7, 3 + 7)]
    assert both.data(both.index(10, 0)) == "Dhan" and both.data(both.index(10, 9)) == "complete"
