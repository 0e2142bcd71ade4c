"""The account endpoints: funds, ping and the analyzer's status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.simulator.quirks import Quirks
from core.simulator.replies import Reply, json_reply

if TYPE_CHECKING:
    from core.simulator.api import OpenAlgoApp


def funds(app: OpenAlgoApp, data: dict[str, Any], quirks: Quirks) -> Reply:
    if not app.analyze:
        cash = {"availablecash": "10000000.00", "collateral": "0.00", "m2mrealized": "0.00"}
        return app.ok({"data": {**cash, "m2munrealized": "0.00", "utiliseddebits": "0.00"}})
    return app.ok(
        {
            "data": {
                "availablecash": 10000000.0,
                "collateral": 0.0,
                "grossexposure": 0.0,
                "last_reset": app.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                "m2mrealized": 0.0,
                "m2munrealized": 0.0,
                "reset_count": 0,
                "today_realized_pnl": 0.0,
                "total_realized_pnl": 0.0,
                "totalpnl": 0.0,
                "utiliseddebits": 0.0,
            }
        }
    )


def ping(app: OpenAlgoApp, data: dict[str, Any], quirks: Quirks) -> Reply:
    # No mode key on ping, even in analyze mode.
    return json_reply(200, {"status": "success", "data": {"message": "pong", "broker": app.broker}})


def analyzer(app: OpenAlgoApp, data: dict[str, Any], quirks: Quirks) -> Reply:
    logs = app.logs
    analyze = app.analyze
    data_out = {"mode": "analyze" if analyze else "live", "analyze_mode": analyze, "total_logs": logs}
    return json_reply(200, {"status": "success", "data": data_out})
