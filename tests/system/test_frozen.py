"""The frozen executable (dist/killswitch/killswitch) does what a trader who downloaded it needs.

These run against an existing PyInstaller build; CI builds it first (packaging/smoke.sh).
Without a build they skip, saying how to make one. Every run gets its own settings and data
directories, so nothing here reads or writes the developer's own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import SecretService, Xvfb

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(
        not (Path(__file__).resolve().parents[2] / "dist" / "killswitch" / "killswitch").exists()
        # CI builds first and sets this, so a missing build fails there instead of skipping.
        and os.environ.get("KILLSWITCH_FROZEN_TESTS") != "require",
        reason="no frozen build at dist/killswitch/killswitch; build it with packaging/smoke.sh "
        "(or: .venv/bin/pyinstaller --noconfirm packaging/killswitch.spec)",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "dist" / "killswitch" / "killswitch"
ORDERS = 25


def pyproject_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"])


@pytest.fixture
def scratch_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a fresh user: no display, no keyring, empty settings, no window open."""
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        HOME=str(tmp_path / "home"),
        KILLSWITCH_CONFIG_DIR=str(tmp_path / "config"),
        KILLSWITCH_DATA_DIR=str(tmp_path / "data"),
        # Our own single-instance socket, so a window the developer has open does not answer.
        KILLSWITCH_RUNTIME_DIR=str(tmp_path / "run"),
    )
    return env


@pytest.fixture
def frozen_simulator(scratch_env: dict[str, str]) -> Iterator[tuple[str, str]]:
    """`killswitch simulate` from the build, with 25 working orders: (url, key)."""
    sim = subprocess.Popen(
        [str(APP), "simulate", "--orders", str(ORDERS), "--seed", "11"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=scratch_env,
    )
    try:
        assert sim.stdout is not None
        url = key = ""
        for line in sim.stdout:
            if line.startswith("URL:"):
                url = line.split()[1]
            elif line.startswith("API key:"):
                key = line.split()[2]
                break
        assert url and key, "the frozen simulator did not print its URL and key"
        yield url, key
    finally:
        sim.terminate()
        sim.wait(10)
        if sim.stdout is not None:
            sim.stdout.close()


def run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(APP), *args], check=False, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_frozen_app_reports_the_version_in_pyproject(scratch_env: dict[str, str]):
    done = run(["--version"], scratch_env)

    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"killswitch {pyproject_version()}"


def test_frozen_self_test_passes_offscreen_without_a_keyring(scratch_env: dict[str, str]):
    done = run(["--self-test"], {**scratch_env, "QT_QPA_PLATFORM": "offscreen"})

    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASS  kill: verdict flat, 25 cancelled, 0 still working" in done.stdout
    version_line = f"PASS  version: {pyproject_version()} (from the openalgo-killswitch package metadata)"
    assert version_line in done.stdout
    assert "self-test passed" in done.stdout


def test_frozen_self_test_passes_on_an_x_desktop_and_uses_its_secret_service(
    scratch_env: dict[str, str], xvfb: Xvfb, secret_service: SecretService
):
    env = {**scratch_env, **secret_service.env, "DISPLAY": xvfb.display, "QT_QPA_PLATFORM": "xcb"}

    done = run(["--self-test"], env)

    assert done.returncode == 0, done.stdout + done.stderr
    assert "shown on the 'xcb' display" in done.stdout
    keyring_line = next(line for line in done.stdout.splitlines() if "keyring backend" in line)
    assert keyring_line.startswith("PASS")
    assert "keyring.backends.SecretService.Keyring (Secret Service (GNOME Keyring), usable)" in keyring_line


def test_frozen_simulate_and_cancel_all_leave_the_account_flat(
    scratch_env: dict[str, str], frozen_simulator: tuple[str, str]
):
    url, key = frozen_simulator

    done = run(["cancel-all", "--host", url, "--json"], {**scratch_env, "OPENALGO_API_KEY": key})

    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["verdict"] == "flat"
    assert len(report["canceled_orders"]) == ORDERS
    assert key not in done.stdout + done.stderr


def test_frozen_window_shows_the_first_order_book_on_an_x_display(
    scratch_env: dict[str, str], xvfb: Xvfb, frozen_simulator: tuple[str, str]
):
    url, key = frozen_simulator
    env = {
        **scratch_env,
        **xvfb.env,
        "OPENALGO_API_KEY": key,
        "KILLSWITCH_STARTUP_PROBE": "1",
    }

    done = run(["--host", url], env)

    assert done.returncode == 0, done.stderr
    assert re.search(r"^startup window_shown_ms=[0-9.]+$", done.stderr, re.MULTILINE), done.stderr
    book_line = rf"^startup first_book_ms=[0-9.]+ rows={ORDERS}$"
    assert re.search(book_line, done.stderr, re.MULTILINE), done.stderr
