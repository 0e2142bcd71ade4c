"""The order book under the button: its heading (how many are working, how fresh that is, the
time zone of its times), the "show all" toggle, and the table over ``OrdersModel``."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QEvent, Qt
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ui.orders_model import OrdersModel

# Wide enough for the longest usual value of each column at the default font (an NSE symbol with
# its exchange, "trigger pending", a 16-digit order id); fixed, because no resize mode here may
# ask 10,000 rows for their size.
COLUMN_WIDTHS = (72, 140, 44, 50, 74, 66, 52, 70, 112, 128)
SERVER_COLUMN_WIDTH = 96  # the Server column of several servers' orders
ROW_HEIGHT = 24


def section(title: str, object_name: str) -> QLabel:
    label = QLabel(title)
    label.setObjectName(object_name)
    label.setProperty("role", "section")
    return label


class OrdersPane(QWidget):
    """Heading, toggle and table; ``model`` is the window's ``OrdersModel``."""

    def __init__(self, model: OrdersModel, show_all: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ordersPane")
        # The model filters and sorts itself (a header click calls its sort()): a sorting proxy
        # over 10,000 rows cost over a second per poll and per click (ui.orders_model).
        self.table = QTableView()
        self.table.setObjectName("ordersTable")
        self.table.setAccessibleName("ordersTable")
        self.table.setModel(model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, width in enumerate(COLUMN_WIDTHS):
            self.table.setColumnWidth(column, width)

        self.title = section("Working orders", "ordersTitle")
        # Order times are the broker's, in IST; the kill times beside them are IST too.
        self.times_note = QLabel("times in IST")
        self.times_note.setObjectName("ordersTimesNote")
        self.times_note.setToolTip("Order times are the broker's (IST); kill times are shown in IST too.")
        self.show_all_toggle = QCheckBox("Show all today's orders")
        self.show_all_toggle.setObjectName("showAllToggle")
        self.show_all_toggle.setChecked(show_all)
        # With several servers: which server's orders to show (all, with a Server column).
        self.server_filter = QComboBox()
        self.server_filter.setObjectName("serverFilter")
        self.server_filter.setToolTip("Show every server's orders, or one server's")
        self.server_filter.setVisible(False)
        head = QHBoxLayout()
        head.setSpacing(12)
        head.addWidget(self.title)
        head.addWidget(self.times_note)
        head.addWidget(self.server_filter)
        head.addWidget(self.show_all_toggle)
        head.addStretch(1)  # the toggle stays with its heading, clear of the results' heading
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(head)
        layout.addWidget(self.table)
        self._fit_to_style()

    def _fit_to_style(self) -> None:
        """The minimum sizes, from the styled toggle and header: again whenever the style or the
        font changes (the app sets its stylesheet once the window is built)."""
        self.setMinimumWidth(self.show_all_toggle.sizeHint().width() + 320)
        self.table.setMinimumHeight(self.table.horizontalHeader().sizeHint().height() + 4 * ROW_HEIGHT)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 -- Qt override
        super().changeEvent(event)
        if event.type() in (QEvent.Type.StyleChange, QEvent.Type.FontChange):
            self._fit_to_style()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 -- Qt override
        self._fit_to_style()  # every child is styled by now
        super().showEvent(event)

    def show_model(self, model: QAbstractItemModel, *, server_column: bool) -> None:
        """Show ``model`` (one server's orders, or every server's with a Server column first)."""
        if self.table.model() is model:
            return
        self.table.setModel(model)
        widths = ((SERVER_COLUMN_WIDTH,) if server_column else ()) + COLUMN_WIDTHS
        for column, width in enumerate(widths):
            self.table.setColumnWidth(column, width)

    def set_servers(self, names: list[tuple[str, str]]) -> None:
        """The servers to choose between (url, name); the filter shows only for several."""
        self.server_filter.blockSignals(True)
        chosen = self.server_filter.currentData()
        self.server_filter.clear()
        self.server_filter.addItem("All servers", "")
        for url, name in names:
            self.server_filter.addItem(name, url)
        index = self.server_filter.findData(chosen) if chosen else 0
        self.server_filter.setCurrentIndex(max(0, index))
        self.server_filter.blockSignals(False)
        self.server_filter.setVisible(len(names) > 1)

    def needed_width(self) -> int:
        """The width that shows every column without a horizontal scroll bar."""
        frame = 2 * self.table.frameWidth()
        scroll = self.table.verticalScrollBar().sizeHint().width()
        return sum(COLUMN_WIDTHS) + frame + scroll + 2

    def show_count(self, count: int | None, stale: bool) -> None:
        """The heading: how many are working, or, from a failed read on, how many were."""
        if count is None:
            self.title.setText("Working orders")
        elif stale:
            self.title.setText(f"Working orders · {count} at the last good read")
        else:
            self.title.setText(f"Working orders · {count}")
