"""`killswitch trigger` with no window running: it runs the kill itself (a real subprocess)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.simulator import Simulator

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def simulator() -> Iterator[Simulator]:
    server = Simulator(mode="analyze", orders=12, seed=3).start()
    try:
        yield server
    finally:
        server.stop()


def run_trigger(sim: Simulator, *extra: str, apikey: str | None = None) -> subprocess.CompletedProcess[str]:
    with tempfile.TemporaryDirectory(prefix="ks-t-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
        env.update(
            OPENALGO_API_KEY=apikey or sim.apikey,
            KILLSWITCH_RUNTIME_DIR=str(Path(tmp) / "run"),  # an empty one: no window is running
            KILLSWITCH_CONFIG_DIR=str(Path(tmp) / "config"),
            KILLSWITCH_DATA_DIR=str(Path(tmp) / "data"),
        )
        return subprocess.run(
            [sys.executable, "main.py", "trigger", "--host", sim.url, *extra],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )


def test_trigger_with_no_window_running_cancels_everything_itself(simulator: Simulator) -> None:
    working = {order["orderid"] for order in simulator.working_orders()}
    result = run_trigger(simulator, "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "flat"
    assert report["trigger"] == "command line"
    assert set(report["canceled_orders"]) == working
    assert simulator.working_orders() == []
    assert "running the kill from here" in result.stderr
    assert simulator.apikey not in result.stdout + result.stderr


def test_trigger_exits_with_the_same_code_as_cancel_all_when_the_server_refuses(simulator: Simulator) -> None:
    result = run_trigger(simulator, apikey="not-the-key-this-server-accepts")
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stdout.startswith("REFUSED")
