"""The kill record: every kill on disk once its cancel-all is on the wire, each exchange as it happens,
every order's outcome at the end -- and an interrupted kill still there at the next start."""

from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.client import OpenAlgoClient, make_http_client
from core.exchange import Exchange
from core.kill import KillSwitch
from core.one_kill import OneKill
from core.orders import Order
from core.record import KillRecord, KillState, Outcome, default_path
from core.replies import CancelFailure
from core.report import CancelReport, Verdict
from core.simulator import Simulator

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def record(tmp_path: Path) -> Iterator[KillRecord]:
    with KillRecord(tmp_path / "kills.sqlite3") as rec:
        yield rec


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(orders=12, seed=11) as simulator:
        yield simulator


@pytest.fixture
def recorder(sim: Simulator, record: KillRecord) -> Iterator[OneKill]:
    with make_http_client() as http:
        record.secret = sim.apikey
        switch = KillSwitch(OpenAlgoClient(sim.url, sim.apikey, http))
        yield OneKill(switch, record=record)


def read_only(path: Path) -> sqlite3.Connection:
    """A second, independent view of the file, as another process would have."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5)


def files_of(record: KillRecord) -> bytes:
    return b"".join(
        Path(str(record.path) + suffix).read_bytes()
        for suffix in ("", "-wal")
        if Path(str(record.path) + suffix).exists()
    )


def a_report(**fields: object) -> CancelReport:
    base: dict[str, object] = {
        "verdict": Verdict.ORDERS_REMAIN,
        "mode": "live",
        "trigger": "hotkey",
        "server": "http://127.0.0.1:5000",
        "strategy": "KillSwitch",
        "started_at": time.time(),
        "message": "Canceled 1 orders. Failed to cancel 1 orders.",
    }
    base.update(fields)
    return CancelReport(**base)  # type: ignore[arg-type]


# -- through a real kill ------------------------------------------------------------------------


def test_a_kill_is_on_disk_while_the_server_is_still_working_on_its_cancel_all(
    sim: Simulator, recorder: OneKill, record: KillRecord
) -> None:
    # The kill is written down once its cancel-all is on the wire, not before (the press does
    # not wait for the disk); a crash while the server works on the cancel-all must still leave
    # the kill in the record. The simulator holds its answer until the row is there (or 5 s).
    seen_on_arrival: list[tuple[str, list[tuple[str, str]]]] = []

    def on_request(endpoint: str, _at: float) -> None:
        ends = time.monotonic() + 5
        while True:
            with read_only(record.path) as db:
                rows = db.execute("SELECT state, trigger FROM kills").fetchall()
            if rows or endpoint != "cancelallorder" or time.monotonic() > ends:
                break
            time.sleep(0.005)
        seen_on_arrival.append((endpoint, rows))

    sim.on_request = on_request
    recorder.fire("hotkey")
    first_endpoint, rows_then = seen_on_arrival[0]
    assert first_endpoint == "cancelallorder"
    assert rows_then == [("running", "hotkey")]


def test_each_exchange_is_on_disk_as_soon_as_it_happens(
    sim: Simulator, recorder: OneKill, record: KillRecord
) -> None:
    counts: list[int] = []

    def on_request(endpoint: str, _at: float) -> None:
        with read_only(record.path) as db:
            counts.append(db.execute("SELECT COUNT(*) FROM exchanges").fetchone()[0])

    sim.on_request = on_request
    sim.quirks.cancelall_skips_pricetypes = {"LIMIT"}
    report = recorder.fire("button")
    assert report.canceled_by_sweep  # the kill went through cancel-all, book, sweep, book
    assert counts[:2] == [0, 1]  # the book is read after cancel-all's exchange is committed
    details = record.details(record.history()[0].kill_id)
    assert details is not None
    assert len(details.exchanges) == len(report.exchanges)
    assert [e.endpoint for e in details.exchanges][:2] == ["cancelallorder", "orderbook"]


def test_a_finished_kill_lists_every_order_with_its_outcome_and_reason(
    sim: Simulator, recorder: OneKill, record: KillRecord
) -> None:
    working = sim.working_orders()
    executed = working[0]["orderid"]
    sim.quirks.already_executed = {executed}
    sim.quirks.failure_shape = "orderid_reason"
    sim.quirks.cancelall_skips_pricetypes = {"SL-M"}
    report = recorder.fire("tray")

    details = record.details(record.history()[0].kill_id)
    assert details is not None and details.summary.state is KillState.FINISHED
    assert details.summary.verdict == report.verdict.value == "flat"
    by_id = {o.orderid: o for o in details.outcomes}
    assert {o.orderid for o in details.outcomes} == {w["orderid"] for w in working}
    assert by_id[executed].outcome is Outcome.FAILED and "executed" in by_id[executed].reason.lower()
    swept = [o for o in details.outcomes if o.outcome is Outcome.CANCELLED_BY_SWEEP]
    assert swept and all(o.order.get("pricetype") == "SL-M" for o in swept)
    symbols = {w["orderid"]: w["symbol"] for w in working}
    assert all(o.order.get("symbol") == symbols[o.orderid] for o in details.outcomes)
    assert details.summary.trigger_to_verified_ms is not None and details.summary.mode == "analyze"


def test_the_key_is_nowhere_in_the_record_or_its_exports(
    sim: Simulator, recorder: OneKill, record: KillRecord, tmp_path: Path
) -> None:
    sim.quirks.cancelall_skips_pricetypes = {"LIMIT"}
    recorder.fire("button")
    record.export_csv(tmp_path / "kills.csv")
    record.export_json(tmp_path / "kills.json")
    key = sim.apikey.encode()
    assert key not in files_of(record)
    assert key not in (tmp_path / "kills.csv").read_bytes()
    assert key not in (tmp_path / "kills.json").read_bytes()
    assert b"<APIKEY>" in (tmp_path / "kills.json").read_bytes()


def test_a_key_smuggled_into_an_exchange_is_still_removed(record: KillRecord) -> None:
    record.secret = "s3cret-key-that-must-not-land"
    kill_id = record.begin("button", "http://127.0.0.1:5000")
    leaky = Exchange(
        "cancelorder",
        {"apikey": "s3cret-key-that-must-not-land", "orderid": "1"},
        400,
        '{"message": "bad key s3cret-key-that-must-not-land"}',
        time.time(),
        3.0,
        "The server rejected s3cret-key-that-must-not-land.",
    )
    record.add_exchange(kill_id, leaky)
    record.finish(kill_id, a_report(failures=(CancelFailure("1", "s3cret-key-that-must-not-land"),)))
    assert b"s3cret-key-that-must-not-land" not in files_of(record)


def test_a_disk_that_fails_never_stops_the_kill(sim: Simulator, recorder: OneKill) -> None:
    recorder.record.close()  # every write now fails
    report = recorder.fire("button")
    assert report.verdict is Verdict.FLAT and sim.working_orders() == []
    assert recorder.record_failures >= 1


# -- interrupted kills --------------------------------------------------------------------------


def test_a_kill_begun_but_never_finished_is_marked_interrupted_at_the_next_start(tmp_path: Path) -> None:
    path = tmp_path / "kills.sqlite3"
    with KillRecord(path) as first_run:
        done = first_run.begin("button", "http://127.0.0.1:5000")
        first_run.finish(done, a_report())
        cut_short = first_run.begin("hotkey", "http://127.0.0.1:5000")
    with KillRecord(path) as next_run:
        assert next_run.mark_interrupted() == [cut_short]
        assert next_run.mark_interrupted() == []
        states = {s.kill_id: s.state for s in next_run.history()}
        summary = next_run.history()[0]
    assert states == {done: KillState.FINISHED, cut_short: KillState.INTERRUPTED}
    assert summary.state is KillState.INTERRUPTED and summary.verdict == "unverified"


CHILD = """
import sys
from core.client import OpenAlgoClient, make_http_client
from core.kill import KillSwitch
from core.one_kill import OneKill
from core.record import KillRecord
from core.simulator import Simulator

with Simulator(orders=6, seed=3) as sim, make_http_client() as http:
    record = KillRecord(sys.argv[1], secret=sim.apikey)
    recorder = OneKill(KillSwitch(OpenAlgoClient(sim.url, sim.apikey, http)), record=record)
    print("first", recorder.fire("command line").verdict, flush=True)
    sim.add_random_orders(6)
    sim.quirks.broken_cancelall_book = True  # nothing cancelled: the sweep must do it all...
    sim.quirks.endpoint_delay_s = {"cancelorder": 60.0}  # ...and each cancel takes a minute
    print("second", flush=True)
    recorder.fire("hotkey")
    print("the parent should have killed this process by now", flush=True)
"""


@pytest.mark.skipif("sys.platform == 'win32'", reason="SIGKILL is POSIX")
def test_sigkill_during_a_kill_leaves_the_record_intact_and_the_kill_marked_interrupted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "kills.sqlite3"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    child = subprocess.Popen(
        [sys.executable, str(script), str(path)], stdout=subprocess.PIPE, text=True, env=env, cwd=REPO
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "first flat"
        assert child.stdout.readline().strip() == "second"
        # Wait until the second kill has recorded cancel-all and the book: it is now sweeping,
        # each cancel held for a minute by the simulator.
        for _ in range(300):
            with read_only(path) as db:
                recorded = db.execute("SELECT COUNT(*) FROM exchanges WHERE kill_id = 2").fetchone()[0]
            if recorded >= 2:
                break
            time.sleep(0.05)
        assert recorded >= 2, "the second kill never got as far as the sweep"
        child.send_signal(signal.SIGKILL)
        assert child.wait(10) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)
        if child.stdout is not None:
            child.stdout.close()

    with KillRecord(path) as record:
        assert record.integrity_check() == "ok"
        assert record.mark_interrupted() == [2]
        first, second = record.details(1), record.details(2)
    assert first is not None and second is not None
    assert first.summary.state is KillState.FINISHED and first.summary.verdict == "flat"
    assert first.summary.cancelled == 6 and first.summary.trigger == "command line"
    assert second.summary.state is KillState.INTERRUPTED and second.summary.trigger == "hotkey"
    assert [e.endpoint for e in second.exchanges][:2] == ["cancelallorder", "orderbook"]


# -- history and export ---------------------------------------------------------------------------


def test_history_is_newest_first_and_limited(record: KillRecord) -> None:
    ids = [record.begin(f"t{i}", "http://127.0.0.1:5000") for i in range(5)]
    assert [s.kill_id for s in record.history(3)] == ids[::-1][:3]


def test_the_csv_export_has_one_row_per_order_outcome(record: KillRecord, tmp_path: Path) -> None:
    remaining = Order("R1", symbol="SBIN", exchange="NSE", action="BUY", quantity=10, price=812.5)
    kill_id = record.begin("hotkey", "http://127.0.0.1:5000")
    record.finish(
        kill_id,
        a_report(
            canceled_by_server=("S1",),
            canceled_by_sweep=("W1",),
            failures=(CancelFailure("F1", "RMS: order already executed"),),
            remaining=(remaining,),
        ),
        known_orders=[Order("S1", symbol="INFY"), Order("W1", symbol="TCS", pricetype="SL-M")],
    )
    unfinished = record.begin("button", "http://127.0.0.1:5000")
    record.mark_interrupted()

    rows = record.export_csv(tmp_path / "incident.csv")
    with (tmp_path / "incident.csv").open(newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert rows == len(table) == 5
    outcome = {r["orderid"]: r for r in table if r["kill_id"] == str(kill_id)}
    assert outcome["S1"]["outcome"] == "cancelled_by_server" and outcome["S1"]["symbol"] == "INFY"
    assert outcome["W1"]["outcome"] == "cancelled_by_sweep" and outcome["W1"]["pricetype"] == "SL-M"
    assert outcome["F1"]["outcome"] == "failed" and "already executed" in outcome["F1"]["reason"]
    assert outcome["R1"]["outcome"] == "remaining" and outcome["R1"]["quantity"] == "10"
    assert all(r["trigger"] == "hotkey" and r["verdict"] == "orders_remain" for r in outcome.values())
    (lost,) = [r for r in table if r["kill_id"] == str(unfinished)]
    assert lost["state"] == "interrupted" and lost["orderid"] == ""


def test_broker_text_that_looks_like_a_formula_is_defused_in_the_csv(
    record: KillRecord, tmp_path: Path
) -> None:
    kill_id = record.begin("button", "http://127.0.0.1:5000")
    record.finish(kill_id, a_report(failures=(CancelFailure("F1", '=HYPERLINK("http://x","y")'),)))
    record.export_csv(tmp_path / "incident.csv")
    with (tmp_path / "incident.csv").open(newline="", encoding="utf-8") as handle:
        (row,) = list(csv.DictReader(handle))
    assert row["reason"] == '\'=HYPERLINK("http://x","y")'


def test_the_json_export_holds_whole_kills_with_their_exchanges(
    sim: Simulator, recorder: OneKill, record: KillRecord, tmp_path: Path
) -> None:
    first = recorder.fire("button")
    sim.add_random_orders(3)
    recorder.fire("hotkey")
    ids = [s.kill_id for s in record.history()]
    assert record.export_json(tmp_path / "one.json", kill_ids=[ids[-1]]) == 1
    document = json.loads((tmp_path / "one.json").read_text("utf-8"))
    (kill,) = document["kills"]
    assert kill["trigger"] == "button" and kill["verdict"] == first.verdict.value
    assert len(kill["orders"]) == 12 and {o["outcome"] for o in kill["orders"]} == {"cancelled_by_server"}
    assert [e["endpoint"] for e in kill["exchanges"]] == ["cancelallorder", "orderbook"]
    assert kill["exchanges"][0]["request"]["apikey"] == "<APIKEY>"


# -- place and threads ------------------------------------------------------------------------------


def test_the_record_lives_in_the_data_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILLSWITCH_DATA_DIR", str(tmp_path / "data"))
    assert default_path() == tmp_path / "data" / "kills.sqlite3"
    with KillRecord() as record:
        record.begin("button", "http://127.0.0.1:5000")
    assert (tmp_path / "data" / "kills.sqlite3").exists()


def test_the_kill_lane_writes_while_the_window_reads(record: KillRecord) -> None:
    kill_id = record.begin("button", "http://127.0.0.1:5000")
    exchange = Exchange("cancelorder", {"apikey": "<APIKEY>"}, 200, "{}", time.time(), 1.0)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            for _ in range(100):
                record.add_exchange(kill_id, exchange)
        except BaseException as exc:
            errors.append(exc)

    def read() -> None:
        try:
            for _ in range(100):
                record.history()
                record.details(kill_id)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=f) for f in (write, write, write, read, read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    details = record.details(kill_id)
    assert details is not None and len(details.exchanges) == 300
