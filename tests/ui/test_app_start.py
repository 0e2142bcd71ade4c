"""What a window start puts off until the window is on screen: it runs after the first paint, once."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QMainWindow
from pytestqt.qtbot import QtBot

from tests.ui.conftest import PaintSpy
from ui.app import AfterFirstPaint


def test_work_put_off_at_start_runs_once_after_the_window_first_painted(qtbot: QtBot) -> None:
    window = QMainWindow()
    window.setCentralWidget(QLabel("Kill Switch"))
    qtbot.addWidget(window)
    seen: list[str] = []
    spy = PaintSpy(seen)
    window.installEventFilter(spy)
    AfterFirstPaint(window, lambda: seen.append("hotkey bound"), fallback_ms=100)

    window.show()
    qtbot.waitUntil(lambda: "hotkey bound" in seen)
    qtbot.wait(200)  # past the fallback: it must not run the work a second time

    assert seen.index("painted") < seen.index("hotkey bound")
    assert seen.count("hotkey bound") == 1


def test_work_put_off_for_a_window_that_never_paints_still_runs(qtbot: QtBot) -> None:
    window = QMainWindow()
    qtbot.addWidget(window)
    ran: list[str] = []

    AfterFirstPaint(window, lambda: ran.append("hotkey bound"), fallback_ms=50)  # never shown

    qtbot.waitUntil(lambda: ran == ["hotkey bound"])
