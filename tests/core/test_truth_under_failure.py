"""The kill's word when the server misbehaves, as a script runs it: real processes, real sockets.

A verdict by the deadline whatever the server does; "may have been carried out" rather than "0
cancelled" when an answer is lost; no silent default server; Ctrl+C and SIGTERM end in a
report and an honest record.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.client import OpenAlgoClient, make_http_client
from core.kill import KillSwitch
from core.one_kill import OneKill, ServerLocks
from core.record import KillRecord, KillState
from core.report import Verdict
from core.settings import Settings, save
from core.simulator import Quirks, Simulator
from tests.core.cli_process import cli, start_cli, wait_for_requests


@pytest.fixture
def hung() -> Iterator[Simulator]:
    """A server that takes every request and never answers (until the test ends)."""
    endpoints = frozenset({"cancelallorder", "orderbook", "cancelorder", "ping"})
    with Simulator(orders=5, seed=4, quirks=Quirks(hang=endpoints)) as sim:
        yield sim


def test_a_hung_server_gives_an_unverified_verdict_by_the_deadline(
    hung: Simulator, env: dict[str, str]
) -> None:
    started = time.monotonic()
    result = cli(
        "cancel-all",
        "--host",
        hung.url,
        "--deadline",
        "5",
        "--json",
        env={**env, "OPENALGO_API_KEY": hung.apikey},
    )
    took = time.monotonic() - started
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "unverified"
    assert "may have been carried out" in report["message"]  # the cancel-all went out
    # Start-up included, with room for a loaded machine; still far short of the tens of seconds
    # a network timeout would take.
    assert took < 5.0 + 5.0, f"the verdict took {took:.1f} s with a 5 s deadline"
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("deadline", ["-5", "0", "601", "nan", "soon"])
def test_a_deadline_out_of_range_is_a_usage_error_and_sends_nothing(
    deadline: str, env: dict[str, str]
) -> None:
    with Simulator(orders=3) as sim:
        result = cli(
            "cancel-all",
            "--host",
            sim.url,
            "--deadline",
            deadline,
            env={**env, "OPENALGO_API_KEY": sim.apikey},
        )
        assert result.returncode == 2
        assert "deadline" in result.stderr.lower() or "invalid float" in result.stderr
        assert sum(sim.stats.requests.values()) == 0


@pytest.mark.parametrize(
    ("args", "extra_env"),
    [
        (("--host", ""), {}),
        (("--host", "   "), {}),
        ((), {"OPENALGO_HOST": ""}),
        ((), {}),  # no --host, no $OPENALGO_HOST, nothing saved
    ],
    ids=["empty-flag", "blank-flag", "empty-env", "nothing-at-all"],
)
def test_a_blank_or_missing_server_is_a_usage_error_never_a_default(
    args: tuple[str, ...], extra_env: dict[str, str], env: dict[str, str]
) -> None:
    # A simulator on the default address would be hit by a silent fall-back; none must arrive.
    with Simulator(orders=3, port=0) as sim:
        result = cli("cancel-all", *args, env={**env, **extra_env, "OPENALGO_API_KEY": sim.apikey})
        assert result.returncode == 2, result.stdout
        assert "server" in result.stderr.lower() or "host" in result.stderr.lower()
        assert sum(sim.stats.requests.values()) == 0
        assert "Traceback" not in result.stderr


def test_a_blank_saved_server_is_a_usage_error(env: dict[str, str], private_app_dirs: Path) -> None:
    save(Settings(host=""), private_app_dirs / "config" / "settings.json")
    result = cli("cancel-all", env={**env, "OPENALGO_API_KEY": "k" * 64})
    assert result.returncode == 2 and "saved server is empty" in result.stderr


def test_a_cancel_all_whose_answer_is_lost_is_made_good_and_never_called_zero_cancelled(
    env: dict[str, str],
) -> None:
    # The connection drops after the request was written: the cancel-all may have run. The book
    # is honest, so the sweep makes sure and the verdict is flat.
    with Simulator(orders=6, seed=2, quirks=Quirks(drop_connection={"cancelallorder"})) as sim:
        result = cli("cancel-all", "--host", sim.url, "--json", env={**env, "OPENALGO_API_KEY": sim.apikey})
        assert sim.working_orders() == []
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "flat"
    assert "may have been carried out" in report["message"]
    assert len(report["canceled_by_sweep"]) == 6


def test_a_refused_connection_is_unreachable_and_says_nothing_was_sent(env: dict[str, str]) -> None:
    result = cli("cancel-all", "--host", "http://127.0.0.1:9", env={**env, "OPENALGO_API_KEY": "k" * 64})
    assert result.returncode == 4
    assert "Cancel-all was not sent" in result.stdout
    assert "Cancel-all sent" not in result.stdout + result.stderr


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stopped_kill_prints_its_report_so_far_and_is_recorded_as_interrupted(
    signum: int, code: int, env: dict[str, str], private_app_dirs: Path
) -> None:
    quirks = Quirks(endpoint_delay_s={"cancelallorder": 3600.0})
    with Simulator(orders=4, seed=8, quirks=quirks) as sim:
        proc = start_cli(
            "cancel-all", "--host", sim.url, "--json", env={**env, "OPENALGO_API_KEY": sim.apikey}
        )
        wait_for_requests(proc, sim)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=5)
        url = sim.url
    assert proc.returncode == code, err
    report = json.loads(out)
    assert report["verdict"] == "unverified" and report["interrupted"] is True
    assert report["exit_code"] == code
    assert "Traceback" not in err
    with KillRecord(private_app_dirs / "data" / "kills.sqlite3") as record:
        [kill] = record.history()
    assert kill.state is KillState.INTERRUPTED

    # The next run names the interrupted kill: its server and when it started, once.
    after = cli("cancel-all", "--host", "http://127.0.0.1:9", env={**env, "OPENALGO_API_KEY": "k" * 64})
    assert f"the kill on {url} started at" in after.stderr and "interrupted" in after.stderr
    again = cli("cancel-all", "--host", "http://127.0.0.1:9", env={**env, "OPENALGO_API_KEY": "k" * 64})
    assert url not in again.stderr


def test_ctrl_c_in_human_mode_prints_the_report_without_a_traceback(env: dict[str, str]) -> None:
    quirks = Quirks(endpoint_delay_s={"cancelallorder": 3600.0})
    with Simulator(orders=2, seed=8, quirks=quirks) as sim:
        proc = start_cli("cancel-all", "--host", sim.url, env={**env, "OPENALGO_API_KEY": sim.apikey})
        wait_for_requests(proc, sim)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=5)
    assert proc.returncode == 130
    assert "UNVERIFIED" in out and "Interrupted by Ctrl+C" in out
    assert "Traceback" not in err and "KeyboardInterrupt" not in err


@pytest.mark.parametrize(
    "shape", ["no_data", "data_null", "data_empty_dict", "orders_null", "orders_other_key"]
)
def test_a_book_without_its_list_of_orders_is_unverified_never_flat(shape: str, env: dict[str, str]) -> None:
    quirks = Quirks(orderbook_shape=shape)  # type: ignore[arg-type]
    with Simulator(orders=4, seed=6, quirks=quirks) as sim:
        result = cli("cancel-all", "--host", sim.url, "--json", env={**env, "OPENALGO_API_KEY": sim.apikey})
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "unverified"
    assert any("no list of orders" in e for e in report["errors"])


def test_a_book_that_omits_orders_it_showed_is_unverified_and_names_them(env: dict[str, str]) -> None:
    # Two orders survive cancel-all (SL-M, which it skips) and their sweep cancels fail; the book
    # read to verify leaves them out. Once that read said "flat".
    with Simulator(orders=0, seed=6) as sim:
        kept = [sim.place_order("SBIN", pricetype="SL-M"), sim.place_order("INFY", pricetype="SL-M")]
        sim.add_random_orders(3)
        sim.quirks = Quirks(
            cancelall_skips_pricetypes=frozenset({"SL-M"}),
            broker_error=frozenset({"cancelorder"}),
        )

        def hide_once_the_sweep_starts(endpoint: str, _at: float) -> None:
            if endpoint == "cancelorder":  # the first read showed them; every later one omits them
                sim.quirks.orderbook_omits = frozenset(kept)

        sim.on_request = hide_once_the_sweep_starts
        result = cli(
            "cancel-all", "--host", sim.url, "--json", "--deadline", "4",
            env={**env, "OPENALGO_API_KEY": sim.apikey},
        )  # fmt: skip
        assert {o["orderid"] for o in sim.working_orders()} == set(kept)  # still working, truly
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "unverified"
    assert {o["orderid"] for o in report["missing_orders"]} == set(kept)
    assert any("missing from the final read" in e for e in report["errors"])


def test_counts_that_show_working_orders_the_rows_do_not_are_unverified(env: dict[str, str]) -> None:
    with Simulator(orders=3, seed=6, quirks=Quirks(orderbook_shape="orders_empty")) as sim:
        result = cli("cancel-all", "--host", sim.url, "--json", env={**env, "OPENALGO_API_KEY": sim.apikey})
    report = json.loads(result.stdout)
    assert result.returncode == 1 and report["verdict"] == "unverified"


def test_after_a_cancel_all_that_may_still_be_running_the_next_kill_sweeps_instead(
    env: dict[str, str],
) -> None:
    # Two cancel-alls at once race inside OpenAlgo. The first kill's was never answered (Ctrl+C
    # while it waited), so it may still be running there: the next kill must not send another.
    with Simulator(orders=5, seed=3, quirks=Quirks(hang=frozenset({"cancelallorder"}))) as sim:
        key = {**env, "OPENALGO_API_KEY": sim.apikey}
        proc = start_cli("cancel-all", "--host", sim.url, "--json", env=key)
        wait_for_requests(proc, sim)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=5)
        sim.quirks = Quirks()  # the server is well again
        result = cli("cancel-all", "--host", sim.url, "--json", env=key)
        assert sim.working_orders() == []
        assert sim.stats.requests.get("cancelallorder") == 1
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["verdict"] == "flat"
    assert report["cancel_all"] == "skipped" and len(report["canceled_by_sweep"]) == 5
    assert "may still be running" in report["message"]


def test_a_window_that_read_ahead_still_holds_back_after_another_process_left_a_cancel_all_unanswered(
    env: dict[str, str],
) -> None:
    # The window's kill lane reads the record ahead of a press (nothing unsettled then) and
    # trusts that answer only while no kill of the server has taken a turn anywhere. A script's
    # cancel-all, Ctrl+C'd while it waited for the answer, took one: the press must see it.
    data = Path(env["KILLSWITCH_DATA_DIR"])
    with (
        Simulator(orders=5, seed=3, quirks=Quirks(hang=frozenset({"cancelallorder"}))) as sim,
        make_http_client() as http,
        KillRecord(data / "kills.sqlite3", secret=sim.apikey) as record,
    ):
        switch = KillSwitch(OpenAlgoClient(sim.url, sim.apikey, http), deadline_s=5)
        window = OneKill(switch, record=record, locks=ServerLocks(data / "locks"))
        window.prepare()
        proc = start_cli(
            "cancel-all", "--host", sim.url, "--json", env={**env, "OPENALGO_API_KEY": sim.apikey}
        )
        wait_for_requests(proc, sim)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=5)
        sim.quirks = Quirks()
        report = window.fire("button")
        assert sim.stats.requests.get("cancelallorder") == 1
        assert sim.working_orders() == []
    assert report.verdict is Verdict.FLAT and report.cancel_all == "skipped"
    assert "may still be running" in report.message


def test_after_an_answered_cancel_all_the_next_kill_sends_its_own(env: dict[str, str]) -> None:
    with Simulator(orders=3, seed=3) as sim:
        key = {**env, "OPENALGO_API_KEY": sim.apikey}
        cli("cancel-all", "--host", sim.url, env=key)
        sim.add_random_orders(2)
        report = json.loads(cli("cancel-all", "--host", sim.url, "--json", env=key).stdout)
        assert sim.stats.requests.get("cancelallorder") == 2
    assert report["cancel_all"] == "answered" and report["verdict"] == "flat"
