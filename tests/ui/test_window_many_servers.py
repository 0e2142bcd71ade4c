"""The window with several servers, against simulators: Settings adds and removes them (older
settings migrate), the button counts across them, one press fires them all, each server's
verdict shows, and a hung one never holds up the others."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog
from pytestqt.qtbot import QtBot

from core import settings as settings_store
from core.report import PressReport, Verdict
from core.settings import Server
from core.simulator import Quirks, Simulator
from tests.ui.conftest import WAIT_MS
from ui.main_window import MainWindow
from ui.server_list import ServerDialog
from ui.settings_dialog import SettingsDialog


@pytest.fixture
def sims() -> Iterator[list[Simulator]]:
    with ExitStack() as stack:
        yield [stack.enter_context(Simulator(orders=n, seed=n)) for n in (5, 7, 9)]


@pytest.fixture
def make_window(open_window: Callable[..., MainWindow], tmp_path: Path) -> Callable[..., MainWindow]:
    def make(sims: list[Simulator], *, deadline_s: float = 30.0) -> MainWindow:
        return open_window(sims, deadline_s=deadline_s, window={"settings_path": tmp_path / "settings.json"})

    return make


def add_server_in_settings(qtbot: QtBot, window: MainWindow) -> tuple[SettingsDialog, ServerDialog]:
    """Once the window runs on its one server: open Settings and press Add under more servers."""
    qtbot.waitUntil(lambda: len(window.servers.links) == 1, timeout=WAIT_MS)
    window.open_settings()
    dialog = window.settings_dialog
    assert dialog is not None
    dialog.more_servers.add()
    editor = dialog.more_servers.dialog
    assert editor is not None
    return dialog, editor


def test_the_button_counts_every_servers_orders_and_names_how_many_servers(
    qtbot: QtBot, sims: list[Simulator], make_window: Callable[..., MainWindow]
) -> None:
    window = make_window(sims)
    qtbot.waitUntil(lambda: "21 orders on 3 servers" in window.button.detail_line(), timeout=WAIT_MS)
    assert window.button.detail_line().startswith("Cancel 21 orders on 3 servers")
    assert "Broker 2" in window.connection_bar.text() and "Broker 3" in window.connection_bar.text()


def test_one_press_fires_every_server_and_shows_each_verdict(
    qtbot: QtBot, sims: list[Simulator], make_window: Callable[..., MainWindow]
) -> None:
    window = make_window(sims)
    qtbot.waitUntil(lambda: len(window.servers.links) == 3, timeout=WAIT_MS)
    with qtbot.waitSignal(window.killFinished, timeout=WAIT_MS) as finished:
        window.button.click()
    press: PressReport = finished.args[0]
    assert press.verdict is Verdict.FLAT and len(press.reports) == 3
    assert all(sim.working_orders() == [] for sim in sims)
    text = window.results.toPlainText()
    assert all(sim.url in text for sim in sims) and "Overall:" in text and "3 of 3 servers flat" in text


def test_a_hung_server_never_holds_up_the_others_verdicts(
    qtbot: QtBot, sims: list[Simulator], make_window: Callable[..., MainWindow]
) -> None:
    # Order, not wall-clock: with a deadline far off, the live servers' verdicts must show while
    # the hung one is still waiting (the window closes anyway at the end of the test).
    window = make_window(sims, deadline_s=20.0)
    qtbot.waitUntil(lambda: len(window.servers.links) == 3, timeout=WAIT_MS)
    sims[1].quirks = Quirks(hang=frozenset({"cancelallorder", "orderbook"}))

    def shown(sim: Simulator) -> bool:  # its verdict block names its server (":80" is not ":8080")
        return re.search(re.escape(sim.url) + r"(?!\d)", window.results.toPlainText()) is not None

    window.fire("hotkey")
    qtbot.waitUntil(lambda: shown(sims[0]) and shown(sims[2]), timeout=WAIT_MS)
    assert not shown(sims[1])
    assert window.results.toPlainText().count("FLAT — verified") == 2
    assert "Overall:" not in window.results.toPlainText()


def test_settings_add_and_remove_servers_and_the_window_follows(
    qtbot: QtBot, sims: list[Simulator], make_window: Callable[..., MainWindow]
) -> None:
    window = make_window(sims[:1])
    dialog, editor = add_server_in_settings(qtbot, window)
    editor.url_edit.setText(sims[0].url)  # the first server again: refused with a sentence
    editor.accept()
    assert editor.isVisible() and "already in the list" in editor.error.text()
    editor.url_edit.setText("ftp://nowhere")
    editor.accept()
    assert "http:// and https://" in editor.error.text()
    editor.url_edit.setText(sims[1].url)
    editor.label_edit.setText("Dhan")
    editor.key_edit.setText(sims[1].apikey)
    editor.accept()
    assert editor.result() == QDialog.DialogCode.Accepted
    with qtbot.waitSignal(window.settingsChanged, timeout=WAIT_MS):
        dialog.accept()
    qtbot.waitUntil(lambda: len(window.servers.links) == 2, timeout=WAIT_MS)
    assert [s.label for s in window.settings.servers] == ["Broker 1", "Dhan"]
    assert window.key_store.get(sims[1].url) == sims[1].apikey  # the key went to the key store

    window.open_settings()
    dialog = window.settings_dialog
    assert dialog is not None
    dialog.more_servers.list.setCurrentRow(0)
    dialog.more_servers.remove()
    with qtbot.waitSignal(window.settingsChanged, timeout=WAIT_MS):
        dialog.accept()
    qtbot.waitUntil(lambda: len(window.servers.links) == 1, timeout=WAIT_MS)


def test_single_server_settings_migrate_without_loss(tmp_path: Path) -> None:
    old = {"host": "http://10.0.0.5:5000", "strategy": "Desk", "poll_interval_s": 2.0, "hold_ms": 800}
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(old), "utf-8")
    loaded = settings_store.load(path)
    assert loaded.server_list() == (Server("http://10.0.0.5:5000", "", "Desk", True),)
    assert (loaded.host, loaded.strategy, loaded.poll_interval_s, loaded.hold_ms) == (
        "http://10.0.0.5:5000",
        "Desk",
        2.0,
        800,
    )
    settings_store.save(loaded, path)
    assert settings_store.load(path).server_list() == loaded.server_list()


def test_a_switched_off_server_is_kept_but_left_out_of_the_kill(
    qtbot: QtBot, sims: list[Simulator], make_window: Callable[..., MainWindow]
) -> None:
    window = make_window(sims[:2])
    qtbot.waitUntil(lambda: len(window.servers.links) == 2, timeout=WAIT_MS)
    window.open_settings()
    dialog = window.settings_dialog
    assert dialog is not None
    dialog.more_servers.list.item(0).setCheckState(dialog.more_servers.list.item(0).checkState().Unchecked)
    with qtbot.waitSignal(window.settingsChanged, timeout=WAIT_MS):
        dialog.accept()
    qtbot.waitUntil(lambda: len(window.servers.links) == 1, timeout=WAIT_MS)
    with qtbot.waitSignal(window.killFinished, timeout=WAIT_MS):
        window.fire("button")
    assert sims[0].working_orders() == [] and len(sims[1].working_orders()) == 7
    assert len(window.settings.servers) == 2 and window.settings.servers[1].enabled is False


def test_the_order_table_shows_every_servers_orders_with_a_server_column_and_a_filter(
    qtbot: QtBot, sims: list[Simulator], make_window: Callable[..., MainWindow]
) -> None:
    window = make_window(sims)
    table = window.orders.table
    qtbot.waitUntil(lambda: table.model().rowCount() == 21, timeout=WAIT_MS)
    model = table.model()
    assert model.headerData(0, Qt.Orientation.Horizontal) == "Server"
    names = {model.data(model.index(row, 0)) for row in range(model.rowCount())}
    assert names == {"Broker 1", "Broker 2", "Broker 3"}
    choose = window.orders.server_filter
    assert not choose.isHidden()
    choose.setCurrentIndex(choose.findData(sims[1].url))
    assert (
        table.model().rowCount() == 7 and table.model().headerData(0, Qt.Orientation.Horizontal) != "Server"
    )
    choose.setCurrentIndex(0)
    assert table.model().rowCount() == 21


def test_a_server_without_a_key_is_in_the_press_as_not_sent_never_flat(
    qtbot: QtBot, sims: list[Simulator], open_window: Callable[..., MainWindow]
) -> None:
    keyed, keyless = sims[0], sims[1]
    servers = (Server(keyed.url, "Zerodha"), Server(keyless.url, "Dhan"))
    window = open_window(keyed, servers=servers)  # only the first server's key is in the store
    qtbot.waitUntil(lambda: "DHAN: NO KEY" in window.warning(), timeout=WAIT_MS)
    with qtbot.waitSignal(window.killFinished, timeout=WAIT_MS) as finished:
        window.fire("button")

    press: PressReport = finished.args[0]
    assert press.verdict is Verdict.UNVERIFIED  # one server flat, the other not reached
    assert {r.server: r.verdict for r in press.reports} == {
        keyed.url: Verdict.FLAT,
        keyless.url: Verdict.UNVERIFIED,
    }
    assert keyless.stats.requests.get("cancelallorder") is None and len(keyless.working_orders()) == 7
    assert "Not sent to Dhan: no API key is stored for it" in window.results.toPlainText()


def test_keys_typed_for_other_servers_never_reach_the_log(
    qtbot: QtBot, sims: list[Simulator], make_window: Callable[..., MainWindow]
) -> None:
    window = make_window(sims[:1])
    dialog, editor = add_server_in_settings(qtbot, window)
    editor.url_edit.setText(sims[1].url)
    editor.label_edit.setText("Dhan")
    editor.key_edit.setText(sims[1].apikey)
    editor.accept()
    with qtbot.waitSignal(window.settingsChanged, timeout=WAIT_MS):
        dialog.accept()

    assert sims[1].apikey not in window.redactor.redact(f"a log line with {sims[1].apikey} in it")


def test_a_secondary_server_whose_reads_fail_makes_the_count_unknown_not_old(
    qtbot: QtBot, sims: list[Simulator], make_window: Callable[..., MainWindow]
) -> None:
    window = make_window(sims[:2])
    qtbot.waitUntil(lambda: "12 orders on 2 servers" in window.button.detail_line(), timeout=WAIT_MS)
    sims[1].stop()  # the second server goes away; its 7 orders are only a memory now
    qtbot.waitUntil(lambda: "12 orders" not in window.button.detail_line(), timeout=WAIT_MS)
    assert "on 2 servers" in window.button.detail_line()
