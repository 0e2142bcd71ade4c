"""The hotkey, tray and local socket wired to the real window, against the simulator.

The keyboard is a FakeHotkey here (the real X11 grab is tested under Xvfb in tests/system);
lanes, threads, HTTP and the local socket are real.
"""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from core import instance
from core.secrets import SessionKeyStore
from core.settings import DEFAULT_HOTKEY, FiringPolicy, Settings
from core.simulator import Simulator
from tests.ui.conftest import WORKING_ORDERS
from ui.fire_sources import FireSources
from ui.hotkey import FakeHotkey
from ui.main_window import MainWindow
from ui.single_instance import SingleInstance

KILL_TIMEOUT_MS = 20_000


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KILLSWITCH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("KILLSWITCH_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
def socket_name() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="ks-f-") as tmp:
        yield str(Path(tmp) / "run" / instance.SOCKET_FILE)


Wired = tuple[MainWindow, FireSources, FakeHotkey]


@pytest.fixture
def wired(qtbot: QtBot, simulator: Simulator, dirs: Path, socket_name: str) -> Iterator[Callable[..., Wired]]:
    made: list[tuple[MainWindow, FireSources]] = []

    def make(policy: FiringPolicy = FiringPolicy.HOLD, hold_ms: int = 150) -> Wired:
        settings = Settings(host=simulator.url, firing_policy=policy, hold_ms=hold_ms, poll_interval_s=0.2)
        store = SessionKeyStore()
        store.set(settings.host, simulator.apikey)
        window = MainWindow(settings.validated(), store, apikey=simulator.apikey, persist=False)
        qtbot.addWidget(window)
        keyboard = FakeHotkey()
        socket_server = SingleInstance(socket_name)
        assert socket_server.listen()
        sources = FireSources(window, instance=socket_server, hotkey=keyboard, use_tray=False)
        window.show()
        window.start()
        assert window.lanes is not None
        # The window's own kill-finished hook is the integration point (see FireSources); until
        # the window re-emits its reports, the test takes them from the lanes directly.
        window.lanes.killFinished.connect(sources.kill_finished)
        assert sources.start().ok
        made.append((window, sources))
        qtbot.waitUntil(lambda: window.model.working_count() == WORKING_ORDERS, timeout=KILL_TIMEOUT_MS)
        return window, sources, keyboard

    yield make
    for window, sources in made:
        sources.stop()
        window.close()


def test_holding_the_hotkey_cancels_every_working_order(
    qtbot: QtBot, simulator: Simulator, wired: Callable[..., Wired]
) -> None:
    window, _, keyboard = wired(FiringPolicy.HOLD, hold_ms=150)
    assert window.lanes is not None
    with qtbot.waitSignal(window.lanes.killFinished, timeout=KILL_TIMEOUT_MS) as finished:
        keyboard.press()
    keyboard.release()
    assert finished.args[0].verdict.value == "flat"
    assert finished.args[0].trigger == "hotkey"
    assert simulator.working_orders() == []


def test_a_tap_on_the_hotkey_under_hold_to_fire_cancels_nothing(
    qtbot: QtBot, simulator: Simulator, wired: Callable[..., Wired]
) -> None:
    window, sources, keyboard = wired(FiringPolicy.HOLD, hold_ms=60_000)
    with qtbot.waitSignal(sources.trigger.holdCancelled, timeout=2000):
        keyboard.press()
        keyboard.release()
    assert window.lanes is not None and not window.lanes.kill_in_flight
    assert len(simulator.working_orders()) == WORKING_ORDERS


def test_an_immediate_hotkey_press_reaches_the_server_while_the_window_is_busy(
    qtbot: QtBot, simulator: Simulator, wired: Callable[..., Wired]
) -> None:
    window, _, keyboard = wired(FiringPolicy.IMMEDIATE)
    assert window.lanes is not None
    listener = threading.Thread(target=keyboard.press, name="hotkey-listener")  # as X11's thread
    arrived = threading.Event()
    simulator.on_request = lambda endpoint, _at: endpoint == "cancelallorder" and arrived.set()

    with qtbot.waitSignal(window.lanes.killFinished, timeout=KILL_TIMEOUT_MS) as finished:
        listener.start()
        # The UI thread is busy (handles no events) until the server has the cancel-all.
        assert arrived.wait(KILL_TIMEOUT_MS / 1000)
    listener.join()
    keyboard.release()
    simulator.on_request = None
    assert finished.args[0].trigger == "hotkey"
    assert simulator.working_orders() == []


def test_killswitch_trigger_fires_the_window_and_gets_its_verdict(
    qtbot: QtBot, simulator: Simulator, wired: Callable[..., Wired], socket_name: str
) -> None:
    window, _, _ = wired()
    assert window.lanes is not None
    answer: list[Any] = []
    client = threading.Thread(
        target=lambda: answer.append(instance.ask_window_to_fire(30.0, name=socket_name))
    )
    with qtbot.waitSignal(window.killFinished, timeout=KILL_TIMEOUT_MS):
        client.start()
    qtbot.waitUntil(lambda: bool(answer), timeout=KILL_TIMEOUT_MS)
    client.join()
    assert answer[0]["verdict"] == "flat"
    assert answer[0]["trigger"] == "command line"
    assert simulator.working_orders() == []
    assert [r.trigger for r in window.results.reports] == ["command line"]  # the results appear there


def test_a_trigger_for_another_server_is_left_to_run_on_its_own(
    qtbot: QtBot, simulator: Simulator, wired: Callable[..., Wired], socket_name: str
) -> None:
    wired()
    answer: list[Any] = []
    client = threading.Thread(
        target=lambda: answer.append(
            instance.ask_window_to_fire(30.0, host="http://10.9.9.9:5000", name=socket_name)
        )
    )
    client.start()
    qtbot.waitUntil(lambda: bool(answer), timeout=5000)
    client.join()
    assert "not http://10.9.9.9:5000" in answer[0]["error"]
    assert len(simulator.working_orders()) == WORKING_ORDERS


def test_the_status_bar_names_the_hotkey(wired: Callable[..., Wired]) -> None:
    _, sources, keyboard = wired()
    assert keyboard.chord == DEFAULT_HOTKEY
    assert sources.hotkey_label.text() == "Hotkey: Ctrl+Alt+Shift+K"
