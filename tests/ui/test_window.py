"""The window against the simulator over loopback: real lanes, real threads, real HTTP.

The key lives in a SessionKeyStore handed to the window, so no test touches the user's keyring;
settings go to a temporary directory through KILLSWITCH_CONFIG_DIR / KILLSWITCH_DATA_DIR.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from pytestqt.qtbot import QtBot

from core.report import Verdict
from core.secrets import SessionKeyStore
from core.settings import FiringPolicy
from core.simulator import Simulator
from core.simulator.quirks import FAILURE_SHAPES, Quirks
from tests.ui.conftest import WORKING_ORDERS, PaintSpy
from ui.main_window import MainWindow

KILL_TIMEOUT_MS = 20_000
WORKING = WORKING_ORDERS  # the shared simulator fixture's book


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KILLSWITCH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("KILLSWITCH_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


WindowFactory = Callable[..., MainWindow]


@pytest.fixture
def make_window(
    qtbot: QtBot, open_window: Callable[..., MainWindow], simulator: Simulator, dirs: Path
) -> WindowFactory:
    def make(
        policy: FiringPolicy = FiringPolicy.IMMEDIATE,
        hold_ms: int = 300,
        apikey: str | None = "simulator",
        host: str | None = None,
        wait_for_book: bool = True,
        working: int = WORKING,
    ) -> MainWindow:
        key = simulator.apikey if apikey == "simulator" else apikey
        host = host or simulator.url
        store = SessionKeyStore()  # only the key this test gives, under the server it names
        if key:
            store.set(host, key)
        window = open_window(
            simulator,
            host=host,
            firing_policy=policy,
            hold_ms=hold_ms,
            keys=store,
            window={"apikey": key, "persist": True},  # settings are written, as the app does
        )
        if wait_for_book:
            qtbot.waitUntil(lambda: window.button.headline() == f"CANCEL ALL {working} WORKING ORDERS")
        return window

    return make


def working_ids(simulator: Simulator) -> list[str]:
    return [str(row["orderid"]) for row in simulator.working_orders()]


def test_clicking_the_button_cancels_every_working_order_and_lists_them(
    qtbot: QtBot, simulator: Simulator, make_window: WindowFactory
) -> None:
    window = make_window()
    ids = working_ids(simulator)
    assert window.lanes is not None
    with qtbot.waitSignal(window.killFinished, timeout=KILL_TIMEOUT_MS) as finished:
        window.button.click()
    assert finished.args is not None
    assert finished.args[0].verdict is Verdict.FLAT
    assert simulator.working_orders() == []
    shown = window.results.toPlainText()
    assert "FLAT" in shown
    by_server = shown.split("Cancelled by the server (")[1]
    for orderid in ids:
        assert f"#{orderid})" in by_server
    assert "FLAT" in window.button.verdict_line()


def test_the_button_repaints_after_the_cancel_all_is_on_the_wire_not_before(
    qtbot: QtBot, make_window: WindowFactory
) -> None:
    # Painting the button is Python on the UI thread, holding the interpreter lock that the kill
    # thread needs to write the request: the press goes out first, the pixels after.
    window = make_window()
    events: list[str] = []
    log = PaintSpy(events)
    window.button.installEventFilter(log)
    window.servers.killStarted.connect(lambda _trigger: events.append("on the wire"))  # after the window's
    qtbot.mousePress(window.button, Qt.MouseButton.LeftButton)
    qtbot.wait(50)  # a click's press and release are ~100 ms apart: the button has painted down
    events.clear()

    with qtbot.waitSignal(window.killFinished, timeout=KILL_TIMEOUT_MS):
        qtbot.mouseRelease(window.button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "painted" in events)

    assert events.index("on the wire") < events.index("painted"), events
    window.button.removeEventFilter(log)


@pytest.mark.parametrize("shape", FAILURE_SHAPES)
def test_failures_show_their_reasons(
    qtbot: QtBot, simulator: Simulator, make_window: WindowFactory, shape: str
) -> None:
    window = make_window()
    ids = working_ids(simulator)
    simulator.quirks.failure_shape = shape  # type: ignore[assignment]
    simulator.quirks.already_executed = frozenset({ids[0]})
    simulator.quirks.fail_in_transit = frozenset({ids[1]})
    assert window.lanes is not None
    with qtbot.waitSignal(window.killFinished, timeout=KILL_TIMEOUT_MS):
        window.button.click()
    shown = window.results.toPlainText()
    assert "Failed to cancel (2)" in shown
    if shape == "bare":  # most live brokers give the id alone: say so rather than invent a reason
        assert f"#{ids[0]}) — no reason given by the broker" in shown
    else:
        assert f"#{ids[0]}) — Order already executed" in shown
        assert f"#{ids[1]}) — Order is in transit" in shown
    # The in-transit order went on the second try, by the sweep.
    assert f"#{ids[1]})" in shown.split("Cancelled by the sweep (")[1].split("Cancelled by the server")[0]


def test_survivors_are_swept_and_shown(
    qtbot: QtBot, simulator: Simulator, make_window: WindowFactory
) -> None:
    stops = [simulator.place_order("SBIN", pricetype="SL-M", action="SELL") for _ in range(2)]
    simulator.quirks.cancelall_skips_pricetypes = frozenset({"SL-M"})
    window = make_window(working=WORKING + 2)
    assert window.lanes is not None
    with qtbot.waitSignal(window.killFinished, timeout=KILL_TIMEOUT_MS) as finished:
        window.button.click()
    assert finished.args is not None
    assert finished.args[0].verdict is Verdict.FLAT
    shown = window.results.toPlainText()
    by_sweep = shown.split("Cancelled by the sweep (")[1].split("Cancelled by the server")[0]
    for orderid in stops:
        assert f"#{orderid})" in by_sweep
    assert simulator.working_orders() == []


def test_a_short_press_under_hold_to_fire_sends_nothing(
    qtbot: QtBot, simulator: Simulator, make_window: WindowFactory
) -> None:
    window = make_window(FiringPolicy.HOLD, hold_ms=400)
    qtbot.mousePress(window.button, Qt.MouseButton.LeftButton)
    assert window.button.holding
    qtbot.wait(50)
    qtbot.mouseRelease(window.button, Qt.MouseButton.LeftButton)
    qtbot.wait(600)  # well past the hold time: a released press must not fire late
    assert simulator.stats.cancelall_calls == 0
    assert len(simulator.working_orders()) == WORKING
    assert "Released early" in window.button.how_to_fire()


def test_a_full_hold_with_the_mouse_fires(
    qtbot: QtBot, simulator: Simulator, make_window: WindowFactory
) -> None:
    window = make_window(FiringPolicy.HOLD, hold_ms=300)
    assert window.lanes is not None
    with qtbot.waitSignal(window.killFinished, timeout=KILL_TIMEOUT_MS):
        qtbot.mousePress(window.button, Qt.MouseButton.LeftButton)
    qtbot.mouseRelease(window.button, Qt.MouseButton.LeftButton)
    assert simulator.working_orders() == []
    assert simulator.stats.cancelall_calls == 1


def test_a_full_hold_of_space_fires(qtbot: QtBot, simulator: Simulator, make_window: WindowFactory) -> None:
    window = make_window(FiringPolicy.HOLD, hold_ms=300)
    window.button.setFocus()
    assert window.lanes is not None
    with qtbot.waitSignal(window.killFinished, timeout=KILL_TIMEOUT_MS):
        qtbot.keyPress(window.button, Qt.Key.Key_Space)
    qtbot.keyRelease(window.button, Qt.Key.Key_Space)
    assert simulator.working_orders() == []


def test_a_click_under_hold_to_fire_does_not_fire(
    qtbot: QtBot, simulator: Simulator, make_window: WindowFactory
) -> None:
    window = make_window(FiringPolicy.HOLD, hold_ms=300)
    window.button.click()
    qtbot.wait(400)
    assert simulator.stats.cancelall_calls == 0


def test_backing_out_of_the_confirm_dialog_sends_nothing(
    qtbot: QtBot, simulator: Simulator, make_window: WindowFactory
) -> None:
    window = make_window(FiringPolicy.CONFIRM)
    window.button.click()
    dialog = window.confirm_dialog
    assert dialog is not None
    assert dialog.isVisible()
    assert f"Cancel all {WORKING} working orders on {simulator.url}" in dialog.text()
    dialog.reject()
    qtbot.wait(300)
    assert simulator.stats.cancelall_calls == 0
    assert len(simulator.working_orders()) == WORKING


def test_accepting_the_confirm_dialog_fires(
    qtbot: QtBot, simulator: Simulator, make_window: WindowFactory
) -> None:
    window = make_window(FiringPolicy.CONFIRM)
    window.button.click()
    dialog = window.confirm_dialog
    assert dialog is not None
    assert window.lanes is not None
    with qtbot.waitSignal(window.killFinished, timeout=KILL_TIMEOUT_MS):
        dialog.fire_button.click()
    assert simulator.working_orders() == []


def test_the_window_stays_responsive_while_a_slow_server_answers(
    qtbot: QtBot, simulator: Simulator, make_window: WindowFactory
) -> None:
    window = make_window()
    simulator.quirks.reply_delay_s = 2.0
    assert window.lanes is not None
    shown_during_kill: list[str] = []

    def tick() -> None:
        if window.button.killing:
            shown_during_kill.append(window.button.description())

    timer = QTimer()
    timer.setInterval(50)
    timer.timeout.connect(tick)
    timer.start()
    with qtbot.waitSignal(window.killFinished, timeout=KILL_TIMEOUT_MS):
        window.button.click()
    timer.stop()
    # A 2 s reply on each call of the kill: a blocked UI thread would not tick at all.
    assert len(shown_during_kill) >= 10
    # ...and the button showed the kill's progress while it ran.
    assert all(text.startswith("CANCELLING ALL ORDERS") for text in shown_during_kill)
    assert any("Cancel-all sent" in text or "order book" in text for text in shown_during_kill)
    simulator.quirks.reply_delay_s = 0.0


def test_the_api_key_is_never_written_to_any_file(
    qtbot: QtBot, simulator: Simulator, make_window: WindowFactory, dirs: Path
) -> None:
    window = make_window(FiringPolicy.IMMEDIATE)
    window.open_settings()
    dialog = window.settings_dialog
    assert dialog is not None
    dialog.key_edit.setText(simulator.apikey)
    dialog.poll_spin.setValue(0.5)
    dialog.accept()
    window.show_all_toggle.setChecked(True)
    assert window.lanes is not None
    with qtbot.waitSignal(window.killFinished, timeout=KILL_TIMEOUT_MS):
        window.button.click()
    window.close()
    written = [p for p in dirs.rglob("*") if p.is_file()]
    assert any(p.name == "settings.json" for p in written)
    for path in written:
        assert simulator.apikey.encode() not in path.read_bytes(), path


def test_with_no_key_the_window_says_so_and_opens_settings(
    qtbot: QtBot, simulator: Simulator, make_window: WindowFactory
) -> None:
    window = make_window(apikey=None, wait_for_book=False)
    assert "No API key" in window.notice()
    assert "NO API KEY" in window.button.description()
    dialog = window.settings_dialog
    assert dialog is not None
    assert dialog.isVisible()
    dialog.key_edit.setText(simulator.apikey)
    dialog.accept()
    qtbot.waitUntil(lambda: window.button.headline() == f"CANCEL ALL {WORKING} WORKING ORDERS")
    assert window.notice() == ""
    assert window.key_store.get(simulator.url) == simulator.apikey


def test_a_rejected_key_shows_on_the_button_before_anyone_presses(
    qtbot: QtBot, make_window: WindowFactory
) -> None:
    window = make_window(apikey="not-the-key", wait_for_book=False)
    qtbot.waitUntil(lambda: "KEY REJECTED" in window.button.description())
    assert window.connection_bar.property("state") == "bad"


def test_an_unreachable_server_shows_on_the_button_before_anyone_presses(
    qtbot: QtBot, make_window: WindowFactory
) -> None:
    dead = Simulator()
    dead.start()
    url = dead.url
    dead.stop()
    window = make_window(host=url, wait_for_book=False)
    qtbot.waitUntil(lambda: "SERVER UNREACHABLE" in window.button.description(), timeout=10_000)


def test_semi_auto_learned_from_a_refused_kill_stays_on_the_button(
    qtbot: QtBot, dirs: Path, make_window: WindowFactory
) -> None:
    live = Simulator(mode="live", orders=3, quirks=Quirks(semi_auto=True)).start()
    try:
        window = make_window(host=live.url, apikey=live.apikey, wait_for_book=False)
        qtbot.waitUntil(lambda: window.button.headline() == "CANCEL ALL 3 WORKING ORDERS")
        assert "LIVE" in window.button.description()
        assert window.lanes is not None
        with qtbot.waitSignal(window.killFinished, timeout=KILL_TIMEOUT_MS) as finished:
            window.button.click()
        assert finished.args is not None
        assert finished.args[0].verdict is Verdict.REFUSED
        qtbot.waitUntil(lambda: "SEMI-AUTO" in window.button.description())
        assert "REFUSED" in window.results.toPlainText()
        window.close()
    finally:
        live.stop()


def test_closing_the_window_stops_both_lanes(qtbot: QtBot, make_window: WindowFactory) -> None:
    window = make_window()
    lanes = window.lanes
    assert lanes is not None
    window.close()
    assert not lanes.poll_lane.alive
    assert not lanes.kill_lane.alive


def test_the_toggle_shows_all_of_todays_orders(
    qtbot: QtBot, simulator: Simulator, make_window: WindowFactory
) -> None:
    simulator.add_finished_orders(3)
    window = make_window()
    assert window.model.rowCount() == WORKING
    window.show_all_toggle.setChecked(True)
    qtbot.waitUntil(lambda: window.model.rowCount() == WORKING + 3)
    assert window.button.headline() == f"CANCEL ALL {WORKING} WORKING ORDERS"


def test_sorting_by_quantity_orders_rows_by_number(make_window: WindowFactory) -> None:
    window = make_window()
    qty = window.model.COLUMNS.index("Qty")
    window.table.sortByColumn(qty, Qt.SortOrder.AscendingOrder)
    shown = [float(window.model.index(row, qty).data()) for row in range(window.model.rowCount())]
    assert shown == sorted(shown)


def test_earlier_kills_of_the_session_stay_visible_below_the_latest(
    qtbot: QtBot, simulator: Simulator, make_window: WindowFactory
) -> None:
    window = make_window()
    assert window.lanes is not None
    with qtbot.waitSignal(window.killFinished, timeout=KILL_TIMEOUT_MS):
        window.button.click()
    later = simulator.add_random_orders(3)
    qtbot.waitUntil(lambda: window.button.headline() == "CANCEL ALL 3 WORKING ORDERS")
    with qtbot.waitSignal(window.killFinished, timeout=KILL_TIMEOUT_MS):
        window.button.click()
    shown = window.results.toPlainText()
    assert 0 <= shown.index("Kill 2 ·") < shown.index("Kill 1 ·")
    assert shown.index(f"#{later[0]})") < shown.index("Kill 1 ·")
