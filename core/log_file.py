"""The app's log: a rotating file under ``data_dir()/logs``, with every API key taken out.

:class:`KeyRedactor` knows the keys the app holds this session (the window adds each key it
uses); :class:`RedactingFilter` runs it over every record before any handler writes it --
message, arguments, traceback and stack -- so a key that reaches an exception message or a
``log.debug`` of a request body is written as ``<APIKEY>``.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Final

from core.redaction import redact
from core.settings import data_dir

LOG_FILE_NAME: Final = "killswitch.log"
MAX_BYTES: Final = 1_000_000
BACKUPS: Final = 3
_FORMAT: Final = "%(asctime)s %(levelname)s %(threadName)s %(name)s: %(message)s"
_EARLY: Final = "killswitch-early-records"


def log_dir() -> Path:
    return data_dir() / "logs"


def log_path(directory: Path | None = None) -> Path:
    """Where :func:`open_log` writes."""
    return (log_dir() if directory is None else directory) / LOG_FILE_NAME


class _EarlyRecords(logging.Handler):
    """Records logged before the file is open, kept for it (see :func:`hold_early_records`)."""

    LIMIT: Final = 1000

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if len(self.records) < self.LIMIT:
            self.records.append(record)


def hold_early_records(level: int = logging.INFO) -> None:
    """Keep what is logged until :func:`open_log` opens the file, which then writes it first.

    The window opens its log after its first paint: the rotating file handler's module
    (``logging.handlers``, with ``socket`` and ``pickle``) takes ~10 ms to import, and nothing
    before the first paint needs the file."""
    handler = _EarlyRecords()
    handler.set_name(_EARLY)
    root = logging.getLogger()
    root.addHandler(handler)
    _set_levels(level)


class KeyRedactor:
    """The keys to remove from anything written or shown; safe to share between threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: tuple[str, ...] = ()

    def add(self, key: str | None) -> None:
        """Remember a key the app uses (the old ones stay: they may still be in a traceback)."""
        if key and key not in self._keys:
            with self._lock:
                # Longest first, so a key that contains another is replaced whole.
                self._keys = tuple(sorted({*self._keys, key}, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for key in self._keys:
            text = redact(text, key)
        return text

    def __repr__(self) -> str:
        return f"KeyRedactor({len(self._keys)} keys)"


class RedactingFilter(logging.Filter):
    """Rewrites each record with the keys removed; attach it to every handler."""

    def __init__(self, redactor: KeyRedactor) -> None:
        super().__init__()
        self.redactor = redactor
        self._formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        redact_ = self.redactor.redact
        record.msg = redact_(record.getMessage())
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_(record.stack_info)
        return True


def open_log(redactor: KeyRedactor, directory: Path | None = None, *, level: int = logging.INFO) -> Path:
    """Send the root logger to a rotating file (owner-only) with keys redacted; returns its path.

    Calling it again replaces the handler it added before, so tests may call it per test.
    """
    import logging.handlers

    path = log_path(directory)
    directory = path.parent
    directory.mkdir(parents=True, exist_ok=True)
    if os.name == "posix":
        # Owner-only directory: the rotated files (made with the default umask) stay private too.
        directory.chmod(0o700)
    handler = logging.handlers.RotatingFileHandler(
        path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8", delay=False
    )
    if os.name == "posix":
        path.chmod(0o600)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(RedactingFilter(redactor))
    handler.set_name("killswitch-log-file")
    root = logging.getLogger()
    early = [h for h in root.handlers if isinstance(h, _EarlyRecords)]
    close_log()
    root.addHandler(handler)
    _set_levels(level)
    for held in early:  # what was logged before the file was open, first
        for record in held.records:
            handler.handle(record)
    return path


def _set_levels(level: int) -> None:
    logging.getLogger().setLevel(level)
    # httpx logs every request at INFO: a poll a second would bury the few lines that matter.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def close_log() -> None:
    """Remove and close the handler :func:`open_log` added, and any early records still held
    (idempotent)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() in ("killswitch-log-file", _EARLY):
            root.removeHandler(handler)
            handler.close()
