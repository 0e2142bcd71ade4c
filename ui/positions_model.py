"""The open positions of every server, for the positions tab beside the orders.

Positions are few (tens, not thousands), so each read replaces a server's rows in one go; the
model still tells the view exactly which rows changed, so selection and scroll stay put."""

from __future__ import annotations

from typing import Any, Final

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

from core.orders import text
from core.positions import Position

COLUMNS: Final = ("Server", "Symbol", "Exchange", "Product", "Net qty", "Avg price", "LTP", "P&L")
_Index = QModelIndex | QPersistentModelIndex


class PositionsModel(QAbstractTableModel):
    """Rows: (server name, position), open positions only, in server then symbol order."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._by_server: dict[str, list[Position]] = {}
        self._names: dict[str, str] = {}
        self._rows: list[tuple[str, Position]] = []

    def set_server_name(self, url: str, name: str) -> None:
        self._names[url] = name

    def update(self, url: str, positions: tuple[Position, ...]) -> None:
        """This server's positions as its last read showed them (only open ones are kept)."""
        self._by_server[url] = sorted((p for p in positions if p.open), key=lambda p: p.key)
        self._rebuild()

    def forget(self, url: str) -> None:
        if self._by_server.pop(url, None) is not None:
            self._rebuild()

    def open_count(self, url: str | None = None) -> int:
        if url is not None:
            return len(self._by_server.get(url, ()))
        return len(self._rows)

    def known(self, url: str) -> bool:
        """Whether this server's position book has been read at all."""
        return url in self._by_server

    def _rebuild(self) -> None:
        rows = [(url, p) for url, positions in self._by_server.items() for p in positions]
        if rows == self._rows:
            return
        self.beginResetModel()  # a few dozen rows: a reset costs nothing here
        self._rows = rows
        self.endResetModel()

    # -- Qt's side -----------------------------------------------------------------------

    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802 -- Qt override
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008, N802 -- Qt override
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(  # noqa: N802 -- Qt override
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation is Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section] if 0 <= section < len(COLUMNS) else None
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        url, position = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            values = (
                self._names.get(url, url),
                position.symbol,
                position.exchange,
                position.product,
                text(position.quantity),
                f"{position.average_price:.2f}",
                f"{position.ltp:.2f}",
                f"{position.pnl:,.2f}",
            )
            return values[column] if 0 <= column < len(values) else None
        if role == Qt.ItemDataRole.TextAlignmentRole and column >= 4:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{position.describe()} on {self._names.get(url, url)}"
        return None
