"""Start-up and memory: launch to window shown and to first order book painted; resident memory.

Each launch is a fresh process with ``KILLSWITCH_STARTUP_PROBE`` set to this process's
``time.monotonic()`` just before it starts (``ui.startup_probe`` reports against that stamp), the
offscreen platform, and empty settings and data directories. From source the app runs as
``python main.py --demo`` (``main.py`` installs the probe when the variable is set). The baseline
is ``benchmarks.minimal_window``: a bare PySide6 window with a 25-row table, launched the same way.
The frozen app (``dist/killswitch/killswitch``) is measured when it has been built.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.figures import Report, Target, median
from benchmarks.sim_server import SimProcess

ROOT = Path(__file__).resolve().parent.parent
FROZEN = ROOT / "dist" / "killswitch" / "killswitch"
_LINE = re.compile(r"startup (\w+)=([0-9.]+)")


@dataclass(frozen=True)
class Launch:
    window_ms: float
    book_ms: float
    rss_mb: float
    rows: int


def source_command(*args: str) -> list[str]:
    return [sys.executable, str(ROOT / "main.py"), *args]


def launch(
    command: list[str], *, extra_env: dict[str, str] | None = None, linger_ms: int = 0, timeout_s: float = 60
) -> Launch:
    with tempfile.TemporaryDirectory(prefix="ks-bench-") as tmp:
        # A trader's Python writes bytecode the first time and reads it after; a session that
        # sets PYTHONDONTWRITEBYTECODE would make every launch compile the app again (~100 ms),
        # which the uncounted warm-up launch is there to prevent.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(
            QT_QPA_PLATFORM="offscreen",
            KILLSWITCH_CONFIG_DIR=str(Path(tmp) / "config"),
            KILLSWITCH_DATA_DIR=str(Path(tmp) / "data"),
            KILLSWITCH_STARTUP_PROBE_LINGER_MS=str(linger_ms),
            PYTHONPATH=str(ROOT),
        )
        env.update(extra_env or {})
        env["KILLSWITCH_STARTUP_PROBE"] = repr(time.monotonic())
        try:
            done = subprocess.run(
                command, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(
                f"{command[-1]}: still running after {timeout_s:g} s, no start-up figures"
            ) from exc
    found = {m.group(1): m.group(2) for m in _LINE.finditer(done.stderr)}
    rows = re.search(r"rows=(\d+)", done.stderr)
    if "first_book_ms" not in found or "window_shown_ms" not in found:
        raise RuntimeError(
            f"{command[-1]}: no start-up figures (exit {done.returncode}): {done.stderr[-500:]}"
        )
    return Launch(
        float(found["window_shown_ms"]),
        float(found["first_book_ms"]),
        float(found.get("rss_mb", "nan")),
        int(rows.group(1)) if rows else 0,
    )


def run(report: Report, *, quick: bool = False) -> None:
    count = 2 if quick else 5
    sim = SimProcess(25)  # a trader's start: the saved server, here --host with the key in the env
    real_env = {"OPENALGO_API_KEY": sim.apikey}
    try:
        app: list[Launch] = []
        demo: list[Launch] = []
        base: list[Launch] = []
        launch(source_command("--host", sim.url), extra_env=real_env)  # reads everything from disk
        for _ in range(count):  # interleaved, so all see the same machine
            app.append(launch(source_command("--host", sim.url), extra_env=real_env))
            demo.append(launch(source_command("--demo")))
            base.append(launch([sys.executable, "-m", "benchmarks.minimal_window"]))
        frozen: list[Launch] = []
        frozen_note = ""
        if quick:
            frozen_note = "frozen app: skipped in --quick."
        elif not FROZEN.exists():
            frozen_note = f"frozen app: skipped, {FROZEN.relative_to(ROOT)} has not been built."
        else:
            try:
                frozen = [
                    launch([str(FROZEN), "--host", sim.url], extra_env=real_env, timeout_s=12)
                    for _ in range(count)
                ]
            except RuntimeError as exc:
                frozen_note = f"frozen app: no figures ({exc}); a build older than main.py's probe line?"
    finally:
        sim.close()
    window = median([x.window_ms for x in app])
    base_window = median([x.window_ms for x in base])
    report.add("startup_window_ms", window, "ms")
    report.add("startup_first_book_ms", median([x.book_ms for x in app]), "ms")
    report.add("startup_demo_window_ms", median([x.window_ms for x in demo]), "ms")
    report.add("startup_demo_first_book_ms", median([x.book_ms for x in demo]), "ms")
    report.add("startup_baseline_window_ms", base_window, "ms")
    report.add("startup_baseline_first_book_ms", median([x.book_ms for x in base]), "ms")
    report.add("startup_window_ratio", window / base_window, "x", Target("<=", 2.0))
    report.add("rss_mb_baseline", median([x.rss_mb for x in base]), "MB")
    report.note(
        f"startup: median of {count} launches from source, offscreen, interleaved, after one uncounted "
        "warm-up launch; from launch (launcher's monotonic clock) to the first paint of the window / of "
        "the orders table with rows. App = python main.py --host URL with $OPENALGO_API_KEY (a trader's "
        "start; the server is the simulator in its own process, 25 orders); demo = python main.py --demo "
        "(also starts the simulator in the app); baseline = benchmarks.minimal_window (bare PySide6 "
        "window + 25-row QTableWidget)."
    )
    if frozen:
        frozen_window = median([x.window_ms for x in frozen])
        report.add("startup_frozen_window_ms", frozen_window, "ms")
        report.add("startup_frozen_first_book_ms", median([x.book_ms for x in frozen]), "ms")
        report.add("startup_frozen_window_ratio", frozen_window / base_window, "x", Target("<=", 2.0))
    else:
        report.note(frozen_note)

    orders = 2_000 if quick else 10_000
    sim = SimProcess(orders, survivors=0.0)
    try:
        loaded = launch(
            source_command("--host", sim.url),
            extra_env={"OPENALGO_API_KEY": sim.apikey},
            linger_ms=2500,
        )
    finally:
        sim.close()
    report.add("rss_mb_10k", loaded.rss_mb, "MB")
    report.note(
        f"rss_mb_10k: resident memory (VmRSS) of the app from source with {loaded.rows:,} working orders in "
        f"its table (simulator in its own process), 2.5 s after the first book was painted"
        + (" (--quick: 2,000 orders)." if quick else ".")
    )
