"""``python -m benchmarks [--quick] [--only SECTION ...]``: every figure, then the summary table.

Each figure is one line, ``name value unit``; lines starting with ``#`` say how it was measured.
Everything runs against the built-in simulator on loopback, offscreen, with settings and data in
a temporary directory. ``--quick`` is a smoke run (fewer repetitions, smaller books, a raised
sweep rate limit): its numbers only show that every benchmark still runs.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import tempfile
import time
import traceback
from collections.abc import Callable

from benchmarks.figures import Report

# Each section's module, imported only when its section runs.
MODULES = {
    "wire": "wire",
    "x11": "x11_press",
    "verified": "verified",
    "steps": "steps",
    "fanout": "fanout",
    "window": "window_load",
    "startup": "startup",
    "scripted": "scripted",
}
SECTIONS = tuple(MODULES)


def _section(name: str) -> Callable[..., None]:
    run: Callable[..., None] = importlib.import_module(f"benchmarks.{MODULES[name]}").run
    return run


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    load = ""
    if hasattr(os, "getloadavg"):
        load = " · load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    from PySide6 import __version__ as qt

    return (
        f"{cpu} · {os.cpu_count()} cores · {platform.system()} {platform.release()} · "
        f"Python {platform.python_version()} · PySide6 {qt}{load}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a fast smoke run; numbers not representative")
    parser.add_argument("--only", action="append", choices=SECTIONS, help="run only this section")
    options = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    report = Report()
    started = time.monotonic()
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="killswitch-bench-") as tmp:
        os.environ["KILLSWITCH_CONFIG_DIR"] = os.path.join(tmp, "config")
        os.environ["KILLSWITCH_DATA_DIR"] = os.path.join(tmp, "data")
        report.note(f"machine: {machine()}")
        if options.quick:
            report.note("--quick: a smoke run; the figures are not representative")
        for name in options.only or SECTIONS:
            try:
                _section(name)(report, quick=options.quick)
            except Exception:
                failed.append(name)
                report.note(f"section {name} FAILED:\n{traceback.format_exc()}")
    report.note(f"total {time.monotonic() - started:.0f} s")
    report.summary()
    if failed:
        print(f"failed sections: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
