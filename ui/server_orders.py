"""Every server's orders in one table, with a Server column -- for when a press reaches several.

Each server keeps its own ``OrdersModel`` (fed by its own poll lane, diffing by order id within
that server: two brokers may reuse an id). :class:`AllServersModel` shows them one after another
with the server's name first; the window's filter shows one server's model on its own instead.
With one server the window shows that server's model directly and none of this runs.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from ui.orders_model import OrdersModel

_Index = QModelIndex | QPersistentModelIndex


class AllServersModel(QAbstractTableModel):
    """The servers' ``OrdersModel``s end to end, with a leading Server column.

    A change of values in a source (a status, a fill: most polls) is passed on as a change of
    those rows, so the selection and the scroll position stay; rows coming or going reset it:
    several servers' books on screen at once are small enough for that (the one-server view,
    where 10,000 orders are drawn, is the source model itself).
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._sources: list[tuple[str, OrdersModel]] = []
        self._offsets: list[int] = []
        self._rows = 0
        self._connections: list[tuple[Any, Any]] = []

    def set_sources(self, sources: list[tuple[str, OrdersModel]]) -> None:
        """(server name, its model) in the order to show them."""
        for signal, slot in self._connections:
            signal.disconnect(slot)
        self._connections = []
        self.beginResetModel()
        self._sources = list(sources)
        for number, (_name, model) in enumerate(self._sources):
            for signal in _signals(model):
                self._connect(signal, self._changed)

            def values_changed(top: QModelIndex, bottom: QModelIndex, *_: object, n: int = number) -> None:
                self._values_changed(n, top, bottom)

            self._connect(model.dataChanged, values_changed)
        self._recount()
        self.endResetModel()

    def _connect(self, signal: Any, slot: Any) -> None:
        signal.connect(slot)
        self._connections.append((signal, slot))

    def _changed(self, *args: object) -> None:
        self.beginResetModel()
        self._recount()
        self.endResetModel()

    def _values_changed(self, source: int, top: QModelIndex, bottom: QModelIndex) -> None:
        if source >= len(self._offsets):
            return
        start = self._offsets[source]
        self.dataChanged.emit(
            self.index(start + top.row(), top.column() + 1),
            self.index(start + bottom.row(), bottom.column() + 1),
        )

    def _recount(self) -> None:
        offsets, total = [], 0
        for _name, model in self._sources:
            offsets.append(total)
            total += model.rowCount()
        self._offsets = offsets
        self._rows = total

    def _locate(self, row: int) -> tuple[str, OrdersModel, int] | None:
        for (name, model), start in zip(reversed(self._sources), reversed(self._offsets), strict=True):
            if row >= start:
                local = row - start
                return (name, model, local) if local < model.rowCount() else None
        return None

    # -- Qt's side -----------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802 -- Qt override
        return 0 if parent.isValid() else self._rows

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802 -- Qt override
        return 0 if parent.isValid() else len(OrdersModel.COLUMNS) + 1

    def headerData(  # noqa: N802 -- Qt override
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            if section == 0:
                return "Server"
            columns = OrdersModel.COLUMNS
            return columns[section - 1] if 0 < section <= len(columns) else None
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        found = self._locate(index.row())
        if found is None:
            return None
        name, model, local = found
        if index.column() == 0:
            return name if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole) else None
        return model.data(model.index(local, index.column() - 1), role)

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Each server's rows sorted by that column (the servers stay in the settings' order)."""
        if column <= 0:
            return
        for _name, model in self._sources:
            model.sort(column - 1, order)


def _signals(model: OrdersModel) -> tuple[Any, ...]:
    return (
        model.modelReset,
        model.rowsInserted,
        model.rowsRemoved,
        model.layoutChanged,
    )
