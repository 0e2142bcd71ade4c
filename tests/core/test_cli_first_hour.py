"""The command line as a new user first meets it: ``--help`` names every way to start the program
(the window's options too) and every option says what it does; a refused or unreachable kill
prints each sentence once; ``set-key`` without a keyring points to ``$OPENALGO_API_KEY`` rather
than a "session" a command does not have."""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest

import main
from core import cli
from core.simulator import Quirks, Simulator
from tests.conftest import open_lock_files

ROOT = Path(__file__).resolve().parents[2]
PROXY_502 = "The proxy or tunnel in front of OpenAlgo could not reach it (HTTP 502) — is OpenAlgo running?"


def test_help_names_the_windows_options_and_the_environment(capsys: pytest.CaptureFixture[str]) -> None:
    assert main.main(["--help"]) == 0

    shown = capsys.readouterr().out
    for option in ("--demo", "--host URL", "--self-test", "--version"):
        assert option in shown
    for command in cli.SUBCOMMANDS:
        assert command in shown
    assert "OPENALGO_HOST" in shown and "OPENALGO_API_KEY" in shown


def test_every_option_of_every_command_says_what_it_does() -> None:
    parser = cli.build_parser()
    [commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]

    for name, command in commands.choices.items():
        for action in command._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            assert action.help and action.help != argparse.SUPPRESS, f"{name} {action.option_strings}"
    assert set(commands.choices) == set(cli.SUBCOMMANDS)


def cancel_all(sim: Simulator, monkeypatch: pytest.MonkeyPatch, key: str | None = None) -> tuple[int, str]:
    monkeypatch.setenv(cli.ENV_KEY, key or sim.apikey)
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(["cancel-all", "--host", sim.url], out=out, err=err)
    return code, out.getvalue()


def test_a_scripted_kill_leaves_no_lock_file_open(monkeypatch: pytest.MonkeyPatch) -> None:
    # Windows refuses to delete an open file: a script that runs the kill in-process (as the
    # self-test does) could not remove its data directory afterwards.
    with Simulator(mode="analyze", orders=3) as sim:
        code, shown = cancel_all(sim, monkeypatch)

    assert (code, shown.split()[0]) == (0, "FLAT")
    assert open_lock_files() == []


def test_a_refused_kill_prints_the_refusal_once(monkeypatch: pytest.MonkeyPatch) -> None:
    with Simulator(mode="live", orders=3, quirks=Quirks(semi_auto=True)) as sim:
        code, shown = cancel_all(sim, monkeypatch)

    assert code == 3
    assert shown.startswith("REFUSED")
    [message] = [line for line in shown.splitlines() if line.startswith("  message:")]
    refusal = message.removeprefix("  message:").strip()
    assert "Semi-Auto" in refusal
    assert shown.count(refusal) == 1
    failed = [line for line in shown.splitlines() if line.startswith("  FAILED")]
    assert failed and all(line.endswith(": refused (the message above)") for line in failed)
    assert "note:" not in shown


def test_a_502_prints_its_sentence_once(monkeypatch: pytest.MonkeyPatch) -> None:
    every = frozenset({"cancelallorder", "orderbook", "cancelorder"})
    with Simulator(orders=3, quirks=Quirks(html_error=every)) as sim:
        code, shown = cancel_all(sim, monkeypatch)

    # A 502 on the cancel-all proves nothing (it may have run before the worker died): exit 1,
    # with its own sentence; the book reads' 502 is said once, not once per read.
    assert code == 1
    assert shown.count(PROXY_502) == 1
    assert shown.count("lost its answer (HTTP 502)") == 1
