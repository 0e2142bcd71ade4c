"""More servers, in Settings: add, edit, remove, reorder, and switch each off for the kill without
deleting it. Each has a label, a URL, a strategy label and its own API key, which goes to the key
store under its URL (as the first server's does) -- never into the settings file.

Every field is checked with a sentence: a blank or unusable URL, a scheme other than http(s),
the same server twice (the first server included).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core import DEFAULT_STRATEGY
from core.addresses import normalise_host
from core.settings import Server

ERROR_STYLE = "color: #ef5350;"


def server_problem(url: str, taken: set[str]) -> str:
    """Why ``url`` cannot be a server here, or ''."""
    text = url.strip()
    if not text:
        return "The URL is empty: give the OpenAlgo server's address, e.g. https://dhan.example.com."
    if "://" in text and not text.lower().startswith(("http://", "https://")):
        return "Only http:// and https:// servers can be used."
    host = normalise_host(text) if not any(c.isspace() for c in text) else None
    if host is None:
        return "This is not a usable server URL; expected something like http://127.0.0.1:5001."
    if host in taken:
        return f"{host} is already in the list: each server once."
    return ""


class ServerDialog(QDialog):
    """Add or edit one server. After ``accept()``: ``server`` and ``entered_key`` (a new key, or
    None to keep the stored one)."""

    def __init__(self, server: Server | None, taken: set[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("serverDialog")
        self.setWindowTitle("Edit server" if server is not None else "Add a server")
        self.server = server
        self.entered_key: str | None = None
        self._taken = taken
        self.label_edit = QLineEdit(server.label if server else "")
        self.label_edit.setObjectName("serverLabel")
        self.label_edit.setPlaceholderText("e.g. Zerodha, Desk 2")
        self.url_edit = QLineEdit(server.url if server else "")
        self.url_edit.setObjectName("serverUrl")
        self.url_edit.setPlaceholderText("http://127.0.0.1:5001")
        self.strategy_edit = QLineEdit(server.strategy if server else DEFAULT_STRATEGY)
        self.strategy_edit.setObjectName("serverStrategy")
        self.key_edit = QLineEdit()
        self.key_edit.setObjectName("serverKey")
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText(
            "Leave empty to keep the stored key" if server else "This server's OpenAlgo API key"
        )
        self.error = QLabel()
        self.error.setObjectName("serverError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        form = QFormLayout()
        form.addRow("Label", self.label_edit)
        form.addRow("Server URL", self.url_edit)
        form.addRow("Strategy label", self.strategy_edit)
        form.addRow("API key", self.key_edit)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self.resize(460, self.sizeHint().height())

    def accept(self) -> None:
        problem = server_problem(self.url_edit.text(), self._taken)
        if problem:
            self.error.setText(problem)
            return
        url = normalise_host(self.url_edit.text())
        assert url is not None
        base = self.server or Server(url)
        self.server = replace(
            base,
            url=url,
            label=self.label_edit.text().strip(),
            strategy=self.strategy_edit.text().strip() or DEFAULT_STRATEGY,
        )
        self.entered_key = self.key_edit.text().strip() or None
        self.key_edit.clear()
        super().accept()


class ServerList(QWidget):
    """The servers after the first, as a list with Add/Edit/Remove/Up/Down.

    ``servers()`` gives them in order with their on/off state; ``keys`` the keys typed for them
    (by URL), for the dialog to store. ``first`` gives the first server's URL (for duplicates).

    Signals:
        changed(): the list changed.
    """

    changed = Signal()

    def __init__(
        self, servers: tuple[Server, ...], first_url: Callable[[], str], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("serverList")
        self._first_url = first_url  # a callable giving the first server's URL as typed
        self.keys: dict[str, str] = {}
        self.list = QListWidget()
        self.list.setObjectName("serverListItems")
        self.list.setMaximumHeight(110)
        for server in servers:
            self._append(server)
        self.list.itemChanged.connect(lambda _item: self.changed.emit())
        self.list.itemDoubleClicked.connect(lambda _item: self.edit())
        self.add_button = QPushButton("Add…")
        self.add_button.setObjectName("addServer")
        self.edit_button = QPushButton("Edit…")
        self.edit_button.setObjectName("editServer")
        self.remove_button = QPushButton("Remove")
        self.remove_button.setObjectName("removeServer")
        self.up_button = QPushButton("Up")
        self.up_button.setObjectName("serverUp")
        self.down_button = QPushButton("Down")
        self.down_button.setObjectName("serverDown")
        self.add_button.clicked.connect(self.add)
        self.edit_button.clicked.connect(self.edit)
        self.remove_button.clicked.connect(self.remove)
        self.up_button.clicked.connect(lambda: self.shift(-1))
        self.down_button.clicked.connect(lambda: self.shift(1))
        side = QVBoxLayout()
        for button in (
            self.add_button,
            self.edit_button,
            self.remove_button,
            self.up_button,
            self.down_button,
        ):
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            side.addWidget(button)
        side.addStretch(1)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.list, 1)
        row.addLayout(side)
        self.dialog: ServerDialog | None = None

    def servers(self) -> tuple[Server, ...]:
        found = []
        for i in range(self.list.count()):
            item = self.list.item(i)
            server: Server = item.data(Qt.ItemDataRole.UserRole)
            found.append(replace(server, enabled=item.checkState() == Qt.CheckState.Checked))
        return tuple(found)

    def _taken(self, but: str = "") -> set[str]:
        urls = {s.url for s in self.servers() if s.url != but}
        first = normalise_host(self._first_url())
        if first:
            urls.add(first)
        return urls

    def _append(self, server: Server) -> None:
        item = QListWidgetItem(self._text(server))
        item.setData(Qt.ItemDataRole.UserRole, server)
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked if server.enabled else Qt.CheckState.Unchecked)
        item.setToolTip("Switched off servers are kept but left out of kills")
        self.list.addItem(item)

    @staticmethod
    def _text(server: Server) -> str:
        return f"{server.label} — {server.url}" if server.label else server.url

    def add(self) -> None:
        self.dialog = ServerDialog(None, self._taken(), self)
        self.dialog.finished.connect(self._added)
        self.dialog.open()

    def _added(self, result: int) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is None or result != QDialog.DialogCode.Accepted or dialog.server is None:
            return
        self._append(dialog.server)
        if dialog.entered_key:
            self.keys[dialog.server.url] = dialog.entered_key
        self.list.setCurrentRow(self.list.count() - 1)
        self.changed.emit()

    def edit(self) -> None:
        item = self.list.currentItem()
        if item is None:
            return
        server: Server = item.data(Qt.ItemDataRole.UserRole)
        self.dialog = ServerDialog(server, self._taken(but=server.url), self)
        self.dialog.finished.connect(lambda result, item=item: self._edited(item, result))
        self.dialog.open()

    def _edited(self, item: QListWidgetItem, result: int) -> None:
        dialog, self.dialog = self.dialog, None
        if dialog is None or result != QDialog.DialogCode.Accepted or dialog.server is None:
            return
        item.setData(Qt.ItemDataRole.UserRole, dialog.server)
        item.setText(self._text(dialog.server))
        if dialog.entered_key:
            self.keys[dialog.server.url] = dialog.entered_key
        self.changed.emit()

    def remove(self) -> None:
        row = self.list.currentRow()
        if row >= 0:
            self.list.takeItem(row)
            self.changed.emit()

    def shift(self, step: int) -> None:
        row = self.list.currentRow()
        target = row + step
        if row < 0 or not 0 <= target < self.list.count():
            return
        item = self.list.takeItem(row)
        self.list.insertItem(target, item)
        self.list.setCurrentRow(target)
        self.changed.emit()
