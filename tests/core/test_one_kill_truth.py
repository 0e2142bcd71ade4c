"""What one kill may claim: presses given up on, kills in other processes, earlier unanswered
cancel-alls and replies nobody can parse never turn into a verdict that was not proven."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from core.client import OpenAlgoClient, make_http_client
from core.kill import KillSwitch
from core.one_kill import OneKill, ServerLocks
from core.record import KillRecord, KillState
from core.report import CancelReport, Verdict
from core.scope import KillScope
from core.simulator import Simulator
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


# -- a press given up on -------------------------------------------------------------------


def test_a_press_given_up_on_before_it_started_sends_nothing_when_its_turn_comes(
    record: KillRecord, tmp_path: Path
) -> None:
    with Simulator(orders=5, seed=3) as sim, make_http_client() as http:
        record.secret = sim.apikey
        calls: list[str] = []
        sim.on_request = lambda endpoint, _at: calls.append(endpoint)
        one = OneKill(
            KillSwitch(OpenAlgoClient(sim.url, sim.apikey, http), deadline_s=5),
            record=record,
            locks=ServerLocks(tmp_path / "locks"),
        )
        press = one.press("button")
        # The watchdog gives up while the lane is still busy with something else...
        told = one.interrupt("The kill's deadline passed.", interrupted=False, only=press.kill)
        assert told is not None and "Nothing was sent" in told.message
        # ...and later the lane gets to the queued press.
        later = one.run(press.kill)
        assert calls == []  # no cancel-all the trader was never told about
        assert len(sim.working_orders()) == 5
    assert later is told


# -- kills in other processes --------------------------------------------------------------


def switch_on(sim: Simulator, http: httpx.Client, **kw: Any) -> KillSwitch:
    return KillSwitch(OpenAlgoClient(sim.url, sim.apikey, http), deadline_s=10, **kw)


def test_a_press_that_asks_to_close_positions_never_adopts_an_orders_only_kills_flat(
    record: KillRecord, tmp_path: Path
) -> None:
    with (
        Simulator(orders=3, positions=2, seed=4) as sim,
        make_http_client() as http_a,
        make_http_client() as http_b,
    ):
        record.secret = sim.apikey
        sim.quirks.endpoint_delay_s = {"cancelallorder": 0.5}
        # Two processes: each has its own lock object, as the window and a script would.
        window = OneKill(switch_on(sim, http_a), record=record, locks=ServerLocks(tmp_path / "locks"))
        script = OneKill(
            switch_on(sim, http_b, scope=KillScope(close_positions=True)),
            record=record,
            locks=ServerLocks(tmp_path / "locks"),
        )
        first: dict[str, CancelReport] = {}
        thread = threading.Thread(target=lambda: first.setdefault("r", window.fire("button")))
        thread.start()
        while not sim.stats.requests.get("cancelallorder", 0):
            time.sleep(0.01)
        report = script.fire("cli --close-positions")
        thread.join(15)
        open_now = sim.open_positions()
    assert first["r"].verdict is Verdict.FLAT
    assert report.scope.close_positions
    assert report.verdict is not Verdict.FLAT or open_now == []
    assert open_now == []  # it ran its own kill, positions included, once the window's was over


def test_a_press_that_finds_the_lock_just_taken_never_reads_the_last_kills_note(
    record: KillRecord, tmp_path: Path
) -> None:
    with Simulator(orders=0, seed=5) as sim, make_http_client() as http:
        record.secret = sim.apikey
        earlier = OneKill(switch_on(sim, http), record=record, locks=ServerLocks(tmp_path / "locks"))
        assert earlier.fire("button").verdict is Verdict.FLAT
        # Another process has just taken the lock and not yet named its kill...
        holder = ServerLocks(tmp_path / "locks").for_server(earlier.switch.client.host)
        assert holder.acquire()
        sim.add_random_orders(3)
        with make_http_client() as http_b:
            pressed = OneKill(switch_on(sim, http_b), record=record, locks=ServerLocks(tmp_path / "locks"))
            out: dict[str, CancelReport] = {}
            thread = threading.Thread(target=lambda: out.setdefault("r", pressed.fire("cli")))
            thread.start()
            time.sleep(0.3)
            # ...which then fails to cancel anything and lets go.
            kill_id = record.begin("button", holder.server)
            holder.describe(kill_id, record.path, "button")
            record.finish(
                kill_id,
                CancelReport(Verdict.ORDERS_REMAIN, "analyze", "button", holder.server, "s", time.time(), ""),
            )
            holder.release()
            thread.join(15)
            working = sim.working_orders()
        holder.close()
    report = out["r"]
    assert report.verdict is not Verdict.FLAT or working == []  # never the earlier kill's FLAT


# -- earlier cancel-alls -------------------------------------------------------------------


def test_a_kill_after_one_that_held_back_its_cancel_all_still_holds_back(
    record: KillRecord, tmp_path: Path
) -> None:
    with Simulator(orders=4, seed=6) as sim, make_http_client() as http:
        record.secret = sim.apikey
        host = OpenAlgoClient(sim.url, sim.apikey, http).host

        def ended(cancel_all: str) -> None:
            kill_id = record.begin("button", host)
            report = CancelReport(Verdict.UNVERIFIED, "live", "button", host, "s", time.time(), "")
            record.finish(kill_id, replace(report, cancel_all=cancel_all))

        ended("sent")  # A: its cancel-all went out and was never answered
        ended("skipped")  # B: held back because of A
        one = OneKill(switch_on(sim, http), record=record, locks=ServerLocks(tmp_path / "locks"))
        report = one.fire("button")  # C, seconds later
        assert sim.stats.requests.get("cancelallorder", 0) == 0  # never two cancel-alls racing in the server
        assert sim.working_orders() == []
    assert report.verdict is Verdict.FLAT and report.cancel_all == "skipped"
    assert len(report.canceled_by_sweep) == 4


# -- the record ----------------------------------------------------------------------------


def test_requests_a_kill_sends_after_it_was_interrupted_are_still_recorded(
    record: KillRecord, tmp_path: Path
) -> None:
    with Simulator(orders=3, seed=7) as sim, make_http_client() as http:
        record.secret = sim.apikey
        sim.quirks.endpoint_delay_s = {"cancelallorder": 0.4}
        one = OneKill(switch_on(sim, http), record=record, locks=ServerLocks(tmp_path / "locks"))
        press = one.press("button")
        thread = threading.Thread(target=one.run, args=(press.kill,))
        thread.start()
        while not sim.stats.requests.get("cancelallorder", 0):
            time.sleep(0.01)
        one.interrupt("The window was closed during the kill.")
        thread.join(15)
        sent = sum(sim.stats.requests.values())
    (row,) = record.history()
    details = record.details(row.kill_id)
    assert details is not None
    assert row.state is KillState.INTERRUPTED
    assert len(details.exchanges) == sent  # the cancel-all's answer and the reads after it too
