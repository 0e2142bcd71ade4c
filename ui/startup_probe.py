"""Start-up timing for the benchmarks: launch to window shown, and to the first order book painted.

Off unless ``KILLSWITCH_STARTUP_PROBE`` is set. When it is, :func:`install` watches the
application's paint events and writes to stderr::

    startup window_shown_ms=412.3
    startup first_book_ms=655.0 rows=25
    startup rss_mb=98.4

then quits the app. "Shown" is the first paint of the main window (object name ``mainWindow``);
"first book painted" is the first paint of the orders table (``ordersTable``) that has rows, once
that paint has finished.

The variable's value may be the launcher's ``time.monotonic()`` just before it started the
process (one clock for every process on the machine), so the figures include the interpreter's own
start. Any other value (``1``) measures from the process's start as the kernel recorded it (Linux,
10 ms steps) or, elsewhere, from when this module was imported. ``KILLSWITCH_STARTUP_PROBE_LINGER_MS``
keeps the app running that long after the first book (a few polls) before memory is read.

``main.py`` calls ``if startup_probe.wanted(): startup_probe.install()`` before the window starts;
``install`` makes the ``QApplication`` when there is none yet (``ui.app.run`` then uses it).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Final

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QAbstractItemView, QApplication, QWidget

ENV: Final = "KILLSWITCH_STARTUP_PROBE"
ENV_LINGER: Final = "KILLSWITCH_STARTUP_PROBE_LINGER_MS"
_IMPORTED = time.monotonic()


def _origin(value: str) -> float:
    now = time.monotonic()
    try:
        launched = float(value)
    except ValueError:
        launched = 0.0
    # A launch stamp is at most a minute old; anything else ("1") means "no stamp".
    if now - 60 < launched <= now:
        return launched
    return _process_start() or _IMPORTED


def _process_start() -> float | None:
    """This process's start on the ``time.monotonic()`` clock, where the kernel says (Linux)."""
    try:
        with open("/proc/self/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        started_s = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22: starttime, since boot
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - started_s
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    return time.monotonic() - age if 0 <= age < 600 else None


def rss_mb() -> float:
    """Resident memory of this process in MiB (Linux: VmRSS; elsewhere the peak)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class StartupProbe(QObject):
    """An application-wide event filter that times the first paints, reports, and quits."""

    def __init__(self, app: QApplication, origin: float, linger_ms: int) -> None:
        super().__init__(app)
        self._app = app
        self._origin = origin
        self._linger_ms = linger_ms
        self._shown = False
        self._booked = False

    def _ms(self) -> float:
        return (time.monotonic() - self._origin) * 1000

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 -- Qt override
        if event.type() == QEvent.Type.Paint and isinstance(watched, QWidget):
            window = watched.window()
            if not self._shown and window.objectName() == "mainWindow":
                self._shown = True
                QTimer.singleShot(0, self._report_shown)
            if not self._booked:
                view = watched.parent()
                if (
                    isinstance(view, QAbstractItemView)
                    and view.objectName() == "ordersTable"
                    and view.model() is not None
                    and view.model().rowCount() > 0
                ):
                    self._booked = True
                    rows = view.model().rowCount()
                    QTimer.singleShot(0, lambda: self._report_book(rows))
        return False

    def _report_shown(self) -> None:
        print(f"startup window_shown_ms={self._ms():.1f}", file=sys.stderr, flush=True)

    def _report_book(self, rows: int) -> None:
        print(f"startup first_book_ms={self._ms():.1f} rows={rows}", file=sys.stderr, flush=True)
        QTimer.singleShot(self._linger_ms, self._finish)

    def _finish(self) -> None:
        print(f"startup rss_mb={rss_mb():.1f}", file=sys.stderr, flush=True)
        self._app.removeEventFilter(self)
        for widget in self._app.topLevelWidgets():
            widget.close()
        self._app.quit()


def wanted() -> bool:
    """True when ``KILLSWITCH_STARTUP_PROBE`` asks for the start-up to be timed."""
    return bool(os.environ.get(ENV))


def install(app: QApplication | None = None) -> StartupProbe | None:
    """Time this start-up if ``KILLSWITCH_STARTUP_PROBE`` is set; otherwise do nothing.

    Without ``app`` it uses the running ``QApplication``, or makes it."""
    value = os.environ.get(ENV)
    if not value:
        return None
    origin = _origin(value)
    if app is None:
        existing = QApplication.instance()
        app = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1] or ["killswitch"])
    probe = StartupProbe(app, origin, int(os.environ.get(ENV_LINGER, "0") or 0))
    app.installEventFilter(probe)
    return probe
