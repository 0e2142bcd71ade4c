"""``killswitch simulate``'s set-up flags: positions, a runaway strategy, slow replies, idle closes."""

from __future__ import annotations

import io
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from core.cli import main

ROOT = Path(__file__).resolve().parents[2]
FLAGS = [
    "--orders",
    "0",
    "--positions",
    "3",
    "--runaway",
    "20",
    "--reply-delay-ms",
    "150",
    "--idle-close",
    "30",
]


@pytest.fixture
def simulate_output() -> Iterator[tuple[list[str], str, str]]:
    """A ``simulate`` process with every set-up flag: (what it printed, its URL, its key)."""
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "simulate", *FLAGS], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    lines: list[str] = []
    for line in proc.stdout:
        lines.append(line.rstrip("\n"))
        if line.startswith("Press Ctrl+C"):
            break
    url = next(line.split(None, 1)[1] for line in lines if line.startswith("URL:"))
    key = next(line.split(":", 1)[1].strip() for line in lines if line.startswith("API key:"))
    try:
        yield lines, url, key
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def test_simulate_says_what_it_set_up(simulate_output: tuple[list[str], str, str]) -> None:
    lines, _, _ = simulate_output
    assert lines[0] == "OpenAlgo simulator (analyze mode, 0 working orders, 3 open positions)"
    assert "Runaway: 20 new LIMIT orders a second, into the current mode's book" in lines
    assert "Replies: held back 150 ms" in lines
    assert "Idle keep-alive connections closed after 30 s" in lines


def test_simulate_serves_what_it_set_up(simulate_output: tuple[list[str], str, str]) -> None:
    _, url, key = simulate_output
    with httpx.Client(base_url=url, timeout=10.0) as client:
        started = time.perf_counter()
        positions = client.post("/api/v1/positionbook", json={"apikey": key}).json()["data"]
        assert time.perf_counter() - started >= 0.15
        assert len([row for row in positions if row["quantity"]]) == 3
        time.sleep(0.3)
        orders = client.post("/api/v1/orderbook", json={"apikey": key}).json()["data"]["orders"]
        assert any(order["strategy"] == "runaway" for order in orders)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--positions", "-1"], "--positions cannot be negative"),
        (["--positions", "99"], "--positions: the simulator can hold at most 54 positions at once, not 99"),
        (["--runaway", "-2"], "--runaway cannot be negative"),
        (["--reply-delay-ms", "-5"], "--reply-delay-ms cannot be negative"),
        (["--idle-close", "0"], "--idle-close must be more than 0 seconds"),
    ],
)
def test_simulate_refuses_impossible_set_ups(flags: list[str], message: str) -> None:
    out, err = io.StringIO(), io.StringIO()
    assert main(["simulate", *flags], out=out, err=err) == 2
    assert err.getvalue() == f"killswitch: {message}\n"
    assert out.getvalue() == ""


def test_every_simulate_flag_is_explained() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "simulate", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    help_text = " ".join(proc.stdout.split())
    for flag, words in [
        ("--positions N", "open positions to start with"),
        ("--runaway RATE", "like a strategy gone wrong"),
        ("--reply-delay-ms N", "hold every reply back"),
        ("--idle-close S", "as nginx or a tunnel does"),
        ("--mode {live,analyze}", "mode to start in"),
    ]:
        assert flag in help_text and words in help_text, flag
