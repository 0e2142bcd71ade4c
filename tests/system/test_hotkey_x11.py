"""The X11 hotkey against a real X server (Xvfb) and real key events (xdotool, via XTEST).

The hotkey runs in its own process (tests/system/hotkey_probe.py) with DISPLAY set, as the app
does; this process plays "another application": it owns the window that has the focus, and in
one test it grabs the chord first.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from Xlib import XK, X
from Xlib.display import Display

from .conftest import Xvfb, require_binary

pytestmark = pytest.mark.system

REPO = Path(__file__).resolve().parents[2]
CHORD = "<ctrl>+<alt>+<shift>+k"
XDOTOOL_CHORD = "ctrl+alt+shift+k"
LINE_TIMEOUT_S = 20.0


class Probe:
    """The probe's JSON lines, read on a thread so none is lost in a buffer between reads."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._pump, daemon=True)
        self.reader.start()
        self.ready: dict[str, Any] = self.read()

    def _pump(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        for line in stdout:
            self.lines.put(line)
        self.lines.put("")

    def read(self) -> dict[str, Any]:
        try:
            line = self.lines.get(timeout=LINE_TIMEOUT_S)
        except queue.Empty:
            line = ""
        if not line:
            raise AssertionError("the hotkey probe said nothing more (its stderr is checked on exit)")
        return json.loads(line)

    def events(self, count: int) -> list[str]:
        return [self.read()["event"] for _ in range(count)]


@contextmanager
def probe_process(args: list[str], env: dict[str, str], stop_timeout_s: float = 15) -> Iterator[Probe]:
    """Run ``python -m <args>`` as a probe; on exit close its stdin (its cue to stop) and require
    a clean exit with nothing on stderr (no Qt warnings, no tracebacks)."""
    process = subprocess.Popen(
        [sys.executable, "-m", *args],
        cwd=REPO,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    probe: Probe | None = None
    try:
        probe = Probe(process)
        yield probe
    finally:
        stdin, stderr = process.stdin, process.stderr
        assert stdin is not None and stderr is not None
        stdin.close()
        try:
            process.wait(timeout=stop_timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if probe is not None:
            probe.reader.join(5)
        err = stderr.read()
        stderr.close()
        if process.stdout is not None:
            process.stdout.close()
    assert process.returncode == 0, err
    assert err == "", err


@contextmanager
def hotkey_probe(xvfb: Xvfb, chord: str = CHORD) -> Iterator[Probe]:
    with probe_process(["tests.system.hotkey_probe", chord], xvfb.env) as probe:
        yield probe


def xdotool(xvfb: Xvfb, *args: str) -> None:
    subprocess.run([require_binary("xdotool", "xdotool"), *args], env=xvfb.env, check=True, timeout=30)


@contextmanager
def focused_window(xvfb: Xvfb) -> Iterator[tuple[Display, Any]]:
    """Another application's window, mapped and holding the keyboard focus."""
    display = Display(xvfb.display)
    try:
        root = display.screen().root
        window = root.create_window(
            0, 0, 400, 300, 0, X.CopyFromParent, event_mask=X.KeyPressMask | X.KeyReleaseMask
        )
        window.map()
        display.sync()
        window.set_input_focus(X.RevertToParent, X.CurrentTime)
        display.sync()
        yield display, window
        window.destroy()
        display.sync()
    finally:
        display.close()


def keys_seen_by(display: Display, keycode: int) -> int:
    display.sync()
    seen = 0
    while display.pending_events():
        event = display.next_event()
        if event.type in (X.KeyPress, X.KeyRelease) and event.detail == keycode:
            seen += 1
    return seen


def test_the_chord_pressed_in_another_application_reaches_the_hotkey_and_not_that_application(
    xvfb: Xvfb,
) -> None:
    with focused_window(xvfb) as (display, other), hotkey_probe(xvfb) as probe:
        assert probe.ready["ready"]["ok"], probe.ready
        assert display.get_input_focus().focus.id == other.id != probe.ready["window"]
        xdotool(xvfb, "key", XDOTOOL_CHORD)
        assert probe.events(2) == ["pressed", "released"]
        k = display.keysym_to_keycode(XK.string_to_keysym("k"))
        assert keys_seen_by(display, k) == 0  # grabbed: the focused application never saw the K


def test_holding_the_chord_is_one_press_until_it_is_let_go(xvfb: Xvfb) -> None:
    with focused_window(xvfb), hotkey_probe(xvfb) as probe:
        xdotool(xvfb, "keydown", XDOTOOL_CHORD)
        assert probe.events(1) == ["pressed"]
        # Held past the X server's key-repeat delay (660 ms): repeats must not read as let-go.
        time.sleep(1.5)
        xdotool(xvfb, "keyup", XDOTOOL_CHORD)
        assert probe.events(1) == ["released"]
        xdotool(xvfb, "key", XDOTOOL_CHORD)
        assert probe.events(2) == ["pressed", "released"]  # nothing stray was queued in between


def test_a_chord_another_program_grabbed_is_reported_not_silently_dead(xvfb: Xvfb) -> None:
    display = Display(xvfb.display)
    try:
        keycode = display.keysym_to_keycode(XK.string_to_keysym("k"))
        modifiers = X.ControlMask | X.Mod1Mask | X.ShiftMask
        display.screen().root.grab_key(keycode, modifiers, False, X.GrabModeAsync, X.GrabModeAsync)
        display.sync()
        with hotkey_probe(xvfb) as probe:
            ready = probe.ready["ready"]
        assert ready["ok"] is False
        assert ready["sentence"].startswith("Another program already uses Ctrl+Alt+Shift+K")
        assert "killswitch trigger" in ready["fallback"]
    finally:
        display.close()


def test_the_capability_check_finds_the_display_and_a_free_chord(xvfb: Xvfb) -> None:
    code = (
        "import dataclasses, json; from ui.hotkey import check_hotkey_capability as c; "
        "print(json.dumps(dataclasses.asdict(c())))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=xvfb.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert json.loads(done.stdout) == {
        "ok": True,
        "sentence": "Ctrl+Alt+Shift+K fires the kill from any application.",
        "fallback": "",
    }
