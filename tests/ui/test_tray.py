"""The tray icon's menu, its notification text, and what happens on a desktop without a tray."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from pytestqt.qtbot import QtBot

from core.report import CancelReport, Verdict
from ui.tray import NO_TRAY, KillSwitchTray


def report(verdict: Verdict) -> CancelReport:
    return CancelReport(
        verdict=verdict,
        mode="analyze",
        trigger="hotkey",
        server="http://127.0.0.1:5000",
        strategy="KillSwitch",
        started_at=time.time(),
        message="",
        canceled_by_server=("1", "2"),
    )


@pytest.fixture
def tray(qtbot: QtBot) -> Iterator[KillSwitchTray]:
    tray = KillSwitchTray()
    yield tray
    tray.close()


def test_fire_in_the_tray_menu_asks_the_window_to_fire(qtbot: QtBot, tray: KillSwitchTray) -> None:
    with qtbot.waitSignal(tray.fireRequested, timeout=2000) as fired:
        tray.fire_action.trigger()
    assert fired.args == ["tray"]


def test_show_and_quit_in_the_tray_menu_reach_the_window(qtbot: QtBot, tray: KillSwitchTray) -> None:
    with qtbot.waitSignal(tray.showRequested, timeout=2000):
        tray.show_action.trigger()
    with qtbot.waitSignal(tray.quitRequested, timeout=2000):
        tray.quit_action.trigger()


def test_the_notification_carries_the_verdict(tray: KillSwitchTray) -> None:
    tray.notify(report(Verdict.ORDERS_REMAIN))
    assert tray.last_message is not None
    title, body = tray.last_message
    assert title.endswith("ORDERS REMAIN")
    assert body.startswith("ORDERS REMAIN")


def test_without_a_system_tray_it_says_so_instead_of_pretending(tray: KillSwitchTray) -> None:
    if tray.available:
        pytest.skip("this desktop has a system tray")
    assert tray.show() is False
    assert tray.sentence == NO_TRAY
    assert tray.notify(report(Verdict.FLAT)) is False
