"""Flat and quiet in the real window, against the simulator: the scope is a setting, the button
says what a press will do, the guard counts down and can be released, and HALTED shows until a
deliberate resume."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PySide6.QtWidgets import QPushButton
from pytestqt.qtbot import QtBot

from core.record import KillRecord
from core.report import CancelReport, Verdict
from core.simulator import Simulator
from tests.ui.conftest import WAIT_MS
from ui.history_dialog import render_details
from ui.main_window import MainWindow


@pytest.fixture
def make_window(
    open_window: Callable[..., MainWindow], tmp_path: Path
) -> Iterator[Callable[..., MainWindow]]:
    """The window on ``sim`` with this scope, keeping its kills in a record of its own."""
    records: list[KillRecord] = []
    windows: list[MainWindow] = []

    def make(sim: Simulator, **scope: object) -> MainWindow:
        records.append(KillRecord(tmp_path / f"kills-{len(records)}.sqlite3"))
        windows.append(open_window(sim, window={"record": records[-1]}, **scope))
        return windows[-1]

    yield make
    for window in windows:  # before its record closes: closing may still write to it
        window.close_anyway()
    for record in records:
        record.close()


def test_the_scope_is_a_setting_and_the_button_shows_its_blast_radius(
    qtbot: QtBot, make_window: Callable[..., MainWindow]
) -> None:
    with Simulator(orders=12, positions=3, mode="live", seed=5) as sim:
        window = make_window(sim)
        qtbot.waitUntil(lambda: window.model.working_count() == 12, timeout=WAIT_MS)
        window.open_settings()
        dialog = window.settings_dialog
        assert dialog is not None
        dialog.close_positions.setChecked(True)
        dialog.guard_spin.setValue(300)
        with qtbot.waitSignal(window.settingsChanged, timeout=WAIT_MS):
            dialog.accept()
        assert window.settings.close_positions and window.settings.guard_s == 300
        qtbot.waitUntil(
            lambda: window.button.detail_line() == "Cancel 12 orders · close 3 positions · hold 5 min",
            timeout=WAIT_MS,
        )
        window.book_tabs.setCurrentIndex(1)
        assert window.positions.rowCount() == 3


def test_a_kill_that_closes_positions_shows_them_closed(
    qtbot: QtBot, make_window: Callable[..., MainWindow], tmp_path: Path
) -> None:
    with Simulator(orders=4, positions=3, mode="live", seed=5) as sim:
        window = make_window(sim, close_positions=True)
        qtbot.waitUntil(lambda: window.model.working_count() == 4, timeout=WAIT_MS)
        with qtbot.waitSignal(window.killFinished, timeout=WAIT_MS) as finished:
            window.button.click()
        report: CancelReport = finished.args[0]
        assert report.verdict is Verdict.FLAT and report.flatten is not None
        assert len(report.flatten.closed) == 3 and sim.open_positions() == []
        assert "Positions closed" in window.results.toPlainText()
        # History and its export carry them too.
        assert window.record is not None
        details = window.record.details(window.record.history()[0].kill_id)
        assert details is not None
        assert "Positions closed (3)" in render_details(details)
        exported = tmp_path / "kills.csv"
        window.record.export_csv(exported)
        assert exported.read_text("utf-8").count("position_closed") == 3


def test_the_guard_counts_down_catches_and_is_released_by_a_hold(
    qtbot: QtBot, make_window: Callable[..., MainWindow]
) -> None:
    with Simulator(orders=2, seed=6, runaway_rate=3.0) as sim:
        window = make_window(sim, guard_s=120.0)
        qtbot.waitUntil(
            lambda: window.lanes is not None and window.lanes.connection.connected, timeout=WAIT_MS
        )
        with qtbot.waitSignal(window.killFinished, timeout=WAIT_MS):
            window.button.click()
        qtbot.waitUntil(window.guard_bar.isVisible, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: window.guard_bar.caught >= 3, timeout=WAIT_MS)
        assert "HOLDING FLAT" in window.guard_bar.text() and "left" in window.guard_bar.text()
        first = window.guard_bar.left_s
        qtbot.waitUntil(lambda: window.guard_bar.left_s < first - 0.5, timeout=WAIT_MS)  # it counts down

        release = window.guard_bar.release_button
        finished: list[object] = []
        window.servers.stepsFinished.connect(lambda url, report: finished.append(report))
        release.press()
        release.release()  # a short press does nothing: the guard goes on catching
        caught = window.guard_bar.caught
        qtbot.waitUntil(lambda: window.guard_bar.caught >= caught + 2, timeout=WAIT_MS)
        assert finished == [] and window.guard_bar.isVisible()
        with qtbot.waitSignal(window.servers.stepsFinished, timeout=WAIT_MS) as ended:
            release.press()  # held for its second
        report: CancelReport = ended.args[1]
        assert report.guard is not None and "released by the trader" in report.guard.stopped_early
        assert len(report.guard.caught) >= 3
        assert not window.guard_bar.isVisible()
        sim.stop_runaway()


def test_halted_shows_until_a_held_and_confirmed_resume(
    qtbot: QtBot, make_window: Callable[..., MainWindow], tmp_path: Path
) -> None:
    with Simulator(orders=3, mode="live", seed=7) as sim:
        window = make_window(sim, halt=True)
        qtbot.waitUntil(lambda: window.model.working_count() == 3, timeout=WAIT_MS)
        with qtbot.waitSignal(window.servers.stepsFinished, timeout=WAIT_MS) as steps:
            window.button.click()
        assert steps.args[1].halt is not None and steps.args[1].halt.halted
        assert sim.mode == "analyze"
        assert window.halt_bar.isVisible() and window.halt_bar.text().startswith("HALTED")

        window.halt_bar.resume_button.press()
        qtbot.waitUntil(lambda: window.halt_bar.question is not None, timeout=WAIT_MS)
        question = window.halt_bar.question
        assert question is not None and "LIVE" in question.text()
        go = question.findChild(QPushButton, "confirmResume")
        assert go is not None
        with qtbot.waitSignal(window.servers.resumed, timeout=WAIT_MS):
            go.click()
        qtbot.waitUntil(lambda: not window.halt_bar.isVisible(), timeout=WAIT_MS)
        assert sim.mode == "live"
        assert window.record is not None
        assert [e[2] for e in window.record.events()] == ["resumed live"]
