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
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter

ORDER_ROLE = Qt.ItemDataRole.UserRole + 1
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
        self._row_of: dict[str, int] = {}
        self._working_count = 0
        self._working_by_status: dict[str, bool] = {}

    # -- Qt model interface ----------------------------------------------------------

    def rowCount(self, parent: _Index = _NO_PARENT) -> int:  # noqa: N802 -- Qt override
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = _NO_PARENT) -> int:  # noqa: N802 -- Qt override
        return 0 if parent.isValid() else len(self.COLUMNS)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, column = index.row(), index.column()
        if not (0 <= row < len(self._rows) and 0 <= column < len(self.COLUMNS)):
            return None
        order = self._rows[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return _DISPLAY[column](order)
        if role == Qt.ItemDataRole.UserRole:
            return _SORT_KEY[column](order)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int((_RIGHT if column in _NUMERIC_COLUMNS else _LEFT).value)
        if role == Qt.ItemDataRole.ToolTipRole:
            return order.describe()
        if role == ORDER_ROLE:
            return order
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

    def _is_working(self, order: Order) -> bool:
        known = self._working_by_status.get(order.status)
        if known is None:
            known = still_working(order)
            if len(self._working_by_status) < 1024:  # brokers use a handful of words
                self._working_by_status[order.status] = known
        return known

    def _apply(self, snapshot: tuple[Order, ...]) -> None:
        is_working = self._is_working
        working = sum(1 for o in snapshot if is_working(o))
        wanted: dict[str, Order] = {}
        for order in snapshot:
            if self._show_all or is_working(order):
                # A repeated id is one order seen twice (a broker glitch): the later row wins.
                wanted[order.orderid] = order

        if not self._loaded:
            self.beginResetModel()
            self._rows = list(wanted.values())
            self._row_of = {o.orderid: i for i, o in enumerate(self._rows)}
            self._loaded = True
            self.endResetModel()
        else:
            self._remove_missing(wanted)
            self._change_existing(wanted)
            self._insert_new(wanted)

        if working != self._working_count:
            self._working_count = working
            self.workingCountChanged.emit(working)

    def _remove_missing(self, wanted: dict[str, Order]) -> None:
        gone = [row for row, order in enumerate(self._rows) if order.orderid not in wanted]
        if not gone:
            return
        # Bottom-up so each block's row numbers are still valid when its turn comes.
        for first, last in reversed(_ranges(gone)):
            self.beginRemoveRows(_NO_PARENT, first, last)
            del self._rows[first : last + 1]
            self.endRemoveRows()
        self._row_of = {o.orderid: i for i, o in enumerate(self._rows)}

    def _change_existing(self, wanted: dict[str, Order]) -> None:
        rows = self._rows
        changed: list[int] = []
        for row, old in enumerate(rows):
            new = wanted[old.orderid]
            if new is not old:
                rows[row] = new
                if new != old:
                    changed.append(row)
        last_column = len(self.COLUMNS) - 1
        for first, last in _ranges(changed):
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_column))

    def _insert_new(self, wanted: dict[str, Order]) -> None:
        row_of = self._row_of
        fresh = [order for orderid, order in wanted.items() if orderid not in row_of]
        if not fresh:
            return
        first = len(self._rows)
        self.beginInsertRows(_NO_PARENT, first, first + len(fresh) - 1)
        self._rows.extend(fresh)
        for offset, order in enumerate(fresh):
            row_of[order.orderid] = first + offset
        self.endInsertRows()
