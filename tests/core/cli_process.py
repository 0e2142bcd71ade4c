"""The command line as a script runs it: ``python main.py ...`` in its own process."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.simulator import Simulator

ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def start_cli(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for_requests(
    proc: subprocess.Popen[str],
    sim: Simulator,
    endpoint: str = "cancelallorder",
    count: int = 1,
    timeout: float = 20.0,
) -> None:
    """Return once ``sim`` has received ``count`` requests to ``endpoint``; fail with the command's
    stderr if it ends first or the time runs out, rather than hang until pytest's own timeout."""
    ends = time.monotonic() + timeout
    while sim.stats.requests.get(endpoint, 0) < count:
        if proc.poll() is not None:
            _, err = proc.communicate()
            pytest.fail(f"the command ended ({proc.returncode}) before {count} {endpoint}:\n{err}")
        if time.monotonic() > ends:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"no {count} {endpoint} within {timeout:.0f} s:\n{err}")
        time.sleep(0.01)
