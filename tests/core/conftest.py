"""Fixtures for the core tests: a simulator on loopback and a plain httpx client on it.

Test modules that need a simulator set up differently define their own ``sim``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.simulator import Simulator
from tests.core.sim_http import NO_TLS


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=11) as simulator:
        yield simulator


@pytest.fixture
def client(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=5.0, verify=NO_TLS) as http:
        yield http


@pytest.fixture
def env(private_app_dirs: Path) -> dict[str, str]:
    """The environment for a command-line process: this test's folders, no key, no server, no
    keyring (a private, absent D-Bus)."""
    clean = {k: v for k, v in os.environ.items() if k not in ("OPENALGO_API_KEY", "OPENALGO_HOST")}
    clean["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={private_app_dirs}/no-bus"
    return clean
