"""The main window: layout and wiring only.

Everything slow happens on the lanes (``ui.lanes``): the window only forwards triggers and
shows what the lanes report through their signals. The window is built from what it is given
(settings, key store, key, lanes or a factory for them), so tests drive it without globals.

Its stories live next to it: where the settings and the key come from and go
(``ui.settings_flow``), the running kill's clock and the question on closing during a kill
(``ui.running_kill``), the kill record's History and interrupted kills (``ui.past_kills``), the
confirm policy's question (``ui.confirm_step``), what the button warns of (``ui.button_words``),
the connection line (``ui.connection_bar``), the order book's pane (``ui.orders_pane``) and where
the window opens (``ui.window_placement``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from core import APP_NAME
from core.book_changes import BookChanges
from core.log_file import KeyRedactor
from core.orders import Order
from core.record import KillRecord
from core.report import CancelReport, KillProgress
from core.secrets import KeyStore
from core.settings import FiringPolicy, Settings
from ui import button_words as words
from ui.about import about_text, about_title
from ui.confirm_step import ConfirmStep, question
from ui.connection_bar import ConnectionBar
from ui.history_dialog import HistoryDialog, PathChooser, ask_save_path
from ui.orders_model import OrdersModel
from ui.orders_pane import OrdersPane, section
from ui.panic_button import ConfirmKillDialog, PanicButton
from ui.past_kills import HistoryWindow, interrupted_sentence, show_interrupted_kills
from ui.results_pane import ResultsPane
from ui.running_kill import CHECK_THE_BOOK, RunningKill
from ui.settings_dialog import SettingsDialog
from ui.settings_flow import KeyLookup, SettingsFlow
from ui.window_placement import WINDOW_FIELDS, ScreenArea, WindowPlacement, screen_area

if TYPE_CHECKING:
    from ui.connection_state import ConnectionState
    from ui.lanes import Lanes

__all__ = ["CHECK_THE_BOOK", "KeyLookup", "MainWindow", "default_lanes", "interrupted_sentence"]

LanesFactory = Callable[[Settings, str], "Lanes"]

_KNOWN_ORDERS_CAP = 50_000


def default_lanes(settings: Settings, apikey: str, record: KillRecord | None = None) -> Lanes:
    from ui.lanes import Lanes

    return Lanes(
        settings.host,
        apikey,
        strategy=settings.strategy,
        poll_interval_s=settings.poll_interval_s,
        deadline_s=settings.deadline_s,
        record=record,
    )


def _header_button(text: str, name: str, slot: Callable[[], object], tip: str = "") -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.setToolTip(tip)
    button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # Space on a focused header button must not fire
    button.clicked.connect(slot)
    return button


def _splitter(
    orientation: Qt.Orientation, name: str, panes: tuple[QWidget, QWidget], grows: int
) -> QSplitter:
    """Pane ``grows`` takes what the window gains or loses; the other keeps its size."""
    splitter = QSplitter(orientation)
    splitter.setObjectName(name)
    splitter.setChildrenCollapsible(False)
    for index, pane in enumerate(panes):
        splitter.addWidget(pane)
        splitter.setStretchFactor(index, 1 if index == grows else 0)
    return splitter


def _duration(ms: float) -> str:
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


class MainWindow(QMainWindow):
    """The kill switch window.

    ``fire(trigger)`` sends a kill at once, whatever the firing policy (the button has already
    applied it); ``request_fire(trigger)`` applies the policy's confirm step first. Hold-to-fire
    is a gesture, so it is applied where the gesture happens (the button, a held hotkey);
    ``request_fire`` under the hold policy fires at once.

    Signals:
        killFinished(CancelReport): each kill's report, after the window has shown it (the
            lanes may be replaced when the settings change; this signal stays).
        settingsChanged(Settings): the settings were changed in the dialog and saved.
        bookShown(): after each order book is on screen.
    """

    killFinished = Signal(object)  # noqa: N815 -- Qt signal naming
    settingsChanged = Signal(object)  # noqa: N815
    bookShown = Signal()  # noqa: N815 -- after each order book is on screen

    def __init__(
        self,
        settings: Settings,
        key_store: KeyStore,
        *,
        apikey: str | None = None,
        lanes: Lanes | None = None,
        lanes_factory: LanesFactory | None = None,
        demo: bool = False,
        persist: bool = True,
        settings_path: Path | None = None,
        notice: str = "",
        record: KillRecord | None = None,
        redactor: KeyRedactor | None = None,
        key_lookup: KeyLookup | None = None,
        screen: ScreenArea = screen_area,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.demo = demo
        self.record = record
        self.redactor = redactor if redactor is not None else KeyRedactor()
        self.redactor.add(apikey)
        self._lanes_factory = lanes_factory or (lambda s, key: default_lanes(s, key, self.record))
        self.lanes: Lanes | None = None
        self.setup = SettingsFlow(
            settings,
            key_store,
            key=apikey,
            standing=notice,
            persist=persist,
            settings_path=settings_path,
            host_locked=demo,
            parent=self,
        )
        self.setup.keyReady.connect(self._use_key)
        self.setup.keyGone.connect(self._drop_lanes)
        self.setup.applied.connect(self._settings_applied)
        self.setup.saveFailed.connect(self.statusBar().showMessage)
        # Where an export goes: QFileDialog by default; tests put a function here.
        self.choose_export_path: PathChooser = ask_save_path
        self.history = (
            HistoryWindow(record, self, lambda: self.choose_export_path) if record is not None else None
        )
        self.confirm = ConfirmStep(self)
        self._known: dict[str, Order] = {}  # every order seen, by id: describes a kill's orders
        self._known_serial: int | None = None  # the BookChanges that _known is up to date with
        self._blast_radius_shown: tuple[object, ...] = ()  # what the button was last told
        self._mode = "unknown"
        self._count: int | None = None
        self._state: ConnectionState | None = None
        self._stopped = False
        self._key_lookup = key_lookup
        self._closing = False  # past the point of asking: the window is going
        self._screen_area = screen  # the available area of the screen at a point (tests pass one)
        self._placed = False  # shown once, so its splitters are laid out and its place is worth keeping

        self._build(notice)
        self.setup.notice.connect(self.show_notice)  # after _build: the notice bar exists
        self.running = RunningKill(self, self.button, self.statusBar(), lambda: self.lanes)
        self.button.set_policy(settings.firing_policy, settings.hold_ms)
        self._show_blast_radius()
        if lanes is not None:
            self._attach(lanes)
        # This start's sentences about kills an earlier run left unfinished.
        self.interrupted = show_interrupted_kills(record, self.results, self.statusBar())

    # -- what other parts read ----------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.setup.settings

    @property
    def key_store(self) -> KeyStore:
        return self.setup.key_store

    @property
    def settings_dialog(self) -> SettingsDialog | None:
        return self.setup.dialog

    @property
    def history_dialog(self) -> HistoryDialog | None:
        return self.history.dialog if self.history is not None else None

    @property
    def confirm_dialog(self) -> ConfirmKillDialog | None:
        return self.confirm.dialog

    @property
    def close_question(self) -> QMessageBox | None:
        return self.running.question

    # -- layout -------------------------------------------------------------------------------

    def _build(self, notice: str) -> None:
        central = QWidget()
        central.setObjectName("central")
        root = QVBoxLayout(central)
        root.setContentsMargins(14, 10, 14, 10)
        root.setSpacing(8)

        header = QHBoxLayout()
        title = QLabel(APP_NAME)
        title.setObjectName("appTitle")
        header.addWidget(title)
        self.demo_badge = QLabel("DEMO — simulated server, no real orders")
        self.demo_badge.setObjectName("demoBadge")
        self.demo_badge.setVisible(self.demo)
        header.addWidget(self.demo_badge)
        header.addStretch(1)
        self.history_button = _header_button(
            "History…", "historyButton", self.open_history, "Past kills, their details, and the export"
        )
        self.history_button.setVisible(self.record is not None)
        self.settings_button = _header_button("Settings…", "settingsButton", self.open_settings)
        self.about_button = _header_button("About", "aboutButton", self.show_about)
        for button in (self.history_button, self.settings_button, self.about_button):
            header.addWidget(button)
        root.addLayout(header)

        self.connection_bar = ConnectionBar()
        self.connection_bar.ticked.connect(self._connection_ticked)
        root.addWidget(self.connection_bar)

        self.notice_bar = QLabel(notice)
        self.notice_bar.setObjectName("noticeBar")
        self.notice_bar.setWordWrap(True)
        self.notice_bar.setVisible(bool(notice))
        root.addWidget(self.notice_bar)

        self.button = PanicButton()
        self.button.set_demo(self.demo)
        self.button.fireRequested.connect(lambda: self.request_fire("button"))

        self.model = OrdersModel(self)
        self.model.show_all = self.settings.show_all_orders
        self.orders = OrdersPane(self.model, self.settings.show_all_orders)
        self.table = self.orders.table
        self.orders_title = self.orders.title
        self.show_all_toggle = self.orders.show_all_toggle
        self.show_all_toggle.toggled.connect(self._show_all_changed)

        self.results = ResultsPane(history=self.record is not None)
        self.results.setMinimumWidth(340)
        results_box = QWidget()
        results_layout = QVBoxLayout(results_box)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addWidget(section("Kills this session", "resultsTitle"))
        results_layout.addWidget(self.results)

        # The order book keeps the width its columns need and the results take the rest; the
        # button takes the height the two leave, and gives it up first on a short screen.
        horizontal, vertical = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
        self.lower_splitter = _splitter(horizontal, "lowerSplitter", (self.orders, results_box), grows=1)
        self.main_splitter = _splitter(vertical, "mainSplitter", (self.button, self.lower_splitter), grows=0)
        root.addWidget(self.main_splitter, 1)

        self.setCentralWidget(central)
        self.setTabOrder(self.button, self.table)
        self.setTabOrder(self.table, self.results)
        self.setTabOrder(self.results, self.show_all_toggle)
        self.setTabOrder(self.show_all_toggle, self.settings_button)
        QShortcut(QKeySequence("Ctrl+,"), self, self.open_settings)
        QShortcut(QKeySequence("Ctrl+H"), self, self.open_history)
        QShortcut(QKeySequence("Ctrl+Q"), self, self.close)
        self.placement = WindowPlacement(
            self, self.main_splitter, self.lower_splitter, self.orders.needed_width, area=self._screen_area
        )
        self.placement.restore(self.settings)
        self._update_title()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 -- Qt override
        super().showEvent(event)
        if not self._placed:  # the first show: the layout now knows the splitters' room
            self._placed = True
            self.placement.lay_out_splitters()
            self.placement.check_frame()

    # -- starting and stopping ----------------------------------------------------------------

    def start(self) -> None:
        """Start polling, or, with no key yet, say so and open the settings."""
        self.button.setFocus(Qt.FocusReason.OtherFocusReason)
        if self.lanes is not None:
            self.lanes.start()
            return
        self.setup.start(self._key_lookup)
        self._show_blast_radius()

    def _use_key(self, key: str) -> None:
        """Poll (and fire) with ``key``: start the lanes, or point the running ones at it."""
        if self._stopped:
            return
        self.redactor.add(key)
        if self.record is not None:
            self.record.secret = key
        settings = self.settings
        if self.lanes is None:
            self._attach(self._lanes_factory(settings, key))
            assert self.lanes is not None
            self.lanes.start()
        else:
            self.lanes.reconfigure(
                settings.host, key, settings.strategy, settings.poll_interval_s, settings.deadline_s
            )
        self._show_blast_radius()

    def stop(self) -> None:
        """Stop both lanes (idempotent, bounded: about a second at most); called on close."""
        if self._stopped:
            return
        self._stopped = True
        if self._placed:  # where it was and how big, for the next start
            self.setup.keep(self.placement.remembered(self.settings), WINDOW_FIELDS)
        self.connection_bar.stop()
        self.running.stop()
        self.setup.stop()
        self.confirm.close()
        if self.history_dialog is not None:
            self.history_dialog.reject()
        if self.lanes is not None:
            if self.lanes.kill_in_flight:  # closed without asking (a signal, the app quitting)
                self.lanes.interrupt(f"The window closed during the kill: {CHECK_THE_BOOK}")
            self.lanes.stop()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 -- Qt override
        if not self._closing and self.lanes is not None and self.lanes.kill_in_flight:
            event.ignore()
            self.running.ask_to_close(self.close_anyway)
            return
        self.stop()
        super().closeEvent(event)

    @property
    def closing(self) -> bool:
        """True once the window is going: it takes no new kills from outside."""
        return self._closing or self._stopped

    def close_anyway(self, reason: str = "The window was closed during the kill") -> None:
        """Close now, even during a kill: the kill is reported and recorded as interrupted, so
        no one is left believing it finished. For "Close anyway", SIGTERM and Ctrl+C."""
        self._closing = True
        if self.lanes is not None and self.lanes.kill_in_flight:
            self.lanes.interrupt(f"{reason} before its verdict: {CHECK_THE_BOOK}")
        self.close()

    # -- firing ---------------------------------------------------------------------------------

    def fire(self, trigger: str) -> None:
        """Send a kill now, whatever the firing policy."""
        if self.lanes is None:
            if self.setup.reading_key:
                self.statusBar().showMessage(
                    "Not fired: the API key is still being read from the keyring — "
                    "is an unlock prompt waiting?"
                )
                return
            self.setup.ask_for_key()
            self._show_blast_radius()
            return
        self.lanes.fire(trigger)

    def request_fire(self, trigger: str) -> None:
        """Fire as the firing policy says: the confirm policy asks first (but joining a running
        kill needs no confirmation)."""
        lanes = self.lanes
        if self.settings.firing_policy is not FiringPolicy.CONFIRM or lanes is None or lanes.kill_in_flight:
            self.fire(trigger)
            return
        what = question(self.button.headline(), self.settings.host, self._mode)
        self.confirm.ask(what, lambda: self.fire(trigger))

    # -- lanes ------------------------------------------------------------------------------------

    def _attach(self, lanes: Lanes) -> None:
        self.lanes = lanes
        if lanes.parent() is None:
            lanes.setParent(self)
        lanes.bookChanged.connect(self._on_book)
        lanes.connectionChanged.connect(self._on_connection)
        lanes.killStarted.connect(self._on_kill_started)
        lanes.killProgress.connect(self._on_kill_progress)
        lanes.killFinished.connect(self._on_kill_finished)

    def _on_book(self, book: Any, changes: BookChanges) -> None:
        # In proportion to what changed (the poll lane worked it out): this runs on the UI
        # thread every poll, and a busy book has 10,000 orders.
        known = self._known
        if changes.base is None or changes.base != self._known_serial or len(known) > _KNOWN_ORDERS_CAP:
            if len(known) > _KNOWN_ORDERS_CAP:
                known.clear()
            for order in changes.orders:
                known[order.orderid] = order
        else:
            for order in changes.added:
                known[order.orderid] = order
            for order in changes.changed:
                known[order.orderid] = order
        self._known_serial = changes.serial
        self.model.apply(changes)
        self.bookShown.emit()
        self._count = self.model.working_count()
        if book.mode in ("live", "analyze"):
            self._mode = book.mode
        self._show_blast_radius()

    def _on_connection(self, state: ConnectionState) -> None:
        self._state = state
        if state.mode in ("live", "analyze"):
            self._mode = state.mode
        self.connection_bar.show_state(state)
        self._show_blast_radius()

    def _connection_ticked(self) -> None:
        if self._state is not None and self._state.problem:  # the button says how old its count is
            self._show_blast_radius()

    def _on_kill_started(self, trigger: str) -> None:
        self.button.kill_started()
        self.running.started(trigger)

    def _on_kill_progress(self, progress: KillProgress) -> None:
        self.button.kill_progress(progress)
        self.running.progressed(progress)

    def _on_kill_finished(self, report: CancelReport) -> None:
        self.running.finished()
        self.button.kill_finished(report)
        self.results.add_report(report, self._known)
        # The verdict is on the button and in the pane; the status bar says where the rest is.
        self.statusBar().showMessage(
            f"Kill {len(self.results.reports)} took {_duration(report.elapsed_ms)}; "
            "its report is under Kills this session."
        )
        if report.mode in ("live", "analyze"):
            self._mode = report.mode
        self._show_blast_radius()
        if self.history is not None:
            self.history.refresh()
        self.killFinished.emit(report)

    # -- what the button and title say ---------------------------------------------------------

    def warning(self) -> str:
        """What a trader must know before pressing, or ''."""
        if self.lanes is None:
            return words.READING_KEY if self.setup.reading_key else words.NO_KEY
        return words.warning(self._state, self._stale_count())

    def _stale_count(self) -> str:
        return words.stale_count(self._state, self._count, time.monotonic())

    def _show_blast_radius(self) -> None:
        # Runs on every poll: the button repaints (antialiased, ~2 ms) only when what it says
        # changed.
        warning = self.warning()
        stale = self._stale_count()
        count = None if stale else self._count  # the headline never states a stale count as now
        shown = (count, self.settings.host, self._mode, warning)
        if shown != self._blast_radius_shown:
            self._blast_radius_shown = shown
            self.button.set_blast_radius(count, self.settings.host, self._mode)
            self.button.set_warning(warning)
        self.orders.show_count(self._count, bool(stale))
        self._update_title()

    def _update_title(self) -> None:
        mode = {"live": "LIVE", "analyze": "ANALYZE"}.get(self._mode, "")
        title = f"{APP_NAME} — {self.settings.host}" + (f" ({mode})" if mode else "")
        self.setWindowTitle(("DEMO — " if self.demo else "") + title)

    def show_notice(self, sentence: str) -> None:
        self.notice_bar.setText(sentence)
        self.notice_bar.setVisible(bool(sentence))
        self._show_blast_radius()  # the button's warning follows the key: reading, missing, found

    def notice(self) -> str:
        return self.notice_bar.text() if self.notice_bar.isVisible() else ""

    def _show_all_changed(self, value: bool) -> None:
        self.model.show_all = value
        self.setup.keep(replace(self.settings, show_all_orders=value), ("show_all_orders",))

    # -- the record -----------------------------------------------------------------------------

    def open_history(self) -> None:
        """Open the kill history (non-modal); raise it if already open."""
        if self.history is not None:
            self.history.open()

    # -- settings ---------------------------------------------------------------------------------

    def show_about(self) -> None:
        QMessageBox.about(self, about_title(), about_text())

    def open_settings(self) -> None:
        """Open the settings dialog (window-modal, non-blocking); raise it if already open."""
        self.setup.open()

    def _drop_lanes(self) -> None:
        """Stop talking to the old server with the old key (a new server's key is looked up)."""
        if self.lanes is not None:
            self.lanes.stop()
            self.lanes.deleteLater()
            self.lanes = None
        self._show_blast_radius()

    def _settings_applied(self, old: Settings, new: Settings) -> None:
        self.button.set_policy(new.firing_policy, new.hold_ms)
        if new.host != old.host:
            self._known.clear()
            self._known_serial = None
            self._count = None
            self._mode = "unknown"
            self.model.update(())
        self._show_blast_radius()
        self.settingsChanged.emit(new)
