"""The windowed app: ``killswitch`` (saved server), ``--host URL`` and ``--demo``.

Where the key comes from, in order: ``--demo`` makes one for its in-process simulator and keeps
it in memory; ``--host`` with ``$OPENALGO_API_KEY`` set uses that key for this run only; every
other start reads the OS keyring (or, when there is no usable keyring, keeps a key typed into
Settings in memory for this session only). The key is never written to a file.
"""

from __future__ import annotations

import argparse
import gc
import logging
import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QApplication, QWidget

import resources
from core import APP_NAME, __version__
from core import settings as settings_store
from core.addresses import normalise_host
from core.instance import ask_window_to_show, server_name
from core.log_file import KeyRedactor, close_log, hold_early_records, log_path, open_log
from core.secrets import KeyStore, KeyStoreChoice, KeyStoreError, SessionKeyStore, choose_key_store
from core.settings import Settings
from ui.crash_report import CrashReporter
from ui.main_window import MainWindow

if TYPE_CHECKING:  # imported where used: none is needed before the window's first paint
    from core.record import KillRecord
    from ui.fire_sources import FireSources
    from ui.single_instance import SingleInstance

ENV_KEY = "OPENALGO_API_KEY"
DEMO_ORDERS = 25
EXIT_USAGE = 2
DEMO_SOCKET_FILE = "demo.sock"

log = logging.getLogger(__name__)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="killswitch", description=f"{APP_NAME}: the window.")
    parser.add_argument("--version", action="version", version=f"killswitch {__version__}")
    parser.add_argument("--demo", action="store_true", help="open on a built-in simulated server")
    parser.add_argument("--host", metavar="URL", help=f"open on this OpenAlgo server (key from ${ENV_KEY})")
    return parser.parse_args(argv)


@dataclass
class Session:
    """One window and what it needs torn down with it."""

    window: MainWindow
    cleanups: list[Callable[[], None]] = field(default_factory=list)
    sources: FireSources | None = None
    record_at: _RecordAt | None = None  # the kill record to open, when build_session left it

    def attach_record(self) -> None:
        """Open the kill record that ``build_session(record_later=True)`` left, and give it to
        the window (after its first paint, before its lanes start). Once."""
        where, self.record_at = self.record_at, None
        if where is None:
            return
        record, problem = open_record(where.path, where.apikey)
        if record is not None:
            self.cleanups.insert(0, record.close)  # before the folder it is in is removed
        self.window.attach_record(record, "" if self.window.demo else problem)

    def close(self) -> None:
        if self.sources is not None:  # no more triggers from outside while the lanes stop
            self.sources.stop()
        self.window.stop()
        for cleanup in self.cleanups:
            cleanup()
        self.cleanups.clear()


@dataclass(frozen=True)
class _RecordAt:
    path: Path | None
    apikey: str = field(repr=False)


def connect_fire_sources(
    session: Session,
    instance: SingleInstance | None,
    *,
    start: bool = True,
    peer_running: Callable[[], bool] | None = None,
) -> FireSources:
    """Wire the global hotkey, the tray and the local socket to the window, and (unless told
    not to yet) bind the hotkey and show the tray. ``peer_running`` says whether the other kind
    of window (the demo, or the real one) is open: the real window's hotkey comes first."""
    from ui.fire_sources import FireSources

    sources = FireSources(
        session.window, instance=instance, demo=session.window.demo, peer_running=peer_running
    )
    session.window.killFinished.connect(sources.kill_finished)
    session.window.settingsChanged.connect(sources.apply_settings)
    session.sources = sources
    if start:
        sources.start()
    return sources


class AfterFirstPaint(QObject):
    """Runs ``then`` once, on the event loop's turn after ``widget`` first painted (or after
    ``fallback_ms`` if it never paints, e.g. started minimised).

    ``QTimer.singleShot(0, ...)`` after ``show()`` is not enough: Qt runs it before the window's
    first paint, so work put there still keeps the window off the screen.
    """

    def __init__(self, widget: QWidget, then: Callable[[], object], fallback_ms: int = 1000) -> None:
        super().__init__(widget)
        self._widget = widget
        self._then: Callable[[], object] | None = then
        widget.installEventFilter(self)
        QTimer.singleShot(fallback_ms, self, self._run)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 -- Qt override
        if event.type() == QEvent.Type.Paint and watched is self._widget:
            self._widget.removeEventFilter(self)
            QTimer.singleShot(0, self, self._run)
        return False

    def _run(self) -> None:
        then, self._then = self._then, None
        if then is not None:
            self._widget.removeEventFilter(self)
            then()


def build_session(
    options: argparse.Namespace,
    *,
    environ: Mapping[str, str] | None = None,
    choose_store: Callable[[], KeyStoreChoice] = choose_key_store,
    settings: Settings | None = None,
    record_path: Path | None = None,
    redactor: KeyRedactor | None = None,
    record_later: bool = False,
) -> Session:
    """The window for these options, not yet shown or started. Raises ValueError on a bad --host.

    Kills are recorded in ``record_path`` (default: ``kills.sqlite3`` in the data directory);
    the demo keeps its own record in a temporary directory, so simulated kills never mix with
    real ones in an incident report. With ``record_later`` the record is opened by
    :meth:`Session.attach_record` (the app does that after the window's first paint).
    """
    session = _build_session(options, environ, choose_store, settings, record_path, redactor)
    if not record_later:
        session.attach_record()
    return session


def _build_session(
    options: argparse.Namespace,
    environ: Mapping[str, str] | None,
    choose_store: Callable[[], KeyStoreChoice],
    settings: Settings | None,
    record_path: Path | None,
    redactor: KeyRedactor | None,
) -> Session:
    environ = os.environ if environ is None else environ
    settings = settings_store.load() if settings is None else settings
    redactor = redactor if redactor is not None else KeyRedactor()

    if options.demo:
        from core.simulator import Simulator

        sim = Simulator(demo=True, orders=DEMO_ORDERS, mode="analyze").start()
        demo_store = SessionKeyStore()
        demo_store.set(sim.url, sim.apikey)
        demo_dir = tempfile.TemporaryDirectory(prefix="killswitch-demo-")
        window = MainWindow(
            replace(settings, host=sim.url),
            demo_store,
            apikey=sim.apikey,
            demo=True,
            persist=False,
            redactor=redactor,
        )
        record_at = _RecordAt(Path(demo_dir.name) / "demo-kills.sqlite3", sim.apikey)
        return Session(window, [sim.stop, demo_dir.cleanup], record_at=record_at)

    if options.host:
        host = normalise_host(options.host)
        if host is None:
            raise ValueError(f"{options.host!r} is not a usable server URL; expected http://host:port.")
        settings = replace(settings, host=host)
        from_env = environ.get(ENV_KEY, "").strip()
        if from_env:
            # Used for this run only: the session store forgets it when the app quits.
            session = SessionKeyStore()
            session.set(host, from_env)
            window = MainWindow(settings, session, apikey=from_env, redactor=redactor)
            return Session(window, record_at=_RecordAt(record_path, from_env))

    host = settings.host

    def look_up_key() -> tuple[KeyStore, str | None, str]:
        # On a worker thread (MainWindow._read_key): the keyring may sit on an unlock prompt.
        choice = choose_store()
        notice = choice.problem.sentence if choice.problem is not None else ""
        try:
            return choice.store, choice.store.get(host), notice
        except KeyStoreError as exc:
            sentence = f"{exc.sentence} Enter it in Settings to keep it in memory for this session."
            return SessionKeyStore(), None, sentence

    window = MainWindow(settings, SessionKeyStore(), redactor=redactor, key_lookup=look_up_key)
    return Session(window, record_at=_RecordAt(record_path, ""))


def demo_instance_name() -> str:
    """The demo's own socket (or pipe), beside the real window's."""
    name = server_name()
    return f"{name}-demo" if sys.platform == "win32" else str(Path(name).with_name(DEMO_SOCKET_FILE))


def window_answers(name: str, timeout_ms: int = 300) -> bool:
    """Whether a window listens on the local socket ``name`` (a connection, nothing sent)."""
    from PySide6.QtNetwork import QLocalSocket

    probe = QLocalSocket()
    probe.connectToServer(name)
    alive = probe.waitForConnected(timeout_ms)
    probe.abort()
    return alive


def _already_open(options: argparse.Namespace, answer: dict[str, object]) -> int:
    """A second launch: the first window came forward. Say which server it is on when this
    launch asked for another one."""
    open_on = str(answer.get("host") or "")
    wanted = normalise_host(options.host) if options.host else None
    if wanted and open_on and wanted != open_on:
        print(
            f"killswitch: the window already open is on {open_on}, not {wanted}; it was brought "
            "forward. Change its server in Settings, or close it and start again with --host.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    where = f" on {open_on}" if open_on else ""
    print(f"killswitch: the window is already open{where}; it was brought forward.")
    return 0


def open_record(path: Path | None, apikey: str) -> tuple[KillRecord | None, str]:
    """The kill record, or None and a sentence saying why kills will not be kept."""
    import sqlite3

    from core.record import KillRecord

    try:
        return KillRecord(path, secret=apikey), ""
    except (sqlite3.Error, OSError) as exc:
        log.exception("could not open the kill record")
        return None, f"The kill record could not be opened ({exc}); kills will run but will not be kept."


def _load_tls() -> None:
    try:
        from core.client import verified_tls

        verified_tls()
    except Exception:  # the lanes make it again, and any problem surfaces there
        log.debug("loading the TLS context ahead of the lanes failed", exc_info=True)


# -- process-wide settings, made once at start-up ------------------------------------------


def tune_interpreter_for_the_panic_path() -> None:
    """Let a woken kill thread run within a millisecond.

    The interpreter lets a thread that holds the GIL keep it for up to 5 ms before a waiting
    thread gets a turn; a woken kill thread must not wait that long behind a busy UI or poll
    thread, so hand-offs happen at least every millisecond."""
    if sys.getswitchinterval() > 0.001:
        sys.setswitchinterval(0.001)


def freeze_long_lived_objects_after_first_book(window: MainWindow) -> None:
    """Once the window's first order book is on screen, hide everything alive from the garbage
    collector's full collections (``gc.freeze``).

    A full collection walks every tracked object while holding the interpreter lock: with the
    modules, Qt wrappers and a 10,000-order book that is ~50,000 objects and ~50 ms on a slow
    machine, a frozen window whenever it runs (a kill's reads of the book set one off). Frozen
    objects are still freed the ordinary way when their last reference goes; only garbage cycles
    alive at this moment would never be collected, and start-up leaves few. So it is done once
    per window, not again after a change of settings, when the old lanes' cycles wait to be
    collected.

    The window freezes what it has even when something in the process froze before it (a
    benchmark that opened a window earlier): otherwise everything loaded since -- the window's
    modules, its lanes, its book -- is walked by every full collection, and one in the middle of
    a kill took 13.6 ms instead of 5.7 in a profile."""

    def freeze() -> None:
        window.bookShown.disconnect(freeze)
        gc.freeze()

    window.bookShown.connect(freeze)


def app_icon() -> QIcon:
    pixmap = QPixmap()
    pixmap.loadFromData(resources.read_bytes(resources.ICON))
    return QIcon(pixmap)


def prepare_app(app: QApplication, *, stylesheet: bool = True) -> None:
    """The app's name, icon and style; and its stylesheet unless ``stylesheet`` is False (then
    :func:`apply_stylesheet` before the window shows)."""
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("openalgo-killswitch")
    app.setWindowIcon(app_icon())
    app.setStyle("Fusion")
    if stylesheet:
        apply_stylesheet(app)


def apply_stylesheet(app: QApplication) -> None:
    """The app's stylesheet. Set once the window is built and before it shows, Qt styles the
    whole window once (~7 ms); set before, every widget is styled as it is made and again each
    time it is put in its place (a splitter, a tab, the main window): ~27 ms more."""
    app.setStyleSheet(resources.read_text(resources.STYLESHEET))


NO_DISPLAY = (
    "killswitch: there is no display here (neither DISPLAY nor WAYLAND_DISPLAY is set), so the "
    "window cannot open. To cancel every working order from this terminal, run "
    "'killswitch cancel-all --host URL' (key from $OPENALGO_API_KEY or the keyring); "
    "'killswitch --help' lists the commands."
)


def no_display(environ: Mapping[str, str], platform: str = sys.platform) -> bool:
    """True when Qt would find no display to open the window on.

    On Linux Qt aborts inside its platform plugin ("Reinstalling the application may fix this
    problem") when there is no X11 or Wayland display; this check runs before any QApplication
    exists so that a trader on a headless box reads what to do instead. Windows and macOS always
    have a display; offscreen, minimal and other explicitly chosen platforms need none.
    """
    if not platform.startswith("linux"):
        return False
    chosen = environ.get("QT_QPA_PLATFORM", "").split(":", 1)[0].strip().lower()
    x11, wayland = bool(environ.get("DISPLAY")), bool(environ.get("WAYLAND_DISPLAY"))
    if chosen == "xcb":
        return not x11
    if chosen.startswith("wayland"):
        return not wayland
    if chosen:  # offscreen, minimal, eglfs, vnc …: the user chose a platform that needs no display
        return False
    return not (x11 or wayland)


def run(argv: list[str]) -> int:
    """Open the window; returns the exit status."""
    try:
        options = parse(argv)
    except SystemExit as exc:  # --help, --version, or a usage error
        return int(exc.code or 0)
    if QApplication.instance() is None and no_display(os.environ):
        print(NO_DISPLAY, file=sys.stderr)
        return EXIT_USAGE
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "killswitch"])
    assert isinstance(app, QApplication)
    prepare_app(app, stylesheet=False)  # set once the window is built: apply_stylesheet
    redactor = KeyRedactor()
    redactor.add(os.environ.get(ENV_KEY, "").strip())
    hold_early_records()  # the log file opens after the first paint, and writes these first
    log.info("%s %s starting", APP_NAME, __version__)
    # One window per user, and one demo beside it. The demo has a socket of its own: it must
    # never answer a script's "killswitch trigger" meant for a real account, nor hide the real
    # window; a second demo brings the first forward.
    from ui.single_instance import SingleInstance

    ours, theirs = (
        (demo_instance_name(), server_name()) if options.demo else (server_name(), demo_instance_name())
    )
    instance: SingleInstance | None = SingleInstance(ours)
    assert instance is not None
    if not instance.listen():
        answer = ask_window_to_show(name=ours)
        if answer is not None:
            if options.demo:
                print("killswitch: the demo is already open; it was brought forward.")
                return 0
            return _already_open(options, answer)
        instance = None  # nothing answered and the socket could not be taken: run alone
    try:
        session = build_session(options, redactor=redactor, record_later=True)
    except ValueError as exc:
        print(f"killswitch: {exc}", file=sys.stderr)
        if instance is not None:
            instance.close()
        close_log()
        return EXIT_USAGE
    # From here an unexpected exception is logged and shown, and the window keeps running.
    crash_reporter = CrashReporter(redactor, log_path(), dialog_parent=session.window)
    crash_reporter.install()
    # The local socket is wired now. The lanes (two HTTP clients, two threads: ~45 ms), the
    # hotkey's grab (Xlib on X11) and the tray icon start on the event loop's turn after the
    # window's first paint, which they would otherwise hold back: the lanes first, so the button
    # works before anything else can fire. Nothing can press the button before it is on screen.
    sources = connect_fire_sources(
        session, instance, start=False, peer_running=lambda: window_answers(theirs)
    )

    def after_first_paint() -> None:
        # The lanes' TLS context: OpenSSL reads the CA bundle (~30 ms) without the interpreter
        # lock, so it loads on a helper thread while this one makes the lanes; they wait for it.
        # Not earlier: importing the HTTP client would compete with building the window.
        threading.Thread(target=_load_tls, name="tls-context", daemon=True).start()
        session.attach_record()  # before the lanes: every kill is kept
        session.window.start()
        sources.start()
        try:
            open_log(redactor)
        except OSError as exc:  # a read-only data directory must not stop the panic button
            print(f"killswitch: the log file could not be opened ({exc.strerror}).", file=sys.stderr)
            crash_reporter.log_path = None

    AfterFirstPaint(session.window, after_first_paint)
    # Ctrl+C in the terminal and SIGTERM (a logout, `kill`) close the window without asking: a
    # running kill is reported and recorded as interrupted, and the app is gone within a second
    # or two. The heartbeat timer lets Python see the signal while Qt's loop runs.
    signal.signal(
        signal.SIGINT, lambda *_: session.window.close_anyway("Ctrl+C closed the window during the kill")
    )
    signal.signal(
        signal.SIGTERM, lambda *_: session.window.close_anyway("SIGTERM closed the window during the kill")
    )
    tune_interpreter_for_the_panic_path()
    freeze_long_lived_objects_after_first_book(session.window)
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: None)
    heartbeat.start(250)
    apply_stylesheet(app)  # the window is built: it is styled once, here
    session.window.show()
    try:
        return app.exec()
    finally:
        heartbeat.stop()
        session.close()
        crash_reporter.uninstall()
        log.info("%s stopped", APP_NAME)
        close_log()
