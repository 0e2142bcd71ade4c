"""The crash path: an unexpected exception is logged, shown with copyable details (key removed),
and the app stays usable -- the panic button still ends a kill flat.

pytest-qt normally catches exceptions raised in Qt slots and virtuals itself (by swapping
``sys.excepthook`` for the duration of each test) and fails the test. These tests are about what
the *app* does with such an exception, so they turn that capture off
(``qt_no_exception_capture``) and install the app's own ``CrashReporter``, which takes over
``sys.excepthook`` and ``threading.excepthook`` exactly as ``ui.app.run`` does, and restores
them at the end. Everything else is real: lanes, threads, HTTP to the simulator, the log file.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from pytestqt.qtbot import QtBot

from core.log_file import KeyRedactor, close_log, open_log
from core.one_kill import RunningKill
from core.orders import Order
from core.report import CancelReport, Verdict
from core.secrets import SessionKeyStore
from core.settings import FiringPolicy, Settings
from core.simulator import Simulator
from tests.ui.conftest import WORKING_ORDERS
from ui.crash_report import HEADLINE, CrashReporter
from ui.main_window import MainWindow

KILL_TIMEOUT_MS = 20_000


@pytest.fixture
def window(
    qtbot: QtBot, simulator: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MainWindow]:
    monkeypatch.setenv("KILLSWITCH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("KILLSWITCH_DATA_DIR", str(tmp_path / "data"))
    settings = Settings(host=simulator.url, firing_policy=FiringPolicy.IMMEDIATE, poll_interval_s=0.2)
    store = SessionKeyStore()
    store.set(settings.host, simulator.apikey)
    win = MainWindow(settings.validated(), store, apikey=simulator.apikey, persist=False)
    qtbot.addWidget(win)
    win.show()
    win.start()
    qtbot.waitUntil(lambda: win.model.working_count() == WORKING_ORDERS, timeout=KILL_TIMEOUT_MS)
    yield win
    win.close()


@pytest.fixture
def reporter(window: MainWindow, tmp_path: Path) -> Iterator[CrashReporter]:
    log_path = open_log(window.redactor, tmp_path / "data" / "logs")
    crash = CrashReporter(window.redactor, log_path, dialog_parent=window)
    crash.install()
    yield crash
    crash.uninstall()
    close_log()


@pytest.mark.qt_no_exception_capture
def test_an_exception_in_a_slot_is_shown_and_logged_without_the_key_and_the_button_still_works(
    qtbot: QtBot, simulator: Simulator, window: MainWindow, reporter: CrashReporter
) -> None:
    key = simulator.apikey

    def broken_slot() -> None:
        raise RuntimeError(f"request with apikey={key} could not be prepared")

    QTimer.singleShot(0, broken_slot)  # raised inside Qt's event loop, as a buggy slot would
    qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.isVisible(), timeout=5000)
    dialog = reporter.dialog
    assert dialog is not None
    details = dialog.details.toPlainText()
    assert "RuntimeError: request with apikey=<APIKEY> could not be prepared" in details
    assert "broken_slot" in details  # the traceback is there for whoever reads the report
    assert key not in details
    assert dialog.headline.text().startswith(HEADLINE)
    dialog.copy_button.click()
    clipboard = QGuiApplication.clipboard()
    assert clipboard is not None and clipboard.text() == details

    log_text = reporter.log_path.read_text("utf-8") if reporter.log_path else ""
    assert "Unexpected error in the window" in log_text and "apikey=<APIKEY>" in log_text
    assert key not in log_text

    with qtbot.waitSignal(window.killFinished, timeout=KILL_TIMEOUT_MS) as finished:
        window.button.click()
    assert finished.args[0].verdict is Verdict.FLAT
    assert simulator.working_orders() == []


@pytest.mark.qt_no_exception_capture
def test_an_exception_on_another_thread_is_reported_once_in_the_same_dialog(
    qtbot: QtBot, simulator: Simulator, window: MainWindow, reporter: CrashReporter
) -> None:
    def worker() -> None:
        raise ValueError(f"bad reply for {simulator.apikey}")

    first = threading.Thread(target=worker, name="helper-1")
    first.start()
    first.join()
    qtbot.waitUntil(lambda: reporter.dialog is not None and reporter.dialog.isVisible(), timeout=5000)
    QTimer.singleShot(0, lambda: 1 / 0)
    qtbot.waitUntil(lambda: reporter.count == 2, timeout=5000)
    dialog = reporter.dialog
    assert dialog is not None
    qtbot.waitUntil(lambda: "ZeroDivisionError" in dialog.details.toPlainText(), timeout=5000)
    text = dialog.details.toPlainText()
    assert "in thread helper-1" in text and "ValueError: bad reply for <APIKEY>" in text
    assert simulator.apikey not in text
    assert len(window.findChildren(type(dialog))) == 1


def test_a_redactor_knows_every_key_the_window_was_given(simulator: Simulator, window: MainWindow) -> None:
    assert window.redactor.redact(f"x{simulator.apikey}y") == "x<APIKEY>y"
    assert isinstance(window.redactor, KeyRedactor)


@pytest.mark.qt_no_exception_capture
def test_a_fault_on_the_kill_lane_ends_that_kill_unverified_and_the_next_press_fires(
    qtbot: QtBot, simulator: Simulator, window: MainWindow, reporter: CrashReporter
) -> None:
    lanes = window.lanes
    assert lanes is not None
    real_run = lanes.one.run
    calls: list[int] = []

    def run_with_a_fault(kill: RunningKill) -> CancelReport:
        calls.append(1)
        if len(calls) == 1:  # the first kill meets a bug before it sends anything
            raise RuntimeError("injected fault on the kill lane")
        return real_run(kill)

    lanes.one.run = run_with_a_fault  # type: ignore[method-assign]  # the injected fault
    with qtbot.waitSignal(window.killFinished, timeout=KILL_TIMEOUT_MS) as first:
        window.fire("button")
    report: CancelReport = first.args[0]
    assert report.verdict is Verdict.UNVERIFIED and "internal error" in report.message
    qtbot.waitUntil(lambda: reporter.count == 1, timeout=5000)  # shown and logged
    assert "injected fault on the kill lane" in reporter.log_path.read_text("utf-8")  # type: ignore[union-attr]
    assert not lanes.kill_in_flight

    with qtbot.waitSignal(window.killFinished, timeout=KILL_TIMEOUT_MS) as second:
        window.fire("hotkey")  # the lane survived: this press fires normally
    assert second.args[0].verdict is Verdict.FLAT
    assert simulator.working_orders() == []


@pytest.mark.qt_no_exception_capture
def test_a_fault_on_the_poll_lane_is_reported_and_polling_goes_on(
    qtbot: QtBot, simulator: Simulator, window: MainWindow, reporter: CrashReporter
) -> None:
    lanes = window.lanes
    assert lanes is not None
    tracker = lanes.poll_lane._tracker  # the injected fault: the next row it parses raises
    real_parse = tracker.parse_row
    faults: list[int] = []

    def parse_with_a_fault(row: Any) -> Order:
        if not faults:
            faults.append(1)
            raise RuntimeError("injected fault on the poll lane")
        return real_parse(row)

    tracker.parse_row = parse_with_a_fault  # type: ignore[method-assign]
    qtbot.waitUntil(lambda: reporter.count == 1, timeout=5000)
    simulator.add_random_orders(2)
    qtbot.waitUntil(lambda: window.model.working_count() == WORKING_ORDERS + 2, timeout=5000)
