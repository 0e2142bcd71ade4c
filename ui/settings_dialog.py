"""Settings: server, API key (to the key store only), strategy label, poll interval, firing policy,
global hotkey, window on top.

The key is written to the key store the window hands in (the OS keyring, or the session-only
store) and nowhere else; ``Settings`` has no field that could hold it. "Test connection" runs
``ping`` and ``analyzer`` with a short-lived client on a worker thread and says what it found.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core import DEFAULT_STRATEGY
from core.addresses import is_loopback, normalise_host
from core.kill import MAX_DEADLINE_S, MIN_DEADLINE_S
from core.replies import ApiError
from core.scope import MAX_GUARD_S
from core.secrets import KeyStore, KeyStoreError, SessionKeyStore
from core.settings import FiringPolicy, Server, Settings
from ui.background import Background
from ui.hotkey_edit import HotkeyEdit
from ui.server_list import ServerList

POLICY_LABELS = {
    FiringPolicy.HOLD: "Hold to fire (press and hold)",
    FiringPolicy.IMMEDIATE: "Immediate (one click fires)",
    FiringPolicy.CONFIRM: "Confirm dialog (click, then confirm)",
}

HOTKEY_HELP = (
    "Click the field and press the new keys. The hotkey follows the firing policy; the status bar "
    "says whether it works on this desktop."
)

NO_KEY_TO_TEST = "No API key is stored for this server: paste it in the API key field to test it."
KEY_IN_USE = "A key is in use for this server; leave empty to keep it"
KEY_NEEDED = "Paste this server's key, or leave empty for its stored key"
DEMO_HOST = "The demo runs on its built-in simulator; its server cannot be changed."
HALT_HELP = (
    "Halting switches the WHOLE server to OpenAlgo's analyze mode once the account is verified flat: "
    "from then on every new order from every strategy, webhook and script goes to OpenAlgo's sandbox, "
    "not the broker (and the order and position books show the sandbox). Live servers only; resume "
    "live trading from the window."
)
OK_STYLE = "color: #81c784;"
WARN_STYLE = "color: #ffb74d;"
ERROR_STYLE = "color: #ef5350;"


def url_problem(url: str) -> tuple[str, str]:
    """(style, sentence) about a server URL: an error, a plain-http warning, or ('', '')."""
    # normalise_host accepts "http://a b" (urlsplit does); no real server name has spaces.
    host = None if any(c.isspace() for c in url.strip()) else normalise_host(url)
    if host is None:
        return ERROR_STYLE, "This is not a usable server URL; expected something like http://127.0.0.1:5000."
    if host.startswith("http://") and not is_loopback(host):
        return WARN_STYLE, (
            "Warning: the API key would travel unencrypted over plain http:// to a host that is not "
            "this computer; use https:// unless this is a private network you trust."
        )
    return "", ""


def probe(host: str, apikey: str, strategy: str) -> tuple[bool, str, str, str]:
    """(ok, mode, broker, sentence) from ``ping``, ``analyzer`` and, on a live account, the
    Semi-Auto check, with a short-lived client."""
    from core.client import OpenAlgoClient, make_http_client  # the HTTP client loads on first use

    with make_http_client() as http:
        client = OpenAlgoClient(host, apikey, http, strategy=strategy)
        pong = client.ping()
        if isinstance(pong, ApiError):
            return False, "unknown", "", pong.sentence
        status = client.analyzer()
        mode = pong.mode if isinstance(status, ApiError) else status.mode
        semi_auto = client.semi_auto_refuses_kills() if mode == "live" else False
    broker = pong.broker or "not named"
    where = {"live": "LIVE (real orders)", "analyze": "ANALYZE (OpenAlgo's sandbox)"}.get(mode, "not known")
    sentence = f"Key accepted; broker {broker}; mode {where}."
    if isinstance(status, ApiError):
        sentence = f"Key accepted; broker {broker}; the mode could not be read ({status.sentence})"
    if semi_auto is True:
        return (
            False,
            mode,
            broker,
            (
                f"{sentence} But the account is in Semi-Auto mode: OpenAlgo would refuse a kill. "
                "Switch to Auto mode in OpenAlgo."
            ),
        )
    if isinstance(semi_auto, ApiError):
        sentence += f" Whether Semi-Auto mode would refuse a kill is not known ({semi_auto.sentence})"
    return True, mode, broker, sentence


class ConnectionProbe(QObject):
    """Runs :func:`probe` on a plain worker thread; ``finished`` carries a ConnectionTest."""

    finished = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread: threading.Thread | None = None

    def start(self, host: str, apikey: Callable[[], str | None], strategy: str) -> None:
        """Test ``host``; ``apikey`` is called on the worker thread (it may read the keyring)."""
        from ui.connection_state import ConnectionTest

        def work() -> None:
            try:
                key = apikey()
                if key:
                    ok, mode, broker, sentence = probe(host, key, strategy)
                else:
                    ok, mode, broker, sentence = False, "unknown", "", NO_KEY_TO_TEST
            except KeyStoreError as exc:
                ok, mode, broker, sentence = False, "unknown", "", exc.sentence
            except Exception:  # a probe must end in a sentence, never a traceback
                ok, mode, broker, sentence = False, "unknown", "", "The test could not be run."
            with contextlib.suppress(RuntimeError):  # the dialog closed meanwhile
                self.finished.emit(ConnectionTest(ok=ok, mode=mode, broker=broker, sentence=sentence))

        self._thread = threading.Thread(target=work, name="settings-probe", daemon=True)
        self._thread.start()


class SettingsDialog(QDialog):
    """Edit the settings. After ``accept()``: ``settings`` holds the new values, ``key_store``
    the store the key went to (possibly switched to session-only), ``entered_key`` the new key
    if one was typed (kept in memory for the lanes, never written anywhere but the store)."""

    def __init__(
        self,
        settings: Settings,
        key_store: KeyStore,
        *,
        current_key: str | None = None,
        notice: str = "",
        host_locked: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Settings — Kill Switch for OpenAlgo")
        self.setModal(True)
        self.settings = settings
        self.key_store = key_store
        self.entered_key: str | None = None
        self.entered_keys: dict[str, str] = {}  # keys typed for the other servers, by URL
        self._current_key = current_key
        self._original_host = settings.host
        self._testing = False
        self._saving: Background[None] | None = None
        self._probe = ConnectionProbe(self)
        self._probe.finished.connect(self._on_tested)

        self.notice = QLabel(notice)
        self.notice.setObjectName("settingsNotice")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet(WARN_STYLE)
        self.notice.setVisible(bool(notice))

        self.host_edit = QLineEdit(settings.host)
        self.host_edit.setObjectName("hostEdit")
        self.host_edit.setPlaceholderText("http://127.0.0.1:5000")
        self.host_note = QLabel()
        self.host_note.setObjectName("hostNote")
        self.host_note.setWordWrap(True)

        self.key_edit = QLineEdit()
        self.key_edit.setObjectName("keyEdit")
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setAccessibleName("API key")
        self.key_where = QLabel()
        self.key_where.setObjectName("keyWhere")
        self.key_where.setWordWrap(True)
        self.session_button = QPushButton("Keep the key in memory until the app quits")
        self.session_button.setObjectName("sessionOnlyButton")
        self.session_button.clicked.connect(self._use_session_store)

        servers = settings.server_list()
        self.label_edit = QLineEdit(servers[0].label)
        self.label_edit.setObjectName("labelEdit")
        self.label_edit.setPlaceholderText("optional, e.g. Zerodha")
        self.strategy_edit = QLineEdit(settings.strategy)
        self.strategy_edit.setObjectName("strategyEdit")
        self.more_servers = ServerList(servers[1:], self.host_edit.text, self)
        self.more_servers.setToolTip(
            "One press reaches every server listed (each with its own key); untick one to keep it "
            "but leave it out of kills."
        )

        self.close_positions = QCheckBox("Close every open position (once the orders are verified cancelled)")
        self.close_positions.setObjectName("closePositions")
        self.close_positions.setChecked(settings.close_positions)
        self.guard_spin = QSpinBox()
        self.guard_spin.setObjectName("guardSpin")
        self.guard_spin.setRange(0, int(MAX_GUARD_S))
        self.guard_spin.setSingleStep(30)
        self.guard_spin.setSuffix(" s")
        self.guard_spin.setSpecialValueText("off")
        self.guard_spin.setValue(round(settings.guard_s))
        self.guard_spin.setToolTip(
            "After the kill, watch the account this long and cancel every new order a runaway "
            "strategy places (and, with positions, close every new position)."
        )
        self.halt_check = QCheckBox("Then halt new live orders (switch the server to analyze mode)")
        self.halt_check.setObjectName("haltLive")
        self.halt_check.setChecked(settings.halt)
        self.halt_note = QLabel(HALT_HELP)
        self.halt_note.setObjectName("haltNote")
        self.halt_note.setWordWrap(True)
        self.poll_spin = QDoubleSpinBox()
        self.poll_spin.setObjectName("pollSpin")
        self.poll_spin.setRange(0.2, 60.0)
        self.poll_spin.setSingleStep(0.5)
        self.poll_spin.setDecimals(1)
        self.poll_spin.setSuffix(" s")
        self.poll_spin.setValue(settings.poll_interval_s)

        self.deadline_spin = QSpinBox()
        self.deadline_spin.setObjectName("deadlineSpin")
        self.deadline_spin.setRange(int(MIN_DEADLINE_S), int(MAX_DEADLINE_S))
        self.deadline_spin.setSuffix(" s")
        self.deadline_spin.setValue(round(settings.deadline_s))
        self.deadline_spin.setToolTip(
            "The longest a kill may take: by then it ends with a verdict, whatever the server does. "
            "Long enough for a busy book's cancel-all and a sweep of the survivors; short enough "
            "that a hung server never leaves you waiting blind."
        )

        self.policy_combo = QComboBox()
        self.policy_combo.setObjectName("policyCombo")
        for policy, label in POLICY_LABELS.items():
            self.policy_combo.addItem(label, policy.value)
        self.policy_combo.setCurrentIndex(self.policy_combo.findData(settings.firing_policy.value))
        self.hold_spin = QSpinBox()
        self.hold_spin.setObjectName("holdSpin")
        self.hold_spin.setRange(100, 5000)
        self.hold_spin.setSingleStep(100)
        self.hold_spin.setSuffix(" ms")
        self.hold_spin.setValue(settings.hold_ms)

        self.hotkey_edit = HotkeyEdit(settings.hotkey)
        self.hotkey_edit.setObjectName("hotkeyEdit")
        self.hotkey_on = QCheckBox("Global hotkey on (fires from any application)")
        self.hotkey_on.setObjectName("hotkeyOn")
        self.hotkey_on.setChecked(settings.hotkey_enabled)
        self.hotkey_on.toggled.connect(self.hotkey_edit.setEnabled)
        self.hotkey_edit.setEnabled(settings.hotkey_enabled)
        self.hotkey_note = QLabel(HOTKEY_HELP)
        self.hotkey_note.setObjectName("hotkeyNote")
        self.hotkey_note.setWordWrap(True)
        self.hotkey_edit.problem.connect(self._hotkey_problem)
        self.on_top = QCheckBox("Keep the window on top of other windows")
        self.on_top.setObjectName("alwaysOnTop")
        self.on_top.setChecked(settings.always_on_top)

        self.test_button = QPushButton("Test connection")
        self.test_button.setObjectName("testConnectionButton")
        self.test_button.clicked.connect(self.test_connection)
        self.test_result = QLabel()
        self.test_result.setObjectName("testResult")
        self.test_result.setWordWrap(True)
        self.test_result.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error = QLabel()
        self.error.setObjectName("settingsError")
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)

        form = QFormLayout()
        form.addRow("Server URL", self.host_edit)
        form.addRow("", self.host_note)
        form.addRow("API key", self.key_edit)
        form.addRow("", self.key_where)
        form.addRow("", self.session_button)
        form.addRow("Server label", self.label_edit)
        form.addRow("Strategy label", self.strategy_edit)
        form.addRow("More servers", self.more_servers)
        form.addRow("A kill also", self.close_positions)
        form.addRow("Then hold flat", self.guard_spin)
        form.addRow("", self.halt_check)
        form.addRow("", self.halt_note)
        form.addRow("Poll every", self.poll_spin)
        form.addRow("Kill deadline", self.deadline_spin)
        form.addRow("Firing policy", self.policy_combo)
        form.addRow("Hold for", self.hold_spin)
        form.addRow("Hotkey", self.hotkey_edit)
        form.addRow("", self.hotkey_on)
        form.addRow("", self.hotkey_note)
        form.addRow("Window", self.on_top)
        # Rows that appear only when they have something to say take no room until then.
        self._form = form
        form.setRowVisible(self.session_button, False)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        self.save_button = buttons.button(QDialogButtonBox.StandardButton.Save)

        layout = QVBoxLayout(self)
        layout.addWidget(self.notice)
        layout.addLayout(form)
        layout.addLayout(test_row)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

        self.host_edit.textChanged.connect(self._check_host)
        self.policy_combo.currentIndexChanged.connect(self._policy_changed)
        if host_locked:
            self.host_edit.setReadOnly(True)
            self.host_edit.setToolTip(DEMO_HOST)
        self.resize(560, self.sizeHint().height())
        self._check_host()
        self._policy_changed()
        self._show_store()
        self._fit_height(shrink=True)

    # -- reading the form -------------------------------------------------------------------

    def chosen_policy(self) -> FiringPolicy:
        return FiringPolicy(self.policy_combo.currentData())

    def form_settings(self) -> Settings | None:
        """The settings in the form, or None when the URL is unusable."""
        if url_problem(self.host_edit.text())[0] == ERROR_STYLE:
            return None
        host = normalise_host(self.host_edit.text())
        if host is None:
            return None
        strategy = self.strategy_edit.text().strip() or DEFAULT_STRATEGY
        first = Server(host, self.label_edit.text().strip(), strategy, True)
        others = tuple(s for s in self.more_servers.servers() if s.url != host)
        return replace(
            self.settings,
            host=host,
            strategy=strategy,
            servers=(first, *others),
            close_positions=self.close_positions.isChecked(),
            guard_s=float(self.guard_spin.value()),
            halt=self.halt_check.isChecked(),
            poll_interval_s=self.poll_spin.value(),
            deadline_s=float(self.deadline_spin.value()),
            firing_policy=self.chosen_policy(),
            hold_ms=self.hold_spin.value(),
            hotkey=self.hotkey_edit.chord() or self.settings.hotkey,
            hotkey_enabled=self.hotkey_on.isChecked(),
            always_on_top=self.on_top.isChecked(),
        ).validated()

    def _key_for(self, host: str) -> Callable[[], str | None]:
        """The key to test ``host`` with: typed, in use, or (called on a worker thread) stored."""
        typed = self.key_edit.text().strip()
        if typed:
            return lambda: typed
        current = self._current_key
        if host == normalise_host(self._original_host) and current:
            return lambda: current
        store = self.key_store
        return lambda: store.get(host)

    # -- reacting ----------------------------------------------------------------------------

    def _check_host(self) -> None:
        style, sentence = url_problem(self.host_edit.text())
        if not sentence and self.host_edit.isReadOnly():
            sentence = DEMO_HOST
        self.host_note.setStyleSheet(style)
        self.host_note.setText(sentence)
        self._form.setRowVisible(self.host_note, bool(sentence))
        self.save_button.setEnabled(style != ERROR_STYLE)
        self.test_button.setEnabled(style != ERROR_STYLE and not self._testing)
        # The key field says what Test connection and Save will use for the server typed now: the
        # key in use belongs to the server the window is on, not to one typed since.
        host = normalise_host(self.host_edit.text())
        in_use = bool(self._current_key) and host == normalise_host(self._original_host)
        self.key_edit.setPlaceholderText(KEY_IN_USE if in_use else KEY_NEEDED)
        self._fit_height()

    def _fit_height(self, *, shrink: bool = False) -> None:
        """Grow to show every line of the notes: a warning or hint that appears after the dialog
        was sized must not be clipped (a form's wrapped labels do not grow a dialog by themselves).
        ``shrink`` also takes away height nothing needs (when the dialog is first sized)."""
        layout = self.layout()
        if layout is None:
            return
        layout.activate()
        needed = layout.totalHeightForWidth(self.width()) if layout.hasHeightForWidth() else -1
        needed = max(needed, layout.totalMinimumSize().height())
        if needed > self.height() or (shrink and needed > 0):
            self.resize(self.width(), needed)

    def _hotkey_problem(self, sentence: str) -> None:
        self.hotkey_note.setStyleSheet(WARN_STYLE if sentence else "")
        self.hotkey_note.setText(sentence or HOTKEY_HELP)
        self._fit_height()

    def _policy_changed(self) -> None:
        self.hold_spin.setEnabled(self.chosen_policy() is FiringPolicy.HOLD)

    def _show_store(self) -> None:
        if isinstance(self.key_store, SessionKeyStore):
            self.key_where.setText("The key is kept in memory until the app quits, never in a file.")
            self.key_where.setStyleSheet(WARN_STYLE)
        else:
            self.key_where.setText(f"The key is kept in {self.key_store.description}, never in a file.")
            self.key_where.setStyleSheet("")
        self._fit_height()

    def _use_session_store(self) -> None:
        self.key_store = SessionKeyStore()
        self._form.setRowVisible(self.session_button, False)
        self.error.setText("")
        self._show_store()

    def test_connection(self) -> None:
        settings = self.form_settings()
        if settings is None:
            return
        key = self._key_for(settings.host)
        self._testing = True
        self.test_button.setEnabled(False)
        self.test_result.setStyleSheet("")
        self.test_result.setText(f"Testing {settings.host}…")
        self._probe.start(settings.host, key, settings.strategy)

    def _on_tested(self, result: object) -> None:
        self._testing = False
        ok = bool(getattr(result, "ok", False))
        self.test_result.setStyleSheet(OK_STYLE if ok else ERROR_STYLE)
        self.test_result.setText(str(getattr(result, "sentence", "")))
        self._check_host()  # and grows the dialog to the sentence

    def accept(self) -> None:
        """Save: a typed key goes to the key store on a worker thread (the OS keyring may wait
        on an unlock prompt); the dialog closes once it is stored, or says why it was not."""
        settings = self.form_settings()
        if settings is None:
            self.error.setText("Fix the server URL first.")
            return
        if self._saving is not None:
            return
        typed = self.key_edit.text().strip()
        others = {
            url: key
            for url, key in self.more_servers.keys.items()
            if url in {s.url for s in settings.servers}
        }
        if not typed and not others:
            self.settings = settings
            super().accept()
            return
        store = self.key_store
        self.save_button.setEnabled(False)
        self.error.setStyleSheet("")
        if isinstance(store, SessionKeyStore):
            self.error.setText("Keeping the key in memory…")
        else:
            self.error.setText(f"Saving the key in {store.description}… (the keyring may ask to be unlocked)")

        def stored(_: object) -> None:
            self._saving = None
            self.entered_key = typed or None
            self.entered_keys = others
            self.key_edit.clear()
            self.settings = settings
            QDialog.accept(self)

        def refused(exc: Exception) -> None:
            self._saving = None
            self.save_button.setEnabled(True)
            self.error.setStyleSheet(ERROR_STYLE)
            sentence = exc.sentence if isinstance(exc, KeyStoreError) else "The key could not be saved."
            self.error.setText(sentence)
            if isinstance(exc, KeyStoreError):
                self._form.setRowVisible(self.session_button, True)
            self._fit_height()

        def save_keys() -> None:
            if typed:
                store.set(settings.host, typed)
            for url, key in others.items():
                store.set(url, key)

        self._saving = Background(
            save_keys,
            done=stored,
            failed=refused,
            parent=self,
            name="keyring-save",
        ).start()

    def done(self, result: int) -> None:
        if self._saving is not None and result != QDialog.DialogCode.Accepted:
            self._saving.cancel()
            self._saving = None
        super().done(result)
