"""The demo beside other windows: a second ``--demo`` brings the first forward instead of opening
another that complains its hotkey is taken; the real window's hotkey always comes first (a demo
leaves the chord alone while a real window is open, lets go when one opens, and a real window
that finds the demo holding it takes it once the demo lets go); and the demo takes no kills from
``killswitch trigger``."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from core import instance
from core.secrets import SessionKeyStore
from core.settings import Settings
from tests.ui.app_process import REPO, WAIT_S, private_env
from ui.fire_sources import DEMO_DEFERS, DEMO_HOLDS, DEMO_NO_TRIGGER, FireSources
from ui.hotkey import FakeHotkey
from ui.main_window import MainWindow
from ui.single_instance import SingleInstance

CHORD = "Ctrl+Alt+Shift+K"
TAKEN = "Another program already uses Ctrl+Alt+Shift+K as its shortcut; choose another in Settings."
CHECK_MS = 50


@pytest.fixture
def demo_env(tmp_path: Path) -> dict[str, str]:
    return private_env(tmp_path)


def test_a_second_demo_brings_the_first_forward_and_exits(demo_env: dict[str, str]) -> None:
    first = subprocess.Popen(
        [sys.executable, "main.py", "--demo"],
        cwd=REPO,
        env=demo_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        socket = Path(demo_env["KILLSWITCH_RUNTIME_DIR"]) / "demo.sock"
        deadline = time.monotonic() + WAIT_S
        while not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert socket.exists(), "the first demo never opened its socket"

        second = subprocess.run(
            [sys.executable, "main.py", "--demo"],
            cwd=REPO,
            env=demo_env,
            capture_output=True,
            text=True,
            timeout=WAIT_S,
            check=False,
        )

        assert second.returncode == 0, second.stderr
        assert second.stdout.strip() == "killswitch: the demo is already open; it was brought forward."
        assert "hotkey" not in (second.stdout + second.stderr).lower()
        assert first.poll() is None  # the first demo is still open
        assert not (Path(demo_env["KILLSWITCH_RUNTIME_DIR"]) / instance.SOCKET_FILE).exists()
    finally:
        first.terminate()
        first.wait(WAIT_S)


# -- the hotkey between a demo and the real window ----------------------------------------------

Wire = Callable[..., tuple[FireSources, FakeHotkey]]


@pytest.fixture
def wire(qtbot: QtBot, tmp_path: Path) -> Iterator[Wire]:
    made: list[FireSources] = []

    def make(
        *, demo: bool, peer: Callable[[], bool], keyboard: FakeHotkey | None = None, socket: str | None = None
    ) -> tuple[FireSources, FakeHotkey]:
        window = MainWindow(Settings(), SessionKeyStore(), demo=demo, persist=False)
        qtbot.addWidget(window)
        keyboard = keyboard or FakeHotkey()
        listener = None
        if socket is not None:
            listener = SingleInstance(socket)
            assert listener.listen()
        sources = FireSources(
            window,
            instance=listener,
            hotkey=keyboard,
            use_tray=False,
            demo=demo,
            peer_running=peer,
            peer_check_ms=CHECK_MS,
        )
        sources.start()
        made.append(sources)
        return sources, keyboard

    yield make
    for sources in made:
        sources.stop()


def test_a_demo_leaves_the_hotkey_to_an_open_real_window_and_says_so_calmly(wire: Wire) -> None:
    sources, keyboard = wire(demo=True, peer=lambda: True)

    assert not keyboard.active
    assert sources.hotkey_label.text() == DEMO_DEFERS.format(chord=CHORD)


def test_a_demo_lets_go_of_the_hotkey_when_a_real_window_opens(qtbot: QtBot, wire: Wire) -> None:
    real_window = [False]
    sources, keyboard = wire(demo=True, peer=lambda: real_window[0])
    assert keyboard.active
    assert sources.hotkey_label.text() == f"Hotkey: {CHORD}"

    real_window[0] = True

    qtbot.waitUntil(lambda: not keyboard.active, timeout=2000)
    assert sources.hotkey_label.text() == DEMO_DEFERS.format(chord=CHORD)


def test_a_real_window_takes_the_hotkey_as_soon_as_the_demo_lets_go(qtbot: QtBot, wire: Wire) -> None:
    held_by_demo = FakeHotkey(refuse=TAKEN)
    sources, keyboard = wire(demo=False, peer=lambda: True, keyboard=held_by_demo)
    assert not keyboard.active
    assert sources.hotkey_label.text() == DEMO_HOLDS.format(chord=CHORD)

    keyboard.refuse = None  # the demo saw this window and let go

    qtbot.waitUntil(lambda: keyboard.active, timeout=2000)
    assert sources.hotkey_label.text() == f"Hotkey: {CHORD}"


def test_a_chord_another_program_holds_is_reported_as_before_when_no_demo_is_open(wire: Wire) -> None:
    sources, keyboard = wire(demo=False, peer=lambda: False, keyboard=FakeHotkey(refuse=TAKEN))

    assert not keyboard.active
    assert sources.hotkey_label.text() == TAKEN


def test_the_demo_takes_no_kills_from_killswitch_trigger(qtbot: QtBot, wire: Wire) -> None:
    with tempfile.TemporaryDirectory(prefix="ks-demo-") as tmp:
        socket = str(Path(tmp) / "run" / "demo.sock")
        wire(demo=True, peer=lambda: False, socket=socket)
        answer: list[Any] = []
        client = threading.Thread(
            target=lambda: answer.append(instance.ask_window_to_fire(10.0, name=socket))
        )
        client.start()
        qtbot.waitUntil(lambda: bool(answer), timeout=5000)
        client.join()

    assert answer[0] == {"error": DEMO_NO_TRIGGER}
