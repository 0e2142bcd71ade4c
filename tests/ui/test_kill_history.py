"""The durable record seen from the window: every trigger recorded under its name, the history
view, the export, and a kill an earlier run left unfinished.

Real lanes, threads, HTTP (the simulator on loopback), SQLite file and local socket; the keyboard
is a FakeHotkey (the real X11 grab is tested under Xvfb in tests/system), and the export's file
dialog is replaced by a function returning the path (a real QFileDialog would block the test).
"""

from __future__ import annotations

import csv
import json
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from core import instance
from core.market_time import ist_when
from core.record import RECORD_FILE_NAME, KillRecord, KillState
from core.simulator import Simulator
from tests.ui.conftest import WORKING_ORDERS
from ui.app import ENV_KEY, build_session, parse
from ui.fire_sources import FireSources
from ui.history_dialog import INTERRUPTED_DETAIL, HistoryDialog
from ui.hotkey import FakeHotkey
from ui.main_window import MainWindow
from ui.single_instance import SingleInstance
from ui.tray import KillSwitchTray

KILL_TIMEOUT_MS = 20_000


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KILLSWITCH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("KILLSWITCH_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


@pytest.fixture
def record(dirs: Path) -> Iterator[KillRecord]:
    with KillRecord(dirs / "data" / RECORD_FILE_NAME) as kept:
        yield kept


@pytest.fixture
def make_window(
    qtbot: QtBot, simulator: Simulator, record: KillRecord, open_window: Callable[..., MainWindow]
) -> Iterator[Callable[[], MainWindow]]:
    windows: list[MainWindow] = []

    def make() -> MainWindow:
        windows.append(open_window(simulator, window={"record": record}))
        qtbot.waitUntil(lambda: windows[-1].model.working_count() == WORKING_ORDERS, timeout=KILL_TIMEOUT_MS)
        return windows[-1]

    yield make
    for window in windows:  # before the record closes: closing may still write to it
        window.close_anyway()


def kill(qtbot: QtBot, window: MainWindow, fire: Callable[[], Any]) -> Any:
    with qtbot.waitSignal(window.killFinished, timeout=KILL_TIMEOUT_MS) as finished:
        fire()
    return finished.args[0]


def test_each_trigger_reaches_the_record_under_its_own_name(
    qtbot: QtBot, simulator: Simulator, record: KillRecord, make_window: Callable[[], MainWindow]
) -> None:
    window = make_window()
    keyboard = FakeHotkey()
    tray = KillSwitchTray()
    with tempfile.TemporaryDirectory(prefix="ks-h-") as tmp:
        socket_server = SingleInstance(str(Path(tmp) / "run" / instance.SOCKET_FILE))
        assert socket_server.listen()
        sources = FireSources(window, instance=socket_server, hotkey=keyboard, tray=tray)
        window.killFinished.connect(sources.kill_finished)
        sources.start()
        try:
            kill(qtbot, window, window.button.click)
            simulator.add_random_orders(3)
            kill(qtbot, window, keyboard.press)
            keyboard.release()
            simulator.add_random_orders(3)
            kill(qtbot, window, tray.fire_action.trigger)
            simulator.add_random_orders(3)
            asked = threading.Thread(
                target=instance.ask_window_to_fire, args=(30.0,), kwargs={"name": socket_server.name}
            )
            kill(qtbot, window, asked.start)
            asked.join()
        finally:
            sources.stop()
            tray.close()
    history = record.history()
    assert [k.trigger for k in reversed(history)] == ["button", "hotkey", "tray", "command line"]
    assert all(k.state is KillState.FINISHED and k.verdict == "flat" for k in history)
    assert history[-1].cancelled == WORKING_ORDERS
    assert all(k.server == simulator.url for k in history)


def test_the_history_lists_each_kill_and_shows_the_selected_ones_orders(
    qtbot: QtBot, simulator: Simulator, make_window: Callable[[], MainWindow]
) -> None:
    window = make_window()
    kill(qtbot, window, window.button.click)
    window.open_history()
    dialog = window.history_dialog
    assert isinstance(dialog, HistoryDialog) and dialog.isVisible()
    simulator.add_random_orders(2)
    kill(qtbot, window, lambda: window.fire("hotkey"))  # the open history follows new kills
    table = dialog.table
    assert table.rowCount() == 2
    newest = [table.item(0, c).text() for c in range(table.columnCount())]
    assert newest[1:] == ["hotkey", simulator.url, "ANALYZE", "FLAT", "2", "0", "0"]
    dialog.select_kill(dialog.summaries[1].kill_id)
    details = dialog.details.toPlainText()
    assert "Trigger: button" in details
    assert f"Cancelled by the server ({WORKING_ORDERS})" in details
    assert "cancelallorder · HTTP 200" in details
    assert simulator.apikey not in details


def test_export_writes_the_incident_report_where_the_trader_chose(
    qtbot: QtBot, simulator: Simulator, make_window: Callable[[], MainWindow], tmp_path: Path
) -> None:
    window = make_window()
    kill(qtbot, window, window.button.click)
    chosen: list[str] = []

    def choose(_parent: object, _caption: str, suggested: str, _filter: str) -> str:
        chosen.append(suggested)
        return str(tmp_path / "reports" / suggested)

    window.choose_export_path = choose
    window.open_history()
    dialog = window.history_dialog
    assert dialog is not None
    dialog.export_csv_button.click()
    dialog.export_json_button.click()
    assert [Path(name).suffix for name in chosen] == [".csv", ".json"]
    csv_path, json_path = (tmp_path / "reports" / name for name in chosen)
    with csv_path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == WORKING_ORDERS
    assert {r["outcome"] for r in rows} == {"cancelled_by_server"} and all(r["symbol"] for r in rows)
    document = json.loads(json_path.read_text("utf-8"))
    assert [k["trigger"] for k in document["kills"]] == ["button"]
    assert dialog.status.text() == f"Exported 1 kill as JSON to {json_path}."
    for path in (csv_path, json_path):
        assert simulator.apikey not in path.read_text("utf-8")


def test_an_export_the_trader_cancels_writes_nothing(
    qtbot: QtBot, make_window: Callable[[], MainWindow], tmp_path: Path
) -> None:
    window = make_window()
    window.choose_export_path = lambda *_: ""
    window.open_history()
    assert window.history_dialog is not None
    window.history_dialog.export_csv_button.click()
    assert window.history_dialog.status.text() == ""


def test_a_kill_an_earlier_run_never_finished_is_announced_at_start(
    qtbot: QtBot, simulator: Simulator, dirs: Path
) -> None:
    with KillRecord() as earlier:  # as the app opens it: kills.sqlite3 in the data directory
        kill_id = earlier.begin("hotkey", simulator.url)  # begun, never finished: the app died
        started_at = earlier.history()[0].started_at
    session = build_session(parse(["--host", simulator.url]), environ={ENV_KEY: simulator.apikey})
    window = session.window
    qtbot.addWidget(window)
    try:
        clock = ist_when(started_at)  # IST, as every time the window shows
        sentence = (
            f"The kill on {simulator.url} started at {clock} was interrupted before its verdict "
            "(the app was closed, stopped or crashed) — check the order book in OpenAlgo."
        )
        assert window.interrupted == [sentence]
        assert sentence in window.results.toPlainText()
        assert window.statusBar().currentMessage() == sentence
        assert window.record is not None
        assert window.record.path == dirs / "data" / RECORD_FILE_NAME
        window.open_history()
        dialog = window.history_dialog
        assert dialog is not None
        assert dialog.table.item(0, 4).text() == "INTERRUPTED"
        assert INTERRUPTED_DETAIL in dialog.details.toPlainText()
        assert window.record.history()[0].kill_id == kill_id
        assert window.record.history()[0].state is KillState.INTERRUPTED
    finally:
        session.close()
