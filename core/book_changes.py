"""What changed in the order book since the last poll, worked out where the book is read.

The poll lane reads a busy account's whole book every half second: thousands of orders, of which
a handful change. :class:`BookTracker` follows the book from poll to poll on the poll lane's own
thread so that the thread showing the book only handles what changed:

- :meth:`BookTracker.parse_row` (handed to ``OpenAlgoClient.orderbook``) gives back last poll's
  very ``Order`` object for a row whose JSON is unchanged, instead of building a new one;
- :meth:`BookTracker.changes` compares the new book with the last one it described, by
  ``orderid``, and returns :class:`BookChanges`: orders added, orders changed, ids removed and the
  count of working orders, with serial numbers that let a receiver check it is applying them to
  the book they were computed against.

Why reuse matters beyond the parsing time: every new ``Order`` is an object the garbage collector
tracks; 10,000 new ones per poll made it run full collections (100 ms and more, holding the
interpreter lock, so the window froze) every few polls. Unchanged rows now allocate nothing that
lives on, and last poll's rows are released one by one as they are matched rather than all at
once (freeing a 3 MB book in one go holds the lock for ~10 ms).

A row counts as unchanged when it is equal as JSON values compare in Python (``1 == 1.0``); two
rows that differ only in a number's type give the same ``Order`` anyway, except a text field that
changes between ``true`` and ``1`` -- no broker does that.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from core.orders import Order, order_id_from, still_working

_serials: Final = itertools.count(1)  # process-wide: two trackers never hand out the same serial


@dataclass(frozen=True, slots=True)
class BookChanges:
    """One poll's book and how it differs from the book of serial ``base``.

    ``orders`` is the whole book, one order per id (a repeated id: the last row wins, at the
    place of the first), in the book's order. ``base`` is None when there is nothing to compare
    with (the first book): then every order is in ``added``.
    """

    serial: int
    base: int | None
    orders: tuple[Order, ...]
    added: tuple[Order, ...]
    changed: tuple[Order, ...]  # the new objects, for ids that were in the base book
    removed: tuple[str, ...]  # ids of the base book that are gone
    working: int  # orders in ``orders`` that are still working


def fresh_serial() -> int:
    """A serial number no tracker has handed out or will (for a receiver that splits one
    ``BookChanges`` into steps of its own)."""
    return next(_serials)


class BookTracker:
    """Follows one server's order book, poll after poll; use it from one thread only."""

    _STATUS_CACHE_LIMIT: Final = 1024  # brokers use a handful of status words

    def __init__(self) -> None:
        # Last poll's rows and their orders by id, as two dicts: a (row, order) pair per order
        # would be 10,000 new objects for the garbage collector to track on every poll.
        self._rows: dict[str, Mapping[str, Any]] = {}
        self._parsed: dict[str, Order] = {}
        self._next_rows: dict[str, Mapping[str, Any]] = {}
        self._next_parsed: dict[str, Order] = {}
        self._book: dict[str, Order] = {}  # the book last described by changes()
        self._serial: int | None = None
        self._working_by_status: dict[str, bool] = {}

    def forget(self) -> None:
        """Start again from nothing (another server or key): the next changes have no base."""
        self._rows, self._parsed = {}, {}
        self._next_rows, self._next_parsed = {}, {}
        self._book = {}
        self._serial = None

    def parse_row(self, row: Mapping[str, Any]) -> Order:
        """``Order.from_json(row)``, or last poll's equal ``Order`` when the row is unchanged."""
        orderid = order_id_from(row)
        # pop: each of last poll's rows is freed as soon as it has been compared.
        seen = self._rows.pop(orderid, None)
        order = self._parsed.pop(orderid, None)
        if order is None or seen != row:
            order = Order.from_json(row)
        self._next_rows[orderid] = row
        self._next_parsed[orderid] = order
        return order

    def changes(self, orders: Sequence[Order]) -> BookChanges:
        """How ``orders`` (a good read) differs from the book of the last call."""
        # What is left of last poll's rows vanished (or a read failed half-way): a few rows.
        self._rows, self._next_rows = self._next_rows, {}
        self._parsed, self._next_parsed = self._next_parsed, {}
        book: dict[str, Order] = {}
        for order in orders:
            book[order.orderid] = order
        previous = self._book
        added: list[Order] = []
        changed: list[Order] = []
        working = 0
        known = self._working_by_status
        for orderid, order in book.items():
            old = previous.get(orderid)
            if old is None:
                added.append(order)
            elif old is not order:
                if old == order:
                    book[orderid] = old  # keep the object the receiver already holds
                else:
                    changed.append(order)
            is_working = known.get(order.status)
            if is_working is None:
                is_working = still_working(order)
                if len(known) < self._STATUS_CACHE_LIMIT:
                    known[order.status] = is_working
            working += is_working
        if len(previous) + len(added) > len(book):
            removed = tuple(orderid for orderid in previous if orderid not in book)
        else:
            removed = ()
        serial = next(_serials)
        result = BookChanges(
            serial=serial,
            base=self._serial,
            orders=tuple(book.values()),
            added=tuple(added),
            changed=tuple(changed),
            removed=removed,
            working=working,
        )
        self._book = book
        self._serial = serial
        return result
