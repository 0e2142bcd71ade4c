"""SIGKILL of the real app in the middle of a kill: the record survives, and the next start says so.

The app is the real window process (``python main.py --host URL``, offscreen, key from
``$OPENALGO_API_KEY``), fired the way a script fires it (``python main.py trigger`` over the
one-instance socket). The simulator runs in this test process; its ``cancelorder`` is made
slow so the second kill is caught half-way, after the cancel-all, during the sweep.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from core.record import RECORD_FILE_NAME, KillRecord, KillState
from core.simulator import Quirks, Simulator

REPO = Path(__file__).resolve().parents[2]
WAIT_S = 30.0
FOREIGN = ("DISPLAY", "WAYLAND_DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "XDG_RUNTIME_DIR")


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(mode="analyze", orders=8, seed=11) as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, sim: Simulator) -> dict[str, str]:
    runtime = tmp_path / "run"
    runtime.mkdir(mode=0o700)
    base = {k: v for k, v in os.environ.items() if k not in FOREIGN}
    return base | {
        "QT_QPA_PLATFORM": "offscreen",
        "KILLSWITCH_CONFIG_DIR": str(tmp_path / "config"),
        "KILLSWITCH_DATA_DIR": str(tmp_path / "data"),
        "KILLSWITCH_RUNTIME_DIR": str(runtime),
        "HOME": str(tmp_path / "home"),
        "OPENALGO_API_KEY": sim.apikey,
        "PYTHONUNBUFFERED": "1",
    }


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


def trigger(env: dict[str, str], url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "main.py", "trigger", "--host", url],
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


@pytest.mark.skipif("sys.platform == 'win32'", reason="SIGKILL is POSIX")
def test_sigkill_during_a_kill_leaves_the_record_intact_and_the_next_start_marks_it_interrupted(
    sim: Simulator, env: dict[str, str], tmp_path: Path
) -> None:
    polled, sweeping = threading.Event(), threading.Event()

    def seen(endpoint: str, _at: float) -> None:
        if endpoint == "orderbook":
            polled.set()
        if endpoint == "cancelorder":
            sweeping.set()

    sim.on_request = seen
    record_path = tmp_path / "data" / RECORD_FILE_NAME
    log_path = tmp_path / "data" / "logs" / "killswitch.log"

    with app(env, sim.url) as first:
        wait_until("the first poll", polled)
        done = trigger(env, sim.url)
        out, err = done.communicate(timeout=WAIT_S)
        assert done.returncode == 0, err
        assert sim.working_orders() == []

        # The next kill: cancel-all leaves every order (as some brokers do), and each single
        # cancel of the sweep hangs, so the kill is caught in the middle.
        sim.quirks = Quirks(
            cancelall_skips_pricetypes=frozenset({"LIMIT", "SL", "SL-M", "MARKET"}),
            endpoint_delay_s={"cancelorder": 60.0},
        )
        sim.add_random_orders(4)
        second = trigger(env, sim.url)
        wait_until("the sweep's first cancelorder", sweeping)
        first.send_signal(signal.SIGKILL)
        first.wait(WAIT_S)
        assert first.returncode == -signal.SIGKILL

        # The window hung up without a verdict, so `trigger` runs the kill itself (and says so).
        sim.quirks = Quirks()
        out, err = second.communicate(timeout=WAIT_S)
        assert "No Kill Switch window answered; running the kill from here." in err
        assert second.returncode == 0, out + err
        assert sim.working_orders() == []

    with KillRecord(record_path) as after_crash:  # opened as the app opens it, before it starts
        assert after_crash.integrity_check() == "ok"
        # Newest first: the kill `trigger` ran itself, the one cut off, the earlier one.
        headless, interrupted, finished = after_crash.history()
        assert headless.state is KillState.FINISHED and headless.verdict == "flat"
        assert headless.trigger == "command line"
        assert finished.state is KillState.FINISHED and finished.verdict == "flat"
        assert finished.trigger == "command line" and finished.cancelled == 8
        assert interrupted.state is KillState.RUNNING  # begun, never finished
        details = after_crash.details(interrupted.kill_id)
        assert details is not None
        assert [x.endpoint for x in details.exchanges][:2] == ["cancelallorder", "orderbook"]

    polled.clear()
    with app(env, sim.url) as again:
        wait_until("the interrupted kill in the log", check=lambda: "was interrupted" in _text(log_path))
        wait_until("the restarted app's first poll", polled)  # running: its signal handlers are set
        again.send_signal(signal.SIGTERM)  # closes the window as a logout would
        out, err = again.communicate(timeout=WAIT_S)
        assert again.returncode == 0, err
    started = time.strftime("%H:%M:%S", time.localtime(interrupted.started_at))
    assert (
        f"A kill started at {started} was interrupted (the app closed or crashed) — "
        "check the order book in OpenAlgo." in _text(log_path)
    )
    with KillRecord(record_path) as reopened:
        assert reopened.integrity_check() == "ok"
        states = {k.kill_id: k.state for k in reopened.history()}
        assert states == {
            headless.kill_id: KillState.FINISHED,
            interrupted.kill_id: KillState.INTERRUPTED,
            finished.kill_id: KillState.FINISHED,
        }
    assert sim.apikey not in _text(log_path)


def _text(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        return ""
