"""The window on the screens traders have: it opens inside the screen's available area (a
1366×768 laptop, the most common among retail traders, has about 700 pixels of height once the
taskbar and title bar are taken), nothing in it is clipped or off screen at 1280×680, the button
gives up height before the order book and results do, and size, position and splitter sizes
come back at the next start.

The screen is handed to the window (``screen=``), so each test says which screen it is on; the
offscreen platform's own screen is whatever Qt makes up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import QMargins, QPoint, QRect, QSize
from PySide6.QtWidgets import QApplication, QLabel, QWidget
from pytestqt.qtbot import QtBot

from core import settings as settings_store
from core.secrets import SessionKeyStore
from core.settings import Settings
from ui.app import apply_stylesheet
from ui.fire_sources import FireSources
from ui.hotkey import FakeHotkey
from ui.main_window import MainWindow
from ui.orders_pane import ROW_HEIGHT
from ui.window_placement import ASSUMED_FRAME, DEFAULT_SIZE, MINIMUM_SIZE, fit

LAPTOP = QRect(0, 0, 1366, 728)  # 1366×768 with a 40-pixel taskbar at the bottom
LAPTOP_GNOME = QRect(0, 32, 1366, 736)  # 1366×768 with a 32-pixel top bar
DESKTOP = QRect(0, 0, 1920, 1040)
BUTTON_MINIMUM = 200
HEADING_GAP = 24


def framed(rect: QRect, frame: QMargins = ASSUMED_FRAME) -> QRect:
    return rect.marginsAdded(frame)


WindowOn = Callable[..., MainWindow]


@pytest.fixture
def window_on(qtbot: QtBot, tmp_path: Path) -> Iterator[WindowOn]:
    """A window (no server: layout only) on a screen whose available area is ``screen``, with
    its hotkey status in the status bar as the app has it."""
    made: list[tuple[MainWindow, FireSources]] = []

    def make(screen: QRect, settings: Settings | None = None, *, path: Path | None = None) -> MainWindow:
        window = MainWindow(
            settings or Settings(),
            SessionKeyStore(),
            settings_path=path or tmp_path / "settings.json",
            screen=lambda _point: screen,
        )
        qtbot.addWidget(window)
        sources = FireSources(window, hotkey=FakeHotkey(), use_tray=False)
        sources.start()
        made.append((window, sources))
        window.show()
        qtbot.waitExposed(window)
        return window

    yield make
    for window, sources in made:
        sources.stop()
        window.close()


def rect_in(widget: QWidget, window: QWidget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def assert_nothing_clipped(window: MainWindow, qtbot: QtBot) -> None:
    """Every part a trader needs is inside the window at its full size, and the order book
    shows every column and at least five rows."""
    # The views settle their scroll bars on the event loop's next turns after a resize.
    table, header = window.table, window.table.horizontalHeader()
    qtbot.waitUntil(lambda: not table.horizontalScrollBar().isVisible(), timeout=2000)
    inside = window.rect()
    results_title = window.findChild(QLabel, "resultsTitle")
    hotkey_status = window.findChild(QLabel, "hotkeyStatus")
    assert results_title is not None and hotkey_status is not None
    parts: list[QWidget] = [
        window.settings_button,
        window.about_button,
        window.connection_bar,
        window.button,
        window.orders_title,
        window.orders.times_note,
        window.show_all_toggle,
        results_title,
        window.table,
        window.results,
        window.statusBar(),
        hotkey_status,
    ]
    for part in parts:
        assert part.isVisible(), part.objectName()
        assert inside.contains(rect_in(part, window)), part.objectName()
    for text in (window.orders_title, window.orders.times_note, window.show_all_toggle, results_title):
        assert text.width() >= text.sizeHint().width(), f"{text.objectName()} is cut short"
    heading = [
        rect_in(w, window) for w in (window.orders_title, window.orders.times_note, window.show_all_toggle)
    ]
    # The order book's heading ends well clear of the results' heading, not run into it.
    assert max(r.right() for r in heading) + HEADING_GAP <= rect_in(results_title, window).left()
    assert window.button.height() >= BUTTON_MINIMUM
    last = header.count() - 1
    assert header.sectionViewportPosition(last) + header.sectionSize(last) <= table.viewport().width()
    assert table.viewport().height() >= 5 * ROW_HEIGHT
    assert window.results.width() >= 340


@pytest.mark.parametrize("screen", [LAPTOP, LAPTOP_GNOME], ids=["taskbar", "top-bar"])
def test_on_a_1366x768_laptop_the_window_opens_inside_the_screen_with_nothing_clipped(
    window_on: WindowOn, qtbot: QtBot, screen: QRect
) -> None:
    window = window_on(screen)

    assert screen.contains(framed(window.geometry()))
    assert_nothing_clipped(window, qtbot)


def test_at_1280x680_nothing_is_clipped(window_on: WindowOn, qtbot: QtBot) -> None:
    window = window_on(DESKTOP)
    window.resize(1280, 680)
    qtbot.waitUntil(lambda: window.size() == QSize(1280, 680))

    assert_nothing_clipped(window, qtbot)


def test_the_button_gives_up_height_before_the_order_book_and_results(
    window_on: WindowOn, qtbot: QtBot
) -> None:
    window = window_on(DESKTOP)
    window.resize(1280, 820)
    qtbot.waitUntil(lambda: window.height() == 820)
    tall_button, tall_lower = window.button.height(), window.lower_splitter.height()

    window.resize(1280, 700)
    qtbot.waitUntil(lambda: window.height() == 700)

    assert window.button.height() == tall_button - 120
    assert window.lower_splitter.height() == tall_lower


def test_size_position_and_splitters_come_back_at_the_next_start(
    window_on: WindowOn, qtbot: QtBot, tmp_path: Path
) -> None:
    path = tmp_path / "settings.json"
    first = window_on(DESKTOP, path=path)
    first.setGeometry(QRect(200, 150, 1300, 760))
    qtbot.waitUntil(lambda: first.geometry() == QRect(200, 150, 1300, 760))
    first.main_splitter.setSizes([300, 330])
    first.lower_splitter.setSizes([900, 370])
    vertical, horizontal = first.main_splitter.sizes(), first.lower_splitter.sizes()
    first.close()

    saved = json.loads(path.read_text("utf-8"))
    assert (saved["window_x"], saved["window_y"], saved["window_width"], saved["window_height"]) == (
        200,
        150,
        1300,
        760,
    )
    again = window_on(DESKTOP, settings_store.load(path), path=path)

    assert again.geometry() == QRect(200, 150, 1300, 760)
    assert again.main_splitter.sizes() == vertical
    assert again.lower_splitter.sizes() == horizontal


def test_a_window_saved_on_a_screen_that_is_gone_opens_inside_this_one(
    window_on: WindowOn, qtbot: QtBot
) -> None:
    # Last closed on a second monitor to the right, or on a bigger one: this laptop has neither.
    saved = Settings(window_x=2200, window_y=900, window_width=1600, window_height=1000)

    window = window_on(LAPTOP, saved)

    assert LAPTOP.contains(framed(window.geometry()))
    assert_nothing_clipped(window, qtbot)


def test_the_demo_window_saves_nothing_on_close(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    window = MainWindow(Settings(), SessionKeyStore(), persist=False, settings_path=path)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.close()

    assert not path.exists()


# -- the rule itself ---------------------------------------------------------------------------


def test_with_nothing_saved_the_window_takes_its_default_size_centred() -> None:
    placed = fit(DESKTOP, None)

    assert placed.size() == DEFAULT_SIZE
    assert placed.center().x() in range(DESKTOP.center().x() - 2, DESKTOP.center().x() + 3)


def test_with_nothing_saved_on_a_small_screen_the_window_fills_its_available_area() -> None:
    placed = fit(LAPTOP_GNOME, None)

    assert framed(placed) == LAPTOP_GNOME


def test_a_saved_place_that_fits_is_kept_exactly() -> None:
    wanted = QRect(100, 80, 1200, 640)

    assert fit(DESKTOP, wanted) == wanted


def test_a_window_poking_out_of_the_screen_is_moved_in_before_it_is_shrunk() -> None:
    placed = fit(LAPTOP, QRect(400, 300, 1200, 640))

    assert placed.size() == QSize(1200, 640)
    assert LAPTOP.contains(framed(placed))


def test_the_window_is_never_made_smaller_than_its_minimum_unless_the_screen_is() -> None:
    assert fit(DESKTOP, QRect(0, 0, 300, 200)).size() == MINIMUM_SIZE
    tiny = QRect(0, 0, 800, 560)
    assert tiny.contains(framed(fit(tiny, None)))


def test_closing_a_window_opened_on_a_one_off_server_keeps_the_saved_server(
    window_on: WindowOn, tmp_path: Path
) -> None:
    path = tmp_path / "settings.json"
    settings_store.save(Settings(host="http://10.0.0.5:5000"), path)
    # As `killswitch --host URL` opens it: that server for this run only.
    window = window_on(DESKTOP, Settings(host="http://127.0.0.1:7777"), path=path)
    window.show_all_toggle.setChecked(True)

    window.close()

    assert settings_store.saved_host(path) == "http://10.0.0.5:5000"
    saved = settings_store.load(path)
    assert saved.show_all_orders and saved.window_width == window.width()


def test_closing_a_window_never_set_up_saves_no_server_for_the_command_line(
    window_on: WindowOn, tmp_path: Path
) -> None:
    path = tmp_path / "settings.json"
    window = window_on(DESKTOP, path=path)

    window.close()

    assert settings_store.load(path).window_width == window.width()
    assert settings_store.saved_host(path) is None  # cancel-all still refuses to guess a server


def test_damaged_window_geometry_in_the_settings_file_is_pulled_into_range_or_ignored() -> None:
    loaded = settings_store.from_dict(
        {
            "window_x": -(10**9),
            "window_y": "12",
            "window_width": "wide",
            "window_height": 10**9,
            "window_maximized": "yes",
            "lower_height": -5,
            "orders_width": 800.7,
        }
    )

    assert (loaded.window_x, loaded.window_y) == (-100_000, 12)
    assert (loaded.window_width, loaded.window_height) == (0, 100_000)  # "wide" is no width: the default
    assert not loaded.window_maximized and loaded.lower_height == 0 and loaded.orders_width == 800


def test_a_window_styled_once_it_is_built_lays_out_as_one_built_styled(
    qtbot: QtBot, qapp: QApplication, tmp_path: Path
) -> None:
    # The app sets its stylesheet once the window is built (~27 ms sooner on screen): nothing
    # may come out differently from a window built under it.
    def build(name: str) -> MainWindow:
        window = MainWindow(
            Settings(), SessionKeyStore(), settings_path=tmp_path / name, screen=lambda _point: LAPTOP
        )
        qtbot.addWidget(window)
        return window

    before = qapp.styleSheet()
    qapp.setStyleSheet("")
    try:
        late = build("late.json")  # built unstyled, styled before it shows, as ui.app.run does
        apply_stylesheet(qapp)
        early = build("early.json")  # built styled
        for window in (late, early):
            window.show()
            qtbot.waitExposed(window)
        assert late.orders.minimumWidth() == early.orders.minimumWidth()
        assert late.orders.table.minimumHeight() == early.orders.table.minimumHeight()
        assert late.size() == early.size()
        assert late.main_splitter.sizes() == early.main_splitter.sizes()
        assert late.lower_splitter.sizes() == early.lower_splitter.sizes()
    finally:
        qapp.setStyleSheet(before)
