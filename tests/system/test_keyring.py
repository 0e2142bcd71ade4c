"""The API key against a real Secret Service (gnome-keyring-daemon on a private session bus).

Each behaviour runs in a fresh process (tests/system/keystore_probe.py) with `OsKeyStore()` and
keyring's own backend choice, because keyring makes that choice once per process from the
environment - exactly what the app does when it starts.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import keyring.backends.SecretService
import pytest

from core.secrets import SERVICE_NAME, KeyStoreError, KeyStoreProblem, OsKeyStore

from .conftest import SecretService, SessionBus, running_secret_service, running_session_bus

pytestmark = pytest.mark.system

REPO = Path(__file__).resolve().parents[2]
SERVER = "http://127.0.0.1:5000"
KEY = "4f9c2e7a1b5d8c3e6f0a9b2c5d8e1f4a7b0c3d6e9f2a5b8c1d4e7f0a3b6c9d2e"
OTHER_KEY = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
NO_SECRET_SERVICE = (
    "No usable keyring on this computer (no Secret Service is running). "
    "The key can be kept for this session only."
)


def probe(env: dict[str, str], *ops: list[str], store: str = "os") -> dict[str, Any]:
    """Run `ops` on a key store in a fresh process with `env`; warnings there fail the test."""
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-W", "error", "-m", "tests.system.keystore_probe"],
        input=json.dumps({"store": store, "ops": ops}),
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", "the probe wrote to stderr (a warning, or a leaked socket)"
    report: dict[str, Any] = json.loads(done.stdout)
    report["raw"] = done.stdout
    return report


def value(result: dict[str, Any]) -> Any:
    assert "value" in result, result
    return result["value"]


def error(result: dict[str, Any]) -> dict[str, str]:
    assert "error" in result, result
    error: dict[str, str] = result["error"]
    return error


def values(report: dict[str, Any]) -> list[Any]:
    return [value(result) for result in report["results"]]


@pytest.fixture
def no_bus_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose session bus address leads nowhere, and a HOME with no keyring config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS_", "PYTHON_KEYRING", "KEYRING_"))}
    env.update(
        DBUS_SESSION_BUS_ADDRESS=f"unix:path={tmp_path / 'no-bus-here'}",
        HOME=str(tmp_path),
        XDG_CONFIG_HOME=str(tmp_path / ".config"),
        XDG_DATA_HOME=str(tmp_path / ".local" / "share"),
    )
    return env


# --- a working Secret Service ---------------------------------------------------------------------


def test_a_fresh_process_chooses_the_secret_service_from_its_environment(secret_service: SecretService):
    report = probe(secret_service.env, ["check"])

    assert values(report) == [None]
    assert report["store"] == "OsKeyStore(backend=keyring.backends.SecretService.Keyring)"
    assert report["description"] == "Secret Service (GNOME Keyring)"


def test_a_stored_key_reads_back_and_sits_in_the_login_collection(secret_service: SecretService):
    report = probe(secret_service.env, ["set", SERVER, KEY], ["get", SERVER])

    assert values(report) == [None, KEY]
    assert secret_service.stored_secret(SERVICE_NAME, SERVER) == KEY


def test_storing_again_replaces_the_key(secret_service: SecretService):
    report = probe(secret_service.env, ["set", SERVER, KEY], ["set", SERVER, OTHER_KEY], ["get", SERVER])

    assert values(report) == [None, None, OTHER_KEY]
    assert secret_service.stored_secret(SERVICE_NAME, SERVER) == OTHER_KEY


def test_deleting_forgets_the_key_and_deleting_nothing_is_fine(secret_service: SecretService):
    report = probe(
        secret_service.env, ["set", SERVER, KEY], ["delete", SERVER], ["get", SERVER], ["delete", SERVER]
    )

    assert values(report) == [None, None, None, None]
    assert secret_service.stored_secret(SERVICE_NAME, SERVER) is None


def test_a_server_is_one_entry_however_its_url_is_spelled(secret_service: SecretService):
    report = probe(
        secret_service.env,
        ["set", "HTTP://LocalHost:5000/", KEY],
        ["get", "http://localhost:5000"],
        ["get", "http://localhost:5001"],
    )

    assert values(report) == [None, KEY, None]
    assert secret_service.stored_secret(SERVICE_NAME, "http://localhost:5000") == KEY


def test_the_key_is_written_to_disk_only_encrypted(secret_service: SecretService):
    probe(secret_service.env, ["set", SERVER, KEY])

    files = secret_service.files()
    assert any(path.name == "login.keyring" for path in files)
    assert not [path for path in files if KEY.encode() in path.read_bytes()]


# --- a locked keyring ----------------------------------------------------------------------------


def test_a_locked_keyring_says_it_is_locked_instead_of_having_no_key(secret_service: SecretService):
    probe(secret_service.env, ["set", SERVER, KEY])
    secret_service.lock()

    check, get = probe(secret_service.env, ["check"], ["get", SERVER])["results"]

    assert value(check)["problem"] == KeyStoreProblem.LOCKED.value
    assert error(get)["sentence"] == (
        "The keyring is locked. Unlock it and try again, or keep the key for this session only."
    )


def test_storing_into_a_locked_keyring_fails_without_showing_the_key(secret_service: SecretService):
    secret_service.lock()

    report = probe(secret_service.env, ["set", SERVER, KEY])

    (result,) = report["results"]
    assert error(result)["problem"] == KeyStoreProblem.LOCKED.value
    assert KEY not in report["raw"]
    assert secret_service.is_locked()


def test_a_locked_keyring_in_this_process_leaves_no_socket_open(secret_service: SecretService):
    # Here the backend is injected rather than chosen: keyring's choice in the pytest process
    # was made once, by whichever test ran first. A D-Bus socket that keyring abandoned would be
    # finalised by gc.collect() below, and its ResourceWarning would fail this test.
    secret_service.lock()
    store = OsKeyStore(keyring.backends.SecretService.Keyring())  # type: ignore[no-untyped-call]

    with pytest.raises(KeyStoreError) as raised:
        store.get(SERVER)
    problem = raised.value.problem
    del raised
    gc.collect()

    assert problem is KeyStoreProblem.LOCKED


# --- no Secret Service --------------------------------------------------------------------------


def test_without_a_session_bus_every_operation_says_there_is_no_secret_service(no_bus_env: dict[str, str]):
    report = probe(no_bus_env, ["check"], ["get", SERVER], ["set", SERVER, KEY])

    check, get, store = report["results"]
    assert value(check)["sentence"] == NO_SECRET_SERVICE
    assert error(get)["sentence"] == NO_SECRET_SERVICE
    assert error(store)["sentence"] == NO_SECRET_SERVICE
    assert KEY not in report["raw"]


def test_a_session_bus_without_a_secret_service_says_so(session_bus: SessionBus):
    (get,) = probe(session_bus.env, ["get", SERVER])["results"]

    assert error(get)["sentence"] == NO_SECRET_SERVICE


def test_without_a_secret_service_the_key_is_kept_for_the_session(no_bus_env: dict[str, str]):
    report = probe(no_bus_env, ["set", SERVER, KEY], ["get", SERVER], store="choose")

    assert report["choice_problem"]["sentence"] == NO_SECRET_SERVICE
    assert report["description"] == "session only (memory)"
    assert values(report) == [None, KEY]
    assert KEY not in report["store"]


# --- the harness itself -------------------------------------------------------------------------


def test_the_secret_service_harness_leaves_no_process_behind():
    with running_session_bus() as bus, running_secret_service(bus) as service:
        pids = [bus.daemon.process.pid, service.daemon.process.pid]

    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
