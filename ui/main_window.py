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

import contextlib
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut, QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from core import APP_NAME
from core.book_changes import BookChanges
from core.log_file import KeyRedactor
from core.orders import Order
from core.replies import ApiError, PositionBook
from core.report import CancelReport, KillProgress, PressReport, Verdict
from core.secrets import KeyStore
from core.settings import FiringPolicy, Server, Settings
from ui import button_words as words
from ui.about import about_text, about_title
from ui.background import Background
from ui.confirm_step import ConfirmStep, question
from ui.connection_bar import ConnectionBar
from ui.orders_model import OrdersModel
from ui.orders_pane import OrdersPane, section
from ui.panic_button import ConfirmKillDialog, PanicButton
from ui.positions_model import PositionsModel
from ui.results_pane import ResultsPane
from ui.running_kill import CHECK_THE_BOOK, RunningKill
from ui.server_orders import AllServersModel
from ui.server_set import ServerSet
from ui.settings_flow import KeyLookup, SettingsFlow
from ui.steps_bars import GuardBar, HaltBar
from ui.window_placement import WINDOW_FIELDS, ScreenArea, WindowPlacement, screen_area

if TYPE_CHECKING:  # the record and its History load after the first paint (attach_record)
    from core.guard import Catch
    from core.halt import HaltReport
    from core.record import KillRecord
    from ui.connection_state import ConnectionState
    from ui.history_dialog import HistoryDialog, PathChooser
    from ui.lanes import Lanes
    from ui.past_kills import HistoryWindow
    from ui.settings_dialog import SettingsDialog

__all__ = ["CHECK_THE_BOOK", "KeyLookup", "MainWindow", "default_lanes"]

LanesFactory = Callable[[Settings, str], "Lanes"]

_KNOWN_ORDERS_CAP = 50_000
REPORT_AFTER_MS = 30
"""A kill's report is laid out this long after its verdict is on the button (two frames)."""


def default_lanes(settings: Settings, apikey: str, record: KillRecord | None = None) -> Lanes:
    from ui.lanes import Lanes

    return Lanes(
        settings.host,
        apikey,
        strategy=settings.strategy,
        poll_interval_s=settings.poll_interval_s,
        deadline_s=settings.deadline_s,
        record=record,
        scope=settings.scope(),
    )


def _ask_save_path(parent: QWidget, caption: str, suggested: str, file_filter: str) -> str:
    from ui.history_dialog import ask_save_path  # with History, after the first paint

    return ask_save_path(parent, caption, suggested, file_filter)


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
        killFinished(CancelReport | PressReport): each press's report once every server has its
            verdict, after the window has shown it -- the server's own report when there is one
            server, the press's (each server's, and the most urgent verdict) when there are more.
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
        self.record: KillRecord | None = None  # attach_record
        self.history: HistoryWindow | None = None
        self.interrupted: list[str] = []  # this start's sentences about kills left unfinished
        self.redactor = redactor if redactor is not None else KeyRedactor()
        self.redactor.add(apikey)
        self._lanes_factory = lanes_factory or (lambda s, key: default_lanes(s, key, self.record))
        # Every enabled server's lanes (one when there is one server); keys kept in memory only.
        self.servers = ServerSet(self._lanes_for_server, scope=settings.scope(), parent=self)
        self._keys: dict[str, str] = {}
        self._key_reads: dict[str, Background[str | None]] = {}
        self._states: dict[str, ConnectionState] = {}
        self._counts: dict[str, int] = {}  # working orders per server at its last good read
        self._server_models: dict[str, OrdersModel] = {}  # the other servers' order books
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
        self.choose_export_path: PathChooser = _ask_save_path
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

        self._reports_waiting: list[tuple[CancelReport, dict[str, Order]]] = []  # _on_server_finished
        self._report_timer = QTimer(self)
        self._report_timer.setSingleShot(True)
        self._report_timer.setInterval(REPORT_AFTER_MS)
        self._report_timer.timeout.connect(self._show_waiting_reports)
        self._build(notice)
        self.setup.notice.connect(self.show_notice)  # after _build: the notice bar exists
        self.running = RunningKill(self, self.button, self.statusBar(), lambda: self.lanes)
        self.button.set_policy(settings.firing_policy, settings.hold_ms)
        self._wire_servers()
        self._show_blast_radius()
        if record is not None:
            self.attach_record(record)
        if lanes is not None:
            self._attach(lanes)

    def attach_record(self, record: KillRecord | None, problem: str = "") -> None:
        """Keep kills in ``record`` from now on, with History and this start's sentences about
        kills an earlier run left unfinished; or say ``problem`` (why there is none).

        The app opens the record after the window's first paint and attaches it before the
        lanes start (``ui.app``): the record's modules and SQLite take ~20 ms to load, and
        nothing on the first screen needs them."""
        self.setup.add_standing(problem)
        if record is None:
            return
        from ui.past_kills import HistoryWindow, show_interrupted_kills

        self.record = record
        self.servers.record = record
        for key in self._keys.values():
            record.secret = key
        self.history = HistoryWindow(record, self, lambda: self.choose_export_path)
        self.history_button.setVisible(True)
        self.results.history = True
        self.interrupted = show_interrupted_kills(record, self.results, self.statusBar())

    # -- what other parts read ----------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.setup.settings

    @property
    def lanes(self) -> Lanes | None:
        """The first server's lanes (None until its key is known)."""
        return self.servers.lanes(self._primary_url()) or next(
            (link.lanes for link in self.servers.links.values()), None
        )

    def _primary_url(self) -> str:
        return self.settings.server_list()[0].url

    def _lanes_for_server(self, server: Server, key: str) -> Lanes:
        return self._lanes_factory(replace(self.settings, host=server.url, strategy=server.strategy), key)

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
        self.halt_bar = HaltBar()
        self.halt_bar.resumeRequested.connect(self._resume_live)
        root.addWidget(self.halt_bar)
        self.guard_bar = GuardBar()
        self.guard_bar.releaseRequested.connect(self._release_guard)
        root.addWidget(self.guard_bar)

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
        self.all_orders = AllServersModel(self)  # every server's orders, when there are several
        self.orders.server_filter.currentIndexChanged.connect(self._show_filter)

        self.results = ResultsPane(history=self.record is not None)
        self.results.setMinimumWidth(340)
        results_box = QWidget()
        results_layout = QVBoxLayout(results_box)
        results_layout.setContentsMargins(0, 0, 0, 0)
        results_layout.addWidget(section("Kills this session", "resultsTitle"))
        results_layout.addWidget(self.results)

        self.positions = PositionsModel(self)
        self.positions_table = QTableView()
        self.positions_table.setObjectName("positionsTable")
        self.positions_table.setModel(self.positions)
        self.positions_table.verticalHeader().setVisible(False)
        self.positions_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.book_tabs = QTabWidget()
        self.book_tabs.setObjectName("bookTabs")
        self.book_tabs.setDocumentMode(True)
        self.book_tabs.addTab(self.orders, "Orders")
        self.book_tabs.addTab(self.positions_table, "Positions")

        # The order book keeps the width its columns need and the results take the rest; the
        # button takes the height the two leave, and gives it up first on a short screen.
        horizontal, vertical = Qt.Orientation.Horizontal, Qt.Orientation.Vertical
        self.lower_splitter = _splitter(horizontal, "lowerSplitter", (self.book_tabs, results_box), grows=1)
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
        if self.servers.links:
            self.servers.start()
            return
        self.setup.start(self._key_lookup)
        self._show_blast_radius()

    def _use_key(self, key: str) -> None:
        """Poll (and fire) with the first server's ``key``; the other servers' keys are read from
        the key store off the UI thread, each server joining as its key arrives."""
        if self._stopped:
            return
        self.redactor.add(key)
        if self.record is not None:
            self.record.secret = key
        self._keys[self._primary_url()] = key
        self._sync_servers()
        self.servers.start()

    def _sync_servers(self) -> None:
        """Lanes for every enabled server whose key is known; the missing keys are looked up."""
        settings = self.settings
        wanted = settings.enabled_servers()
        for server in wanted:
            if server.url not in self._keys and server.url not in self._key_reads:
                self._read_key_of(server)
        known = [(s, self._keys[s.url]) for s in wanted if s.url in self._keys]
        for url in [u for u in self._states if u not in {s.url for s in wanted}]:
            self._states.pop(url, None)
            self._counts.pop(url, None)
            self.positions.forget(url)
        self.servers.set_servers(known)
        for server in wanted:
            self.positions.set_server_name(server.url, server.name)
        self._follow_books(wanted)
        self._show_connections()
        self._show_blast_radius()

    def _follow_books(self, wanted: tuple[Server, ...]) -> None:
        """One order table per server; with several, every server's orders with a Server column
        (or one server's, as the filter says)."""
        primary = self._primary_url()
        live = [s for s in wanted if s.url in self.servers.links]
        for url in [u for u in self._server_models if u not in {s.url for s in live}]:
            self._server_models.pop(url).deleteLater()
        models = []
        for server in live:
            model = self.model if server.url == primary else self._server_models.get(server.url)
            if model is None:
                model = self._server_models[server.url] = OrdersModel(self)
                model.show_all = self.model.show_all
            models.append((server.name, model))
        self.all_orders.set_sources(models)
        self.orders.set_servers([(s.url, s.name) for s in live] if len(live) > 1 else [])
        self._show_filter()

    def _show_filter(self) -> None:
        url = self.orders.server_filter.currentData() if not self.orders.server_filter.isHidden() else None
        several = len(self.servers.links) > 1
        if several and not url:
            self.orders.show_model(self.all_orders, server_column=True)
            return
        model = (
            self.model if not url or url == self._primary_url() else self._server_models.get(url, self.model)
        )
        self.orders.show_model(model, server_column=False)

    def _read_key_of(self, server: Server) -> None:
        store, url = self.key_store, server.url

        def found(key: str | None) -> None:
            self._key_reads.pop(url, None)
            if key and not self._stopped:
                self._keys[url] = key
                self.redactor.add(key)
                if self.record is not None:
                    self.record.secret = key
                self._sync_servers()
            elif not key:
                self._show_connections()

        def failed(_exc: Exception) -> None:
            self._key_reads.pop(url, None)
            self._show_connections()

        self._key_reads[url] = Background(
            lambda: store.get(url), done=found, failed=failed, parent=self, name="keyring-read"
        ).start()

    def stop(self) -> None:
        """Stop every server's lanes (idempotent, bounded: about a second at most); called on close."""
        if self._stopped:
            return
        self._stopped = True
        if self._placed:  # where it was and how big, for the next start
            self.setup.keep(self.placement.remembered(self.settings), WINDOW_FIELDS)
        self.connection_bar.stop()
        self.running.stop()
        self.setup.stop()
        self.confirm.close()
        for read in self._key_reads.values():
            read.cancel()
        if self.history_dialog is not None:
            self.history_dialog.reject()
        if self.servers.kill_in_flight:  # closed without asking (a signal, the app quitting)
            self.servers.interrupt(f"The window closed during the kill: {CHECK_THE_BOOK}")
        self.servers.stop()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 -- Qt override
        if not self._closing and self.servers.kill_in_flight:
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
        if self.servers.kill_in_flight:
            self.servers.interrupt(f"{reason} before its verdict: {CHECK_THE_BOOK}")
        self.close()

    # -- firing ---------------------------------------------------------------------------------

    def fire(self, trigger: str) -> None:
        """Send a kill now to every server, whatever the firing policy."""
        if not self.servers.links:
            if self.setup.reading_key:
                self.statusBar().showMessage(
                    "Not fired: the API key is still being read from the keyring — "
                    "is an unlock prompt waiting?"
                )
                return
            self.setup.ask_for_key()
            self._show_blast_radius()
            return
        absent = [
            self._not_sent(server, trigger)
            for server in self.settings.enabled_servers()
            if server.url not in self.servers.links
        ]
        self.button.hold_paint()
        self.servers.fire(trigger, absent=absent)

    def _not_sent(self, server: Server, trigger: str) -> CancelReport:
        """The report of a server this press could not reach: it counts in the press's verdict
        (never flat), and the results pane says why."""
        why = (
            "its API key was still being read from the keyring"
            if server.url in self._key_reads
            else "no API key is stored for it — add it in Settings › More servers"
        )
        sentence = f"Not sent to {server.name}: {why}. Its orders were not touched; check its order book."
        return CancelReport(
            Verdict.UNVERIFIED,
            "unknown",
            trigger,
            server.url,
            server.strategy,
            time.time(),
            "",
            errors=(sentence,),
            scope=self.settings.scope(),
        )

    def request_fire(self, trigger: str) -> None:
        """Fire as the firing policy says: the confirm policy asks first (but joining a running
        kill needs no confirmation)."""
        if (
            self.settings.firing_policy is not FiringPolicy.CONFIRM
            or not self.servers.links
            or self.servers.kill_in_flight
        ):
            self.fire(trigger)
            return
        where = self.settings.host if len(self.servers.links) == 1 else f"{len(self.servers.links)} servers"
        what = question(self.button.headline(), where, self._mode)
        self.confirm.ask(what, lambda: self.fire(trigger))

    # -- lanes ------------------------------------------------------------------------------------

    def _attach(self, lanes: Lanes) -> None:
        """Lanes made by the caller, for the first server (tests pass their own)."""
        server = self.settings.server_list()[0]
        self.servers.adopt(server, self._keys.get(server.url, ""), lanes)

    def _wire_servers(self) -> None:
        servers = self.servers
        servers.bookChanged.connect(self._on_server_book)
        servers.positionsRead.connect(self._on_positions)
        servers.connectionChanged.connect(self._on_server_connection)
        servers.killStarted.connect(self._on_kill_started)
        servers.killProgress.connect(self._on_server_progress)
        servers.serverFinished.connect(self._on_server_finished)
        servers.pressFinished.connect(self._on_press_finished)
        servers.guardStarted.connect(lambda _url, seconds: self.guard_bar.started(seconds))
        servers.guardTick.connect(lambda _url, left, working: self.guard_bar.tick(left, working))
        servers.caught.connect(self._on_caught)
        servers.stepsFinished.connect(self._on_steps_finished)
        servers.resumed.connect(self._on_resumed)

    def _on_server_book(self, url: str, book: Any, changes: BookChanges) -> None:
        if url == self._primary_url():
            self._on_book(book, changes)
            return
        model = self._server_models.get(url)
        if model is not None:
            model.apply(changes)
            self._counts[url] = model.working_count()
        self._show_blast_radius()

    def _on_positions(self, url: str, book: PositionBook | ApiError) -> None:
        if isinstance(book, PositionBook):
            self.positions.update(url, book.positions)
            self._show_blast_radius()

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
        # A kill ends thousands of rows at once: the model shows them over a few event-loop
        # turns (a few ms each), and the rest of this runs once the whole book is on screen.
        self.model.apply_paced(changes, lambda: self._book_shown(book.mode))

    def _book_shown(self, mode: str) -> None:
        self.bookShown.emit()
        self._count = self.model.working_count()
        if mode in ("live", "analyze"):
            self._mode = mode
        self._show_blast_radius()

    def _on_server_connection(self, url: str, state: ConnectionState) -> None:
        self._states[url] = state
        if url == self._primary_url():
            self._on_connection(state)
        self._show_connections()

    def _on_connection(self, state: ConnectionState) -> None:
        self._state = state
        if state.mode in ("live", "analyze"):
            self._mode = state.mode
        self.connection_bar.show_state(state)
        self._show_blast_radius()

    def _show_connections(self) -> None:
        """With several servers, the connection line names each one's state."""
        servers = self.settings.enabled_servers()
        if len(servers) < 2:
            return
        parts = []
        for server in servers:
            state = self._states.get(server.url)
            if server.url not in self._keys:
                parts.append(f"{server.name}: no API key (add it in Settings)")
            elif state is None:
                parts.append(f"{server.name}: connecting…")
            elif state.problem or not state.connected:
                parts.append(f"{server.name}: {state.sentence}")
            else:
                parts.append(f"{server.name}: {state.mode.upper()}, key accepted")
        self.connection_bar.show_servers(" · ".join(parts))

    def _connection_ticked(self) -> None:
        if self._state is not None and self._state.problem:  # the button says how old its count is
            self._show_blast_radius()

    def _on_kill_started(self, trigger: str) -> None:
        self.button.kill_started()
        self.running.started(trigger)

    def _on_server_progress(self, url: str, progress: KillProgress) -> None:
        if len(self.servers.links) > 1:
            name = self.servers.links[url].server.name if url in self.servers.links else url
            progress = replace(progress, text=f"{name}: {progress.text}")
        self._on_kill_progress(progress)

    def _on_kill_progress(self, progress: KillProgress) -> None:
        self.button.kill_progress(progress)
        self.running.progressed(progress)

    def _on_server_finished(self, url: str, report: CancelReport) -> None:
        """One server's verdict: its report follows :data:`REPORT_AFTER_MS` later, whatever the
        others are still doing.

        Laying out a big kill's report costs the UI thread 5-9 ms; in the same turn as the
        verdict on the button and its repaint, that was one stall of 12-15 ms at 10,000 orders.
        Two frames later the button has painted and the window answered clicks in between."""
        if report.mode in ("live", "analyze") and url == self._primary_url():
            self._mode = report.mode
        self._reports_waiting.append((report, self._known if url == self._primary_url() else {}))
        self._report_timer.start()

    def _show_waiting_reports(self) -> None:
        self._report_timer.stop()
        waiting, self._reports_waiting = self._reports_waiting, []
        for report, known in waiting:
            self.results.add_report(report, known)
        if waiting and self.history is not None:
            self.history.refresh()

    def _on_press_finished(self, press: PressReport) -> None:
        """Every server has its verdict: on the button now; the reports, the status line and
        ``killFinished`` once the reports are shown (see :meth:`_on_server_finished`)."""
        self.running.finished()
        worst = next((r for r in press.reports if r.verdict is press.verdict), press.reports[0])
        self.button.kill_finished(worst)
        if self._closing or self._stopped:  # no later turn to wait for: the window is going
            self._press_shown(press)
            return
        QTimer.singleShot(REPORT_AFTER_MS, self, lambda: self._press_shown(press))

    def _press_shown(self, press: PressReport) -> None:
        self._show_waiting_reports()
        many = len(press.reports) > 1
        if many:
            self.results.add_notice(f"Overall: {press.summary()}")
        took = max(r.elapsed_ms for r in press.reports)
        # The verdict is on the button and in the pane; the status bar says where the rest is.
        self.statusBar().showMessage(
            f"Kill {len(self.results.reports)} took {_duration(took)}; "
            "its report is under Kills this session."
        )
        self._show_blast_radius()
        self.killFinished.emit(press if many else press.reports[0])

    def _on_caught(self, url: str, catch: Catch) -> None:
        self.guard_bar.catch(catch)

    def _on_steps_finished(self, url: str, report: CancelReport) -> None:
        """The guard and the halt after one server's kill are over."""
        self._show_waiting_reports()  # the kill's own report goes first
        if report.guard is not None:
            self.guard_bar.ended()
        self.results.add_steps(report)
        if report.halt is not None and report.halt.halted:
            name = self.servers.links[url].server.name if url in self.servers.links else url
            self.halt_bar.halt(url, name)
        self._show_blast_radius()

    def _release_guard(self) -> None:
        self.servers.release_guards("released by the trader (held Release)")

    def _resume_live(self, url: str) -> None:
        self.statusBar().showMessage("Switching back to live mode…")
        self.servers.resume_live(url)

    def _on_resumed(self, url: str, outcome: HaltReport) -> None:
        if not outcome.halted:
            self.halt_bar.resumed(url)
        self.results.add_notice(outcome.reason)
        self.statusBar().showMessage(outcome.reason)
        if self.record is not None:
            what = "resumed live" if not outcome.halted else "resume failed"
            with contextlib.suppress(Exception):  # the record is a help here, never a reason to stop
                self.record.add_event(url, what, outcome.reason)

    # -- what the button and title say ---------------------------------------------------------

    def warning(self) -> str:
        """What a trader must know before pressing, or ''."""
        if not self.servers.links:
            return words.READING_KEY if self.setup.reading_key else words.NO_KEY
        first = words.warning(self._state, self._stale_count())
        others = self._others_not_ready()
        return " · ".join(w for w in (first, others) if w)

    def _others_not_ready(self) -> str:
        """Servers after the first that a press would not reach well, and a LIVE/ANALYZE mix."""
        notes = []
        modes: dict[str, str] = {}
        for server in self.settings.enabled_servers():
            state = self._states.get(server.url)
            if state is not None and state.mode in ("live", "analyze"):
                modes[server.name] = state.mode
            if server.url == self._primary_url():
                continue
            if server.url in self._key_reads:
                notes.append(f"{server.name.upper()}: READING KEY")
            elif server.url not in self._keys:
                notes.append(f"{server.name.upper()}: NO KEY")
            elif state is not None and state.reachable is False:
                notes.append(f"{server.name.upper()}: UNREACHABLE")
            elif state is not None and state.key_ok is False:
                notes.append(f"{server.name.upper()}: KEY REJECTED")
            elif state is not None and state.semi_auto:
                notes.append(f"{server.name.upper()}: SEMI-AUTO")
        if len(set(modes.values())) > 1:
            notes.append("MIXED MODES — " + ", ".join(f"{n} {m.upper()}" for n, m in modes.items()))
        return " · ".join(notes)

    def _stale_count(self) -> str:
        return words.stale_count(self._state, self._count, time.monotonic())

    def _show_blast_radius(self) -> None:
        # Runs on every poll: the button repaints (antialiased, ~2 ms) only when what it says
        # changed.
        warning = self.warning()
        stale = self._stale_count()
        primary = None if stale else self._count  # the headline never states a stale count as now
        servers = len(self.servers.links) or 1
        count = primary
        if servers > 1 and primary is not None:
            now = time.monotonic()
            counts = {u: self._counts.get(u) for u in self.servers.urls if u != self._primary_url()}
            # A server whose reads fail has no count now: the headline then states none.
            stale_at = words.stale_count
            others = [None if stale_at(self._states.get(u), c, now) else c for u, c in counts.items()]
            count = None if any(c is None for c in others) else primary + sum(c or 0 for c in others)
        scope = self.settings.scope()
        positions = (
            self.positions.open_count() if all(self.positions.known(u) for u in self.servers.urls) else None
        )
        line = (
            scope.blast_radius(count, positions, servers) if (servers > 1 or scope != type(scope)()) else ""
        )
        where = self.settings.host if servers == 1 else f"{servers} servers"
        shown = (count, where, self._mode, warning, line)
        if shown != self._blast_radius_shown:
            self._blast_radius_shown = shown
            self.button.set_blast_radius(count, where, self._mode)
            self.button.set_warning(warning)
            self.button.set_scope_line(line)
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
        for model in self._server_models.values():
            model.show_all = value
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
        """Stop talking to the first server with the old key (its new key is looked up); the
        other servers' lanes go on."""
        primary = self._primary_url()
        self._keys.pop(primary, None)
        self.servers.set_servers(
            [(link.server, link.apikey) for url, link in self.servers.links.items() if url != primary]
        )
        self._show_blast_radius()

    def _settings_applied(self, old: Settings, new: Settings) -> None:
        self.button.set_policy(new.firing_policy, new.hold_ms)
        if new.host != old.host:
            self._known.clear()
            self._known_serial = None
            self._count = None
            self._mode = "unknown"
            self.model.update(())
        for key in self.setup.entered_keys.values():  # kept out of the log and crash reports
            self.redactor.add(key)
            if self.record is not None:
                self.record.secret = key
        self._keys.update(self.setup.entered_keys)
        if new.scope() != old.scope():
            self.servers.set_scope(new.scope())
        if self.servers.links or self._keys:
            self._sync_servers()
        self._show_blast_radius()
        self.settingsChanged.emit(new)
