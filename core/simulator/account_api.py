"""The account endpoints: funds, ping, and the analyzer's status and switch."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.simulator.quirks import Quirks
from core.simulator.replies import Reply, json_reply

if TYPE_CHECKING:
    from core.simulator.api import OpenAlgoApp

TOGGLE_REFUSED_IN_SEMI_AUTO = (
    "Operation analyzer/toggle is not allowed in Semi-Auto mode. This operation can only be performed "
    "by the client via the UI. This restriction ensures SEBI Research Analyst compliance where mode "
    "switching is a client-only decision."
)
"""What OpenAlgo means to answer (403) to a toggle from a Semi-Auto account
(services/analyzer_service.py); in 2.0.2.1 the check looks the mode up by API key instead of user id
and never fires, which the ``semi_auto_blocks_toggle`` quirk lets a test undo."""


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


def analyzer_toggle(app: OpenAlgoApp, data: dict[str, Any], quirks: Quirks) -> Reply:
    """OpenAlgo's global switch between the sandbox and the broker: from now on every endpoint acts
    on the new mode's own book, and the other book stays as it was."""
    if quirks.semi_auto and quirks.semi_auto_blocks_toggle:
        return json_reply(403, {"status": "error", "message": TOGGLE_REFUSED_IN_SEMI_AUTO})
    analyze: bool = data["mode"]
    mode = "analyze" if analyze else "live"
    app.set_mode(mode, switch_books=True)
    # Built by the service itself: no top-level "mode" key, whichever mode is on.
    payload = {
        "mode": mode,
        "analyze_mode": analyze,
        "total_logs": app.logs,
        "message": f"Analyzer mode switched to {mode}",
    }
    return json_reply(200, {"status": "success", "data": payload})
