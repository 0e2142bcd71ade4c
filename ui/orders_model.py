"""The open-orders table model: each order-book snapshot is diffed by ``orderid``.

Only the rows that changed are signalled: new orders are inserted as one block at the end,
vanished orders are removed in contiguous blocks, and changed orders get ``dataChanged`` over
contiguous ranges. ``beginResetModel`` happens once, on the first snapshot. Sorting is the
view's business (a ``QSortFilterProxyModel``); the model hands it ``Qt.UserRole`` sort keys,
numbers as floats.

Speed: a busy account has thousands of orders and the poll runs every half second, so the diff
must stay well inside one frame on the UI thread. The poll lane hands over ``Order`` objects
that are *the same objects* as last time when nothing in them changed (see
``ui.lanes.PollWorker``), so the common case is an identity check per row; equality of the
frozen dataclass is the fallback for callers that build fresh objects. Whether a status word
counts as working is cached per word.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)

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
    """The account's orders, one row each: only working orders, or all of today's.

    Signals:
        workingCountChanged(int): the number of working orders in the last snapshot changed.
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
        self._snapshot: tuple[Order, ...] = ()  # the last book, unfiltered
        self._rows: list[Order] = []
        self._ids: set[str] = set()  # the ids of self._rows
        self._working_count = 0
        self._working_by_status: dict[str, bool] = {}

    # -- Qt model interface ----------------------------------------------------------

    def rowCount(self, parent: _Index = _NO_PARENT) -> int:  # noqa: N802 -- Qt override
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = _NO_PARENT) -> int:  # noqa: N802 -- Qt override
        return 0 if parent.isValid() else _COLUMN_COUNT

    def data(self, index: _Index, role: int = _DISPLAY_ROLE) -> Any:
        # Called from C++ for every cell painted and twice per comparison while the proxy
        # sorts, so it avoids enum lookups and extra calls: an invalid index has row -1.
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
        self._show_all = value
        # Reapplying the same snapshot through the diff inserts or removes the finished
        # orders as row blocks; the working rows stay untouched (and stay selected).
        self._apply(self._snapshot)

    def setShowAll(self, value: bool) -> None:  # noqa: N802 -- Qt-style slot for toggled(bool)
        self.show_all = value

    def working_count(self) -> int:
        """Working orders in the last snapshot, whatever ``show_all`` says."""
        return self._working_count

    def orderAt(self, row: int) -> Order:  # noqa: N802 -- name fixed by the UI contract
        """The order shown in ``row`` of this (unsorted) model."""
        return self._rows[row]

    def orders(self) -> tuple[Order, ...]:
        """The orders shown, in model row order."""
        return tuple(self._rows)

    def update(self, orders: Sequence[Order]) -> None:
        """Show a new snapshot, signalling only the rows that were added, removed or changed."""
        self._snapshot = tuple(orders)
        self._apply(self._snapshot)

    # -- the diff --------------------------------------------------------------------

    def _learn_status(self, status: str) -> bool:
        working = still_working(Order(orderid="", status=status))
        if len(self._working_by_status) < 1024:  # brokers use a handful of words
            self._working_by_status[status] = working
        return working

    def _apply(self, snapshot: tuple[Order, ...]) -> None:
        # Plain loops with local names: this runs on the UI thread for every poll.
        known = self._working_by_status
        show_all = self._show_all
        wanted: dict[str, Order] = {}
        working = 0
        for order in snapshot:
            is_working = known.get(order.status)
            if is_working is None:
                is_working = self._learn_status(order.status)
            if is_working:
                working += 1
                wanted[order.orderid] = order  # a repeated id is one order seen twice: last wins
            elif show_all:
                wanted[order.orderid] = order

        if not self._loaded:
            self.beginResetModel()
            self._rows = list(wanted.values())
            self._ids = set(wanted)
            self._loaded = True
            self.endResetModel()
        else:
            self._diff(wanted)

        if working != self._working_count:
            self._working_count = working
            self.workingCountChanged.emit(working)

    def _diff(self, wanted: dict[str, Order]) -> None:
        rows = self._rows
        gone: list[int] = []
        changed: list[int] = []
        find = wanted.get
        for row, old in enumerate(rows):
            new = find(old.orderid)
            if new is None:
                gone.append(row)
            elif new is not old:
                rows[row] = new
                if new != old:
                    changed.append(row)

        # Changes first, in the row numbers they have now; then removals bottom-up, so each
        # block's numbers are still right when its turn comes; then one block of new rows.
        last_column = len(self.COLUMNS) - 1
        for first, last in _ranges(changed):
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column))

        ids = self._ids
        for first, last in reversed(_ranges(gone)):
            self.beginRemoveRows(_NO_PARENT, first, last)
            for order in rows[first : last + 1]:
                ids.discard(order.orderid)
            del rows[first : last + 1]
            self.endRemoveRows()

        if len(wanted) > len(rows):  # some ids are new (every row left is in wanted)
            fresh = [order for orderid, order in wanted.items() if orderid not in ids]
            first = len(rows)
            self.beginInsertRows(_NO_PARENT, first, first + len(fresh) - 1)
            rows.extend(fresh)
            ids.update(order.orderid for order in fresh)
            self.endInsertRows()
