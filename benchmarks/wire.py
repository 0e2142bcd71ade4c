"""Trigger to wire: from a press to the moment ``cancelallorder`` reaches the server.

The real window (``ui.main_window.MainWindow`` with the immediate firing policy, real ``Lanes``,
polling every second as the app does) runs offscreen against the simulator on loopback, in this
process, so the simulator's ``on_request`` hook stamps each arrival with the same
``time.perf_counter`` clock the press was stamped with. Three ways in, interleaved round by round
so that each sees the same machine:

- **button**: on the UI thread, ``perf_counter()`` then ``window.button.click()`` (the real
  ``PanicButton``; ``click()`` runs its pressed/released/clicked path, then the window's
  ``request_fire`` and ``fire``);
- **hotkey**: on another thread, as the X11/pynput listener's own thread would, ``perf_counter()``
  then the hotkey callback (``FakeHotkey.press`` -> ``HotkeyBridge.pressed``, queued to the UI
  thread -> ``ChordTrigger`` (immediate) -> ``window.fire``), wired by the app's ``FireSources``;
- **baseline**: ``perf_counter()`` then a bare, warm, persistent ``httpx.Client.post`` of the same
  request, from plain code on a plain thread.

Between kills the book gets one fresh working order (so each kill is quick) and the server's rate
limits are reset. The warm-connection check then leaves the app idle and fires again.
"""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from benchmarks.figures import Report, Target, median, percentile
from benchmarks.qtrun import UiThread, application
from core.record import KillRecord
from core.secrets import SessionKeyStore
from core.settings import FiringPolicy, Settings
from core.simulator import Simulator
from ui.fire_sources import FireSources
from ui.hotkey import FakeHotkey
from ui.lanes import Lanes
from ui.main_window import MainWindow

SETTLE_S = 0.05  # after a kill's report, let the window and the post-kill poll finish
WAIT_S = 10.0


@dataclass
class Arrivals:
    """The simulator's view: when each ``cancelallorder`` body had been read."""

    event: threading.Event = field(default_factory=threading.Event)
    at: float = 0.0

    def hook(self, endpoint: str, at: float) -> None:
        if endpoint == "cancelallorder":
            self.at = at
            self.event.set()

    def arm(self) -> None:
        self.event.clear()
        self.at = 0.0

    def wait(self) -> float:
        if not self.event.wait(WAIT_S):
            raise TimeoutError("cancelallorder never reached the simulator")
        return self.at


class Rig:
    """The window, its lanes and a hotkey path, built on the UI thread."""

    def __init__(self, sim: Simulator, poll_interval_s: float) -> None:
        settings = Settings(
            host=sim.url, firing_policy=FiringPolicy.IMMEDIATE, poll_interval_s=poll_interval_s
        ).validated()
        store = SessionKeyStore()
        store.set(sim.url, sim.apikey)
        # The app writes each kill to its record before the first request: measure that too.
        self.record_dir = tempfile.TemporaryDirectory(prefix="ks-bench-record-")
        self.record = KillRecord(Path(self.record_dir.name) / "kills.sqlite3")
        self.lanes = Lanes(
            sim.url,
            sim.apikey,
            strategy=settings.strategy,
            poll_interval_s=settings.poll_interval_s,
            deadline_s=settings.deadline_s,
            record=self.record,
        )
        self.window = MainWindow(settings, store, apikey=sim.apikey, lanes=self.lanes, persist=False)
        # The app's own wiring of the hotkey to the window, with a stand-in keyboard (no X server
        # grab here) and no tray icon.
        self.hotkey = FakeHotkey()
        self.sources = FireSources(self.window, hotkey=self.hotkey, use_tray=False)
        if not self.sources.start().ok:
            raise RuntimeError("the hotkey could not be bound")
        self.finished = threading.Event()
        self.booked = threading.Event()
        self.lanes.killFinished.connect(lambda _report: self.finished.set())
        self.lanes.bookUpdated.connect(lambda _book: self.booked.set())
        self.window.show()
        self.window.start()

    def close(self) -> None:
        self.sources.stop()
        self.window.close()  # stops the lanes
        self.window.deleteLater()
        self.record.close()
        self.record_dir.cleanup()


def measure_all(report: Report, *, quick: bool) -> None:
    rounds = 25 if quick else 200
    warmup = 5 if quick else 10
    idle_s = 1.0 if quick else 15.0
    idles = 1 if quick else 2
    app = application()
    ui = UiThread()
    arrivals = Arrivals()
    with Simulator(mode="analyze", seed=3) as sim:
        sim.on_request = arrivals.hook
        rig = Rig(sim, poll_interval_s=1.0)
        bare = httpx.Client()
        try:
            samples = ui.drive(lambda: _script(ui, sim, rig, bare, arrivals, rounds, warmup, idle_s, idles))
        finally:
            bare.close()
            rig.close()
            app.processEvents()
        sim.on_request = None
    _report(report, samples, idle_s, rounds)


@dataclass
class Samples:
    button: list[float] = field(default_factory=list)
    hotkey: list[float] = field(default_factory=list)
    baseline: list[float] = field(default_factory=list)
    post_idle: list[float] = field(default_factory=list)
    idle_new_connections: int = 0
    idle_pings: int = 0


def _script(
    ui: UiThread,
    sim: Simulator,
    rig: Rig,
    bare: httpx.Client,
    arrivals: Arrivals,
    rounds: int,
    warmup: int,
    idle_s: float,
    idles: int,
) -> Samples:
    if not rig.booked.wait(WAIT_S):
        raise TimeoutError("the window never showed a first order book")
    url = f"{sim.url}/api/v1/cancelallorder"
    body = {"apikey": sim.apikey, "strategy": rig.window.settings.strategy}
    bare.post(f"{sim.url}/api/v1/ping", json={"apikey": sim.apikey})  # warm, as the lane is

    def prepare() -> None:
        sim.add_random_orders(1)
        sim.reset_rate_limits()
        arrivals.arm()
        rig.finished.clear()
        ui.call(lambda: None)  # the UI thread has handled everything before: it is idle now

    def app_kill(press: Callable[[], list[float]]) -> float:
        prepare()
        pressed = press()  # holds the press's perf_counter() by the time the request arrives
        arrived = arrivals.wait()
        if not rig.finished.wait(WAIT_S):
            raise TimeoutError("the kill never finished")
        time.sleep(SETTLE_S)
        return (arrived - pressed[0]) * 1000

    def click() -> list[float]:
        # Posted, not waited for: this thread must not wake up and take the interpreter lock
        # while the kill lane sends (a mouse click has no such waiter either).
        box: list[float] = []

        def on_ui() -> None:
            box.append(time.perf_counter())
            rig.window.button.click()

        ui.post(on_ui)
        return box

    def hotkey() -> list[float]:
        t0 = time.perf_counter()
        rig.hotkey.press()
        rig.hotkey.release()
        return [t0]

    def baseline() -> float:
        prepare()
        t0 = time.perf_counter()
        bare.post(url, json=body).raise_for_status()
        arrived = arrivals.wait()
        time.sleep(SETTLE_S)
        return (arrived - t0) * 1000

    samples = Samples()
    for i in range(warmup + rounds):
        b, k, h = baseline(), app_kill(click), app_kill(hotkey)
        if i >= warmup:
            samples.baseline.append(b)
            samples.button.append(k)
            samples.hotkey.append(h)

    connections = sim.stats.connections
    pings = len(sim.stats.arrivals_for("ping"))
    for _ in range(idles):
        time.sleep(idle_s)
        samples.post_idle.append(app_kill(click))
    samples.idle_new_connections = sim.stats.connections - connections
    samples.idle_pings = len(sim.stats.arrivals_for("ping")) - pings
    return samples


def _report(report: Report, s: Samples, idle_s: float, rounds: int) -> None:
    base = median(s.baseline)
    button = median(s.button)
    hotkey = median(s.hotkey)
    report.add("trigger_to_wire_ms", button, "ms")
    report.add("trigger_to_wire_p99_ms", percentile(s.button, 0.99), "ms")
    report.add("trigger_to_wire_hotkey_ms", hotkey, "ms")
    report.add("trigger_to_wire_hotkey_p99_ms", percentile(s.hotkey, 0.99), "ms")
    report.add("trigger_to_wire_baseline_ms", base, "ms")
    report.add("trigger_to_wire_baseline_p99_ms", percentile(s.baseline, 0.99), "ms")
    report.add("trigger_to_wire_overhead_ms", button - base, "ms", Target("<", 2.0))
    report.add("trigger_to_wire_ratio", button / base, "x", Target("<", 1.5))
    report.add("trigger_to_wire_hotkey_overhead_ms", hotkey - base, "ms", Target("<", 2.0))
    report.add("trigger_to_wire_hotkey_ratio", hotkey / base, "x", Target("<", 1.5))
    post_idle = max(s.post_idle)
    report.add("post_idle_trigger_to_wire_ms", post_idle, "ms")
    report.add("idle_vs_warm_ratio", post_idle / button, "x", Target("<", 1.5))
    report.add("idle_new_connections", s.idle_new_connections, "count", Target("<=", 0))
    report.note(
        f"trigger_to_wire: {rounds} kills per path (after warm-up), median and p99; button = "
        "perf_counter() then MainWindow's PanicButton.click() (immediate policy) on the UI thread; hotkey = "
        "the listener-thread callback -> HotkeyBridge -> ChordTrigger -> window.fire; baseline = bare warm "
        "httpx.Client.post from plain code. All to the simulator's on_request stamp (cancelallorder body "
        "read), same process, same perf_counter."
    )
    report.note(
        f"idle_vs_warm_ratio: worst of {len(s.post_idle)} button kills after {idle_s:g} s of idleness each "
        "(not 5 min: the whole run must fit in 5 min) over the warm button median. "
        f"New TCP connections opened across the idle kills: {s.idle_new_connections} (server count); "
        f"keep-warm pings during the idle: {s.idle_pings}. The kill lane keeps its connection for up to an "
        "hour (keepalive_expiry) and pings every 30 s, so a server that drops idle connections after "
        "30 s or more still finds it open."
    )


def run(report: Report, *, quick: bool = False) -> None:
    measure_all(report, quick=quick)
