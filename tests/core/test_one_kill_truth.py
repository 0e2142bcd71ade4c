"""What one kill may claim: presses given up on, kills in other processes, earlier unanswered
cancel-alls and replies nobody can parse never turn into a verdict that was not proven."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.client import OpenAlgoClient, make_http_client
from core.kill import KillSwitch
from core.one_kill import OneKill, ServerLocks
from core.record import KillRecord, KillState
from tests.core.loopback import Connection, ScriptedServer, http_reply


@pytest.fixture
def record(tmp_path: Path) -> Iterator[KillRecord]:
    with KillRecord(tmp_path / "kills.sqlite3") as rec:
        yield rec


def _cancel_all_fine_then_nested_garbage(conn: Connection) -> None:
    if b"/cancelallorder" in conn.request.split(b"\r\n", 1)[0]:
        body = json.dumps(
            {
                "status": "success",
                "message": "Canceled 0 orders.",
                "canceled_orders": [],
                "failed_cancellations": [],
            }
        ).encode()
    else:
        body = b"[" * 5000  # a proxy or broker bug: JSON nested deeper than any parser allows
    conn.send(http_reply(200, body))


def test_an_order_book_nested_too_deep_ends_the_kill_unverified_and_recorded(
    record: KillRecord, tmp_path: Path
) -> None:
    with ScriptedServer(_cancel_all_fine_then_nested_garbage) as server, make_http_client() as http:
        switch = KillSwitch(OpenAlgoClient(server.url, "k" * 32, http), deadline_s=3)
        one = OneKill(switch, record=record, locks=ServerLocks(tmp_path / "locks"))
        report = one.fire("button")
    assert report.verdict == "unverified"
    (row,) = record.history()
    assert row.state is KillState.FINISHED
    assert row.verdict == "unverified"
