"""The built-in OpenAlgo simulator: a fake OpenAlgo server with switchable broker quirks.

A typical use: ``with Simulator(orders=20, quirks=Quirks(failure_shape="bare")) as sim:`` then POST
``sim.url + "/api/v1/cancelallorder"`` with ``{"apikey": sim.apikey, "strategy": "ks"}``.
"""

from core.simulator.quirks import (
    FAILURE_SHAPES,
    ORDERBOOK_SHAPES,
    FailureShape,
    OrderbookShape,
    OrderSelector,
    PositionSelector,
    Quirks,
)
from core.simulator.simulator import Simulator
from core.simulator.stats import SimulatorStats

__all__ = [
    "FAILURE_SHAPES",
    "ORDERBOOK_SHAPES",
    "FailureShape",
    "OrderSelector",
    "OrderbookShape",
    "PositionSelector",
    "Quirks",
    "Simulator",
    "SimulatorStats",
]
