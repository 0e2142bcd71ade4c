"""Fixtures for the core tests: a simulator on loopback and a plain httpx client on it.

Test modules that need a simulator set up differently define their own ``sim``.
"""

from __future__ import annotations

from collections.abc import Iterator

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
