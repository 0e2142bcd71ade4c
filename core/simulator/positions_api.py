"""The position endpoints: positionbook and closeposition."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.simulator.quirks import Quirks
from core.simulator.replies import Reply

if TYPE_CHECKING:
    from core.simulator.api import OpenAlgoApp


def closeposition(app: OpenAlgoApp, data: dict[str, Any], quirks: Quirks) -> Reply:
    app.log()
    closed = app.book.close_all_positions(data["strategy"])
    if not app.analyze:
        # Live OpenAlgo says this whatever happened to each square-off order.
        return app.ok({"message": "All Open Positions Squared Off"})
    if closed == 0:
        return app.ok({"message": "No open positions to close"})
    return app.ok({"message": f"Closed {closed} positions", "closed_positions": closed, "failed_closures": 0})


def positionbook(app: OpenAlgoApp, data: dict[str, Any], quirks: Quirks) -> Reply:
    rows = [position.row() for position in app.book.positions()]
    if not app.analyze:
        return app.ok({"data": rows})
    unrealized = round(float(sum(row["pnl"] for row in rows if row["quantity"])), 2)
    return app.ok(
        {
            "data": rows,
            "total_pnl": unrealized,
            "total_pnl_today": unrealized,
            "total_today_realized_pnl": 0.0,
            "total_unrealized_pnl": unrealized,
        }
    )
