"""Trigger to wire: from a press to the moment ``cancelallorder`` reaches the server.

The real window (``ui.main_window.MainWindow`` with the immediate firing policy, real ``Lanes``,
polling every second, every kill written to its record, the interpreter tuned as ``ui.app`` tunes
it) runs offscreen in this process. The server is the simulator in a process of its own
(``benchmarks.sim_server``), as a real OpenAlgo server is another process: it stamps each
``cancelallorder`` with ``time.perf_counter()`` when it has read the body, and on Linux that is
the same system-wide monotonic clock this process stamps the press with. Three ways in,
interleaved round by round so that each sees the same machine:

- **button**: on the UI thread, ``perf_counter()`` then ``window.button.click()`` (the real
  ``PanicButton``; ``click()`` runs its pressed/released/clicked path, then the window's
  ``request_fire`` and ``fire``);
- **hotkey**: on another thread, as the X11/pynput listener's own thread would, ``perf_counter()``
  then the hotkey callback (``FakeHotkey.press`` -> ``HotkeyBridge.pressed``, queued to the UI
  thread -> ``ChordTrigger`` (immediate) -> ``window.fire``), wired by the app's ``FireSources``;
- **baseline**: ``perf_counter()`` then a bare, warm, persistent ``httpx.Client.post`` of the same
  request, from plain code on a plain thread.

Between kills the book gets one fresh working order (so each kill is quick) and the server's rate
limits are reset. The whole measurement runs three times, each with a fresh window and server
process; the figures are the median of the three runs' medians, with their spread.

Then two presses after idleness: after 15 s with the server keeping the connection (a press must
cost what a warm press costs), and after the server closed the kill lane's idle connection (quirk
``idle_close_s``, as gunicorn, nginx and tunnels do).
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.figures import Report, Target, median, percentile
from benchmarks.qtrun import UiThread, application
from benchmarks.sim_server import SimProcess, same_clock_across_processes
from core.record import KillRecord
from core.report import CancelReport
from core.secrets import SessionKeyStore
from core.settings import FiringPolicy, Settings
from ui.app import freeze_long_lived_objects_after_first_book, tune_interpreter_for_the_panic_path
from ui.fire_sources import FireSources
from ui.hotkey import FakeHotkey, GlobalHotkey
from ui.lanes import Lanes
from ui.main_window import MainWindow

SETTLE_S = 0.05  # after a kill's report, let the window and the post-kill poll finish
WAIT_S = 10.0
IDLE_CLOSE_S = 2.0  # gunicorn's default keep-alive; nginx's is 75 s, uvicorn's 5 s


class Rig:
    """The window, its lanes and a hotkey path, built on the UI thread, tuned as the app is."""

    def __init__(
        self, url: str, apikey: str, poll_interval_s: float, hotkey: GlobalHotkey | None = None
    ) -> None:
        settings = Settings(
            host=url, firing_policy=FiringPolicy.IMMEDIATE, poll_interval_s=poll_interval_s
        ).validated()
        store = SessionKeyStore()
        store.set(url, apikey)
        # The app writes each kill to its record (while its cancel-all is on its way): measure that too.
        self.record_dir = tempfile.TemporaryDirectory(prefix="ks-bench-record-")
        self.record = KillRecord(Path(self.record_dir.name) / "kills.sqlite3")
        self.lanes = Lanes(
            url,
            apikey,
            strategy=settings.strategy,
            poll_interval_s=settings.poll_interval_s,
            deadline_s=settings.deadline_s,
            record=self.record,
        )
        self.window = MainWindow(settings, store, apikey=apikey, lanes=self.lanes, persist=False)
        # The app's own wiring of the hotkey to the window, with a stand-in keyboard unless a real
        # one is given (no X server grab here), and no tray icon.
        self.hotkey = FakeHotkey()
        self.sources = FireSources(self.window, hotkey=hotkey or self.hotkey, use_tray=False)
        if not self.sources.start().ok:
            raise RuntimeError("the hotkey could not be bound")
        self.finished = threading.Event()
        self.booked = threading.Event()
        self.reports: list[CancelReport] = []
        self.lanes.killFinished.connect(self._finished)
        self.lanes.bookUpdated.connect(lambda _book: self.booked.set())
        # The process-wide settings the app makes at start-up (ui.app.run).
        tune_interpreter_for_the_panic_path()
        freeze_long_lived_objects_after_first_book(self.window)
        self.window.show()
        self.window.start()

    def _finished(self, report: CancelReport) -> None:
        self.reports.append(report)
        self.finished.set()

    def close(self) -> None:
        self.sources.stop()
        self.window.close()  # stops the lanes
        self.window.deleteLater()
        self.record.close()
        self.record_dir.cleanup()


@dataclass
class Samples:
    button: list[float] = field(default_factory=list)
    hotkey: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    post_idle: list[float] = field(default_factory=list)
    post_idle_baseline: list[float] = field(default_factory=list)
    idle_new_connections: int = 0
    idle_pings: int = 0
    dropped: list[float] = field(default_factory=list)
    dropped_warm: list[float] = field(default_factory=list)
    dropped_baseline: list[float] = field(default_factory=list)
    dropped_new_connections: int = 0
    dropped_failed_attempts: int = 0


class Presses:
    """The ways in, each returning press-to-arrival in ms, against one rig and one server."""

    def __init__(self, ui: UiThread, sim: SimProcess, rig: Rig, bare: httpx.Client) -> None:
        self.ui, self.sim, self.rig, self.bare = ui, sim, rig, bare
        self.url = f"{sim.url}/api/v1/cancelallorder"
        self.body = {"apikey": sim.apikey, "strategy": rig.window.settings.strategy}

    def warm_up(self) -> None:
        if not self.rig.booked.wait(WAIT_S):
            raise TimeoutError("the window never showed a first order book")
        # Warm, as the kill lane is.
        self.bare.post(f"{self.sim.url}/api/v1/ping", json={"apikey": self.sim.apikey})

    def _prepare(self, idle_s: float = 0.0) -> None:
        self.sim.prepare()
        self.rig.finished.clear()
        self.ui.call(lambda: None)  # the UI thread has handled everything before: it is idle now
        if idle_s:
            time.sleep(idle_s)
        # Ask for the arrival now: the server answers once the request is there, and this thread
        # then only waits on a pipe (it takes no interpreter lock during the press).
        self.sim.send("arrival")

    def _arrival(self) -> float:
        assert self.sim.proc.stdout is not None
        answer = self.sim.proc.stdout.readline().strip()
        if answer in ("", "none"):
            raise TimeoutError("cancelallorder never reached the simulator")
        return float(answer)

    def app_kill(self, press: Callable[[], list[float]], idle_s: float = 0.0) -> float:
        self._prepare(idle_s)
        pressed = press()  # holds the press's perf_counter() by the time the request arrives
        arrived = self._arrival()
        if not self.rig.finished.wait(WAIT_S):
            raise TimeoutError("the kill never finished")
        time.sleep(SETTLE_S)
        return (arrived - pressed[0]) * 1000

    def click(self) -> list[float]:
        # Posted, not waited for: this thread must not wake up and take the interpreter lock
        # while the kill lane sends (a mouse click has no such waiter either).
        box: list[float] = []

        def on_ui() -> None:
            box.append(time.perf_counter())
            self.rig.window.button.click()

        self.ui.post(on_ui)
        return box

    def hotkey(self) -> list[float]:
        t0 = time.perf_counter()
        self.rig.hotkey.press()
        self.rig.hotkey.release()
        return [t0]

    def baseline(self, idle_s: float = 0.0) -> float:
        self._prepare(idle_s)
        t0 = time.perf_counter()
        self.bare.post(self.url, json=self.body).raise_for_status()
        arrived = self._arrival()
        time.sleep(SETTLE_S)
        return (arrived - t0) * 1000


@dataclass
class Run:
    button: float
    hotkey: float
    baseline: float
    button_p99: float
    hotkey_p99: float
    baseline_p99: float


def _interleaved(p: Presses, rounds: int, warmup: int) -> tuple[list[float], list[float], list[float]]:
    button: list[float] = []
    hotkey: list[float] = []
    baseline: list[float] = []
    for i in range(warmup + rounds):
        b, k, h = p.baseline(), p.app_kill(p.click), p.app_kill(p.hotkey)
        if i >= warmup:
            baseline.append(b)
            button.append(k)
            hotkey.append(h)
    return button, hotkey, baseline


def _one_run(
    p: Presses, rounds: int, warmup: int, samples: Samples, idles: int, idle_s: float
) -> tuple[list[float], list[float], list[float]]:
    button, hotkey, baseline = _interleaved(p, rounds, warmup)
    if idles:
        before = p.sim.stats()
        for _ in range(idles):
            samples.post_idle.append(p.app_kill(p.click, idle_s=idle_s))
        after = p.sim.stats()
        for _ in range(idles):  # what any client pays after the same idleness: both ends run cold
            samples.post_idle_baseline.append(p.baseline(idle_s=idle_s))
        samples.idle_new_connections = after["connections"] - before["connections"]
        samples.idle_pings = after["pings"] - before["pings"]
    return button, hotkey, baseline


def _with_rig(
    ui: UiThread, sim: SimProcess, script: Callable[[Presses], object], poll_interval_s: float = 1.0
) -> object:
    rig = Rig(sim.url, sim.apikey, poll_interval_s)
    bare = httpx.Client()
    try:
        presses = Presses(ui, sim, rig, bare)
        return ui.drive(lambda: (presses.warm_up(), script(presses))[1])
    finally:
        bare.close()
        rig.close()
        application().processEvents()


def measure_all(report: Report, *, quick: bool) -> None:
    if not same_clock_across_processes():
        report.note("trigger_to_wire: skipped, perf_counter is not one clock across processes here.")
        return
    runs_count = 3
    rounds = 15 if quick else 100
    warmup = 5 if quick else 10
    idle_s = 1.0 if quick else 15.0
    idles = 1 if quick else 2
    dropped_presses = 1 if quick else 3
    ui = UiThread()
    application()
    runs: list[Run] = []
    samples = Samples()
    for number in range(runs_count):
        sim = SimProcess(0)
        idle = (idles, idle_s) if number == runs_count - 1 else (0, 0.0)  # on the last run's rig
        try:
            button, hotkey, baseline = _with_rig(  # type: ignore[misc]
                ui, sim, lambda p, idle=idle: _one_run(p, rounds, warmup, samples, *idle)
            )
        finally:
            sim.close()
        runs.append(
            Run(
                median(button),
                median(hotkey),
                median(baseline),
                percentile(button, 0.99),
                percentile(hotkey, 0.99),
                percentile(baseline, 0.99),
            )
        )
        samples.button += button
        samples.hotkey += hotkey
        samples.baseline += baseline

    _measure_dropped(ui, samples, presses=dropped_presses, warm_rounds=10 if quick else 30)
    _report(report, runs, samples, idle_s, rounds)


def _measure_dropped(ui: UiThread, samples: Samples, *, presses: int, warm_rounds: int) -> None:
    """Presses after the server closed the kill lane's idle connection, against warm presses."""
    sim = SimProcess(0, idle_close_s=IDLE_CLOSE_S)
    try:

        def script(p: Presses) -> None:
            for i in range(5 + warm_rounds):  # well inside the idle limit: the connection stays
                value = p.app_kill(p.click)
                if i >= 5:
                    samples.dropped_warm.append(value)
            before = p.sim.stats()
            reports_before = len(p.rig.reports)
            for _ in range(presses):
                samples.dropped.append(p.app_kill(p.click, idle_s=IDLE_CLOSE_S + 1.0))
                samples.dropped_baseline.append(p.baseline(idle_s=IDLE_CLOSE_S + 1.0))
            after = p.sim.stats()
            samples.dropped_new_connections = after["connections"] - before["connections"]
            for kill in p.rig.reports[reports_before:]:
                if kill.cancel_all != "answered" or kill.errors:
                    samples.dropped_failed_attempts += 1

        _with_rig(ui, sim, script)
    finally:
        sim.close()


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}"


def _report(report: Report, runs: list[Run], s: Samples, idle_s: float, rounds: int) -> None:
    ratios = [r.button / r.baseline for r in runs]
    hotkey_ratios = [r.hotkey / r.baseline for r in runs]
    button = statistics.median(r.button for r in runs)
    hotkey = statistics.median(r.hotkey for r in runs)
    base = statistics.median(r.baseline for r in runs)
    report.add("trigger_to_wire_ms", button, "ms")
    report.add("trigger_to_wire_p99_ms", percentile(s.button, 0.99), "ms")
    report.add("trigger_to_wire_hotkey_ms", hotkey, "ms")
    report.add("trigger_to_wire_hotkey_p99_ms", percentile(s.hotkey, 0.99), "ms")
    report.add("trigger_to_wire_baseline_ms", base, "ms")
    report.add("trigger_to_wire_baseline_p99_ms", percentile(s.baseline, 0.99), "ms")
    report.add("trigger_to_wire_overhead_ms", button - base, "ms", Target("<", 2.0))
    report.add("trigger_to_wire_ratio", statistics.median(ratios), "x", Target("<", 1.5))
    report.add("trigger_to_wire_ratio_min", min(ratios), "x")
    report.add("trigger_to_wire_ratio_max", max(ratios), "x")
    report.add("trigger_to_wire_hotkey_overhead_ms", hotkey - base, "ms", Target("<", 2.0))
    report.add("trigger_to_wire_hotkey_ratio", statistics.median(hotkey_ratios), "x", Target("<", 1.5))
    warm = runs[-1].button
    post_idle = max(s.post_idle)
    report.add("post_idle_trigger_to_wire_ms", post_idle, "ms")
    if s.post_idle_baseline:
        report.add("post_idle_baseline_ms", max(s.post_idle_baseline), "ms")
        # The same measure for a bare client: what the idleness does to any post on this host.
        report.add("post_idle_baseline_vs_warm_ratio", max(s.post_idle_baseline) / runs[-1].baseline, "x")
    report.add("idle_vs_warm_ratio", post_idle / warm, "x", Target("<", 1.5))
    report.add("idle_new_connections", s.idle_new_connections, "count", Target("<=", 0))
    dropped = max(s.dropped)
    dropped_warm = median(s.dropped_warm)
    report.add("idle_dropped_trigger_to_wire_ms", dropped, "ms")
    report.add("idle_dropped_baseline_ms", median(s.dropped_baseline), "ms")
    report.add("idle_dropped_baseline_worst_ms", max(s.dropped_baseline), "ms")  # as the app's figure
    report.add("idle_dropped_vs_warm_ratio", dropped / dropped_warm, "x", Target("<", 2.0))
    report.add("idle_dropped_failed_attempts", s.dropped_failed_attempts, "count", Target("<=", 0))
    report.note(
        f"trigger_to_wire: 3 runs (fresh window and server each) of {rounds} kills per path after "
        "warm-up; figures are the median of the runs' medians, ratio spread "
        f"{_spread(ratios)} (button), {_spread(hotkey_ratios)} (hotkey); runs' medians button "
        + ", ".join(f"{r.button:.2f}" for r in runs)
        + " ms, baseline "
        + ", ".join(f"{r.baseline:.2f}" for r in runs)
        + " ms. button = perf_counter() then MainWindow's PanicButton.click() (immediate policy) on "
        "the UI thread; hotkey = the listener-thread callback -> HotkeyBridge -> ChordTrigger -> "
        "window.fire; baseline = bare warm httpx.Client.post from plain code. All to the arrival "
        "stamp (cancelallorder body read) in the simulator's own process, same monotonic clock."
    )
    report.note(
        f"idle_vs_warm_ratio: worst of {len(s.post_idle)} button kills after {idle_s:g} s of idleness "
        "each (not 5 min: the whole run must fit in 5 min) over the last run's warm button median "
        f"({warm:.2f} ms); each idle press took " + ", ".join(f"{v:.2f}" for v in s.post_idle) + " ms. "
        f"New TCP connections across the idle kills: {s.idle_new_connections} (server count); "
        f"keep-warm pings during the idle: {s.idle_pings}. A bare httpx post after the same idleness "
        "(worst, post_idle_baseline_ms): " + ", ".join(f"{v:.2f}" for v in s.post_idle_baseline) + " ms."
    )
    report.note(
        f"idle_dropped_vs_warm_ratio: server closes connections idle {IDLE_CLOSE_S:g} s (gunicorn's "
        f"default); worst of {len(s.dropped)} button kills each {IDLE_CLOSE_S + 1:g} s after the last "
        f"request ({', '.join(f'{v:.2f}' for v in s.dropped)} ms) over the warm median of "
        f"{len(s.dropped_warm)} kills on the same rig ({dropped_warm:.2f} ms); new connections opened "
        f"for them (with the bare posts between): {s.dropped_new_connections}; kills whose cancel-all "
        f"failed or erred: {s.dropped_failed_attempts}. A bare httpx post after the same drop "
        f"(median, idle_dropped_baseline_ms; worst, _worst_ms): "
        + ", ".join(f"{v:.2f}" for v in s.dropped_baseline)
        + " ms."
    )


def run(report: Report, *, quick: bool = False) -> None:
    measure_all(report, quick=quick)
