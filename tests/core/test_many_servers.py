"""One press, many servers, from the command line: every server killed at once, each with its own
verified procedure and verdict, and the overall verdict the most urgent of theirs."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from core.settings import Server, Settings, save
from core.simulator import Quirks, Simulator
from tests.core.cli_process import cli

KEY = "many-servers-key-0123456789abcdef"


@pytest.fixture
def five() -> Iterator[list[Simulator]]:
    with ExitStack() as stack:
        yield [
            stack.enter_context(Simulator(orders=20, seed=i, apikey=KEY, quirks=Quirks(reply_delay_s=0.3)))
            for i in range(5)
        ]


def test_five_servers_end_flat_together(five: list[Simulator], env: dict[str, str]) -> None:
    hosts = [arg for sim in five for arg in ("--host", sim.url)]
    result = cli("cancel-all", *hosts, "--json", env={**env, "OPENALGO_API_KEY": KEY})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "flat" and report["exit_code"] == 0
    assert [s["server"] for s in report["servers"]] == [sim.url for sim in five]
    assert all(s["verdict"] == "flat" and len(s["canceled_orders"]) == 20 for s in report["servers"])
    assert all(sim.working_orders() == [] for sim in five)
    # At once, not one after another, seen at the servers rather than by timing the process: every
    # server had its cancel-all before the first of them could have been answered (0.3 s later).
    first_calls = [sim.stats.arrivals_for("cancelallorder")[0] for sim in five]
    spread = max(first_calls) - min(first_calls)
    assert spread < 0.3, f"the cancel-alls arrived over {spread:.2f} s: the servers were not killed at once"


def test_a_dead_server_never_delays_the_live_ones_and_says_why(env: dict[str, str]) -> None:
    with (
        Simulator(orders=6, seed=1, apikey=KEY, mode="live") as a,
        Simulator(orders=4, seed=2, apikey=KEY, mode="live") as b,
    ):
        result = cli(
            "cancel-all", "--host", a.url, "--host", "http://127.0.0.1:9", "--host", b.url, "--json",
            env={**env, "OPENALGO_API_KEY": KEY},
        )  # fmt: skip
        assert a.working_orders() == [] and b.working_orders() == []
    assert result.returncode == 4, result.stderr
    report = json.loads(result.stdout)
    verdicts = {s["server"]: s["verdict"] for s in report["servers"]}
    assert verdicts == {a.url: "flat", "http://127.0.0.1:9": "unreachable", b.url: "flat"}
    dead = next(s for s in report["servers"] if s["server"] == "http://127.0.0.1:9")
    assert "connection refused" in dead["message"]


def test_the_overall_verdict_is_the_most_urgent_of_the_servers(env: dict[str, str]) -> None:
    with (
        Simulator(orders=3, apikey=KEY) as flat,
        Simulator(orders=3, apikey=KEY, quirks=Quirks(orderbook_shape="no_data")) as unreadable,
        Simulator(orders=3, apikey=KEY, mode="live", quirks=Quirks(semi_auto=True)) as refusing,
    ):
        result = cli(
            "cancel-all", "--host", flat.url, "--host", unreadable.url, "--host", refusing.url, "--json",
            env={**env, "OPENALGO_API_KEY": KEY},
        )  # fmt: skip
    report = json.loads(result.stdout)
    assert [s["verdict"] for s in report["servers"]] == ["flat", "unverified", "refused"]
    assert report["verdict"] == "unverified" and result.returncode == 1  # unverified before refused


def test_one_host_keeps_the_single_server_report(env: dict[str, str]) -> None:
    with Simulator(orders=2, apikey=KEY) as sim:
        report = json.loads(
            cli("cancel-all", "--host", sim.url, "--json", env={**env, "OPENALGO_API_KEY": KEY}).stdout
        )
    assert "servers" not in report and report["verdict"] == "flat"


def test_all_kills_every_enabled_saved_server(env: dict[str, str], private_app_dirs: Path) -> None:
    with (
        Simulator(orders=2, apikey=KEY) as a,
        Simulator(orders=2, apikey=KEY) as b,
        Simulator(orders=2, apikey=KEY) as off,
    ):
        servers = (Server(a.url, "Zerodha"), Server(off.url, "Paused", enabled=False), Server(b.url, "Dhan"))
        save(Settings(servers=servers).validated(), private_app_dirs / "config" / "settings.json")
        result = cli("cancel-all", "--all", "--json", env={**env, "OPENALGO_API_KEY": KEY})
        assert a.working_orders() == [] and b.working_orders() == []
        assert len(off.working_orders()) == 2  # switched off: left alone
    report = json.loads(result.stdout)
    assert [s["server"] for s in report["servers"]] == [a.url, b.url]


def test_human_output_has_a_block_per_server_and_the_overall_line(env: dict[str, str]) -> None:
    with Simulator(orders=2, apikey=KEY) as a, Simulator(orders=2, apikey=KEY) as b:
        out = cli("cancel-all", "--host", a.url, "--host", b.url, env={**env, "OPENALGO_API_KEY": KEY}).stdout
    assert out.count("FLAT — verified") == 3 and f"── {a.url}" in out and f"── {b.url}" in out
    assert "OVERALL:" in out and "2 of 2 servers flat" in out


@pytest.mark.parametrize(
    ("args", "sentence"),
    [
        (("--all", "--host", "http://127.0.0.1:9"), "Give --host or --all, not both."),
        (
            ("--host", "http://127.0.0.1:9", "--host", "127.0.0.1:9"),
            "The same server was given more than once.",
        ),
    ],
    ids=["host-and-all", "same-server-twice"],
)
def test_conflicting_servers_are_a_usage_error(
    args: tuple[str, ...], sentence: str, env: dict[str, str]
) -> None:
    # The sentence, not just the exit status: with nothing saved, `--all` alone also exits 2.
    result = cli("cancel-all", *args, env={**env, "OPENALGO_API_KEY": KEY})
    assert result.returncode == 2 and sentence in result.stderr and "Traceback" not in result.stderr


def test_one_press_is_one_record_with_every_servers_part(env: dict[str, str], private_app_dirs: Path) -> None:
    from core.record import KillRecord

    with Simulator(orders=2, apikey=KEY) as a, Simulator(orders=3, apikey=KEY) as b:
        cli("cancel-all", "--host", a.url, "--host", b.url, env={**env, "OPENALGO_API_KEY": KEY})
    with KillRecord(private_app_dirs / "data" / "kills.sqlite3") as record:
        kills = record.history()
        assert {k.server for k in kills} == {a.url, b.url}
        assert sorted(record.press_of(kills[0].kill_id)) == sorted(k.kill_id for k in kills)
        assert KEY not in (private_app_dirs / "data" / "kills.sqlite3").read_text("latin-1")
