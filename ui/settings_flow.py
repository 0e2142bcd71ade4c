"""Where the window's settings and API key come from, and where changed ones go.

The window asks this object for three things: read the key off the UI thread (the OS keyring
may sit on an unlock prompt for minutes), show the settings dialog, and save settings. It
answers through signals, so the window only decides what the answers mean for its lanes:

    flow.keyFound      -> start polling with the key, or ask for one
    flow.settingsSaved -> follow the new settings (policy, server, key)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from core import settings as settings_store
from core.secrets import KeyStore, KeyStoreError
from core.settings import Settings
from ui.background import Background
from ui.settings_dialog import SettingsDialog

KeyLookup = Callable[[], tuple[KeyStore, "str | None", str]]
"""Finds the key store and the key in it, on a worker thread: (store, key or None, a notice)."""

log = logging.getLogger(__name__)

READING_KEY = (
    "Reading the API key from the OS keyring… (if this takes long, the desktop may be waiting for "
    "you to unlock the keyring)"
)


class SettingsFlow(QObject):
    """The settings, the key store, the key look-up and the settings dialog of one window.

    Signals:
        keyFound(str | None, str): a look-up finished: the key (None when none is stored) and a
            sentence about the store ("" when there is nothing to say).
        keyFailed(str): a look-up failed; the sentence says why and what to do.
        settingsSaved(Settings, Settings, str | None, bool): the dialog was accepted and the new
            settings saved: (old, new, the key to use or None, whether the key store changed).
        saveFailed(str): the settings could not be written; the sentence says why.
    """

    keyFound = Signal(object, str)  # noqa: N815 -- Qt signal naming
    keyFailed = Signal(str)  # noqa: N815
    settingsSaved = Signal(object, object, object, bool)  # noqa: N815
    saveFailed = Signal(str)  # noqa: N815

    def __init__(
        self,
        settings: Settings,
        key_store: KeyStore,
        *,
        persist: bool,
        settings_path: Path | None,
        host_locked: bool,
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.key_store = key_store
        self.dialog: SettingsDialog | None = None
        self._persist = persist
        self._settings_path = settings_path
        self._host_locked = host_locked
        self._window = parent
        self._pending: Background[tuple[KeyStore, str | None, str]] | None = None

    # -- the key ------------------------------------------------------------------------------

    @property
    def reading_key(self) -> bool:
        """True while a look-up runs (the keyring may be waiting to be unlocked)."""
        return self._pending is not None

    def read_key(self, lookup: KeyLookup) -> None:
        """Run ``lookup`` on a worker thread; ``keyFound`` or ``keyFailed`` follows."""
        self._pending = Background(
            lookup, done=self._found, failed=self._failed, parent=self, name="keyring-read"
        ).start()

    def read_key_for(self, host: str) -> None:
        """Look up ``host``'s key in the current store (after the server changed)."""
        store = self.key_store
        self.read_key(lambda: (store, store.get(host), ""))

    def _found(self, found: tuple[KeyStore, str | None, str]) -> None:
        self._pending = None
        store, key, notice = found
        self.key_store = store
        self.keyFound.emit(key, notice)

    def _failed(self, exc: Exception) -> None:
        self._pending = None
        if isinstance(exc, KeyStoreError):
            self.keyFailed.emit(f"{exc.sentence} Enter the key in Settings.")
        else:
            log.error("reading the key failed", exc_info=exc)
            self.keyFailed.emit("The API key could not be read from the keyring; enter it in Settings.")

    # -- the dialog ---------------------------------------------------------------------------

    def open(self, current_key: str | None, notice: str) -> None:
        """Open the settings dialog (window-modal, non-blocking); raise it if already open."""
        if self.dialog is not None:
            self.dialog.raise_()
            self.dialog.activateWindow()
            return
        dialog = SettingsDialog(
            self.settings,
            self.key_store,
            current_key=current_key,
            notice=notice,
            host_locked=self._host_locked,
            parent=self._window,
        )
        dialog.finished.connect(lambda result: self._closed(dialog, result, current_key))
        self.dialog = dialog
        dialog.open()

    def _closed(self, dialog: SettingsDialog, result: int, current_key: str | None) -> None:
        self.dialog = None
        dialog.deleteLater()
        if result != SettingsDialog.DialogCode.Accepted:
            return
        old, new = self.settings, dialog.settings
        store_changed = dialog.key_store is not self.key_store
        self.key_store = dialog.key_store
        key = dialog.entered_key
        if key is None and new.host == old.host:
            key = current_key
        self.save(new)
        self.settingsSaved.emit(old, new, key, store_changed)

    # -- saving -------------------------------------------------------------------------------

    def save(self, settings: Settings) -> None:
        """Keep ``settings`` and write them (unless this window persists nothing)."""
        self.settings = settings
        if not self._persist:
            return
        try:
            settings_store.save(settings, self._settings_path)
        except OSError as exc:
            self.saveFailed.emit(f"The settings could not be saved ({exc.strerror or 'disk error'}).")

    def stop(self) -> None:
        """Forget a running look-up and close the dialog; nothing is emitted after this."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self.dialog is not None:
            self.dialog.reject()
