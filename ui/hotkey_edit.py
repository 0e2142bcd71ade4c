"""A field that records a hotkey by pressing it, for the settings dialog.

Click it, press the chord (e.g. Ctrl+Alt+Shift+K): it shows "Ctrl+Alt+Shift+K" and ``chord()``
returns pynput syntax, "<ctrl>+<alt>+<shift>+k", as stored in settings.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent
from PySide6.QtWidgets import QLineEdit, QWidget

from ui.hotkey import Chord, ChordError, describe_chord

PROMPT = "Press the keys…"
_QT_MODIFIERS = (
    (Qt.KeyboardModifier.ControlModifier, "ctrl"),
    (Qt.KeyboardModifier.AltModifier, "alt"),
    (Qt.KeyboardModifier.ShiftModifier, "shift"),
    (Qt.KeyboardModifier.MetaModifier, "cmd"),
)
if sys.platform == "darwin":  # Qt on macOS reports Command as Control and Control as Meta
    _QT_MODIFIERS = (
        (Qt.KeyboardModifier.MetaModifier, "ctrl"),
        (Qt.KeyboardModifier.AltModifier, "alt"),
        (Qt.KeyboardModifier.ShiftModifier, "shift"),
        (Qt.KeyboardModifier.ControlModifier, "cmd"),
    )
_MODIFIER_KEYS = frozenset(
    int(key)
    for key in (
        Qt.Key.Key_Control,
        Qt.Key.Key_Alt,
        Qt.Key.Key_AltGr,
        Qt.Key.Key_Shift,
        Qt.Key.Key_Meta,
        Qt.Key.Key_Super_L,
        Qt.Key.Key_Super_R,
        Qt.Key.Key_Hyper_L,
        Qt.Key.Key_Hyper_R,
        Qt.Key.Key_CapsLock,
        Qt.Key.Key_NumLock,
    )
)
_NAMED: dict[int, str] = {
    Qt.Key.Key_Space: "space",
    Qt.Key.Key_Return: "enter",
    Qt.Key.Key_Enter: "enter",
    Qt.Key.Key_Tab: "tab",
    Qt.Key.Key_Backtab: "tab",
    Qt.Key.Key_Escape: "esc",
    Qt.Key.Key_Backspace: "backspace",
    Qt.Key.Key_Delete: "delete",
    Qt.Key.Key_Insert: "insert",
    Qt.Key.Key_Home: "home",
    Qt.Key.Key_End: "end",
    Qt.Key.Key_PageUp: "page_up",
    Qt.Key.Key_PageDown: "page_down",
    Qt.Key.Key_Up: "up",
    Qt.Key.Key_Down: "down",
    Qt.Key.Key_Left: "left",
    Qt.Key.Key_Right: "right",
    Qt.Key.Key_Pause: "pause",
    Qt.Key.Key_Print: "print_screen",
    Qt.Key.Key_ScrollLock: "scroll_lock",
    **{getattr(Qt.Key, f"Key_F{n}"): f"f{n}" for n in range(1, 21)},
}
_NAMED = {int(key): name for key, name in _NAMED.items()}
# Shift turns a digit or punctuation key into another character; X11 and macOS report that
# character, so a US layout's shifted keys are mapped back to the key that was pressed.
_UNSHIFT = dict(zip('!@#$%^&*()_+{}|:"<>?~', "1234567890-=[]\\;',./`", strict=True))


def chord_from_key(key: int, modifiers: Qt.KeyboardModifier) -> str | None:
    """The pynput chord for a key press, or None for a lone modifier or a key with no name."""
    key = int(key)
    if key in _MODIFIER_KEYS or key in (0, int(Qt.Key.Key_unknown)):
        return None
    names = [name for flag, name in _QT_MODIFIERS if modifiers & flag]
    named = _NAMED.get(key)
    if named is not None:
        part = f"<{named}>"
    elif 0x20 < key < 0x7F:
        char = chr(key).lower()
        part = _UNSHIFT.get(char, char)
    else:
        return None
    return "+".join([*(f"<{n}>" for n in names), part])


class HotkeyEdit(QLineEdit):
    """Records a chord by pressing it.

    Signals:
        chordChanged(str): a new, usable chord in pynput syntax.
        problem(str): a sentence when the keys pressed cannot be a global hotkey ('' when fine).
    """

    chordChanged = Signal(str)  # noqa: N815 - Qt naming for signals
    problem = Signal(str)

    def __init__(self, chord: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)  # typed text never lands here; keys are read as a chord
        self.setPlaceholderText(PROMPT)
        self.setToolTip("Click here, then press the keys of the hotkey together.")
        self._chord = ""
        self.set_chord(chord)

    def chord(self) -> str:
        return self._chord

    def set_chord(self, chord: str) -> None:
        self._chord = chord
        self.setText(describe_chord(chord) if chord else "")

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt override
        candidate = chord_from_key(event.key(), event.modifiers())
        event.accept()
        if candidate is None:
            return  # a modifier on its own: wait for the rest of the chord
        try:
            chord = Chord.parse(candidate)
        except ChordError as exc:
            self.problem.emit(str(exc))
            return
        self.set_chord(chord.to_pynput())
        self.problem.emit("")
        self.chordChanged.emit(self._chord)

    def focusInEvent(self, event: QFocusEvent) -> None:  # noqa: N802 - Qt override
        super().focusInEvent(event)
        self.setPlaceholderText(PROMPT)
