"""The settings dialog as a new user meets it: notes that appear while typing are shown whole,
the controls look like what they are (steppers with visible arrows, a disabled Save that looks
disabled, the demo's fixed server that looks read-only), the key field and Test connection agree
about which key a changed URL would use, and the memory-only store is named once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QApplication, QLabel, QWidget
from pytestqt.qtbot import QtBot

import resources
from core.secrets import SessionKeyStore
from core.settings import Settings
from core.simulator import Simulator
from ui.settings_dialog import DEMO_HOST, KEY_IN_USE, KEY_NEEDED, NO_KEY_TO_TEST, SettingsDialog

PLAIN_HTTP = "http://192.168.1.20:5000"
NO_MODIFIER = (
    "That chord has no modifier key; a global hotkey needs Ctrl, Alt or Super with a key, so it "
    "was not changed."
)


@pytest.fixture
def styled(qapp: QApplication) -> Iterator[None]:
    """The app's own stylesheet, as the trader sees the dialog."""
    before = qapp.styleSheet()
    qapp.setStyleSheet(resources.read_text(resources.STYLESHEET))
    try:
        yield
    finally:
        qapp.setStyleSheet(before)


def shown(qtbot: QtBot, dialog: SettingsDialog) -> SettingsDialog:
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def assert_shown_whole(label: QLabel, dialog: QWidget) -> None:
    """Every wrapped line of ``label`` fits in it, and it lies inside the dialog."""
    assert label.isVisible()
    assert label.height() >= label.heightForWidth(label.width()), label.text()
    assert dialog.rect().contains(QRect(label.mapTo(dialog, QPoint(0, 0)), label.size()))


def test_the_plain_http_warning_typed_after_opening_is_shown_whole(qtbot: QtBot, styled: None) -> None:
    dialog = shown(qtbot, SettingsDialog(Settings(), SessionKeyStore()))

    dialog.host_edit.setText(PLAIN_HTTP)
    qtbot.waitUntil(dialog.host_note.isVisible)

    assert "unencrypted" in dialog.host_note.text()
    qtbot.waitUntil(
        lambda: dialog.host_note.height() >= dialog.host_note.heightForWidth(dialog.host_note.width())
    )
    assert_shown_whole(dialog.host_note, dialog)
    assert dialog.key_edit.mapTo(dialog, QPoint(0, 0)).y() >= dialog.host_note.mapTo(
        dialog, QPoint(0, 0)
    ).y() + (dialog.host_note.height())


def test_a_longer_hotkey_hint_is_shown_whole(qtbot: QtBot, styled: None) -> None:
    dialog = shown(qtbot, SettingsDialog(Settings(), SessionKeyStore()))

    dialog.hotkey_edit.problem.emit(NO_MODIFIER)

    qtbot.waitUntil(
        lambda: dialog.hotkey_note.height() >= dialog.hotkey_note.heightForWidth(dialog.hotkey_note.width())
    )
    assert dialog.hotkey_note.text() == NO_MODIFIER
    assert_shown_whole(dialog.hotkey_note, dialog)


def lightest(image: QImage, area: QRect) -> int:
    return max(
        QColor(image.pixel(x, y)).lightness()
        for x in range(area.left(), area.right() + 1)
        for y in range(area.top(), area.bottom() + 1)
    )


def mean_lightness(image: QImage, area: QRect) -> float:
    values = [
        QColor(image.pixel(x, y)).lightness()
        for x in range(area.left(), area.right() + 1)
        for y in range(area.top(), area.bottom() + 1)
    ]
    return sum(values) / len(values)


def test_the_spin_boxes_draw_arrows_that_stand_out_from_their_buttons(qtbot: QtBot, styled: None) -> None:
    dialog = shown(qtbot, SettingsDialog(Settings(), SessionKeyStore()))
    spin = dialog.poll_spin

    image = spin.grab().toImage()
    steppers = QRect(spin.width() - 20, 2, 16, spin.height() - 4)

    # The arrow (#d5dbe3, lightness ~220) on the stepper's dark button (~40), not a dark smudge.
    assert lightest(image, steppers) > 180
    assert mean_lightness(image, steppers) < 110


def test_a_disabled_save_looks_disabled(qtbot: QtBot, styled: None) -> None:
    dialog = shown(qtbot, SettingsDialog(Settings(), SessionKeyStore()))
    save = dialog.save_button
    inner = save.rect().adjusted(3, 3, -3, -3)
    enabled = save.grab().toImage()

    dialog.host_edit.setText("not a url at all")

    assert not save.isEnabled()
    disabled = save.grab().toImage()
    # Its label fades: the brightest pixel (the text) is far dimmer than on an enabled Save.
    assert lightest(disabled, inner) < lightest(enabled, inner) - 80


def test_the_demo_server_url_looks_read_only_and_says_why(qtbot: QtBot, styled: None) -> None:
    demo = shown(qtbot, SettingsDialog(Settings(), SessionKeyStore(), host_locked=True))
    normal = shown(qtbot, SettingsDialog(Settings(), SessionKeyStore()))

    assert demo.host_edit.isReadOnly()
    assert demo.host_note.text() == DEMO_HOST
    assert_shown_whole(demo.host_note, demo)
    field = demo.host_edit.rect().adjusted(4, 4, -4, -4)
    # Not the field colour an editable URL has: the window's own background behind dimmer text.
    assert mean_lightness(demo.host_edit.grab().toImage(), field) < mean_lightness(
        normal.host_edit.grab().toImage(), field
    )


def test_after_a_url_change_the_key_field_and_test_connection_agree(
    qtbot: QtBot, simulator: Simulator
) -> None:
    dialog = shown(
        qtbot, SettingsDialog(Settings(host=simulator.url), SessionKeyStore(), current_key=simulator.apikey)
    )
    assert dialog.key_edit.placeholderText() == KEY_IN_USE

    dialog.host_edit.setText("http://127.0.0.1:9")  # another server: the key in use is not its key

    assert dialog.key_edit.placeholderText() == KEY_NEEDED
    dialog.test_button.click()
    qtbot.waitUntil(dialog.test_button.isEnabled)
    assert dialog.test_result.text() == NO_KEY_TO_TEST

    dialog.host_edit.setText(simulator.url)  # back: its key is in use again, and tests fine

    assert dialog.key_edit.placeholderText() == KEY_IN_USE
    dialog.test_button.click()
    qtbot.waitUntil(lambda: "Key accepted" in dialog.test_result.text())
    dialog.reject()


def test_a_memory_only_key_store_is_named_once(qtbot: QtBot) -> None:
    dialog = shown(qtbot, SettingsDialog(Settings(), SessionKeyStore()))

    texts = " ".join(label.text() for label in dialog.findChildren(QLabel))

    assert dialog.key_where.text() == "The key is kept in memory until the app quits, never in a file."
    assert "session only (memory)" not in texts
    assert texts.count("memory") == 1
