"""A scripted kill, whole process: ``killswitch cancel-all`` against a bare httpx script and the
official OpenAlgo SDK.

Each is a fresh process, timed from its launch to its exit, against the simulator in a process of
its own holding working orders (one fresh order and reset rate limits before every launch), the
three interleaved so each sees the same machine:

- **app**: ``killswitch cancel-all --host URL`` (the installed console script), key from
  ``$OPENALGO_API_KEY``, settings and record in a temporary directory: fires the cancel-all, reads
  the book to verify, records the kill and prints the report;
- **bare**: the least a script can do for the same guarantee, in this interpreter: ``import httpx``,
  post ``cancelallorder``, post ``orderbook``, read both replies as JSON;
- **sdk**: the official SDK (``openalgo`` from PyPI) firing blind, as its README shows:
  ``api(api_key, host).cancelallorder(strategy=...)``. It lives in a virtual environment of its
  own under the user's cache directory, made by this benchmark on its first run (never a
  dependency of the project). When it cannot be made (no PyPI), the figure is skipped and says so.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.figures import Report, Target, median
from benchmarks.sim_server import SimProcess

ROOT = Path(__file__).resolve().parent.parent
SDK_PACKAGE = "openalgo"

BARE = """\
import sys, httpx
url, key = sys.argv[1], sys.argv[2]
with httpx.Client() as client:
    client.post(url + "/api/v1/cancelallorder", json={"apikey": key, "strategy": "KillSwitch"}).json()
    client.post(url + "/api/v1/orderbook", json={"apikey": key}).json()
"""

SDK = """\
import sys
from openalgo import api
api(api_key=sys.argv[2], host=sys.argv[1]).cancelallorder(strategy="KillSwitch")
"""


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "killswitch-bench"


def sdk_python(*, create: bool) -> tuple[Path | None, str]:
    """The SDK environment's interpreter (made if ``create`` and missing), or None and why not."""
    venv = cache_dir() / f"sdk-venv-py{sys.version_info.major}{sys.version_info.minor}"
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    if python.exists() and (venv / ".complete").exists():
        return python, ""
    if not create:
        return None, f"no SDK environment at {venv} yet (a full run makes it)"
    shutil.rmtree(venv, ignore_errors=True)
    try:
        made = [sys.executable, "-m", "venv", str(venv)]
        subprocess.run(made, check=True, capture_output=True, timeout=120)
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", SDK_PACKAGE],
            check=False,
            capture_output=True,
            text=True,
            timeout=600,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"the SDK environment could not be made ({exc})"
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return None, f"pip could not install {SDK_PACKAGE} from PyPI ({tail[0]})"
    (venv / ".complete").write_text(SDK_PACKAGE + "\n", "utf-8")
    return python, ""


def app_command() -> list[str]:
    script = Path(sys.prefix) / ("Scripts/killswitch.exe" if os.name == "nt" else "bin/killswitch")
    if script.exists():
        return [str(script)]
    return [sys.executable, str(ROOT / "main.py")]


def timed(command: list[str], env: dict[str, str]) -> float:
    """Launch to exit, in ms; the process must succeed."""
    started = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, check=False)
    elapsed = (time.perf_counter() - started) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"{command[:3]} exited {done.returncode}: {(done.stderr or done.stdout)[-400:]}")
    return elapsed


def run(report: Report, *, quick: bool = False) -> None:
    count = 3 if quick else 12
    sdk, why_not = sdk_python(create=not quick)
    sim = SimProcess(25)
    samples: dict[str, list[float]] = {"app": [], "bare": [], "sdk": []}
    try:
        with tempfile.TemporaryDirectory(prefix="ks-bench-cli-") as tmp:
            bare_script = Path(tmp) / "bare.py"
            bare_script.write_text(BARE, "utf-8")
            sdk_script = Path(tmp) / "sdk.py"
            sdk_script.write_text(SDK, "utf-8")
            # As a trader's Python: bytecode written once and read after (see benchmarks.startup).
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            env.update(
                OPENALGO_API_KEY=sim.apikey,
                KILLSWITCH_CONFIG_DIR=str(Path(tmp) / "config"),
                KILLSWITCH_DATA_DIR=str(Path(tmp) / "data"),
            )
            env.pop("PYTHONPATH", None)
            commands = {
                "app": [*app_command(), "cancel-all", "--host", sim.url],
                "bare": [sys.executable, str(bare_script), sim.url, sim.apikey],
            }
            if sdk is not None:
                commands["sdk"] = [str(sdk), str(sdk_script), sim.url, sim.apikey]
            for command in commands.values():  # first launches read everything from disk
                sim.prepare()
                timed(command, env)
            for _ in range(count):
                for name, command in commands.items():
                    sim.prepare()
                    samples[name].append(timed(command, env))
    finally:
        sim.close()
    app, bare = median(samples["app"]), median(samples["bare"])
    report.add("cli_cancel_all_ms", app, "ms")
    report.add("cli_bare_httpx_ms", bare, "ms")
    report.add("cli_vs_bare_ratio", app / bare, "x", Target("<=", 1.3))
    if sdk is not None:
        report.add("cli_sdk_ms", median(samples["sdk"]), "ms")
        report.add("cli_vs_sdk_ratio", app / median(samples["sdk"]), "x", Target("<=", 0.5))
    report.note(
        f"cli: median of {count} launches each, interleaved, after one uncounted launch each; launch to "
        "exit. app = killswitch cancel-all --host URL (fire, verify, record, report); bare = python "
        "+ httpx posting cancelallorder then orderbook; sdk = the official openalgo SDK's "
        "cancelallorder, fired blind, in its own environment."
        + ("" if sdk is not None else f" cli_vs_sdk_ratio: skipped: {why_not}.")
    )
