"""The open-orders table model: filtered, sorted and changed row by row, all in Python.

The table shows a busy account's thousands of orders, polled every half second, and the UI
thread has one frame (16 ms) to spare per poll. So nothing here is proportional to the size of
the book on a normal poll:

- the poll lane has already worked out what changed (``core.book_changes.BookChanges``: orders
  added, changed, removed); :meth:`OrdersModel.apply` only touches those rows, and checks the
  changes' ``base`` serial against the last book it applied (on a mismatch -- the first book, a
  dropped poll, :meth:`update` in between -- it compares the whole book instead);
- the filter ("only working orders" or "all of today's") is applied here, not by a proxy;
- sorting happens here too: the rows are a Python list kept in view order with a parallel list of
  sort keys, so a new order goes straight to its place (``bisect``), a changed order whose sort
  key changed moves (``beginMoveRows``), and a header click re-sorts in Python (``sort``, ~10 ms
  for 10,000 rows). A ``QSortFilterProxyModel`` sorted by calling ``data()`` from C++ some
  170,000 times for 8,000 rows: over a second on the first book and on every header click.

Each row's key is ``(column key, arrival number)``: the arrival number -- given when an order
first appears in the table -- breaks ties and is the order of an unsorted table (new rows at the
end, as the book lists them). Many scattered changes at once (a kill that empties the book, a
re-sort after a status change that moved every row) become one layout change plus one block of
rows, instead of hundreds of signals; ``beginResetModel`` happens once, on the first book.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from itertools import compress
from typing import Any, ClassVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QModelRoleData,
    QModelRoleDataSpan,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from core.book_changes import BookChanges, fresh_serial
from core.orders import Order, still_working, text

_Index = QModelIndex | QPersistentModelIndex
_NO_PARENT = QModelIndex()

# "2026-11-25 20:05:51" (OpenAlgo's own format) shows as "20:05:51": every row is today's.
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T](\d{1,2}:\d{2}(:\d{2})?)")

_NUMERIC_COLUMNS = frozenset({3, 4, 5})
_RIGHT_ALIGNED = int((Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter).value)
_LEFT_ALIGNED = int((Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter).value)
_DISPLAY_ROLE = int(Qt.ItemDataRole.DisplayRole.value)
_SORT_ROLE = int(Qt.ItemDataRole.UserRole.value)
_ALIGNMENT_ROLE = int(Qt.ItemDataRole.TextAlignmentRole.value)
_TOOLTIP_ROLE = int(Qt.ItemDataRole.ToolTipRole.value)

ORDER_ROLE = _SORT_ROLE + 1
"""Role under which ``data()`` returns the :class:`~core.orders.Order` itself."""

_OTHER_ROLES = frozenset({_SORT_ROLE, _TOOLTIP_ROLE, ORDER_ROLE})


def _time_of(order: Order) -> str:
    match = _DATE_TIME.match(order.timestamp)
    return match.group(1) if match else order.timestamp


def _number(value: float) -> str:
    return text(value) if value else ""


def _id_key(orderid: str) -> str:
    # Ids are digit strings longer than a float holds exactly; right-aligning them in a wide
    # field makes string order equal numeric order, and non-numeric ids still sort stably.
    return orderid.rjust(32) if orderid.isdigit() else orderid


_DISPLAY: tuple[Callable[[Order], str], ...] = (
    _time_of,
    lambda o: o.symbol if not o.exchange else f"{o.symbol} ({o.exchange})",
    lambda o: o.action,
    lambda o: text(o.quantity),
    lambda o: _number(o.price),
    lambda o: _number(o.trigger_price),
    lambda o: o.pricetype,
    lambda o: o.product,
    lambda o: o.status,
    lambda o: o.orderid,
)
_SORT_KEY: tuple[Callable[[Order], Any], ...] = (
    lambda o: o.timestamp,
    lambda o: o.symbol.lower(),
    lambda o: o.action,
    lambda o: float(o.quantity),
    lambda o: float(o.price),
    lambda o: float(o.trigger_price),
    lambda o: o.pricetype,
    lambda o: o.product,
    lambda o: o.status.lower(),
    lambda o: _id_key(o.orderid),
)


_COLUMN_COUNT = len(_DISPLAY)


def _unsorted(_order: Order) -> int:
    return 0


_Key = tuple[Any, int]  # (column key, arrival number)

_BULK = 16
"""More row blocks than this in one change: one layout change and one block instead."""

_SCAN_OVER = 200
"""More rows than this leaving at once: one layout change and one block, found in one pass."""

PACED_TURN_MS = 1
"""Between two steps of :meth:`OrdersModel.apply_paced`: not 0, which Qt runs in the same pass
as the step before, ahead of the repaint and of everything else waiting."""

PACED_STEP = 1500
"""A poll that changes more orders than this (a kill ends thousands at once) is shown by
:meth:`OrdersModel.apply_paced` this many changes per event-loop turn: each turn then costs the
UI thread a few milliseconds instead of one turn of 10-15 ms at 10,000 orders."""


def _ranges(rows: Iterable[int]) -> list[tuple[int, int]]:
    """Sorted rows as inclusive ``(first, last)`` runs: ``[1, 2, 3, 7]`` -> ``[(1, 3), (7, 7)]``."""
    runs: list[tuple[int, int]] = []
    for row in sorted(rows):
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


class OrdersModel(QAbstractTableModel):
    """The account's orders, one row each: only working orders, or all of today's; sortable by
    any column (``sort``, as a view's header click calls it).

    Signals:
        workingCountChanged(int): the number of working orders in the last book changed.
    """

    COLUMNS: ClassVar[tuple[str, ...]] = (
        "Time",
        "Symbol",
        "Side",
        "Qty",
        "Price",
        "Trigger",
        "Type",
        "Product",
        "Status",
        "Order ID",
    )

    workingCountChanged = Signal(int)  # noqa: N815 -- Qt naming

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._show_all = False
        self._loaded = False
        self._book: tuple[Order, ...] = ()  # the last book, unfiltered
        self._serial: int | None = None  # the BookChanges.serial of that book, if it came so
        self._rows: list[Order] = []  # the orders shown, in view order
        self._keys: list[_Key] = []  # each row's sort key, in view order
        self._shown: dict[str, Order] = {}  # the orders shown, by id
        self._arrival: dict[str, int] = {}  # each shown order's arrival number
        self._next_arrival = 0
        self._column = -1  # sorted by this column; -1: in order of arrival
        self._column_key: Callable[[Order], Any] = _unsorted
        self._descending = False
        self._working_count = 0
        self._working_by_status: dict[str, bool] = {}
        # apply_paced: the steps still to apply, one per event-loop turn, and what runs after.
        self._steps: deque[BookChanges] = deque()
        self._after_steps: Callable[[], None] | None = None
        self._step_timer = QTimer(self)
        self._step_timer.setSingleShot(True)
        self._step_timer.setInterval(PACED_TURN_MS)
        self._step_timer.timeout.connect(self._next_step)

    # -- Qt model interface ----------------------------------------------------------

    def rowCount(self, parent: _Index = _NO_PARENT) -> int:  # noqa: N802 -- Qt override
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = _NO_PARENT) -> int:  # noqa: N802 -- Qt override
        return 0 if parent.isValid() else _COLUMN_COUNT

    def data(self, index: _Index, role: int = _DISPLAY_ROLE) -> Any:
        # Called from C++ for every cell painted, so it avoids enum lookups and extra calls:
        # an invalid index has row -1.
        row = index.row()
        if not 0 <= row < len(self._rows):
            return None
        column = index.column()
        if role == _DISPLAY_ROLE:
            return _DISPLAY[column](self._rows[row]) if 0 <= column < _COLUMN_COUNT else None
        if role == _SORT_ROLE:
            return _SORT_KEY[column](self._rows[row]) if 0 <= column < _COLUMN_COUNT else None
        if role == _ALIGNMENT_ROLE:
            return _RIGHT_ALIGNED if column in _NUMERIC_COLUMNS else _LEFT_ALIGNED
        if role == _TOOLTIP_ROLE:
            return self._rows[row].describe()
        if role == ORDER_ROLE:
            return self._rows[row]
        return None

    def multiData(  # noqa: N802 -- Qt override
        self,
        index: _Index,
        roleDataSpan: QModelRoleDataSpan | QModelRoleData,  # noqa: N803 -- Qt's name
    ) -> None:
        # A view's delegate asks for seven roles per cell through this one call; Qt's default
        # makes seven calls into Python's data() instead, and those calls were most of the cost
        # of repainting the table (which happens on every poll that moves rows on screen).
        row = index.row()
        if not 0 <= row < len(self._rows):
            return
        column = index.column()
        span: Any = roleDataSpan  # a QModelRoleDataSpan, indexable at run time (PySide6's stubs say not)
        for i in range(span.size()):
            item = span[i]
            role = item.role()
            if role == _DISPLAY_ROLE:
                if 0 <= column < _COLUMN_COUNT:
                    item.setData(_DISPLAY[column](self._rows[row]))
            elif role == _ALIGNMENT_ROLE:
                item.setData(_RIGHT_ALIGNED if column in _NUMERIC_COLUMNS else _LEFT_ALIGNED)
            elif role in _OTHER_ROLES:
                item.setData(self.data(index, role))

    def headerData(  # noqa: N802 -- Qt override
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if (
            role == Qt.ItemDataRole.DisplayRole
            and orientation == Qt.Orientation.Horizontal
            and 0 <= section < len(self.COLUMNS)
        ):
            return self.COLUMNS[section]
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the rows by ``column`` (-1: in order of arrival); a layout change, so selected
        rows stay selected."""
        self.finish_steps()
        valid = 0 <= column < _COLUMN_COUNT
        self._column = column if valid else -1
        self._column_key = _SORT_KEY[column] if valid else _unsorted
        self._descending = order == Qt.SortOrder.DescendingOrder
        key = self._column_key
        arrival = self._arrival
        keys = [(key(o), arrival[o.orderid]) for o in self._rows]
        places = sorted(range(len(keys)), key=keys.__getitem__, reverse=self._descending)
        self._relayout([self._rows[i] for i in places], [keys[i] for i in places])

    # -- public interface ------------------------------------------------------------

    @property
    def show_all(self) -> bool:
        """False: only orders still working; True: every order of today's book."""
        return self._show_all

    @show_all.setter
    def show_all(self, value: bool) -> None:
        value = bool(value)
        if value == self._show_all:
            return
        self.finish_steps()
        self._show_all = value
        # The same book shown through the other filter: the finished orders are inserted or
        # removed; the working rows stay untouched (and stay selected).
        self._show_book(self._book)

    def setShowAll(self, value: bool) -> None:  # noqa: N802 -- Qt-style slot for toggled(bool)
        self.show_all = value

    def sort_column(self) -> int:
        """The column the rows are sorted by; -1 when they are in order of arrival."""
        return self._column

    def working_count(self) -> int:
        """Working orders in the last book, whatever ``show_all`` says."""
        return self._working_count

    def orderAt(self, row: int) -> Order:  # noqa: N802 -- name fixed by the UI contract
        """The order shown in ``row``."""
        return self._rows[row]

    def orders(self) -> tuple[Order, ...]:
        """The orders shown, in row order."""
        return tuple(self._rows)

    def update(self, orders: Sequence[Order]) -> None:
        """Show a new book, compared with the last one by ``orderid``: only the rows that were
        added, removed or changed are signalled."""
        self.finish_steps()
        self._serial = None
        self._show_book(tuple(orders))

    def apply(self, changes: BookChanges) -> None:
        """Show a poll's book from its changes: work in proportion to the changes when they
        were computed against the book shown now, else as :meth:`update` would."""
        self.finish_steps()
        self._apply(changes)

    def apply_paced(self, changes: BookChanges, then: Callable[[], None] | None = None) -> None:
        """:meth:`apply`, spread over event-loop turns when the poll changed more than
        :data:`PACED_STEP` orders, so that the window paints and answers clicks in between (a
        kill ends thousands of orders at once). The first step too waits for the next turn: the
        turn that brought the book has already paid for it (the window notes every changed
        order), and the first step, over the most rows, is the dearest. ``then`` runs once the
        whole book is shown. Anything else that changes the rows (another book, a sort, the
        filter) first applies the steps still waiting, at once."""
        self.finish_steps()
        steps = self._split(changes)
        if len(steps) == 1:
            self._apply(changes)
            if then is not None:
                then()
            return
        self._steps.extend(steps)
        self._after_steps = then
        self._step_timer.start()

    @property
    def pacing(self) -> bool:
        """Steps of an :meth:`apply_paced` are still waiting."""
        return bool(self._steps)

    def finish_steps(self) -> None:
        """Apply at once whatever :meth:`apply_paced` still has waiting."""
        while self._steps:
            self._next_step()

    def _next_step(self) -> None:
        if not self._steps:
            return
        self._apply(self._steps.popleft())
        if self._steps:
            self._step_timer.start()
            return
        self._step_timer.stop()
        then, self._after_steps = self._after_steps, None
        if then is not None:
            then()

    def _split(self, changes: BookChanges) -> list[BookChanges]:
        """``changes`` as steps of at most PACED_STEP changes, each based on the one before and
        the last carrying the poll's own serial; one step when small or not incremental."""
        size = len(changes.added) + len(changes.changed) + len(changes.removed)
        if size <= PACED_STEP or not self._loaded or changes.base is None or changes.base != self._serial:
            return [changes]
        # Steps cut from the three lists as they are (removals, changes, arrivals), without a
        # new object per order: thousands of small allocations set the collector off.
        removed, changed, added = changes.removed, changes.changed, changes.added
        r, c = len(removed), len(changed)
        steps: list[BookChanges] = []
        base = changes.base
        for start in range(0, size, PACED_STEP):
            end = min(start + PACED_STEP, size)
            serial = changes.serial if end == size else fresh_serial()
            steps.append(
                BookChanges(
                    serial=serial,
                    base=base,
                    orders=changes.orders,
                    added=added[max(0, start - r - c) : max(0, end - r - c)],
                    changed=changed[max(0, start - r) : max(0, end - r)],
                    removed=removed[start:end],
                    working=changes.working,
                )
            )
            base = serial
        return steps

    def _apply(self, changes: BookChanges) -> None:
        if not self._loaded or changes.base is None or changes.base != self._serial:
            self._show_book(changes.orders, changes.working)
            self._serial = changes.serial
            return
        self._book = changes.orders
        self._serial = changes.serial
        shown = self._shown
        show_all = self._show_all
        gone = [orderid for orderid in changes.removed if orderid in shown]
        updated: list[Order] = []
        new: list[Order] = []
        known = self._working_by_status  # looked up inline: a kill changes thousands at once
        for order in changes.changed:
            was = order.orderid in shown
            now = show_all or known.get(order.status)
            if now is None:
                now = self._working(order)
            if was and now:
                updated.append(order)
            elif was:
                gone.append(order.orderid)
            elif now:
                new.append(order)
        for order in changes.added:
            now = show_all or known.get(order.status)
            if now is None:
                now = self._working(order)
            if now:
                new.append(order)
        self._change_rows(gone, updated, new)
        self._set_working_count(changes.working)

    # -- the book ----------------------------------------------------------------------

    def _working(self, order: Order) -> bool:
        known = self._working_by_status.get(order.status)
        if known is not None:
            return known
        working = still_working(order)
        if len(self._working_by_status) < 1024:  # brokers use a handful of words
            self._working_by_status[order.status] = working
        return working

    def _set_working_count(self, count: int) -> None:
        if count != self._working_count:
            self._working_count = count
            self.workingCountChanged.emit(count)

    def _show_book(self, book: tuple[Order, ...], working: int | None = None) -> None:
        self._book = book
        latest: dict[str, Order] = {}
        for order in book:
            latest[order.orderid] = order  # a repeated id is one order seen twice: last wins
        show_all = self._show_all
        wanted: dict[str, Order] = {}
        count = 0
        for orderid, order in latest.items():
            is_working = self._working(order)
            count += is_working
            if show_all or is_working:
                wanted[orderid] = order

        if not self._loaded:
            self.beginResetModel()
            self._arrival = {}
            self._next_arrival = 0
            self._rows, self._keys = [], []
            self._shown = {}
            self._add_rows(list(wanted.values()), signal=False)
            self._loaded = True
            self.endResetModel()
        else:
            shown = self._shown
            gone = [orderid for orderid in shown if orderid not in wanted]
            updated = [o for i, o in wanted.items() if i in shown and shown[i] is not o]
            new = [o for i, o in wanted.items() if i not in shown]
            self._change_rows(gone, updated, new)
        self._set_working_count(count if working is None else working)

    # -- rows: every change to _rows/_keys goes through here ----------------------------

    def _key(self, order: Order) -> _Key:
        return (self._column_key(order), self._arrival[order.orderid])

    def _find(self, key: _Key) -> int:
        """The first row whose key does not come before ``key`` in view order."""
        keys = self._keys
        if not self._descending:
            return bisect_left(keys, key)
        low, high = 0, len(keys)
        while low < high:
            middle = (low + high) // 2
            if keys[middle] > key:
                low = middle + 1
            else:
                high = middle
        return low

    def _change_rows(self, gone: list[str], updated: list[Order], new: list[Order]) -> None:
        # Removals first (bottom-up), then changes in place and moves, then insertions: each
        # step's row numbers are right when its signals go out.
        if gone:
            self._remove_rows(gone)
        if updated:
            self._update_rows(updated)
        if new:
            self._add_rows(new, signal=True)

    def _remove_rows(self, gone: list[str]) -> None:
        shown = self._shown
        runs = [] if len(gone) > _SCAN_OVER else _ranges(self._find(self._key(shown[i])) for i in gone)
        if len(gone) > _SCAN_OVER or len(runs) > _BULK:
            # Gather the leaving rows at the bottom in one layout change (one pass over the rows,
            # not thousands of searches), then drop that block.
            leaving = set(gone)
            rows, keys = self._rows, self._keys
            stays = [order.orderid not in leaving for order in rows]
            goes = [not stay for stay in stays]
            stay_rows = list(compress(rows, stays))
            stay_keys = list(compress(keys, stays))
            self._relayout(stay_rows + list(compress(rows, goes)), stay_keys + list(compress(keys, goes)))
            if len(stay_rows) < len(gone):
                # Most rows leave (a kill): index the few that stay afresh rather than forget
                # thousands one by one. Each row's key ends in its arrival number.
                self.beginRemoveRows(_NO_PARENT, len(stay_rows), len(rows) - 1)
                self._rows, self._keys = stay_rows, stay_keys
                self._shown = {order.orderid: order for order in stay_rows}
                self._arrival = {
                    order.orderid: key[1] for order, key in zip(stay_rows, stay_keys, strict=True)
                }
                self.endRemoveRows()
                return
            runs = [(len(stay_rows), len(rows) - 1)]
        arrival = self._arrival
        for first, last in reversed(runs):
            self.beginRemoveRows(_NO_PARENT, first, last)
            for orderid in [order.orderid for order in self._rows[first : last + 1]]:
                del shown[orderid]
                del arrival[orderid]
            del self._rows[first : last + 1]
            del self._keys[first : last + 1]
            self.endRemoveRows()

    def _update_rows(self, updated: list[Order]) -> None:
        shown = self._shown
        column_key = self._column_key
        in_place: list[_Key] = []
        moving: list[tuple[_Key, _Key, Order]] = []
        for order in updated:
            old = shown[order.orderid]
            shown[order.orderid] = order
            arrival = self._arrival[order.orderid]
            before = (column_key(old), arrival)
            after = (column_key(order), arrival)
            if before == after:
                self._rows[self._find(before)] = order
                if old != order:
                    in_place.append(after)
            else:
                moving.append((before, after, order))
        if len(moving) > _BULK:
            places = [self._find(before) for before, _, _ in moving]  # while the keys are sorted
            for row, (_, after, order) in zip(places, moving, strict=True):
                self._rows[row] = order
                self._keys[row] = after
            keys = self._keys
            order_of = sorted(range(len(keys)), key=keys.__getitem__, reverse=self._descending)
            self._relayout([self._rows[i] for i in order_of], [keys[i] for i in order_of])
            in_place.extend(after for _, after, _ in moving)
        else:
            for before, after, order in moving:
                self._move_row(before, after, order)
        last_column = _COLUMN_COUNT - 1
        for first, last in _ranges(self._find(key) for key in in_place):
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column))

    def _move_row(self, before: _Key, after: _Key, order: Order) -> None:
        row = self._find(before)
        target = self._find(after)  # counted with the row still in its old place
        place = target - 1 if target > row else target
        if place == row:
            self._rows[row] = order
            self._keys[row] = after
        else:
            self.beginMoveRows(_NO_PARENT, row, row, _NO_PARENT, target)
            del self._rows[row]
            del self._keys[row]
            self._rows.insert(place, order)
            self._keys.insert(place, after)
            self.endMoveRows()
        self.dataChanged.emit(self.index(place, 0), self.index(place, _COLUMN_COUNT - 1))

    def _add_rows(self, new: list[Order], *, signal: bool) -> None:
        arrival = self._arrival
        shown = self._shown
        number = self._next_arrival
        column_key = self._column_key
        items: list[tuple[_Key, Order]] = []
        for order in new:
            arrival[order.orderid] = number
            shown[order.orderid] = order
            items.append(((column_key(order), number), order))
            number += 1
        self._next_arrival = number
        items.sort(key=lambda item: item[0], reverse=self._descending)
        rows, keys = self._rows, self._keys
        blocks: list[tuple[int, list[tuple[_Key, Order]]]] = []
        resort = False
        if not signal or not rows:
            blocks = [(len(rows), items)]
        elif len(items) <= _SCAN_OVER:
            for key, order in items:
                at = self._find(key)
                if blocks and blocks[-1][0] == at:
                    blocks[-1][1].append((key, order))
                else:
                    blocks.append((at, [(key, order)]))
        if not blocks or len(blocks) > _BULK:
            # Add them all at the bottom as one block, then sort them into place in one layout
            # change.
            blocks = [(len(rows), items)]
            resort = True
        for at, block in reversed(blocks):
            if signal:
                self.beginInsertRows(_NO_PARENT, at, at + len(block) - 1)
            rows[at:at] = [order for _, order in block]
            keys[at:at] = [key for key, _ in block]
            if signal:
                self.endInsertRows()
        if resort:
            places = sorted(range(len(keys)), key=keys.__getitem__, reverse=self._descending)
            self._relayout([rows[i] for i in places], [keys[i] for i in places])

    def _relayout(self, rows: list[Order], keys: list[_Key]) -> None:
        """Put the same rows in a new order, keeping persistent indexes (selection) on their
        orders."""
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        ids = [self._rows[index.row()].orderid for index in persistent]
        self._rows, self._keys = rows, keys
        if persistent:
            wanted = set(ids)
            where = {order.orderid: row for row, order in enumerate(rows) if order.orderid in wanted}
            moved = [self.index(where[i], index.column()) for index, i in zip(persistent, ids, strict=True)]
            self.changePersistentIndexList(persistent, moved)
        self.layoutChanged.emit()
