"""Where the window opens and how big: inside the screen's available area (a 1366×768 laptop
has ~700 pixels of height once the panel and the title bar are taken), where it was last time,
with its splitters where the trader left them.

:func:`fit` is the rule, as plain geometry; :class:`WindowPlacement` applies it to a window and
keeps the result in ``Settings`` (``window_*``, ``lower_height``, ``orders_width``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QMargins, QObject, QPoint, QRect, QSize, Qt, QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMainWindow, QSplitter

from core.settings import Settings

DEFAULT_SIZE = QSize(1366, 820)  # a 1366×768 laptop's full width; never more than the screen's area
MINIMUM_SIZE = QSize(960, 600)
# The window manager's frame is not known until the window is on screen; until then assume a
# title bar and thin borders, and correct once it is shown.
ASSUMED_FRAME = QMargins(4, 34, 4, 4)
DEFAULT_LOWER_HEIGHT = 360  # the order book and results; the button takes what is left

WINDOW_FIELDS = (
    "window_x",
    "window_y",
    "window_width",
    "window_height",
    "window_maximized",
    "lower_height",
    "orders_width",
)
"""The ``Settings`` fields this module keeps."""

ScreenArea = Callable[[QPoint], QRect]
"""The available area (without panels and docks) of the screen that holds a point."""


def screen_area(point: QPoint) -> QRect:
    """The available geometry of the screen at ``point``, or of the primary screen when no screen
    holds it (the monitor it was on is gone)."""
    screen = QGuiApplication.screenAt(point) or QGuiApplication.primaryScreen()
    return screen.availableGeometry()


def fit(
    available: QRect,
    wanted: QRect | None,
    *,
    frame: QMargins = ASSUMED_FRAME,
    default: QSize = DEFAULT_SIZE,
    minimum: QSize = MINIMUM_SIZE,
) -> QRect:
    """The window's geometry (inside its frame) so that the whole frame lies in ``available``.

    ``wanted`` is where it was last time (None: never saved): kept if it fits, shrunk to the
    area if it is bigger, and moved in from the edges if it pokes out. With nothing saved the
    window takes ``default`` (or less) and is centred. It is never made smaller than ``minimum``
    unless the screen itself is smaller.
    """
    room = QSize(
        available.width() - frame.left() - frame.right(), available.height() - frame.top() - frame.bottom()
    )
    size = wanted.size() if wanted is not None else default
    width = min(max(size.width(), minimum.width()), room.width())
    height = min(max(size.height(), minimum.height()), room.height())
    if wanted is None:
        x = available.left() + frame.left() + (room.width() - width) // 2
        y = available.top() + frame.top() + (room.height() - height) // 2
    else:
        x = _clamp(wanted.x(), available.left() + frame.left(), available.right() + 1 - frame.right() - width)
        y = _clamp(
            wanted.y(), available.top() + frame.top(), available.bottom() + 1 - frame.bottom() - height
        )
    return QRect(x, y, width, height)


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))


def saved_rect(settings: Settings) -> QRect | None:
    if settings.window_width <= 0 or settings.window_height <= 0:
        return None
    return QRect(settings.window_x, settings.window_y, settings.window_width, settings.window_height)


class WindowPlacement(QObject):
    """Opens ``window`` within its screen's available area as the settings say, and reads back
    its geometry and splitter sizes for the settings.

    ``vertical`` splits the button from the order book and results; ``horizontal`` splits the
    order book from the results. ``orders_width()`` is the order book's width when none is
    saved (what its columns need).
    """

    def __init__(
        self,
        window: QMainWindow,
        vertical: QSplitter,
        horizontal: QSplitter,
        orders_width: Callable[[], int],
        *,
        area: ScreenArea = screen_area,
    ) -> None:
        super().__init__(window)
        self._window = window
        self._vertical = vertical
        self._horizontal = horizontal
        self._orders_width = orders_width
        self._area = area
        self._lower_height = DEFAULT_LOWER_HEIGHT
        self._saved_orders_width = 0
        self.placed = QRect()

    def restore(self, settings: Settings) -> QRect:
        """Size and place the window (before it is shown); the splitters follow in
        :meth:`shown`, once the window's layout knows how much room they have."""
        wanted = saved_rect(settings)
        available = self._area(wanted.center() if wanted is not None else QPoint(0, 0))
        self.placed = fit(available, wanted)
        self._window.setMinimumSize(
            min(MINIMUM_SIZE.width(), self.placed.width()), min(MINIMUM_SIZE.height(), self.placed.height())
        )
        self._window.setGeometry(self.placed)
        if settings.window_maximized:
            self._window.setWindowState(self._window.windowState() | Qt.WindowState.WindowMaximized)
        self._lower_height = settings.lower_height or DEFAULT_LOWER_HEIGHT
        self._saved_orders_width = settings.orders_width
        return self.placed

    def lay_out_splitters(self) -> None:
        """Give the order book and results their height (the button takes the rest, and gives
        it up first when the window is short) and the order book its width. Call when the
        window is first shown, before it paints."""
        total = sum(self._vertical.sizes())
        if total > 0:
            self._vertical.setSizes([max(total - self._lower_height, 0), self._lower_height])
        total = sum(self._horizontal.sizes())
        if total > 0:
            orders = self._saved_orders_width or self._orders_width()
            self._horizontal.setSizes([orders, max(total - orders, 0)])

    def check_frame(self) -> None:
        """Once on screen the real frame is known: if it pokes out of the available area (a
        taller title bar than assumed), fit again with it. Call after the first show."""
        QTimer.singleShot(0, self, self._refit)

    def _refit(self) -> None:
        window = self._window
        if window.isMaximized() or window.isFullScreen() or not window.isVisible():
            return
        frame_rect, inner = window.frameGeometry(), window.geometry()
        frame = QMargins(
            inner.left() - frame_rect.left(),
            inner.top() - frame_rect.top(),
            frame_rect.right() - inner.right(),
            frame_rect.bottom() - inner.bottom(),
        )
        available = self._area(inner.center())
        if available.contains(frame_rect):
            return
        window.setGeometry(fit(available, inner, frame=frame))

    def remembered(self, settings: Settings) -> Settings:
        """``settings`` with the window's current geometry and splitter sizes."""
        window = self._window
        maximized = window.isMaximized()
        rect = window.normalGeometry() if maximized else window.geometry()
        if not rect.isValid():
            rect = window.geometry()
        vertical, horizontal = self._vertical.sizes(), self._horizontal.sizes()
        return replace(
            settings,
            window_x=rect.x(),
            window_y=rect.y(),
            window_width=rect.width(),
            window_height=rect.height(),
            window_maximized=maximized,
            lower_height=vertical[1] if len(vertical) == 2 else 0,
            orders_width=horizontal[0] if len(horizontal) == 2 else 0,
        ).validated()
