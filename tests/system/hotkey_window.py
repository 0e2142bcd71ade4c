"""The real window with its fire sources (hotkey, tray, local socket), in a process of its own.

Run with DISPLAY set to the test's Xvfb (Qt's xcb platform and the X11 hotkey bind it at start):

    OPENALGO_API_KEY=... python -m tests.system.hotkey_window http://127.0.0.1:PORT

It wires ui.fire_sources.FireSources to ui.main_window.MainWindow the way the app does, with
hold-to-fire (300 ms). stdout, JSON lines: {"ready": capability, "window": X id}, then
{"kill": {"trigger", "verdict", "canceled"}} after each kill and {"minimised": bool} after each
"minimise" read from stdin. It exits when stdin closes.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import tempfile
from pathlib import Path

from PySide6.QtCore import QSocketNotifier
from PySide6.QtWidgets import QApplication

from core.report import CancelReport
from core.secrets import SessionKeyStore
from core.settings import FiringPolicy, Settings
from ui.fire_sources import FireSources
from ui.main_window import MainWindow
from ui.single_instance import SingleInstance

HOLD_MS = 300


def say(message: dict[str, object]) -> None:
    print(json.dumps(message), flush=True)


def main() -> int:
    host, apikey = sys.argv[1], os.environ["OPENALGO_API_KEY"]
    app = QApplication(sys.argv[:1])
    settings = Settings(host=host, firing_policy=FiringPolicy.HOLD, hold_ms=HOLD_MS, poll_interval_s=0.5)
    store = SessionKeyStore()
    store.set(host, apikey)
    window = MainWindow(settings.validated(), store, apikey=apikey, persist=False)
    with tempfile.TemporaryDirectory(prefix="ks-w-") as tmp:
        instance = SingleInstance(str(Path(tmp) / "window.sock"))
        instance.listen()
        sources = FireSources(window, instance=instance)

        def finished(report: CancelReport) -> None:
            sources.kill_finished(report)
            say(
                {
                    "kill": {
                        "trigger": report.trigger,
                        "verdict": report.verdict.value,
                        "canceled": len(report.canceled),
                    }
                }
            )

        def command() -> None:
            line = sys.stdin.readline()
            if not line:
                window.close()
                app.quit()
            elif line.strip() == "minimise":
                window.showMinimized()
                app.processEvents()
                say({"minimised": window.isMinimized()})

        window.show()
        window.start()
        assert window.lanes is not None
        window.lanes.killFinished.connect(finished)
        capability = sources.start()
        stdin = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)
        stdin.activated.connect(command)
        say({"ready": dataclasses.asdict(capability), "window": int(window.winId())})
        code = app.exec()
        stdin.setEnabled(False)
        sources.stop()
        window.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
