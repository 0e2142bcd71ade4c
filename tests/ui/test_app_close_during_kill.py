"""Closing the real app during a kill, as a logout or `kill` would: the kill is reported and
recorded as interrupted, every waiting `killswitch trigger` gets that report, the app is gone
within two seconds, and no second cancel-all is ever sent."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.record import RECORD_FILE_NAME, KillRecord, KillState
from core.simulator import Quirks, Simulator
from tests.ui.app_process import WAIT_S, app, app_env, taken, trigger, wait_until


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(mode="analyze", orders=6, seed=12) as server:
        yield server


@pytest.fixture
def env(tmp_path: Path, sim: Simulator) -> dict[str, str]:
    return app_env(tmp_path, sim)


def watch(sim: Simulator, *endpoints: str) -> list[threading.Event]:
    """One event per endpoint, set when the simulator first receives a call to it."""
    events = {endpoint: threading.Event() for endpoint in endpoints}

    def seen(endpoint: str, _at: float) -> None:
        if endpoint in events:
            events[endpoint].set()

    sim.on_request = seen
    return list(events.values())


def test_sigterm_during_a_kill_answers_every_trigger_with_the_interrupted_report_and_sends_nothing_twice(
    sim: Simulator, env: dict[str, str], tmp_path: Path
) -> None:
    polled, cancel_all = watch(sim, "orderbook", "cancelallorder")
    with app(env, sim.url) as window:
        wait_until("the first poll", polled)
        sim.quirks = Quirks(hang=frozenset({"cancelallorder"}))  # the kill waits on the server
        first = trigger(env, sim.url, "--json")
        wait_until("the window's cancel-all", cancel_all)
        second = trigger(env, sim.url, "--json")  # joins the running kill
        wait_until("the window taking the second press", taken(second))
        sent = time.monotonic()
        window.send_signal(signal.SIGTERM)
        window.wait(WAIT_S)
        closed_in = time.monotonic() - sent
        outputs = [t.communicate(timeout=WAIT_S) for t in (first, second)]
        codes = [first.returncode, second.returncode]

    assert closed_in < 2.0, f"the window took {closed_in:.1f} s to close"
    for (out, err), code in zip(outputs, codes, strict=True):
        report = json.loads(out)
        assert report["verdict"] == "unverified" and report["interrupted"] is True, err
        assert code == 1
    assert sim.stats.requests.get("cancelallorder") == 1  # the triggers never ran a kill of their own
    with KillRecord(tmp_path / "data" / RECORD_FILE_NAME) as record:
        [kill] = record.history()
    assert kill.state is KillState.INTERRUPTED


def test_a_trigger_that_arrives_while_the_window_closes_joins_its_kill_not_a_second_one(
    sim: Simulator, env: dict[str, str]
) -> None:
    polled, cancel_all = watch(sim, "orderbook", "cancelallorder")
    with app(env, sim.url) as window:
        wait_until("the first poll", polled)
        # The window's cancel-all takes 3 s; it is closed (SIGTERM) while it waits, and a trigger
        # arrives in the moment the window is going away.
        sim.quirks = Quirks(endpoint_delay_s={"cancelallorder": 3.0})
        first = trigger(env, sim.url, "--json")
        wait_until("the window's cancel-all", cancel_all)
        window.send_signal(signal.SIGTERM)
        late = trigger(env, sim.url, "--json")
        window.wait(WAIT_S)
        first.communicate(timeout=WAIT_S)
        out, err = late.communicate(timeout=WAIT_S)
        working = sim.working_orders()
    report = json.loads(out)
    # Whether it reached the window (and got its interrupted report) or found it gone (and ran a
    # kill of its own), the late trigger never sent a second cancel-all: the window's was never
    # answered and may still be running on the server. On its own it reads the book and sweeps.
    assert sim.stats.requests.get("cancelallorder") == 1, err
    assert report["verdict"] in ("unverified", "flat"), err
    if report["verdict"] == "flat":
        assert report["cancel_all"] == "skipped" and working == []
