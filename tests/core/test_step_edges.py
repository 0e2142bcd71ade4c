"""The edges of the flatten, guard and halt steps a trader would trip over: an unreadable quantity,
a NaN in the settings file, a halt whose answer was lost or that did not happen."""

from __future__ import annotations

import io
from pathlib import Path

from core import settings as settings_store
from core.cli_kill import run_headless_kill
from core.client import OpenAlgoClient, make_http_client
from core.halt import halt, resume
from core.replies import ApiError, PositionBook, read_positionbook
from core.scope import KillScope
from core.simulator import Quirks, Simulator


def test_a_position_with_a_null_quantity_is_read_from_its_net_quantity() -> None:
    book = read_positionbook(
        {
            "status": "success",
            "data": [{"symbol": "SBIN", "exchange": "NSE", "quantity": None, "netQty": "-25"}],
        }
    )
    assert isinstance(book, PositionBook) and [p.quantity for p in book.open] == [-25]


def test_a_position_whose_quantity_cannot_be_read_is_an_unreadable_book_never_a_closed_position() -> None:
    for row in (
        {"symbol": "SBIN", "quantity": "-"},
        {"symbol": "SBIN", "quantity": None},
        {"symbol": "SBIN"},
    ):
        book = read_positionbook({"status": "success", "data": [row]})
        assert isinstance(book, ApiError), row


def test_a_nan_deadline_or_guard_in_the_settings_file_falls_back_to_the_defaults(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"deadline_s": NaN, "guard_s": NaN, "poll_interval_s": Infinity}', "utf-8")
    loaded = settings_store.load(path)
    assert (loaded.deadline_s, loaded.guard_s, loaded.poll_interval_s) == (30.0, 0.0, 1.0)
    from_text = settings_store.from_dict({"deadline_s": "nan", "guard_s": "inf"})
    assert (from_text.deadline_s, from_text.guard_s) == (30.0, 0.0)
    # A whole-number setting given as Infinity (int() raises OverflowError, not ValueError).
    path.write_text('{"hold_ms": Infinity, "window_width": -Infinity, "deadline_s": 12}', "utf-8")
    loaded = settings_store.load(path)
    assert (loaded.hold_ms, loaded.window_width, loaded.deadline_s) == (600, 0, 12.0)


def test_a_halt_whose_answer_was_lost_reports_the_mode_read_back() -> None:
    with Simulator(orders=0, mode="live", quirks=Quirks(lose_reply=frozenset({"analyzer/toggle"}))) as sim:
        with make_http_client() as http:
            client = OpenAlgoClient(sim.url, sim.apikey, http, strategy="ks")
            halted = halt(client, within=5.0)
            resumed = resume(client, within=5.0)
        mode = sim.mode
    assert halted.halted and halted.mode_after == "analyze", halted
    assert not resumed.halted and resumed.mode_after == "live", resumed
    assert mode == "live"


def test_a_requested_halt_that_did_not_happen_exits_non_zero() -> None:
    with Simulator(
        orders=2, mode="live", seed=3, quirks=Quirks(broker_error=frozenset({"analyzer/toggle"}))
    ) as sim:
        report, code = run_headless_kill(
            sim.url, sim.apikey, "ks", 20.0, scope=KillScope(halt=True), err=io.StringIO()
        )
        mode = sim.mode
    assert mode == "live" and report.halt is not None and not report.halt.halted
    assert report.verdict.value == "flat" and code == 1 and report.to_json()["exit_code"] == 1


def test_a_nan_deadline_handed_to_a_scripted_kill_falls_back_to_the_default() -> None:
    with Simulator(orders=3, mode="live", seed=3) as sim:
        report, code = run_headless_kill(sim.url, sim.apikey, "ks", float("nan"), err=io.StringIO())
        working = sim.working_orders()
    assert report.verdict.value == "flat" and code == 0 and working == []
