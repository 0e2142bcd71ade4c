"""A whole session, then a search for the key in everything the app wrote and printed: not found.

The app runs in a fresh process (tests/system/session_script.py) against a real Secret Service
(gnome-keyring on a private D-Bus session) and the simulator in this process, with its own
config, data, HOME, runtime and temp directories, so that every file it could write is under
one root we can search.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

import pytest

from core.secrets import SERVICE_NAME
from core.simulator import Quirks, Simulator

from .conftest import SecretService

pytestmark = pytest.mark.system

REPO = Path(__file__).resolve().parents[2]
SCRIPT = (sys.executable, "-X", "dev", "-W", "error", "-m", "tests.system.session_script")
KEY = "9d1c5e8a3f7b2d6e0a4c8f1b5e9d3a7c2f6b0e4a8d1c5f9b3e7a2d6c0f4b8e1a"


def serve(sim: Simulator, script: subprocess.Popen[str], out: list[str]) -> None:
    """Read the script's stdout, answering its requests for the simulator."""
    assert script.stdout is not None and script.stdin is not None
    for line in script.stdout:
        out.append(line)
        if not line.startswith("@@ "):
            continue
        command = line[3:].split()
        if command[0] == "add-orders":
            sim.add_random_orders(int(command[1]))
        elif command == ["quirks", "already-executed"]:
            working = [str(o["orderid"]) for o in sim.working_orders()]
            sim.quirks = Quirks(already_executed=frozenset(working[:2]))
        elif command == ["quirks", "none"]:
            sim.quirks = Quirks()
        elif command == ["stop"]:
            sim.stop()
        script.stdin.write("ok\n")
        script.stdin.flush()


def files_under(*roots: Path) -> list[Path]:
    return sorted({p for root in roots if root.exists() for p in root.rglob("*") if p.is_file()})


def test_a_whole_session_never_writes_or_prints_the_key(secret_service: SecretService) -> None:
    with tempfile.TemporaryDirectory(prefix="ks-session-") as tmp:
        root = Path(tmp)
        dirs = {name: root / name for name in ("config", "data", "tmp", "exports", "run")}
        for path in dirs.values():
            path.mkdir(mode=0o700)
        env = secret_service.env | {
            "KILLSWITCH_CONFIG_DIR": str(dirs["config"]),
            "KILLSWITCH_DATA_DIR": str(dirs["data"]),
            "KILLSWITCH_RUNTIME_DIR": str(dirs["run"]),
            "TMPDIR": str(dirs["tmp"]),
            "QT_QPA_PLATFORM": "offscreen",
            "PYTHONUNBUFFERED": "1",
        }
        sim = Simulator(apikey=KEY, mode="analyze", orders=12, seed=21).start()
        out: list[str] = []
        stderr_path = root / "stderr.txt"
        try:
            with (
                stderr_path.open("w") as stderr,
                subprocess.Popen(
                    [*SCRIPT, sim.url, str(dirs["exports"])],
                    cwd=REPO,
                    env=env,
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=stderr,
                    text=True,
                ) as script,
            ):
                stdin: IO[str] | None = script.stdin
                assert stdin is not None
                stdin.write(KEY + "\n")
                stdin.flush()
                reader = threading.Thread(target=serve, args=(sim, script, out))
                reader.start()
                reader.join(120)
                assert script.wait(30) == 0, stderr_path.read_text()
            stored = secret_service.stored_secret(SERVICE_NAME, sim.url)
        finally:
            sim.stop()
        printed = "".join(out) + stderr_path.read_text()
        result: dict[str, Any] = json.loads(next(line[7:] for line in out if line.startswith("RESULT ")))
        written = files_under(root, secret_service.bus.root)
        leaks = [str(p) for p in written if KEY.encode() in p.read_bytes()]

    # The key was really used: stored in the keyring, and the kills it signed went through.
    assert result["key_store"] == "OsKeyStore"
    assert stored == KEY
    verdicts = [(k["trigger"], k["verdict"]) for k in result["kills"]]
    assert verdicts == [
        ("button", "flat"),
        ("hotkey", "flat"),
        ("tray", "refused"),
        ("command line", "flat"),
        ("button", "unreachable"),
        ("button", "unreachable"),  # after the crash reports: the button still fires
    ]
    assert result["kills"][0]["cancelled"] == 12 and result["kills"][1]["failures"] == 2
    assert result["connection_test"].startswith("Key accepted")
    assert "rejected the API key" in result["wrong_key_bar"]
    assert "connection refused" in result["stopped_bar"]
    assert "Exported 5 kills as JSON" in result["export_status"]
    assert "RuntimeError" in result["crash_details"] and "ValueError" in result["crash_details"]
    assert "<APIKEY>" in result["crash_details"]

    # What the session wrote: settings, record, log, exports -- and nothing of it holds the key.
    names = {Path(p).name for p in map(str, written)}
    assert {"settings.json", "kills.sqlite3", "killswitch.log"} <= names
    assert sum(1 for p in written if p.parent.name == "exports") == 2
    assert leaks == []
    assert KEY not in printed
    assert KEY not in json.dumps(result["screen"])
