"""Window under load: the UI thread's longest stall while a huge book is polled, and during a kill.

The order book lives in a simulator of its own process (``benchmarks.sim_server``), as a real
server would: 10,000 working orders, ten filling and ten arriving every second (a busy account),
10 % of them SL-M, which ``cancelallorder`` leaves working. A stall probe on the UI thread -- a
1 ms precise ``QTimer`` -- records the longest gap between two ticks beyond the 1 ms period: that
is the longest time the window could not have answered a click or painted a frame.

Three phases, one process, one book:

1. baseline: the real ``Lanes`` poll every 500 ms, each book put into a plain
   ``QAbstractTableModel`` that is reset on every poll (``beginResetModel``/``endResetModel``) and
   formats its cells in ``data()``, shown by a ``QTableView`` set up as the window's -- the
   ordinary way to show a changing list in Qt;
2. the real window (``MainWindow``: ``Lanes`` + the self-sorting ``OrdersModel`` + table view),
   polling every 500 ms; then the same again without the probe, for the UI thread's CPU time per
   poll (``ui_poll_cpu_ms``: everything the UI thread did, paint included, over the number of
   books) and in the window's book slot (``ui_poll_slot_cpu_ms``, median) -- figures that a
   machine shared with other work does not inflate the way it inflates wall-clock stalls;
3. the same window while a kill sweeps the survivors one by one at the server's 10/s limit.
   Sweeping 1,000 survivors takes 100 s, so this kill runs with a short deadline (the sweep
   window) and ends "orders remain"; its report, with every remaining order, is then shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer
from PySide6.QtWidgets import QHeaderView, QTableView

from benchmarks.figures import Report, Target, median
from benchmarks.qtrun import application, spin
from benchmarks.sim_server import SimProcess
from core.orders import Order
from core.replies import OrderBook
from core.secrets import SessionKeyStore
from core.settings import FiringPolicy, Settings
from ui.app import freeze_long_lived_objects_after_first_book, tune_interpreter_for_the_panic_path
from ui.lanes import Lanes
from ui.main_window import MainWindow
from ui.orders_model import OrdersModel

POLL_S = 0.5
_NO_PARENT = QModelIndex()
FRAME_MS = 16.0


class StallProbe:
    """A 1 ms timer on the UI thread; ``max_stall_ms`` is the longest gap beyond the period."""

    PERIOD_MS = 1

    def __init__(self) -> None:
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(self.PERIOD_MS)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0
        self.max_stall_ms = 0.0
        self.max_at = 0.0  # perf_counter() when the longest stall began
        self.stalls_over_frame = 0

    def start(self) -> None:
        self.max_stall_ms = 0.0
        self.max_at = 0.0
        self.stalls_over_frame = 0
        self._last = time.perf_counter()
        self._timer.start()

    def stop(self) -> float:
        self._tick()
        self._timer.stop()
        return self.max_stall_ms

    def _tick(self) -> None:
        now = time.perf_counter()
        stall = (now - self._last) * 1000 - self.PERIOD_MS
        if stall > self.max_stall_ms:
            self.max_stall_ms, self.max_at = stall, self._last
        self._last = now
        if stall > FRAME_MS:
            self.stalls_over_frame += 1


def wait_for(condition: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the window did not get there in time")
        spin(0.02)


class ResetModel(QAbstractTableModel):
    """The plain way: a ``QAbstractTableModel`` over the book's working orders, reset on every
    poll (``beginResetModel``/``endResetModel``), its cells formatted in ``data()``."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[Order] = []
        self.polls = 0

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _NO_PARENT) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _NO_PARENT) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(OrdersModel.COLUMNS)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        o = self.rows[index.row()]
        return (
            o.timestamp,
            f"{o.symbol} ({o.exchange})",
            o.action,
            str(o.quantity),
            str(o.price),
            str(o.trigger_price),
            o.pricetype,
            o.product,
            o.status,
            o.orderid,
        )[index.column()]

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:  # noqa: N802
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return OrdersModel.COLUMNS[section]
        return None

    def show_book(self, book: OrderBook) -> None:
        self.beginResetModel()
        self.rows = list(book.working)
        self.endResetModel()
        self.polls += 1


@dataclass
class Phase:
    max_stall_ms: float
    over_frame: int
    seconds: float
    polls: int


def measure(polls: Callable[[], int], probe: StallProbe, seconds: float) -> Phase:
    start = polls()
    began = time.perf_counter()
    probe.start()
    spin(seconds)
    stall = probe.stop()
    return Phase(stall, probe.stalls_over_frame, time.perf_counter() - began, polls() - start)


def run(report: Report, *, quick: bool = False) -> None:
    orders = 2_000 if quick else 10_000
    phase_s = 2.0 if quick else 8.0
    sweep_s = 3.0 if quick else 10.0
    app = application()
    sim = SimProcess(orders, survivors=0.1)
    probe = StallProbe()
    try:
        sim.send("churn 5")

        # 1. the baseline: a plain QAbstractTableModel reset on every poll, fed by the same lanes,
        # in a table view sized and set up as the window's.
        plain = ResetModel()
        table = QTableView()
        table.setModel(plain)
        table.verticalHeader().setVisible(False)
        table.verticalHeader().setDefaultSectionSize(24)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        table.resize(810, 560)
        lanes = Lanes(sim.url, sim.apikey, poll_interval_s=POLL_S)
        lanes.bookUpdated.connect(plain.show_book)
        table.show()
        lanes.start()
        wait_for(lambda: plain.polls > 0, 60)
        baseline = measure(lambda: plain.polls, probe, phase_s)
        lanes.stop()
        table.close()
        table.deleteLater()
        lanes.deleteLater()
        spin(0.2)

        # 2. the real window, polling.
        settings = Settings(
            host=sim.url, firing_policy=FiringPolicy.IMMEDIATE, poll_interval_s=POLL_S, deadline_s=sweep_s
        )
        store = SessionKeyStore()
        store.set(sim.url, sim.apikey)
        window = MainWindow(settings, store, apikey=sim.apikey, persist=False)
        # The process-wide settings the app makes at start-up (ui.app.run).
        tune_interpreter_for_the_panic_path()
        freeze_long_lived_objects_after_first_book(window)
        books = [0]
        finished: list[object] = []
        window.show()
        first = time.perf_counter()
        probe.start()
        window.start()
        assert window.lanes is not None
        window.lanes.bookUpdated.connect(lambda _b: books.__setitem__(0, books[0] + 1))
        window.lanes.killFinished.connect(finished.append)
        wait_for(lambda: window.model.rowCount() >= orders * 0.9, 60)
        spin(0.1)
        first_load = probe.stop()
        first_load_s = time.perf_counter() - first
        polling = measure(lambda: books[0], probe, phase_s)

        # The UI thread's CPU time per poll, without the probe's own ticks: the whole thread, and
        # the window's slot alone (bookUpdated comes just before the window's bookChanged slot,
        # and a slot connected now runs after it).
        slot_cpu: list[float] = []
        slot_began = [0.0]
        window.lanes.bookUpdated.connect(lambda _b: slot_began.__setitem__(0, time.thread_time()))
        window.lanes.bookChanged.connect(
            lambda _b, _c: slot_cpu.append((time.thread_time() - slot_began[0]) * 1000)
        )
        cpu_books = books[0]
        cpu_began = time.thread_time()
        spin(phase_s)
        poll_cpu_ms = (time.thread_time() - cpu_began) * 1000 / max(1, books[0] - cpu_books)

        # 3. the kill: cancel-all, then the sweep of the survivors for ``sweep_s``, then its report.
        sim.send("churn 0")
        probe.start()
        began = time.perf_counter()
        window.button.click()
        wait_for(lambda: bool(finished), sweep_s + 60)
        spin(1.0)  # the post-kill poll and the report on screen
        sweep_stall = probe.stop()
        sweep_stall_at_ms = (probe.max_at - began) * 1000
        kill_ms = getattr(finished[0], "elapsed_ms", float("nan"))
        sweep_over = probe.stalls_over_frame
        sweep_seconds = time.perf_counter() - began
        swept = len(getattr(finished[0], "canceled_by_sweep", ()))
        window.close()
        window.deleteLater()
        spin(0.1)
    finally:
        sim.close()

    worst = max(polling.max_stall_ms, sweep_stall)
    report.add("ui_max_stall_ms", worst, "ms", Target("<=", FRAME_MS))
    report.add("ui_poll_max_stall_ms", polling.max_stall_ms, "ms")
    report.add("ui_sweep_max_stall_ms", sweep_stall, "ms")
    report.add("ui_reset_model_max_stall_ms", baseline.max_stall_ms, "ms")
    # Polls against polls: the baseline has no kill to show.
    ratio = polling.max_stall_ms / baseline.max_stall_ms
    report.add("ui_stall_ratio_vs_reset_model", ratio, "x", Target("<", 1.0))
    report.add("ui_first_load_max_stall_ms", first_load, "ms")
    report.add("ui_poll_cpu_ms", poll_cpu_ms, "ms")
    report.add("ui_poll_slot_cpu_ms", median(slot_cpu), "ms")
    report.add("ui_stalls_over_16ms", polling.over_frame + sweep_over, "count")
    report.note(
        f"window under load: {orders:,} working orders in a simulator process of its own, 10 fill and 10 "
        f"arrive per second; poll every {POLL_S * 1000:.0f} ms. Stall = longest gap between ticks of a 1 ms "
        f"timer on the UI thread, beyond the period. Polling: {polling.seconds:.1f} s, {polling.polls} books "
        f"(window) vs {baseline.seconds:.1f} s, {baseline.polls} books (a plain QAbstractTableModel reset "
        "per poll). "
        f"Kill: sweep window shortened to a {sweep_s:g} s deadline ({swept} survivors swept of "
        f"{round(orders * 0.1)}), then its report shown; {sweep_seconds:.1f} s measured; its longest "
        f"stall began {sweep_stall_at_ms:.0f} ms after the press (the kill took {kill_ms:.0f} ms). "
        f"First load ({first_load_s:.1f} s to show the first book) is reported apart, not in ui_max_stall_ms."
    )
    del app
