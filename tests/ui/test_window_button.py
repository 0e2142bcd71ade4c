"""The panic button on its own: what it says and in which colour, before and after a kill."""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from pytestqt.qtbot import QtBot

from core.report import CancelReport, Verdict
from core.settings import FiringPolicy
from ui.panic_button import ANALYZE_BAND, LIVE_BAND, PanicButton


def report(verdict: Verdict) -> CancelReport:
    return CancelReport(
        verdict=verdict,
        mode="live",
        trigger="button",
        server="http://127.0.0.1:5000",
        strategy="KillSwitch",
        started_at=time.time(),
        message="",
    )


@pytest.fixture
def button(qtbot: QtBot) -> PanicButton:
    widget = PanicButton()
    qtbot.addWidget(widget)
    widget.resize(760, 250)
    return widget


def band_colour(button: PanicButton) -> QColor:
    return button.grab().toImage().pixelColor(button.width() // 2, 7)


def verdict_strip_colour(button: PanicButton) -> QColor:
    return button.grab().toImage().pixelColor(30, button.height() - 8)


def test_the_button_says_what_it_will_cancel_and_where(button: PanicButton) -> None:
    button.set_blast_radius(12, "https://algo.example.com", "live")
    assert button.headline() == "CANCEL ALL 12 WORKING ORDERS"
    assert "https://algo.example.com" in button.description()
    assert "LIVE" in button.description()


def test_live_and_analyze_are_painted_in_different_colours(button: PanicButton) -> None:
    button.set_blast_radius(3, "http://127.0.0.1:5000", "live")
    assert band_colour(button) == LIVE_BAND
    button.set_blast_radius(3, "http://127.0.0.1:5000", "analyze")
    assert band_colour(button) == ANALYZE_BAND
    assert "sandbox" in button.description()


@pytest.mark.parametrize(
    ("verdict", "colour"),
    [
        (Verdict.FLAT, "#2e7d32"),
        (Verdict.ORDERS_REMAIN, "#f9a825"),
        (Verdict.UNVERIFIED, "#f9a825"),
        (Verdict.REFUSED, "#b71c1c"),
        (Verdict.UNREACHABLE, "#b71c1c"),
    ],
)
def test_the_verdict_is_shown_in_words_and_colour(button: PanicButton, verdict: Verdict, colour: str) -> None:
    button.kill_finished(report(verdict))
    assert verdict.headline in button.description()
    assert verdict_strip_colour(button) == QColor(colour)


def test_a_warning_is_on_the_button_before_anyone_presses(button: PanicButton) -> None:
    button.set_warning("SERVER UNREACHABLE — a kill will still be tried and reported")
    assert "SERVER UNREACHABLE" in button.description()
    assert "SERVER UNREACHABLE" in button.toolTip()


def test_the_hold_policy_tells_how_long_to_hold(button: PanicButton) -> None:
    button.set_policy(FiringPolicy.HOLD, 800)
    assert "0.8 s" in button.how_to_fire()
    button.set_policy(FiringPolicy.CONFIRM, 800)
    assert "confirm" in button.how_to_fire()


@pytest.mark.parametrize("policy", [FiringPolicy.IMMEDIATE, FiringPolicy.CONFIRM])
def test_a_mouse_click_asks_to_fire_once_before_the_button_redraws_itself(
    qtbot: QtBot, button: PanicButton, policy: FiringPolicy
) -> None:
    # Qt repaints a released button before it emits clicked; the press must not wait for that.
    button.set_policy(policy, 600)
    button.show()
    qtbot.waitExposed(button)
    still_down_when_asked: list[bool] = []
    button.fireRequested.connect(lambda: still_down_when_asked.append(button.isDown()))

    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)

    assert still_down_when_asked == [True]
    assert not button.isDown()
