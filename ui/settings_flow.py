"""Where the window's settings and API key come from, and where changed ones go.

The key is read off the UI thread (the OS keyring may sit on an unlock prompt for minutes); a
missing key opens the settings dialog; an accepted dialog saves the settings and decides which
key the window runs with. The window is told through signals and only decides what they mean
for its lanes:

    flow.keyReady(key)       -> start the lanes with the key, or point the running ones at it
    flow.keyGone()           -> the server changed and its key is being looked up: stop the lanes
    flow.applied(old, new)   -> follow the new settings (firing policy, a new server's empty book)
    flow.notice(sentence)    -> the notice bar
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QDialog, QWidget

from core import settings as settings_store
from core.files import write_atomically
from core.secrets import KeyStore, KeyStoreError
from core.settings import Settings
from ui.background import Background

KeyLookup = Callable[[], tuple[KeyStore, "str | None", str]]
"""Finds the key store and the key in it, on a worker thread: (store, key or None, a notice)."""

if TYPE_CHECKING:  # loaded the first time Settings opens, not with the window
    from ui.settings_dialog import SettingsDialog

log = logging.getLogger(__name__)

NO_KEY = "No API key yet: enter your OpenAlgo API key in Settings."
READING_KEY = (
    "Reading the API key from the OS keyring… (if this takes long, the desktop may be waiting for "
    "you to unlock the keyring)"
)


class SettingsFlow(QObject):
    """The settings, key store, key and settings dialog of one window.

    ``standing`` is a notice that stays while it is true (the kill record could not be opened;
    the key is kept in memory only); the key's own notices are added to it.

    Signals:
        keyReady(str): run the lanes with this key.
        keyGone(): the server changed with no key typed for it: stop the lanes; a look-up follows.
        applied(Settings, Settings): the dialog's settings were saved: (old, new).
        notice(str): the sentence for the window's notice bar ("" hides it).
        saveFailed(str): the settings could not be written; the sentence says why.
    """

    keyReady = Signal(str)  # noqa: N815 -- Qt signal naming
    keyGone = Signal()  # noqa: N815
    applied = Signal(object, object)
    notice = Signal(str)
    saveFailed = Signal(str)  # noqa: N815

    def __init__(
        self,
        settings: Settings,
        key_store: KeyStore,
        *,
        key: str | None,
        standing: str,
        persist: bool,
        settings_path: Path | None,
        host_locked: bool,
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.key_store = key_store
        self.key = key
        self.dialog: SettingsDialog | None = None
        self.entered_keys: dict[str, str] = {}  # keys typed for the other servers in the last save
        self.shown_notice = standing
        self._standing = standing
        self._persist = persist
        self._settings_path = settings_path
        self._host_locked = host_locked
        self._window = parent
        self._pending: Background[tuple[KeyStore, str | None, str]] | None = None

    # -- the key ------------------------------------------------------------------------------

    def start(self, lookup: KeyLookup | None) -> None:
        """Use the key given at start, else look it up, else ask for it."""
        if self.key:
            self.keyReady.emit(self.key)
        elif lookup is not None:
            self.read_key(lookup)
        else:
            self.ask_for_key()

    @property
    def reading_key(self) -> bool:
        """True while a look-up runs (the keyring may be waiting to be unlocked)."""
        return self._pending is not None

    def read_key(self, lookup: KeyLookup) -> None:
        """Run ``lookup`` on a worker thread: the window, hotkey and tray answer meanwhile."""
        self._pending = Background(
            lookup, done=self._found, failed=self._failed, parent=self, name="keyring-read"
        ).start()
        self._say(READING_KEY)

    def add_standing(self, notice: str) -> None:
        """A notice that stays from now on (the kill record, opened after the first paint,
        could not be)."""
        if notice:
            self._standing = " ".join(n for n in (self._standing, notice) if n)
            self._say(self._standing)

    def ask_for_key(self) -> None:
        """Say that there is no key, and open the settings to enter one."""
        self._say(" ".join(n for n in (self._standing, NO_KEY) if n))
        self.open()

    def _found(self, found: tuple[KeyStore, str | None, str]) -> None:
        self._pending = None
        store, key, notice = found
        self.key_store = store
        self._standing = " ".join(n for n in (self._standing, notice) if n)
        if not key:
            self.ask_for_key()
            return
        self.key = key
        self._say(self._standing)
        self.keyReady.emit(key)

    def _failed(self, exc: Exception) -> None:
        self._pending = None
        if isinstance(exc, KeyStoreError):
            self._say(f"{exc.sentence} Enter the key in Settings.")
        else:
            log.error("reading the key failed", exc_info=exc)
            self._say("The API key could not be read from the keyring; enter it in Settings.")

    def _say(self, sentence: str) -> None:
        self.shown_notice = sentence
        self.notice.emit(sentence)

    # -- the dialog ---------------------------------------------------------------------------

    def open(self) -> None:
        """Open the settings dialog (window-modal, non-blocking); raise it if already open."""
        if self.dialog is not None:
            self.dialog.raise_()
            self.dialog.activateWindow()
            return
        from ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(
            self.settings,
            self.key_store,
            current_key=self.key,
            notice=self.shown_notice,
            host_locked=self._host_locked,
            parent=self._window,
        )
        dialog.finished.connect(lambda result: self._closed(dialog, result))
        self.dialog = dialog
        dialog.open()

    def _closed(self, dialog: SettingsDialog, result: int) -> None:
        self.dialog = None
        dialog.deleteLater()
        if result != QDialog.DialogCode.Accepted:
            return
        old, new = self.settings, dialog.settings
        store_changed = dialog.key_store is not self.key_store
        self.key_store = dialog.key_store
        key = dialog.entered_key
        self.entered_keys = dict(dialog.entered_keys)  # the other servers' keys, just typed
        if key is None and new.host == old.host:
            key = self.key
        self.save(new)
        if key:
            self.key = key
            self._say("" if store_changed else self._standing)
            self.keyReady.emit(key)
        else:
            # A new server and no key typed: stop talking to the old one with the old key, and
            # read the new server's key from the store.
            self.key = None
            self.keyGone.emit()
            store, host = self.key_store, new.host
            self.read_key(lambda: (store, store.get(host), ""))
        self.applied.emit(old, new)

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

    def keep(self, settings: Settings, names: tuple[str, ...]) -> None:
        """Take the fields ``names`` from ``settings`` and write just those into the settings file
        as it is on disk, the rest of it untouched.

        For what the window changes by itself (the "show all" toggle, its place on screen): a
        server given with ``--host`` for one run must not become the saved server, and closing a
        window that was never set up must not save a default server the command line would then
        fire at.
        """
        self.settings = replace(self.settings, **{name: getattr(settings, name) for name in names})
        if not self._persist:
            return
        path = self._settings_path or settings_store.settings_path()
        try:
            on_disk = json.loads(path.read_text("utf-8"))
        except (OSError, ValueError):
            on_disk = {}
        if not isinstance(on_disk, dict):
            on_disk = {}
        on_disk.update({name: getattr(self.settings, name) for name in names})
        try:
            write_atomically(path, lambda handle: json.dump(on_disk, handle, indent=2, sort_keys=True))
        except OSError as exc:
            self.saveFailed.emit(f"The settings could not be saved ({exc.strerror or 'disk error'}).")

    def stop(self) -> None:
        """Forget a running look-up and close the dialog; no key is handed out after this."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self.dialog is not None:
            self.dialog.reject()
