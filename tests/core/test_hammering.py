"""Hammering: fifty presses within a second while a kill is in flight."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from core.client import OpenAlgoClient, make_http_client
from core.kill import KillSwitch
from core.one_kill import OneKill
from core.pacing import ORDER_RATE_LIMIT
from core.record import KillRecord
from core.report import CancelReport, Verdict
from core.simulator import Quirks, Simulator

PRESSES = 50


def hammer(recorder: OneKill, trigger: str) -> list[CancelReport]:
    """Fifty presses from fifty threads, spread over one second, as a panicking desk would."""
    reports: list[CancelReport] = []
    lock = threading.Lock()

    def press(delay: float) -> None:
        time.sleep(delay)
        report = recorder.fire(trigger)
        with lock:
            reports.append(report)

    threads = [threading.Thread(target=press, args=(i / PRESSES,)) for i in range(PRESSES)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return reports


def test_fifty_presses_during_a_kill_make_one_kill_one_record_and_respect_the_rate_limit(
    tmp_path: Path,
) -> None:
    # cancel-all reads a broken book (cancels nothing), so the sweep cancels all 30 orders one
    # by one at the order rate limit: the kill lasts about three seconds, longer than the presses.
    quirks = Quirks(broken_cancelall_book=True, endpoint_delay_s={"cancelallorder": 0.3})
    with (
        Simulator(orders=30, seed=9, quirks=quirks) as sim,
        make_http_client() as http,
        KillRecord(tmp_path / "kills.sqlite3") as record,
    ):
        switch = KillSwitch(OpenAlgoClient(sim.url, sim.apikey, http))
        recorder = OneKill(switch, record=record)

        first = hammer(recorder, "hotkey")
        sim.add_random_orders(12)
        second = hammer(recorder, "button")

        stats = sim.stats
        history = record.history()

    for reports in (first, second):
        assert len(reports) == PRESSES
        assert len({id(r) for r in reports}) == 1  # everyone got the one kill's report
        assert reports[0].verdict is Verdict.FLAT and reports[0].joined == PRESSES - 1
    assert len(first[0].canceled_by_sweep) == 30 and len(second[0].canceled_by_sweep) == 12

    assert stats.cancelall_calls == 2  # one per burst of presses
    assert stats.max_concurrent_cancelall == 1
    assert stats.max_in_window("cancelorder", 1.0) <= ORDER_RATE_LIMIT
    assert stats.responses.get(("cancelorder", 429), 0) == 0

    assert [(s.trigger, s.verdict, s.cancelled) for s in history] == [
        ("button", "flat", 12),
        ("hotkey", "flat", 30),
    ]
