"""The tray icon: Fire, Show and Quit, and a notification with each kill's verdict.

Many Linux desktops (and Xvfb) have no system tray; then ``available`` is False, ``sentence``
says so, and the window remains the place the verdict is shown.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QMenu, QSystemTrayIcon, QWidget

from core import APP_NAME
from core.report import CancelReport, Verdict

NOTIFY_MS = 15_000  # long enough to read a verdict that arrives while looking elsewhere
NO_TRAY = (
    "This desktop has no system tray, so there is no tray icon and no kill notifications; "
    "the window shows every verdict."
)
_ICONS = {
    Verdict.FLAT: QSystemTrayIcon.MessageIcon.Information,
    Verdict.ORDERS_REMAIN: QSystemTrayIcon.MessageIcon.Critical,
    Verdict.POSITIONS_REMAIN: QSystemTrayIcon.MessageIcon.Critical,
    Verdict.UNVERIFIED: QSystemTrayIcon.MessageIcon.Warning,
    Verdict.REFUSED: QSystemTrayIcon.MessageIcon.Critical,
    Verdict.UNREACHABLE: QSystemTrayIcon.MessageIcon.Critical,
}


def fallback_icon() -> QIcon:
    """A red disc, for when no application icon is set."""
    pixmap = QPixmap(64, 64)
    pixmap.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setBrush(QColor("#c62828"))
    painter.setPen(Qt.PenStyle.NoPen)
    painter.drawEllipse(4, 4, 56, 56)
    painter.end()
    return QIcon(pixmap)


class KillSwitchTray(QObject):
    """The tray icon and its menu.

    Signals:
        fireRequested(str): "Fire" was chosen; the argument is the trigger name ("tray").
        showRequested(): "Show" was chosen, or the icon was clicked.
        quitRequested(): "Quit" was chosen.
    """

    fireRequested = Signal(str)  # noqa: N815 - Qt naming for signals
    showRequested = Signal()  # noqa: N815
    quitRequested = Signal()  # noqa: N815

    def __init__(self, icon: QIcon | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        if icon is None or icon.isNull():
            app_icon = QApplication.windowIcon()
            icon = app_icon if not app_icon.isNull() else fallback_icon()
        self.menu = QMenu()
        self.fire_action = QAction("Fire — cancel every working order", self.menu)
        self.show_action = QAction("Show window", self.menu)
        self.quit_action = QAction("Quit", self.menu)
        self.fire_action.triggered.connect(lambda: self.fireRequested.emit("tray"))
        self.show_action.triggered.connect(self.showRequested.emit)
        self.quit_action.triggered.connect(self.quitRequested.emit)
        self.menu.addAction(self.fire_action)
        self.menu.addSeparator()
        self.menu.addAction(self.show_action)
        self.menu.addAction(self.quit_action)
        self.icon = QSystemTrayIcon(icon, self)
        self.icon.setToolTip(APP_NAME)
        self.icon.setContextMenu(self.menu)
        self.icon.activated.connect(self._activated)
        self.last_message: tuple[str, str] | None = None  # (title, body) of the last notification

    @property
    def available(self) -> bool:
        return QSystemTrayIcon.isSystemTrayAvailable()

    @property
    def sentence(self) -> str:
        """'' when the tray works, else why there is no icon."""
        return "" if self.available else NO_TRAY

    def show(self) -> bool:
        """Put the icon in the tray; False (and nothing shown) when the desktop has no tray."""
        if not self.available:
            return False
        self.icon.show()
        return True

    def hide(self) -> None:
        self.icon.hide()

    def notify(self, report: CancelReport) -> bool:
        """A desktop notification with the verdict; False when it could not be shown."""
        title = report.verdict.headline.split(" — ", 1)[0]
        body = report.summary()
        self.last_message = (f"{APP_NAME}: {title}", body)
        self.icon.setToolTip(f"{APP_NAME} — last kill: {title}")
        if not (self.available and self.icon.isVisible() and QSystemTrayIcon.supportsMessages()):
            return False
        self.icon.showMessage(self.last_message[0], body, _ICONS[report.verdict], NOTIFY_MS)
        return True

    def close(self) -> None:
        self.icon.hide()
        self.menu.deleteLater()

    def _activated(self, reason: QSystemTrayIcon.ActivationReason) -> None:
        if reason in (QSystemTrayIcon.ActivationReason.Trigger, QSystemTrayIcon.ActivationReason.DoubleClick):
            self.showRequested.emit()


def set_always_on_top(window: QWidget, on: bool) -> None:
    """Keep ``window`` above other windows, or stop. Changing the flag hides the window, so a
    visible window is shown again (minimised stays minimised)."""
    if bool(window.windowFlags() & Qt.WindowType.WindowStaysOnTopHint) == on:
        return
    visible = window.isVisible()
    window.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint, on)
    if visible:
        window.show()


def bring_forward(window: QWidget) -> None:
    """Un-minimise, show, raise and focus ``window`` (a second launch, the tray's Show)."""
    if window.isMinimized():
        window.showNormal()
    window.show()
    window.raise_()
    window.activateWindow()
