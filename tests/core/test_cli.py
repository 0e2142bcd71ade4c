"""The command line, as a script or a Stream Deck button would run it: real processes, real sockets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@pytest.fixture
def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENALGO_API_KEY", "OPENALGO_HOST")}
    env["KILLSWITCH_CONFIG_DIR"] = str(tmp_path / "config")
    env["KILLSWITCH_DATA_DIR"] = str(tmp_path / "data")
    # No Secret Service in this test: keyring must not find one and must not fall back to a file.
    env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={tmp_path}/no-bus"
    return env


@pytest.fixture
def simulate_process(clean_env: dict[str, str]) -> Iterator[tuple[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "main.py"), "simulate", "--orders", "25"],
        stdout=subprocess.PIPE,
        text=True,
        env=clean_env,
    )
    assert proc.stdout is not None
    url = key = ""
    for line in proc.stdout:
        if line.startswith("URL:"):
            url = line.split(None, 1)[1].strip()
        if line.startswith("API key:"):
            key = line.split(":", 1)[1].strip()
        if url and key:
            break
    try:
        yield url, key
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()


def test_simulate_then_cancel_all_json_exits_0_flat_with_25_cancelled(
    simulate_process: tuple[str, str], clean_env: dict[str, str]
) -> None:
    url, key = simulate_process
    result = run_cli("cancel-all", "--host", url, "--json", env={**clean_env, "OPENALGO_API_KEY": key})
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["verdict"] == "flat"
    assert len(report["canceled_orders"]) == 25
    assert report["remaining_orders"] == [] and report["failed_cancellations"] == []
    assert {"mode", "message", "elapsed_ms"} <= report.keys()
    book = httpx.post(f"{url}/api/v1/orderbook", json={"apikey": key}).json()
    working = [o for o in book["data"]["orders"] if o["order_status"] in ("open", "trigger pending")]
    assert working == []
    assert key not in result.stdout + result.stderr


def test_a_wrong_key_exits_3_with_a_sentence(
    simulate_process: tuple[str, str], clean_env: dict[str, str]
) -> None:
    url, _ = simulate_process
    result = run_cli("cancel-all", "--host", url, env={**clean_env, "OPENALGO_API_KEY": "0" * 64})
    assert result.returncode == 3
    assert "log in to OpenAlgo again" in result.stdout


def test_an_unreachable_server_exits_4(clean_env: dict[str, str]) -> None:
    result = run_cli(
        "cancel-all",
        "--host",
        "http://127.0.0.1:9",
        "--json",
        env={**clean_env, "OPENALGO_API_KEY": "k" * 64},
    )
    assert result.returncode == 4
    assert json.loads(result.stdout)["verdict"] == "unreachable"


def test_no_key_anywhere_exits_2_and_says_how_to_set_one(clean_env: dict[str, str]) -> None:
    result = run_cli("cancel-all", "--host", "http://127.0.0.1:9", env=clean_env)
    assert result.returncode == 2
    assert "OPENALGO_API_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_bad_url_exits_2(clean_env: dict[str, str]) -> None:
    result = run_cli("cancel-all", "--host", "ftp://x", env={**clean_env, "OPENALGO_API_KEY": "k" * 64})
    assert result.returncode == 2 and "not a usable server URL" in result.stderr


@pytest.mark.skipif(
    "sys.platform != 'linux'", reason="takes the Secret Service away; Windows and macOS always have a keyring"
)
def test_set_key_without_a_keyring_stores_nothing_in_plain_text_and_points_to_the_environment(
    clean_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**clean_env, "HOME": str(tmp_path / "home"), "XDG_DATA_HOME": str(tmp_path / "xdg")}
    result = subprocess.run(  # -W error: a piped key is read quietly (no GetPassWarning)
        [sys.executable, "-W", "error", str(ROOT / "main.py"), "set-key", "--host", "http://127.0.0.1:5000"],
        input="secret-key-123456\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("killswitch: no keyring is running here. Nothing was stored")
    assert "$OPENALGO_API_KEY" in result.stderr
    assert "session" not in result.stderr  # a command has no session to keep a key for
    assert "Warning" not in result.stderr
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert not any(b"secret-key-123456" in p.read_bytes() for p in written)


def test_version_matches_pyproject(clean_env: dict[str, str]) -> None:
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    result = run_cli("--version", env=clean_env)
    assert result.returncode == 0 and version in result.stdout


@pytest.mark.parametrize("command", ["cancel-all", "trigger", "simulate", "set-key"])
def test_a_commands_help_starts_with_its_own_usage_line(command: str, clean_env: dict[str, str]) -> None:
    result = run_cli(command, "--help", env=clean_env)
    assert result.returncode == 0 and result.stdout.startswith(f"usage: killswitch {command} [-h]")


def test_a_command_line_kill_is_in_the_record_the_window_shows(
    simulate_process: tuple[str, str], clean_env: dict[str, str]
) -> None:
    from core.record import KillRecord

    url, key = simulate_process
    result = run_cli("cancel-all", "--host", url, "--json", env={**clean_env, "OPENALGO_API_KEY": key})
    assert result.returncode == 0, result.stderr
    record = KillRecord(Path(clean_env["KILLSWITCH_DATA_DIR"]) / "kills.sqlite3")
    try:
        [kill] = record.history()
    finally:
        record.close()
    assert kill.trigger == "command line" and kill.verdict == "flat"
    raw = (Path(clean_env["KILLSWITCH_DATA_DIR"]) / "kills.sqlite3").read_bytes()
    assert key.encode() not in raw
