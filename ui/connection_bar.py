"""The connection line under the header: reachable or not, key accepted, mode, the age of the last
good update (ticking once a second) and the round trip, coloured by how things stand."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QLabel, QWidget

from ui.connection_state import ConnectionState


def connection_level(state: ConnectionState) -> str:
    """The line's colour (the stylesheet's ``state`` property): good, warn, bad or unknown."""
    if state.reachable is False or state.key_ok is False:
        return "bad"
    if state.semi_auto:
        return "warn"
    if state.reachable and state.key_ok:
        return "good"
    return "unknown"


class ConnectionBar(QLabel):
    """Shows the latest ``ConnectionState``; ``ticked`` follows each once-a-second refresh."""

    ticked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Not connected yet.", parent)
        self.setObjectName("connectionBar")
        self.setAccessibleName("connectionBar")
        self.setProperty("state", "unknown")
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.state: ConnectionState | None = None
        self.servers_line = ""  # with several servers: each one's state, instead of the first's
        # The line shows the age of the last good update, so it ticks on its own.
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self._refresh)

    def show_servers(self, line: str) -> None:
        """Several servers: say each one's state (the colour stays the first server's)."""
        self.servers_line = line
        self.setText(line or (self.state.describe() if self.state is not None else self.text()))

    def show_state(self, state: ConnectionState) -> None:
        self.state = state
        self.setText(self.servers_line or state.describe())
        if not self._timer.isActive():
            self._timer.start()
        level = connection_level(state)
        if self.property("state") != level:
            self.setProperty("state", level)
            self.style().unpolish(self)
            self.style().polish(self)

    def stop(self) -> None:
        self._timer.stop()

    def _refresh(self) -> None:
        if self.state is not None:
            self.setText(self.servers_line or self.state.describe())
            self.ticked.emit()
