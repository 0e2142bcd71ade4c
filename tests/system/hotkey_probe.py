"""The X11 hotkey in a process of its own, reporting what it hears as JSON lines.

pynput and Qt's xcb platform bind a display when they start, so the hotkey side of a system
test runs here, with DISPLAY set to the test's Xvfb:

    python -m tests.system.hotkey_probe "<ctrl>+<alt>+<shift>+k"

stdout: {"ready": {"ok": ..., "sentence": ...}, "window": <X id of the probe's window>}, then
{"event": "pressed"} / {"event": "released"} as HotkeyBridge's signals arrive on the Qt UI
thread. It shows an ordinary window (which never has the focus) and exits when stdin closes.
"""

from __future__ import annotations

import dataclasses
import json
import sys

from PySide6.QtCore import QSocketNotifier
from PySide6.QtWidgets import QApplication, QLabel

from ui.hotkey import HotkeyBridge
from ui.hotkey_x11 import X11Hotkey


def say(message: dict[str, object]) -> None:
    print(json.dumps(message), flush=True)


def main() -> int:
    app = QApplication(sys.argv[:1])
    window = QLabel("hotkey probe")
    window.setWindowTitle("hotkey probe")
    window.show()
    bridge = HotkeyBridge(X11Hotkey())
    bridge.pressed.connect(lambda: say({"event": "pressed"}))
    bridge.released.connect(lambda: say({"event": "released"}))
    capability = bridge.start(sys.argv[1])
    stdin = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)
    stdin.activated.connect(lambda: app.quit() if not sys.stdin.readline() else None)
    say({"ready": dataclasses.asdict(capability), "window": int(window.winId())})
    code = app.exec()
    stdin.setEnabled(False)
    bridge.stop()
    return code


if __name__ == "__main__":
    sys.exit(main())
