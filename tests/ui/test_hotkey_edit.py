"""Recording a hotkey in Settings by pressing it (synthetic key events: the event is under test)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from pytestqt.qtbot import QtBot

from core.settings import DEFAULT_HOTKEY
from ui.hotkey_edit import HotkeyEdit

CTRL_ALT_SHIFT = (
    Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.ShiftModifier
)


def test_pressing_ctrl_alt_shift_k_records_the_default_chord(qtbot: QtBot) -> None:
    edit = HotkeyEdit("<ctrl>+<alt>+<f9>")
    qtbot.addWidget(edit)
    with qtbot.waitSignal(edit.chordChanged, timeout=2000) as changed:
        QTest.keyClick(edit, Qt.Key.Key_K, CTRL_ALT_SHIFT)
    assert changed.args == [DEFAULT_HOTKEY]
    assert edit.chord() == DEFAULT_HOTKEY
    assert edit.text() == "Ctrl+Alt+Shift+K"


def test_a_function_key_chord_is_recorded_by_name(qtbot: QtBot) -> None:
    edit = HotkeyEdit()
    qtbot.addWidget(edit)
    QTest.keyClick(edit, Qt.Key.Key_F12, Qt.KeyboardModifier.ControlModifier)
    assert edit.chord() == "<ctrl>+<f12>"
    assert edit.text() == "Ctrl+F12"


def test_a_bare_letter_is_refused_and_the_old_chord_kept(qtbot: QtBot) -> None:
    edit = HotkeyEdit(DEFAULT_HOTKEY)
    qtbot.addWidget(edit)
    with qtbot.waitSignal(edit.problem, timeout=2000) as problem:
        QTest.keyClick(edit, Qt.Key.Key_K, Qt.KeyboardModifier.ShiftModifier)
    assert "Ctrl, Alt or Super" in problem.args[0]
    assert edit.chord() == DEFAULT_HOTKEY


def test_modifiers_alone_wait_for_the_rest_of_the_chord(qtbot: QtBot) -> None:
    edit = HotkeyEdit(DEFAULT_HOTKEY)
    qtbot.addWidget(edit)
    with qtbot.assertNotEmitted(edit.chordChanged):
        QTest.keyPress(edit, Qt.Key.Key_Control, Qt.KeyboardModifier.ControlModifier)
        QTest.keyPress(
            edit, Qt.Key.Key_Alt, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
        )
    assert edit.chord() == DEFAULT_HOTKEY
