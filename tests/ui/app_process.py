"""The real window as a process (``python main.py --host URL``, offscreen, key from
``$OPENALGO_API_KEY``) and ``killswitch trigger`` as a script runs it, for the tests that stop,
kill or close the app in the middle of a kill."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from core.simulator import Simulator

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 30.0
FOREIGN = ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR")


def private_env(tmp_path: Path) -> dict[str, str]:
    """An environment for the app: private folders under ``tmp_path``, no display (offscreen)."""
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    base = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    return base | {
        "QT_QPA_PLATFORM": "offscreen",
        "KILLSWITCH_CONFIG_DIR": str(tmp_path / "config"),
        "KILLSWITCH_DATA_DIR": str(tmp_path / "data"),
        "KILLSWITCH_RUNTIME_DIR": str(runtime),
        "HOME": str(tmp_path / "home"),
        "PYTHONUNBUFFERED": "1",
    }


def app_env(tmp_path: Path, sim: Simulator) -> dict[str, str]:
    """An environment for the app and its triggers: private folders, no display, the key."""
    return private_env(tmp_path) | {"OPENALGO_API_KEY": sim.apikey}


@contextlib.contextmanager
def app(env: dict[str, str], url: str) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen(
        [sys.executable, "main.py", "--host", url],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=WAIT_S)


def trigger(env: dict[str, str], url: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "main.py", "trigger", "--host", url, *extra],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_until(
    what: str, done: threading.Event | None = None, check: Callable[[], bool] | None = None
) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if done is not None and done.is_set():
            return
        if check is not None and check():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {WAIT_S:g} s")


ACCEPTED = "the window took the kill"
"""What ``killswitch trigger`` says on stderr once the window has taken its press."""


def taken(process: subprocess.Popen[str]) -> threading.Event:
    """An event set once this trigger says the window took its press (its first stderr line)."""
    event = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        if ACCEPTED in process.stderr.readline():
            event.set()

    threading.Thread(target=read, daemon=True).start()
    return event
