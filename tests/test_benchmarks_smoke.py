"""``python -m benchmarks --quick`` still runs end to end and prints every figure as a number.

Speed is not asserted here (that is what the benchmarks report); this only catches a benchmark
that broke. It runs the real command in a subprocess, as a person would.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIGURES = (
    "trigger_to_wire_overhead_ms",
    "trigger_to_wire_ratio",
    "trigger_to_wire_p99_ms",
    "trigger_to_wire_hotkey_ms",
    "idle_vs_warm_ratio",
    "idle_new_connections",
    "verified_ms_10",
    "verified_ms_100",
    "verified_ms_1000",
    "sweep_rate_fraction",
    "sweep_429s",
    "guard_catch_ms_2_per_s",
    "guard_catch_ms_10_per_s",
    "flatten_verified_ms_10",
    "flatten_verified_ms_100",
    "flatten_sweep_verified_ms_10",
    "fanout_ratio_5",
    "fanout_ratio_20",
    "ui_max_stall_ms",
    "ui_stall_ratio_vs_rebuild",
    "startup_window_ms",
    "startup_first_book_ms",
    "startup_baseline_window_ms",
    "rss_mb_10k",
)


def test_quick_benchmarks_print_every_figure_as_a_number(tmp_path: Path) -> None:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    values: dict[str, float] = {}
    for line in done.stdout.splitlines():
        parts = line.split()
        if len(parts) == 3 and not line.startswith("#"):
            try:
                values[parts[0]] = float(parts[1])
            except ValueError:
                continue
    missing = [name for name in FIGURES if name not in values]
    assert not missing, f"not printed: {missing}\n{done.stdout}"
    not_numbers = [name for name in FIGURES if math.isnan(values[name])]
    assert not not_numbers, f"printed without a number: {not_numbers}\n{done.stdout}"
    assert "targets met." in done.stdout
