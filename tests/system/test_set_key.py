"""``killswitch set-key`` as a script or a password manager runs it: the key piped on stdin is
stored in the real Secret Service without a prompt and without Python's GetPassWarning, and a
locked keyring is reported without offering a "session" a command does not have."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.secrets import SERVICE_NAME

from .conftest import SecretService

pytestmark = pytest.mark.system

REPO = Path(__file__).resolve().parents[2]
SERVER = "http://127.0.0.1:5000"
KEY = "7c1e5a9d3f8b2e6a0d4c7f1b5e9a3d8c2f6b0e4a7d1c5f9b3e8a2d6c0f4b7e1a"


def set_key(env: dict[str, str], tmp_path: Path, piped: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "error", "main.py", "set-key", "--host", SERVER],
        input=piped,
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**env, "KILLSWITCH_CONFIG_DIR": str(tmp_path / "config")},
        timeout=60,
        check=False,
    )


def test_a_piped_key_is_stored_quietly(secret_service: SecretService, tmp_path: Path) -> None:
    done = set_key(secret_service.env, tmp_path, KEY + "\n")

    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # no prompt, no GetPassWarning
    assert done.stdout == f"Stored the key for {SERVER} in Secret Service (GNOME Keyring).\n"
    assert KEY not in done.stdout
    assert secret_service.stored_secret(SERVICE_NAME, SERVER) == KEY


def test_a_locked_keyring_stores_nothing_and_offers_the_environment(
    secret_service: SecretService, tmp_path: Path
) -> None:
    secret_service.lock()

    done = set_key(secret_service.env, tmp_path, KEY + "\n")

    assert done.returncode == 2
    assert "the keyring stayed locked. Nothing was stored." in done.stderr
    assert "session" not in done.stderr
    assert secret_service.stored_secret(SERVICE_NAME, SERVER) is None
