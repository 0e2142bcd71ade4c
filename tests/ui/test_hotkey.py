"""The hotkey's chords, its firing policy and its capability check (no real keyboard: FakeHotkey).

The real X11 grab is exercised under Xvfb in tests/system/test_hotkey_x11.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from core.settings import DEFAULT_HOTKEY, FiringPolicy
from ui.hotkey import (
    FALLBACK,
    Chord,
    ChordError,
    ChordTrigger,
    FakeHotkey,
    HotkeyBridge,
    check_hotkey_capability,
)

REPO = Path(__file__).resolve().parents[2]


def test_the_default_chord_reads_as_ctrl_alt_shift_k() -> None:
    assert Chord.parse(DEFAULT_HOTKEY).describe() == "Ctrl+Alt+Shift+K"


def test_a_chord_survives_being_saved_and_read_back() -> None:
    chord = Chord.parse("<shift>+<ctrl>+<f12>")
    assert Chord.parse(chord.to_pynput()) == chord
    assert chord.to_pynput() == "<ctrl>+<shift>+<f12>"


@pytest.mark.parametrize("chord", ["k", "<shift>+k", "<ctrl>+<alt>", "<ctrl>+k+j", "<ctrl>+<bogus>"])
def test_a_chord_that_would_fire_while_typing_or_makes_no_sense_is_refused(chord: str) -> None:
    with pytest.raises(ChordError):
        Chord.parse(chord)


def test_holding_the_chord_long_enough_fires(qtbot: QtBot) -> None:
    keyboard = FakeHotkey()
    bridge = HotkeyBridge(keyboard)
    trigger = ChordTrigger(FiringPolicy.HOLD, hold_ms=100)
    bridge.pressed.connect(trigger.press)
    bridge.released.connect(trigger.release)
    assert bridge.start(DEFAULT_HOTKEY).ok
    with qtbot.waitSignal(trigger.fire, timeout=5000) as fired:
        keyboard.press()
    keyboard.release()
    assert fired.args == ["hotkey"]
    bridge.stop()


def test_letting_go_of_the_chord_early_does_not_fire(qtbot: QtBot) -> None:
    trigger = ChordTrigger(FiringPolicy.HOLD, hold_ms=60_000)
    fired: list[str] = []
    trigger.fire.connect(fired.append)
    with qtbot.waitSignal(trigger.holdCancelled, timeout=5000):
        trigger.press()
        assert trigger.holding
        trigger.release()
    assert not trigger.holding
    assert fired == []


def test_key_repeat_while_holding_fires_only_once(qtbot: QtBot) -> None:
    trigger = ChordTrigger(FiringPolicy.IMMEDIATE)
    fired: list[str] = []
    trigger.fire.connect(fired.append)
    for _ in range(5):
        trigger.press()
    trigger.release()
    trigger.press()
    assert fired == ["hotkey", "hotkey"]


def test_an_immediate_press_fires_on_the_keyboard_thread_once_until_the_chord_comes_up(
    qtbot: QtBot,
) -> None:
    keyboard = FakeHotkey()
    trigger = ChordTrigger(FiringPolicy.IMMEDIATE)
    fired_on: list[threading.Thread] = []

    def fire(name: str) -> bool:
        fired_on.append(threading.current_thread())
        return True

    bridge = HotkeyBridge(
        keyboard, press_now=lambda: trigger.press_now(fire), release_now=trigger.release_now
    )
    bridge.pressed.connect(trigger.press)
    bridge.released.connect(trigger.release)
    assert bridge.start(DEFAULT_HOTKEY).ok

    def type_on_the_keyboard_thread() -> None:
        keyboard.press()
        keyboard.press()  # key repeat
        keyboard.release()
        keyboard.press()  # a second press

    with qtbot.assertNotEmitted(trigger.fire):
        thread = threading.Thread(target=type_on_the_keyboard_thread, name="keyboard")
        thread.start()
        thread.join()
    assert fired_on == [thread, thread]
    bridge.stop()


def test_the_hold_policy_still_waits_for_the_hold_when_pressed_on_the_keyboard_thread(
    qtbot: QtBot,
) -> None:
    trigger = ChordTrigger(FiringPolicy.HOLD, hold_ms=60_000)
    assert not trigger.press_now(lambda name: True)  # handed on to press() on the UI thread
    with qtbot.waitSignal(trigger.holdStarted, timeout=2000):
        trigger.press()
    assert trigger.holding
    trigger.release()


def test_the_confirm_policy_asks_instead_of_firing(qtbot: QtBot) -> None:
    trigger = ChordTrigger(FiringPolicy.CONFIRM)
    fired: list[str] = []
    trigger.fire.connect(fired.append)
    with qtbot.waitSignal(trigger.confirm, timeout=5000) as asked:
        trigger.press()
    assert asked.args == ["hotkey"]
    assert fired == []


def test_a_press_from_the_keyboard_thread_reaches_the_ui_thread(qtbot: QtBot) -> None:
    keyboard = FakeHotkey()
    bridge = HotkeyBridge(keyboard)
    bridge.start(DEFAULT_HOTKEY)
    seen_on: list[threading.Thread] = []
    bridge.pressed.connect(lambda: seen_on.append(threading.current_thread()))
    # pynput and the X11 grab call back on their own threads; so does this one.
    keyboard_thread = threading.Thread(target=keyboard.press)
    with qtbot.waitSignal(bridge.pressed, timeout=5000):
        keyboard_thread.start()
        keyboard_thread.join()
    qtbot.waitUntil(lambda: bool(seen_on), timeout=5000)
    assert seen_on == [threading.main_thread()]
    bridge.stop()


def test_a_chord_another_program_holds_is_reported_with_the_fallback() -> None:
    keyboard = FakeHotkey(refuse="Another program already uses Ctrl+Alt+Shift+K as its shortcut.")
    capability = HotkeyBridge(keyboard).start(DEFAULT_HOTKEY)
    assert not capability.ok
    assert "Another program" in capability.sentence
    assert "killswitch trigger" in capability.fallback


def _capability_in_clean_process(env: dict[str, str]) -> dict[str, object]:
    """The check in a fresh interpreter: nothing from this test process's display leaks in."""
    code = (
        "import json, dataclasses\n"
        "from ui.hotkey import check_hotkey_capability\n"
        "print(json.dumps(dataclasses.asdict(check_hotkey_capability())))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def _base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "PYTHONPATH", "VIRTUAL_ENV", "TMPDIR")
    return {k: v for k, v in os.environ.items() if k in keep} | {"QT_QPA_PLATFORM": "offscreen"}


def test_without_a_display_the_check_says_there_is_no_x11_display() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("X11 is the Linux hotkey")
    capability = _capability_in_clean_process(_base_env())
    assert capability["ok"] is False
    assert "no X11 display" in str(capability["sentence"])
    assert capability["fallback"] == FALLBACK


def test_a_wayland_session_without_x11_is_named_as_such() -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("X11 is the Linux hotkey")
    capability = check_hotkey_capability(env={"XDG_SESSION_TYPE": "wayland", "WAYLAND_DISPLAY": "wayland-0"})
    assert not capability.ok
    assert "Wayland" in capability.sentence
    assert "killswitch trigger" in capability.fallback
