"""A real key press: ``xdotool`` sends the chord to an X server, and the request reaches the server.

An Xvfb of its own; ``xdotool key`` sends the chord through XTEST, as a keyboard would reach the
X server. Two listeners hear it, each on a chord of its own (one grab per chord), interleaved:

- **app**: the real window (immediate policy, real lanes, tuned as the app is) with the real X11
  hotkey (``ui.hotkey_x11.X11Hotkey``, ``XGrabKey`` on the root window) wired by the app's
  ``FireSources``: X event -> the hotkey's listener thread -> ``HotkeyBridge`` -> ``ChordTrigger``
  -> ``window.fire`` -> kill lane -> ``cancelallorder``; chord Ctrl+Alt+Shift+K;
- **bare**: a process of its own with python-xlib and httpx only: the same grab, and on the
  ``KeyPress`` a warm ``httpx.Client.post`` of the same request; chord Ctrl+Alt+Shift+J.

From ``perf_counter()`` just before ``xdotool`` is launched to the arrival stamp in the
simulator's own process (same monotonic clock). Both include launching ``xdotool`` (a few ms, the
same for both), so the ratio understates the difference; the difference of the medians is the
app's own cost of a real press.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time

import httpx

from benchmarks.figures import Report, Target, median
from benchmarks.qtrun import UiThread, application
from benchmarks.sim_server import SimProcess, same_clock_across_processes
from benchmarks.wire import Presses, Rig
from tests.system.conftest import running_xvfb  # the system tests' Xvfb, ready when it yields

APP_CHORD = "ctrl+alt+shift+k"  # the app's default hotkey
BARE_CHORD = "ctrl+alt+shift+j"

BARE_LISTENER = """\
import sys, httpx
from Xlib import X, XK
from Xlib.display import Display

display_name, url, key = sys.argv[1:4]
display = Display(display_name)
root = display.screen().root
keycode = display.keysym_to_keycode(XK.string_to_keysym("j"))
modifiers = X.ControlMask | X.Mod1Mask | X.ShiftMask
root.grab_key(keycode, modifiers, True, X.GrabModeAsync, X.GrabModeAsync)
display.sync()
body = {"apikey": key, "strategy": "KillSwitch"}
with httpx.Client() as client:
    client.post(url + "/api/v1/ping", json={"apikey": key})  # warm, as the kill lane is
    print("ready", flush=True)
    while True:
        event = display.next_event()
        if event.type == X.KeyPress and event.detail == keycode:
            client.post(url + "/api/v1/cancelallorder", json=body)
"""


def run(report: Report, *, quick: bool = False) -> None:
    missing = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
    if missing or not same_clock_across_processes() or not sys.platform.startswith("linux"):
        report.note(f"x11 press: skipped ({', '.join(missing) or 'not Linux'}).")
        return
    rounds = 5 if quick else 40
    warmup = 2 if quick else 5
    from ui.hotkey_x11 import X11Hotkey

    ui = UiThread()
    application()
    with running_xvfb() as x_server:
        display = x_server.display
        env = dict(os.environ, DISPLAY=display)
        sim = SimProcess(0)
        bare = subprocess.Popen(
            [sys.executable, "-c", BARE_LISTENER, display, sim.url, sim.apikey],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert bare.stdout is not None
            if bare.stdout.readline().strip() != "ready":
                raise RuntimeError("the bare Xlib listener did not start")
            hotkey = X11Hotkey(display)
            rig = Rig(sim.url, sim.apikey, poll_interval_s=1.0, hotkey=hotkey)
            if not hotkey.capability().ok:
                raise RuntimeError(f"the app's X11 hotkey did not bind: {hotkey.capability().sentence}")
            client = httpx.Client()
            try:
                presses = Presses(ui, sim, rig, client)

                def xdotool(chord: str) -> list[float]:
                    t0 = time.perf_counter()
                    subprocess.run(["xdotool", "key", chord], env=env, check=True, timeout=10)
                    return [t0]

                def bare_press() -> float:
                    presses._prepare()
                    pressed = xdotool(BARE_CHORD)
                    arrived = presses._arrival()
                    time.sleep(0.05)
                    return (arrived - pressed[0]) * 1000

                def script() -> tuple[list[float], list[float]]:
                    presses.warm_up()
                    app_ms: list[float] = []
                    bare_ms: list[float] = []
                    for i in range(warmup + rounds):
                        b = bare_press()
                        a = presses.app_kill(lambda: xdotool(APP_CHORD))
                        if i >= warmup:
                            bare_ms.append(b)
                            app_ms.append(a)
                    return app_ms, bare_ms

                app_ms, bare_ms = ui.drive(script)
            finally:
                client.close()
                rig.close()
                hotkey.stop()
                application().processEvents()
        finally:
            bare.terminate()
            bare.wait(5)
            if bare.stdout is not None:
                bare.stdout.close()
            sim.close()
    app, base = median(app_ms), median(bare_ms)
    report.add("x11_press_to_wire_ms", app, "ms")
    report.add("x11_press_baseline_ms", base, "ms")
    report.add("x11_press_overhead_ms", app - base, "ms", Target("<", 2.0))
    report.add("x11_press_ratio", app / base, "x")
    report.note(
        f"x11 press: {rounds} presses per path after {warmup} warm-up, medians; xdotool key <chord> on an "
        "Xvfb of its own -> app: X11Hotkey grab -> HotkeyBridge -> ChordTrigger -> window.fire -> kill "
        "lane; bare: a python-xlib grab in a process of its own posting with a warm httpx.Client. From "
        "just before xdotool is launched to the arrival stamp; both include xdotool's own start."
    )
