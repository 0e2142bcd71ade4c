"""The real app on a real 1366×768 X display (Xvfb; no window manager, so the whole screen is the
available area): ``killswitch --demo`` opens with its whole window on the screen, the status bar
with the hotkey included, where the old fixed 1280×820 ran 52 pixels off the bottom."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from .conftest import require_binary, running_xvfb

pytestmark = pytest.mark.system

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 30.0


def window_geometry(xdotool: str, env: dict[str, str]) -> tuple[int, int, int, int] | None:
    """(x, y, width, height) of the demo's window, once it is mapped."""
    found = subprocess.run(
        [xdotool, "search", "--onlyvisible", "--name", "^DEMO"],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    ids = found.stdout.split()
    if not ids:
        return None
    shape = subprocess.run(
        [xdotool, "getwindowgeometry", "--shell", ids[0]],
        env=env,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    values = dict(line.split("=", 1) for line in shape.stdout.split() if "=" in line)
    return int(values["X"]), int(values["Y"]), int(values["WIDTH"]), int(values["HEIGHT"])


def test_the_demo_opens_entirely_on_a_1366x768_screen() -> None:
    xdotool = require_binary("xdotool", "xdotool")
    with running_xvfb("1366x768x24") as display, tempfile.TemporaryDirectory(prefix="ks-small-") as tmp:
        env = dict(display.env)
        env.update(
            KILLSWITCH_CONFIG_DIR=str(Path(tmp) / "config"),
            KILLSWITCH_DATA_DIR=str(Path(tmp) / "data"),
            KILLSWITCH_RUNTIME_DIR=str(Path(tmp) / "run"),
            HOME=str(Path(tmp) / "home"),
        )
        os.makedirs(env["KILLSWITCH_RUNTIME_DIR"], mode=0o700)
        app = subprocess.Popen(
            [sys.executable, "main.py", "--demo"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + WAIT_S
            shape = None
            while shape is None and time.monotonic() < deadline:
                time.sleep(0.2)
                shape = window_geometry(xdotool, env)
            assert shape is not None, "the demo's window never appeared"
            time.sleep(0.5)  # past the first paint, when the window checks its frame
            x, y, width, height = window_geometry(xdotool, env) or shape
        finally:
            app.terminate()
            app.wait(WAIT_S)

    assert x >= 0 and y >= 0
    assert x + width <= 1366 and y + height <= 768
    assert width >= 1280 and height >= 680  # and it still uses the screen
