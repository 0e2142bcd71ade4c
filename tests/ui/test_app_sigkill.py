"""SIGKILL of the real app in the middle of a kill: the record survives, and the next start says so.

The app is the real window process (``python main.py --host URL``, offscreen, key from
``$OPENALGO_API_KEY``), fired the way a script fires it (``python main.py trigger`` over the
one-instance socket). The simulator runs in this test process; its ``cancelorder`` is made
slow so the second kill is caught half-way, after the cancel-all, during the sweep.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.market_time import ist_when
from core.record import RECORD_FILE_NAME, KillRecord, KillState
from core.simulator import Quirks, Simulator
from tests.ui.app_process import WAIT_S, app, app_env, trigger, wait_until


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(mode="analyze", orders=8, seed=11) as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, sim: Simulator) -> dict[str, str]:
    return app_env(tmp_path, sim)


@pytest.mark.skipif("sys.platform == 'win32'", reason="SIGKILL is POSIX")
def test_sigkill_during_a_kill_leaves_the_record_intact_and_the_next_start_marks_it_interrupted(
    sim: Simulator, env: dict[str, str], tmp_path: Path
) -> None:
    polled, sweeping = threading.Event(), threading.Event()

    def seen(endpoint: str, _at: float) -> None:
        if endpoint == "orderbook":
            polled.set()
        if endpoint == "cancelorder":
            sweeping.set()

    sim.on_request = seen
    record_path = tmp_path / "data" / RECORD_FILE_NAME
    log_path = tmp_path / "data" / "logs" / "killswitch.log"

    with app(env, sim.url) as first:
        wait_until("the first poll", polled)
        done = trigger(env, sim.url)
        out, err = done.communicate(timeout=WAIT_S)
        assert done.returncode == 0, err
        assert sim.working_orders() == []

        # The next kill: cancel-all leaves every order (as some brokers do), and each single
        # cancel of the sweep hangs, so the kill is caught in the middle.
        sim.quirks = Quirks(
            cancelall_skips_pricetypes=frozenset({"LIMIT", "SL", "SL-M", "MARKET"}),
            endpoint_delay_s={"cancelorder": 60.0},
        )
        sim.add_random_orders(4)
        second = trigger(env, sim.url)
        wait_until("the sweep's first cancelorder", sweeping)
        first.send_signal(signal.SIGKILL)
        first.wait(WAIT_S)
        assert first.returncode == -signal.SIGKILL

        # The window hung up without a verdict, so `trigger` runs the kill itself (and says so).
        sim.quirks = Quirks()
        out, err = second.communicate(timeout=WAIT_S)
        assert "No Kill Switch window answered; running the kill from here." in err
        assert f"the kill on {sim.url} started at" in err  # it names the kill the crash cut off
        assert second.returncode == 0, out + err
        assert sim.working_orders() == []

    with KillRecord(record_path) as after_crash:  # opened as the app opens it, before it starts
        assert after_crash.integrity_check() == "ok"
        # Newest first: the kill `trigger` ran itself, the one cut off, the earlier one.
        headless, interrupted, finished = after_crash.history()
        assert headless.state is KillState.FINISHED and headless.verdict == "flat"
        assert headless.trigger == "command line"
        assert finished.state is KillState.FINISHED and finished.verdict == "flat"
        assert finished.trigger == "command line" and finished.cancelled == 8
        # Begun, never finished: the next run (`trigger`'s own kill) marked it interrupted.
        assert interrupted.state is KillState.INTERRUPTED
        details = after_crash.details(interrupted.kill_id)
        assert details is not None
        assert [x.endpoint for x in details.exchanges][:2] == ["cancelallorder", "orderbook"]

    polled.clear()
    with app(env, sim.url) as again:
        wait_until("the interrupted kill in the log", check=lambda: "interrupted before" in _text(log_path))
        wait_until("the restarted app's first poll", polled)  # running: its signal handlers are set
        again.send_signal(signal.SIGTERM)  # closes the window as a logout would
        out, err = again.communicate(timeout=WAIT_S)
        assert again.returncode == 0, err
    started = ist_when(interrupted.started_at)
    # The window names it too, in IST like every time it shows (the command line's note may have
    # gone to a script's log).
    assert f"The kill on {sim.url} started at {started} was interrupted before its verdict" in _text(log_path)
    with KillRecord(record_path) as reopened:
        assert reopened.integrity_check() == "ok"
        states = {k.kill_id: k.state for k in reopened.history()}
        assert states == {
            headless.kill_id: KillState.FINISHED,
            interrupted.kill_id: KillState.INTERRUPTED,
            finished.kill_id: KillState.FINISHED,
        }
    assert sim.apikey not in _text(log_path)


def _text(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        return ""
