"""History as a trader reads it after an incident: quantities as the broker gave them (406, not
406.0), orders described as the results pane describes them, a dash for a mode the kill never
learned, and times in IST with the column saying so."""

from __future__ import annotations

import time
from pathlib import Path

from pytestqt.qtbot import QtBot

from core.market_time import ist
from core.orders import Order
from core.record import KillRecord
from core.replies import CancelFailure
from core.report import CancelReport, Verdict
from ui.history_dialog import MODE_NOT_KNOWN, HistoryDialog

SERVER = "http://127.0.0.1:5000"


def test_a_refused_kill_reads_as_the_broker_wrote_its_orders(qtbot: QtBot, tmp_path: Path) -> None:
    order = Order(
        "2611300001",
        symbol="SBIN",
        exchange="NSE",
        action="BUY",
        quantity=406.0,
        price=812.5,
        pricetype="LIMIT",
        status="open",
    )
    started = time.time()
    report = CancelReport(
        verdict=Verdict.REFUSED,
        mode="unknown",  # a rejected key: the server never said which mode it is in
        trigger="command line",
        server=SERVER,
        strategy="KillSwitch",
        started_at=started,
        message="The server rejected the API key.",
        failures=(CancelFailure(order.orderid, "The server rejected the API key."),),
        remaining=(order,),
    )
    with KillRecord(tmp_path / "kills.sqlite3") as record:
        record.finish(record.begin("command line", SERVER), report, known_orders=[order])
        dialog = HistoryDialog(record)
        qtbot.addWidget(dialog)

        row = [dialog.table.item(0, c).text() for c in range(dialog.table.columnCount())]
        details = dialog.details.toPlainText()

    assert dialog.table.horizontalHeaderItem(0).text() == "Time (IST)"
    assert row[0] == ist(started).strftime("%Y-%m-%d %H:%M:%S")
    assert row[3] == "—"
    assert dialog.table.item(0, 3).toolTip() == MODE_NOT_KNOWN
    assert "BUY 406 SBIN LIMIT @ 812.5 (#2611300001)" in details
    assert "406.0" not in details and "812.50" not in details
    assert "mode not known" in details and "unknown" not in details.lower()
