"""A whole trading session with the real window, driven like a trader would, in a fresh process.

Run by tests/system/test_whole_session.py with the environment of a private Secret Service
(keyring picks its backend once per process, from the environment it starts in, so only a
fresh process gets exactly what the app gets) and private config, data and temp directories:

    python -X dev -W error -m tests.system.session_script URL EXPORT_DIR

stdin: the API key on the first line (never on the command line, where `ps` would show it),
then one "ok" line in answer to each request for the simulator below.
stdout: requests for the simulator, which runs in the test process, as "@@ <command>" lines
("add-orders N", "quirks already-executed", "quirks none", "stop"); then everything the
session showed, and one JSON line "RESULT {...}" with what happened.

The session: the key typed into Settings (saved to the keyring) and "Test connection"; polling;
kills -- flat (button), flat with failures (hotkey), refused by a wrong key (tray), flat again
(command line), unreachable with the server stopped; History and an export to CSV and JSON;
then a slot and a background thread raising, each with the key in its message (the crash path).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QApplication, QLabel, QLineEdit, QPlainTextEdit, QTextEdit

from core.log_file import KeyRedactor, close_log, open_log
from core.report import CancelReport
from ui.app import build_session, connect_fire_sources, parse, prepare_app
from ui.crash_report import CrashReporter
from ui.settings_dialog import SettingsDialog

TIMEOUT_S = 30.0


def wait_for(app: QApplication, what: str, done: Callable[[], bool]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not done():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not happen within {TIMEOUT_S:g} s")
        app.processEvents()
        time.sleep(0.01)


def ask_simulator(command: str) -> None:
    print(f"@@ {command}", flush=True)
    answer = sys.stdin.readline().strip()
    if answer != "ok":
        raise RuntimeError(f"the test answered {answer!r} to {command!r}")


def screen_text(app: QApplication) -> list[str]:
    """Every text a trader could see in any widget, as shown (password fields masked)."""
    seen: list[str] = []
    for widget in app.allWidgets():
        if isinstance(widget, QLabel):
            seen.append(widget.text())
        elif isinstance(widget, QLineEdit):
            seen.append(widget.displayText())
        elif isinstance(widget, QTextEdit | QPlainTextEdit):
            seen.append(widget.toPlainText())
        seen.append(widget.windowTitle())
        seen.append(widget.toolTip())
    return [t for t in seen if t]


def main() -> int:
    url, export_dir = sys.argv[1], Path(sys.argv[2])
    key = sys.stdin.readline().strip()
    app = QApplication([sys.argv[0]])
    prepare_app(app)
    redactor = KeyRedactor()
    log_path = open_log(redactor)
    session = build_session(parse([]), redactor=redactor)  # the saved settings, the OS keyring
    window = session.window
    reporter = CrashReporter(redactor, log_path, dialog_parent=window)
    reporter.install()
    connect_fire_sources(session, None)
    result: dict[str, Any] = {"kills": []}
    reports: list[CancelReport] = []
    window.killFinished.connect(reports.append)

    def settings_with_key(typed: str) -> SettingsDialog:
        if window.settings_dialog is None:
            window.open_settings()
        dialog = window.settings_dialog
        assert dialog is not None
        dialog.host_edit.setText(url)
        dialog.key_edit.setText(typed)
        return dialog

    def kill(fire: Callable[[], None]) -> CancelReport:
        before = len(reports)
        fire()
        wait_for(app, "a kill", lambda: len(reports) > before)
        report = reports[-1]
        result["kills"].append(
            {
                "trigger": report.trigger,
                "verdict": report.verdict.value,
                "cancelled": len(report.canceled),
                "failures": len(report.failures),
            }
        )
        return report

    try:
        window.show()
        window.start()  # reads the keyring off the UI thread; no key yet: it says so, opens Settings
        wait_for(app, "the keyring's answer", lambda: window.settings_dialog is not None)
        result["key_store"] = type(window.key_store).__name__
        result["first_notice"] = window.notice()
        dialog = settings_with_key(key)
        dialog.test_button.click()
        wait_for(app, "the connection test", lambda: dialog.test_result.text().startswith("Key"))
        result["connection_test"] = dialog.test_result.text()
        dialog.save_button.click()
        wait_for(app, "the first poll", lambda: window.model.working_count() > 0)

        kill(lambda: window.fire("button"))
        ask_simulator("add-orders 6")
        ask_simulator("quirks already-executed")
        wait_for(app, "the new orders", lambda: window.model.working_count() == 6)
        kill(lambda: window.fire("hotkey"))

        ask_simulator("quirks none")
        settings_with_key("wrong-" + key[::-1]).save_button.click()
        wait_for(app, "the wrong key's rejection", lambda: window.warning().startswith("KEY REJECTED"))
        result["wrong_key_bar"] = window.connection_bar.text()
        kill(lambda: window.request_fire("tray"))
        settings_with_key(key).save_button.click()
        ask_simulator("add-orders 3")
        wait_for(app, "the book again", lambda: window.model.working_count() == 3)
        kill(lambda: window.fire("command line"))

        ask_simulator("stop")
        wait_for(app, "the stopped server", lambda: window.warning().startswith("SERVER UNREACHABLE"))
        result["stopped_bar"] = window.connection_bar.text()
        kill(lambda: window.fire("button"))

        window.choose_export_path = lambda _parent, _caption, suggested, _filter: str(export_dir / suggested)
        window.open_history()
        history = window.history_dialog
        assert history is not None
        history.export_csv_button.click()
        history.export_json_button.click()
        result["export_status"] = history.status.text()
        result["history_rows"] = history.table.rowCount()

        def broken_slot() -> None:
            raise RuntimeError(f"could not build the request {{'apikey': '{key}'}}")

        def broken_thread() -> None:
            raise ValueError(f"the reply quoted the key {key}")

        QTimer.singleShot(0, broken_slot)
        wait_for(app, "the crash dialog", lambda: reporter.dialog is not None and reporter.count == 1)
        worker = threading.Thread(target=broken_thread, name="session-helper")
        worker.start()
        worker.join()
        wait_for(app, "the second crash report", lambda: reporter.count == 2)
        app.processEvents()
        crash = reporter.dialog
        assert crash is not None
        crash.copy_button.click()
        clipboard = QGuiApplication.clipboard()
        result["crash_details"] = clipboard.text() if clipboard is not None else ""
        result["kill_after_crash"] = kill(lambda: window.fire("button")).verdict.value  # still works
        result["screen"] = screen_text(app)
        result["results_pane"] = window.results.toPlainText()
    finally:
        session.close()
        reporter.uninstall()
        close_log()
    result["log_path"] = str(log_path)
    print("RESULT " + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
