"""The incident report: kills out of the record as CSV (one row per order outcome) or JSON (whole
kills with every exchange), written atomically."""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from core.files import write_atomically
from core.orders import text
from core.record.model import KillDetails, iso

CSV_COLUMNS: Final = (
    "kill_id",
    "kill_time",
    "trigger",
    "server",
    "mode",
    "state",
    "verdict",
    "orderid",
    "outcome",
    "reason",
    "symbol",
    "exchange",
    "action",
    "quantity",
    "price",
    "trigger_price",
    "pricetype",
    "product",
    "order_status",
    "message",
    "trigger_to_verified_ms",
)


def export_csv(kills: Sequence[KillDetails], path: Path | str) -> int:
    """Write the incident report: one row per order outcome (a kill with none gets one row of
    its own). Returns the number of rows written."""
    rows: list[dict[str, Any]] = []
    for details in kills:
        s = details.summary
        base = {
            "kill_id": s.kill_id,
            "kill_time": iso(s.started_at),
            "trigger": s.trigger,
            "server": s.server,
            "mode": s.mode,
            "state": s.state.value,
            "verdict": s.verdict or s.state.value,
            "message": s.message,
            "trigger_to_verified_ms": _ms(s.trigger_to_verified_ms),
        }
        if not details.outcomes:
            rows.append(base)
        for o in details.outcomes:
            order = o.order
            rows.append(
                base
                | {
                    "orderid": o.orderid,
                    "outcome": o.outcome.value,
                    "reason": o.reason,
                    "symbol": order.get("symbol", ""),
                    "exchange": order.get("exchange", ""),
                    "action": order.get("action", ""),
                    "quantity": _number(order.get("quantity")),
                    "price": _number(order.get("price")),
                    "trigger_price": _number(order.get("trigger_price")),
                    "pricetype": order.get("pricetype", ""),
                    "product": order.get("product", ""),
                    "order_status": order.get("status", ""),
                }
            )

    def write(handle: Any) -> None:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS, restval="", lineterminator="\r\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})

    write_atomically(Path(path), write, newline="")
    return len(rows)


def export_json(kills: Sequence[KillDetails], path: Path | str) -> int:
    """Write whole kills, with every exchange, as JSON. Returns the number of kills."""
    document = {"exported_at": iso(time.time()), "kills": [d.to_json() for d in kills]}
    write_atomically(Path(path), lambda handle: json.dump(document, handle, indent=2, ensure_ascii=False))
    return len(kills)


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _number(value: Any) -> Any:
    return "" if value is None else text(value)


_FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet will not run: broker text starting like a formula is quoted."""
    if isinstance(value, str) and value.startswith(_FORMULA_PREFIXES):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value
