"""``killswitch --self-test``: prove that this build can do its one job, then exit.

It runs what a trader's first kill would run, against the built-in simulator on loopback:
the window opens (offscreen when there is no display), the poll lane shows the simulator's
working orders, one kill goes through ``MainWindow.fire`` and the kill lane, and the verdict
must be ``flat`` with the server's book empty. It also checks that the version comes from the
package metadata and that this platform's keyring backend is bundled and loads.

Each check prints one line, ``PASS`` or ``FAIL`` and what was seen; the exit status is 0 only
if every check passed. Nothing touches the trader's settings or kill record: the test runs
in a temporary configuration and data directory.
"""

from __future__ import annotations

import importlib
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from typing import Any, TextIO

ORDERS = 25
NOTE_PREFIX = "      note: "
STEP_TIMEOUT_S = 20.0
_PLATFORM_BACKENDS = {
    "linux": "keyring.backends.SecretService",
    "win32": "keyring.backends.Windows",
    "darwin": "keyring.backends.macOS",
}


@dataclass(frozen=True)
class Check:
    """One check's outcome. ``note`` is something true of this computer, not of the build (no
    keyring running here): printed on its own line, never as part of a PASS or FAIL."""

    name: str
    passed: bool
    detail: str
    note: str = ""

    def line(self) -> str:
        line = f"{'PASS' if self.passed else 'FAIL'}  {self.name}: {self.detail}"
        return f"{line}\n{NOTE_PREFIX}{self.note}" if self.note else line


def check_version() -> Check:
    """core.__version__ is the version pip wrote from pyproject.toml into the package metadata."""
    from core import DIST_NAME, __version__

    try:
        recorded = metadata.version(DIST_NAME)
    except metadata.PackageNotFoundError:
        if not getattr(sys, "frozen", False):  # a bare checkout: core read pyproject.toml itself
            return Check("version", True, f"{__version__} (from pyproject.toml; not installed)")
        return Check("version", False, f"{__version__}, but the {DIST_NAME} metadata is not bundled")
    if recorded != __version__:
        return Check("version", False, f"the app says {__version__}, its metadata says {recorded}")
    return Check("version", True, f"{__version__} (from the {DIST_NAME} package metadata)")


def check_keyring(platform: str = sys.platform) -> Check:
    """keyring can see its backends (entry points) and this platform's backend module loads.

    Whether a keyring daemon is running is reported but does not fail the check: a build
    machine may have none. What must hold is that the backend code is in the build.
    """
    import keyring
    import keyring.backend

    name = "keyring backend"
    entry_points = metadata.entry_points(group="keyring.backends")
    if not entry_points:
        return Check(name, False, "keyring's entry points are missing, so it cannot find any backend")
    wanted = _PLATFORM_BACKENDS.get("linux" if platform.startswith("linux") else platform)
    if wanted is not None:
        try:
            module = importlib.import_module(wanted)
        except Exception as exc:
            return Check(name, False, f"{wanted} does not load ({type(exc).__name__}: {exc})")
        registered = {cls.__module__ for cls in _all_subclasses(keyring.backend.KeyringBackend)}
        if module.__name__ not in registered:
            return Check(name, False, f"{wanted} loaded but registered no backend")
    from core.secrets import KeyStoreProblem, OsKeyStore

    keyring_here = {
        KeyStoreProblem.NO_KEYRING: "no keyring is running on this computer",
        KeyStoreProblem.PLAINTEXT: "the only keyring here would keep the key unencrypted, so it is not used",
        KeyStoreProblem.LOCKED: "the keyring here is locked",
        KeyStoreProblem.REFUSED: "the keyring here refused to be used",
        KeyStoreProblem.FAILED: "the keyring here failed when asked",
    }

    store = OsKeyStore(keyring.get_keyring())
    problem = store.check()
    chosen = type(keyring.get_keyring())
    detail = (
        f"{wanted or 'no platform backend expected'} loaded; keyring chose "
        f"{chosen.__module__}.{chosen.__qualname__} ({store.description}"
    )
    if problem is None:
        return Check(name, True, f"{detail}, usable)")
    # The build is fine; this computer has no keyring the app can use. Said apart from the PASS,
    # so no one reads "PASS" and "not usable" as one verdict.
    return Check(
        name,
        True,
        f"{detail})",
        note=f"{keyring_here[problem.problem]} — this computer's set-up, not a fault of the build "
        "(the window would keep a key typed into Settings in memory until it quits)",
    )


def _all_subclasses(cls: type) -> set[type]:
    found: set[type] = set()
    todo = [cls]
    while todo:
        sub: type
        for sub in todo.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                todo.append(sub)
    return found


def check_window_kill(out: TextIO) -> list[Check]:
    """Simulator, window, first book, one kill through the window: the checks, in order."""
    from PySide6.QtWidgets import QApplication

    from core.report import CancelReport, Verdict
    from core.secrets import SessionKeyStore
    from core.settings import Settings
    from core.simulator import Simulator
    from ui.main_window import MainWindow

    checks: list[Check] = []

    def record(check: Check) -> bool:
        checks.append(check)
        print(check.line(), file=out, flush=True)
        return check.passed

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "killswitch"])
    assert isinstance(app, QApplication)
    from ui.app import prepare_app

    prepare_app(app)

    try:
        sim = Simulator(orders=ORDERS, mode="analyze").start()
    except Exception as exc:
        record(Check("simulator", False, f"did not start ({type(exc).__name__}: {exc})"))
        return checks
    window: Any = None
    try:
        record(Check("simulator", True, f"{sim.url} with {len(sim.working_orders())} working orders"))
        store = SessionKeyStore()
        store.set(sim.url, sim.apikey)
        window = MainWindow(
            Settings(host=sim.url, poll_interval_s=0.5), store, apikey=sim.apikey, demo=True, persist=False
        )
        window.show()
        window.start()
        shown = window.isVisible() and window.lanes is not None
        platform = app.platformName()
        if not record(Check("window", shown, f"shown on the {platform!r} display, lanes started")):
            return checks

        books: list[Any] = []
        window.lanes.bookUpdated.connect(books.append)
        got_book = _wait_until(app, lambda: any(b.orders for b in books))
        working = window.model.working_count()
        if not record(
            Check(
                "order book",
                got_book and working == ORDERS,
                f"the window shows {working} working orders"
                if got_book
                else f"no order book arrived within {STEP_TIMEOUT_S:g} s",
            )
        ):
            return checks

        reports: list[CancelReport] = []
        window.lanes.killFinished.connect(reports.append)
        window.fire("self-test")
        finished = _wait_until(app, lambda: bool(reports))
        if not finished:
            record(Check("kill", False, f"no verdict within {STEP_TIMEOUT_S:g} s"))
            return checks
        report = reports[0]
        left = len(sim.working_orders())
        record(
            Check(
                "kill",
                report.verdict is Verdict.FLAT and left == 0,
                f"verdict {report.verdict.value}, {len(report.canceled)} cancelled, "
                f"{left} still working on the server, {report.elapsed_ms:.0f} ms",
            )
        )
    finally:
        if window is not None:
            window.close()
            window.stop()
            window.deleteLater()
        sim.stop()
        app.processEvents()
    return checks


def _wait_until(app: Any, condition: Callable[[], bool], timeout_s: float = STEP_TIMEOUT_S) -> bool:
    """Run the event loop until condition() holds or timeout_s passes; whether it held."""
    from PySide6.QtCore import QEventLoop

    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)
        time.sleep(0.005)
    return True


def run(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    """Run every check, print one line each, return 0 only if all passed."""
    out = out or sys.stdout
    if (
        sys.platform.startswith("linux")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
        and not os.environ.get("QT_QPA_PLATFORM")
    ):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from core import APP_NAME, __version__

    print(
        f"{APP_NAME} {__version__} self-test ({'frozen' if getattr(sys, 'frozen', False) else 'source'})",
        file=out,
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="killswitch-self-test-") as scratch:
        # The test's settings and kill record go here, never into the trader's own.
        saved = {k: os.environ.get(k) for k in ("KILLSWITCH_CONFIG_DIR", "KILLSWITCH_DATA_DIR")}
        os.environ["KILLSWITCH_CONFIG_DIR"] = os.path.join(scratch, "config")
        os.environ["KILLSWITCH_DATA_DIR"] = os.path.join(scratch, "data")
        try:
            checks = [check_version(), check_keyring()]
            for check in checks:
                print(check.line(), file=out, flush=True)
            checks += check_window_kill(out)
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
    failed = [c.name for c in checks if not c.passed]
    expected = 6  # version, keyring, simulator, window, order book, kill
    if len(checks) < expected and not failed:
        failed = ["(a step did not run)"]
    print(
        "self-test passed" if not failed else f"self-test FAILED: {', '.join(failed)}",
        file=out,
        flush=True,
    )
    return 0 if not failed else 1
