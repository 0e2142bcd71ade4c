"""Done-when for the hotkey: under Xvfb, with the window unfocused and then minimised, a real
chord from xdotool fires a kill against the simulator and the orders are cancelled.

The window runs in its own process (tests/system/hotkey_window.py: MainWindow plus FireSources,
wired as the app wires them); the simulator runs here, on loopback. Another application's window
(made here with python-xlib) holds the keyboard focus throughout. Xvfb has no window manager, so
"minimised" is Qt's state (what the minimise button sets); nothing on X iconifies the window.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from core.simulator import Simulator

from .conftest import Xvfb
from .test_hotkey_x11 import XDOTOOL_CHORD, Probe, focused_window, probe_process, xdotool

pytestmark = pytest.mark.system

REPO = Path(__file__).resolve().parents[2]


@contextmanager
def window_process(xvfb: Xvfb, sim: Simulator) -> Iterator[Probe]:
    with tempfile.TemporaryDirectory(prefix="ks-e-") as tmp:
        env = dict(xvfb.env)
        env.update(
            OPENALGO_API_KEY=sim.apikey,
            KILLSWITCH_CONFIG_DIR=str(Path(tmp) / "config"),
            KILLSWITCH_DATA_DIR=str(Path(tmp) / "data"),
            KILLSWITCH_RUNTIME_DIR=str(Path(tmp) / "run"),
        )
        with probe_process(["tests.system.hotkey_window", sim.url], env, stop_timeout_s=20) as probe:
            yield probe


def hold_chord_until_the_kill_reports(xvfb: Xvfb, window: Probe) -> dict[str, object]:
    xdotool(xvfb, "keydown", XDOTOOL_CHORD)
    try:
        message = window.read()
    finally:
        xdotool(xvfb, "keyup", XDOTOOL_CHORD)
    return message


def test_the_hotkey_fires_the_unfocused_then_minimised_window_and_every_order_is_cancelled(
    xvfb: Xvfb,
) -> None:
    with (
        Simulator(mode="analyze", orders=20, seed=11).start() as sim,
        focused_window(xvfb) as (display, other),
        window_process(xvfb, sim) as window,
    ):
        assert window.ready["ready"]["ok"], window.ready
        other.set_input_focus(1, 0)  # RevertToPointerRoot, CurrentTime: the other app keeps the focus
        display.sync()
        assert display.get_input_focus().focus.id == other.id

        first = hold_chord_until_the_kill_reports(xvfb, window)
        assert first == {"kill": {"trigger": "hotkey", "verdict": "flat", "canceled": 20}}
        assert sim.working_orders() == []

        sim.add_random_orders(7)
        window.process.stdin.write("minimise\n")  # type: ignore[union-attr]
        window.process.stdin.flush()  # type: ignore[union-attr]
        assert window.read() == {"minimised": True}

        second = hold_chord_until_the_kill_reports(xvfb, window)
        assert second == {"kill": {"trigger": "hotkey", "verdict": "flat", "canceled": 7}}
        assert sim.working_orders() == []
        assert display.get_input_focus().focus.id == other.id
