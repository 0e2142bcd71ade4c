"""The poll lane's view of the book from poll to poll: which orders were added, changed or
removed, and which need no new object at all.

The first tests read the simulator's book over loopback through the real client, as the poll
lane does; the property test feeds ``changes`` sequences of books directly (it is a pure
function of the books it is given).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.book_changes import BookChanges, BookTracker
from core.client import OpenAlgoClient, make_http_client
from core.orders import Order
from core.replies import OrderBook
from core.simulator import Simulator


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    server = Simulator(mode="analyze", orders=25, seed=11).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(simulator: Simulator) -> Iterator[OpenAlgoClient]:
    http = make_http_client()
    try:
        yield OpenAlgoClient(simulator.url, simulator.apikey, http)
    finally:
        http.close()


def poll(client: OpenAlgoClient, tracker: BookTracker) -> tuple[OrderBook, BookChanges]:
    book = client.orderbook(parse_row=tracker.parse_row)
    assert isinstance(book, OrderBook), book
    return book, tracker.changes(book.orders)


def test_the_first_book_is_all_new_and_counts_its_working_orders(
    client: OpenAlgoClient, simulator: Simulator
) -> None:
    simulator.add_finished_orders(3)
    tracker = BookTracker()

    book, changes = poll(client, tracker)

    assert changes.base is None
    assert changes.added == changes.orders == book.orders
    assert changes.changed == changes.removed == ()
    assert changes.working == len(simulator.working_orders()) == 25


def test_an_unchanged_book_hands_back_the_same_order_objects_and_no_changes(
    client: OpenAlgoClient,
) -> None:
    tracker = BookTracker()
    first, before = poll(client, tracker)

    second, after = poll(client, tracker)

    assert all(new is old for new, old in zip(second.orders, first.orders, strict=True))
    assert after.base == before.serial
    assert after.added == after.changed == after.removed == ()
    assert after.working == before.working


def test_a_fill_is_a_changed_order_and_a_new_order_is_added(
    client: OpenAlgoClient, simulator: Simulator
) -> None:
    tracker = BookTracker()
    first, _ = poll(client, tracker)
    filled = first.orders[4].orderid
    simulator.fill_order(filled)
    new = simulator.add_random_orders(2)

    second, changes = poll(client, tracker)

    assert [o.orderid for o in changes.changed] == [filled]
    assert changes.changed[0].status == "complete"
    assert sorted(o.orderid for o in changes.added) == sorted(new)
    assert changes.removed == ()
    assert changes.working == 26
    unchanged = [o for o in second.orders if o.orderid != filled and o.orderid not in new]
    assert all(o is next(p for p in first.orders if p.orderid == o.orderid) for o in unchanged)


def test_another_server_starts_from_nothing(client: OpenAlgoClient) -> None:
    tracker = BookTracker()
    poll(client, tracker)
    tracker.forget()

    _, changes = poll(client, tracker)

    assert changes.base is None
    assert len(changes.added) == 25


def test_a_repeated_order_id_is_one_order_the_last_row_wins() -> None:
    tracker = BookTracker()
    a, b, a2 = Order("1", status="open"), Order("2", status="open"), Order("1", status="complete")

    changes = tracker.changes([a, b, a2])

    assert changes.orders == (a2, b)
    assert changes.working == 1


ORDERS = st.builds(
    Order,
    orderid=st.sampled_from([str(i) for i in range(12)]),
    status=st.sampled_from(["open", "complete", "trigger pending", "REJECTED"]),
    price=st.sampled_from([0.0, 1.5, 2.0]),
)


@settings(max_examples=300, deadline=None)
@given(books=st.lists(st.lists(ORDERS, max_size=14), min_size=1, max_size=6))
def test_applying_each_polls_changes_to_the_last_book_gives_the_new_book(books: list[list[Order]]) -> None:
    tracker = BookTracker()
    shown: dict[str, Order] = {}
    serial: int | None = None
    for orders in books:
        fresh = [replace(o) for o in orders]  # freshly parsed objects, as from a new read
        changes = tracker.changes(fresh)
        assert changes.base == serial
        for orderid in changes.removed:
            del shown[orderid]
        for order in changes.changed:
            assert order.orderid in shown and shown[order.orderid] != order
            shown[order.orderid] = order
        for order in changes.added:
            assert order.orderid not in shown
            shown[order.orderid] = order
        latest = {o.orderid: o for o in fresh}
        assert shown == latest
        assert list(latest) == [o.orderid for o in changes.orders]
        assert changes.working == sum(o.working for o in latest.values())
        serial = changes.serial
