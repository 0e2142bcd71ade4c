"""Shared by the simulator's own tests: one call to an endpoint, with the simulator's key."""

from __future__ import annotations

from typing import Any

import httpx

from core.simulator import Simulator

NO_TLS = False
"""Plain HTTP on loopback: skip loading the CA bundle, which costs ~100 ms per client."""


def call(client: httpx.Client, sim: Simulator, endpoint: str, **fields: Any) -> httpx.Response:
    return client.post(f"/api/v1/{endpoint}", json={"apikey": sim.apikey, **fields})
