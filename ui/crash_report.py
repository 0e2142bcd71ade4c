"""The crash path: an unexpected exception is logged, shown with copyable details, and survived.

:class:`CrashReporter` takes over ``sys.excepthook`` (exceptions on the UI thread, including
those PySide6 hands over from a Qt slot or virtual that raised) and ``threading.excepthook``
(any other Python thread). Each exception is logged through ``logging`` (the app's log file,
whose filter removes the key) and shown in a :class:`CrashDialog` on the UI thread, with the
key removed from the traceback. The dialog is not modal and opens after the failing slot has
returned, so the event loop -- and with it the panic button, the hotkey and both lanes -- keeps
running; further errors are appended to the open dialog instead of stacking dialogs.
"""

from __future__ import annotations

import logging
import platform
import sys
import threading
import time
import traceback
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core import APP_NAME, __version__
from core.log_file import KeyRedactor

log = logging.getLogger(__name__)

HEADLINE = (
    "Something unexpected went wrong inside the kill switch; it is still running and the panic "
    "button still works."
)


class CrashDialog(QDialog):
    """The sentence, where the log is, and the details (key removed) with a Copy button."""

    def __init__(self, log_path: Path | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("crashDialog")
        self.setWindowTitle(f"{APP_NAME}: unexpected error")
        self.setModal(False)
        where = f" The details were also written to {log_path}." if log_path is not None else ""
        self.headline = QLabel(HEADLINE + where)
        self.headline.setObjectName("crashHeadline")
        self.headline.setWordWrap(True)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details = QPlainTextEdit()
        self.details.setObjectName("crashDetails")
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.copy_button = QPushButton("Copy details")
        self.copy_button.setObjectName("copyCrashDetails")
        self.copy_button.clicked.connect(self.copy_details)
        close = QPushButton("Close")
        close.setObjectName("closeCrashDialog")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.copy_button)
        buttons.addWidget(close)
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.details, 1)
        layout.addLayout(buttons)
        self.resize(760, 420)

    def add(self, details: str) -> None:
        text = self.details.toPlainText()
        self.details.setPlainText(f"{text}\n\n{details}" if text else details)

    def copy_details(self) -> None:
        clipboard = QGuiApplication.clipboard()
        if clipboard is not None:
            clipboard.setText(self.details.toPlainText())


class CrashReporter(QObject):
    """Installs the exception hooks; :meth:`uninstall` restores the previous ones.

    Signals:
        crashed(str): the details of an unexpected exception, key removed; delivered on the
            thread that owns the reporter (the UI thread), whichever thread raised.
    """

    crashed = Signal(str)

    def __init__(
        self,
        redactor: KeyRedactor,
        log_path: Path | None = None,
        *,
        dialog_parent: QWidget | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.redactor = redactor
        self.log_path = log_path
        self.dialog_parent = dialog_parent
        self.dialog: CrashDialog | None = None
        self.count = 0
        self._previous_hook: Any = None
        self._previous_thread_hook: Any = None
        self._installed = False
        # Queued even on the UI thread: the dialog opens after the failing slot has unwound.
        self.crashed.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def install(self) -> None:
        if self._installed:
            return
        self._installed = True
        self._previous_hook = sys.excepthook
        self._previous_thread_hook = threading.excepthook
        sys.excepthook = self._excepthook
        threading.excepthook = self._thread_excepthook

    def uninstall(self) -> None:
        if not self._installed:
            return
        self._installed = False
        if sys.excepthook == self._excepthook:
            sys.excepthook = self._previous_hook
        if threading.excepthook == self._thread_excepthook:
            threading.excepthook = self._previous_thread_hook

    def report(
        self,
        exc_type: type[BaseException],
        exc: BaseException | None,
        tb: TracebackType | None,
        where: str = "the window",
    ) -> str:
        """Log one exception and queue it for the dialog; returns the details shown."""
        self.count += 1
        log.critical(
            "Unexpected error in %s; the app keeps running.",
            where,
            exc_info=(exc_type, exc if exc is not None else exc_type(), tb),
        )
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        header = (
            f"{APP_NAME} {__version__} · Python {platform.python_version()} · "
            f"{platform.system()} {platform.release()} · {stamp} · in {where}"
        )
        body = "".join(traceback.format_exception(exc_type, exc, tb))
        details = self.redactor.redact(f"{header}\n{body}".rstrip())
        self.crashed.emit(details)
        return details

    def _excepthook(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            self._previous_hook(exc_type, exc, tb)
            return
        try:
            self.report(exc_type, exc, tb)
        except Exception:  # the hook itself must never be what takes the app down
            self._previous_hook(exc_type, exc, tb)

    def _thread_excepthook(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:
            return
        name = args.thread.name if args.thread is not None else "a background thread"
        try:
            self.report(args.exc_type, args.exc_value, args.exc_traceback, f"thread {name}")
        except Exception:
            self._previous_thread_hook(args)

    def _show(self, details: str) -> None:
        if self.dialog is None:
            self.dialog = CrashDialog(self.log_path, self.dialog_parent)
            self.dialog.finished.connect(self._dialog_closed)
        self.dialog.add(details)
        self.dialog.show()
        self.dialog.raise_()

    def _dialog_closed(self) -> None:
        if self.dialog is not None:
            self.dialog.deleteLater()
            self.dialog = None


def report_unexpected(exc: BaseException) -> None:
    """Hand an exception that a lane caught and survived to the crash path (``threading.excepthook``,
    which the app's :class:`CrashReporter` takes over): logged and shown like any other, while the
    lane goes on with its next command."""
    args = threading.ExceptHookArgs((type(exc), exc, exc.__traceback__, threading.current_thread()))
    try:
        threading.excepthook(args)
    except Exception:  # reporting must never be what stops a lane
        log.exception("an unexpected error could not be reported")
