"""Starting the window: --demo, --host with $OPENALGO_API_KEY, first run, no usable keyring, and
the settings dialog. Key stores are injected (a SessionKeyStore, or a fake that refuses) so no
test touches the user's keyring; settings go to a temporary directory."""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from core.secrets import KeyStoreChoice, KeyStoreError, KeyStoreProblem, SessionKeyStore
from core.settings import FiringPolicy, Settings
from core.simulator import Simulator
from tests.ui.conftest import WORKING_ORDERS
from ui.app import ENV_KEY, Session, build_session, freeze_long_lived_objects_after_first_book, parse
from ui.main_window import MainWindow
from ui.settings_dialog import SettingsDialog

NO_KEYRING = "No keyring is available here. The key can be kept for this session only."


@pytest.fixture
def dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("KILLSWITCH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("KILLSWITCH_DATA_DIR", str(tmp_path / "data"))
    return tmp_path


def no_keyring() -> KeyStoreChoice:
    return KeyStoreChoice(SessionKeyStore(), KeyStoreError(KeyStoreProblem.NO_KEYRING, NO_KEYRING))


def keyring_must_not_be_used() -> KeyStoreChoice:
    raise AssertionError("the OS keyring was consulted")


class RefusingKeyStore:
    """A keyring that will not store anything. A fake: a real keyring cannot be made to refuse
    on demand here, and the window's reaction to a refusal is what is under test."""

    description = "a keyring that refuses"

    def get(self, server: str) -> str | None:
        return None

    def set(self, server: str, key: str) -> None:
        raise KeyStoreError(KeyStoreProblem.REFUSED, "The keyring refused to store the API key.")

    def delete(self, server: str) -> None:
        return None


@pytest.fixture
def session_closer() -> Iterator[list[Session]]:
    sessions: list[Session] = []
    yield sessions
    for session in sessions:
        session.window.close()
        session.close()


def file_contents(root: Path) -> list[bytes]:
    return [p.read_bytes() for p in root.rglob("*") if p.is_file()]


def test_demo_opens_on_a_simulator_in_this_process_labelled_demo(
    qtbot: QtBot, dirs: Path, session_closer: list[Session]
) -> None:
    session = build_session(parse(["--demo"]), choose_store=keyring_must_not_be_used)
    session_closer.append(session)
    window = session.window
    qtbot.addWidget(window)
    window.show()
    window.start()
    assert window.windowTitle().startswith("DEMO")
    assert window.demo_badge.isVisible()
    qtbot.waitUntil(lambda: window.model.working_count() >= 20, timeout=10_000)
    assert "ANALYZE" in window.button.description()
    assert file_contents(dirs) == []  # the demo's key and server are never saved


def test_host_with_the_environment_key_uses_it_for_this_run_only(
    qtbot: QtBot, simulator: Simulator, dirs: Path, session_closer: list[Session]
) -> None:
    options = parse(["--host", simulator.url])
    session = build_session(
        options,
        environ={ENV_KEY: simulator.apikey},
        choose_store=keyring_must_not_be_used,
        settings=Settings(),
    )
    session_closer.append(session)
    window = session.window
    qtbot.addWidget(window)
    window.show()
    window.start()
    qtbot.waitUntil(lambda: window.button.headline() == f"CANCEL ALL {WORKING_ORDERS} WORKING ORDERS")
    assert simulator.url in window.button.description()
    assert isinstance(window.key_store, SessionKeyStore)
    window.close()
    assert all(simulator.apikey.encode() not in data for data in file_contents(dirs))


def test_a_bad_host_is_refused_with_a_sentence() -> None:
    with pytest.raises(ValueError, match="not a usable server URL"):
        build_session(parse(["--host", "ftp://nowhere"]), choose_store=keyring_must_not_be_used)


def test_no_usable_keyring_is_said_plainly_and_the_key_is_kept_for_the_session(
    qtbot: QtBot, simulator: Simulator, dirs: Path, session_closer: list[Session]
) -> None:
    session = build_session(parse([]), choose_store=no_keyring, settings=Settings(host=simulator.url))
    session_closer.append(session)
    window = session.window
    qtbot.addWidget(window)
    window.show()
    window.start()  # the keyring is looked at on a worker thread: the window answers meanwhile
    qtbot.waitUntil(lambda: NO_KEYRING in window.notice())
    qtbot.waitUntil(lambda: window.settings_dialog is not None)
    dialog = window.settings_dialog
    assert dialog is not None
    assert "in memory until the app quits" in dialog.key_where.text()
    dialog.key_edit.setText(simulator.apikey)
    dialog.accept()
    qtbot.waitUntil(lambda: window.button.headline() == f"CANCEL ALL {WORKING_ORDERS} WORKING ORDERS")
    assert window.key_store.get(simulator.url) == simulator.apikey


def test_a_keyring_that_refuses_the_key_offers_to_keep_it_for_the_session(
    qtbot: QtBot, simulator: Simulator, dirs: Path
) -> None:
    window = MainWindow(Settings(host=simulator.url), RefusingKeyStore())
    qtbot.addWidget(window)
    window.show()
    window.start()
    dialog = window.settings_dialog
    assert dialog is not None
    dialog.key_edit.setText(simulator.apikey)
    dialog.accept()  # stored on a worker thread; the dialog stays until it is done
    qtbot.waitUntil(lambda: "refused to store" in dialog.error.text())
    assert dialog.isVisible()
    assert dialog.session_button.isVisible()
    dialog.session_button.click()
    dialog.accept()
    qtbot.waitUntil(lambda: window.button.headline() == f"CANCEL ALL {WORKING_ORDERS} WORKING ORDERS")
    assert isinstance(window.key_store, SessionKeyStore)
    window.close()


def test_changed_settings_are_saved_and_the_button_follows_the_new_policy(
    qtbot: QtBot, simulator: Simulator, dirs: Path
) -> None:
    store = SessionKeyStore()
    store.set(simulator.url, simulator.apikey)
    window = MainWindow(Settings(host=simulator.url), store, apikey=simulator.apikey)
    qtbot.addWidget(window)
    window.start()
    window.open_settings()
    dialog = window.settings_dialog
    assert dialog is not None
    dialog.policy_combo.setCurrentIndex(dialog.policy_combo.findData(FiringPolicy.CONFIRM.value))
    dialog.strategy_edit.setText("Desk 4")
    with qtbot.waitSignal(window.settingsChanged) as changed:  # the hotkey and tray follow this
        dialog.accept()
    assert changed.args is not None
    assert changed.args[0].firing_policy is FiringPolicy.CONFIRM
    assert window.button.policy is FiringPolicy.CONFIRM
    saved = json.loads((dirs / "config" / "settings.json").read_text("utf-8"))
    assert saved["firing_policy"] == "confirm"
    assert saved["strategy"] == "Desk 4"
    window.close()


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://192.168.1.20:5000", "unencrypted"),
        ("https://algo.example.com", ""),
        ("http://127.0.0.1:5000", ""),
        ("not a url at all", "not a usable server URL"),
    ],
)
def test_the_server_url_is_checked_as_it_is_typed(qtbot: QtBot, url: str, says: str) -> None:
    dialog = SettingsDialog(Settings(), SessionKeyStore())
    qtbot.addWidget(dialog)
    dialog.host_edit.setText(url)
    assert dialog.host_note.text() == "" if not says else says in dialog.host_note.text()
    assert dialog.save_button.isEnabled() == (says != "not a usable server URL")


def test_test_connection_says_the_key_is_accepted_and_the_mode(qtbot: QtBot, simulator: Simulator) -> None:
    dialog = SettingsDialog(Settings(host=simulator.url), SessionKeyStore(), current_key=simulator.apikey)
    qtbot.addWidget(dialog)
    dialog.test_button.click()
    qtbot.waitUntil(lambda: "Key accepted" in dialog.test_result.text())
    assert "ANALYZE" in dialog.test_result.text()
    dialog.reject()


def test_test_connection_says_when_the_key_is_rejected(qtbot: QtBot, simulator: Simulator) -> None:
    dialog = SettingsDialog(Settings(host=simulator.url), SessionKeyStore())
    qtbot.addWidget(dialog)
    dialog.key_edit.setText("wrong-key")
    dialog.test_button.click()
    qtbot.waitUntil(dialog.test_button.isEnabled)
    assert "key" in dialog.test_result.text().lower()
    assert "Key accepted" not in dialog.test_result.text()
    assert "wrong-key" not in dialog.test_result.text()
    dialog.reject()


def test_a_hotkey_recorded_by_pressing_the_keys_is_saved_with_the_window_options(qtbot: QtBot) -> None:
    from PySide6.QtCore import Qt

    dialog = SettingsDialog(Settings(), SessionKeyStore())
    qtbot.addWidget(dialog)
    mods = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier
    qtbot.keyClick(dialog.hotkey_edit, Qt.Key.Key_F12, mods)
    dialog.on_top.setChecked(True)
    dialog.hotkey_on.setChecked(False)
    dialog.accept()
    assert dialog.settings.hotkey == "<ctrl>+<alt>+<f12>"
    assert dialog.settings.always_on_top and not dialog.settings.hotkey_enabled
    assert not dialog.hotkey_edit.isEnabled()


def test_test_connection_warns_before_any_kill_that_semi_auto_mode_would_refuse_it(qtbot: QtBot) -> None:
    from core.simulator import Quirks

    with Simulator(mode="live", orders=3, quirks=Quirks(semi_auto=True)) as sim:
        dialog = SettingsDialog(Settings(host=sim.url), SessionKeyStore(), current_key=sim.apikey)
        qtbot.addWidget(dialog)
        dialog.test_button.click()
        qtbot.waitUntil(dialog.test_button.isEnabled)
        assert "Semi-Auto mode" in dialog.test_result.text() and "LIVE" in dialog.test_result.text()
        assert len(sim.working_orders()) == 3  # the check cancelled nothing
        dialog.reject()


def test_test_connection_on_a_live_auto_account_says_nothing_of_semi_auto(qtbot: QtBot) -> None:
    with Simulator(mode="live", orders=3) as sim:
        dialog = SettingsDialog(Settings(host=sim.url), SessionKeyStore(), current_key=sim.apikey)
        qtbot.addWidget(dialog)
        dialog.test_button.click()
        qtbot.waitUntil(dialog.test_button.isEnabled)
        assert "Key accepted" in dialog.test_result.text() and "Semi-Auto" not in dialog.test_result.text()
        assert len(sim.working_orders()) == 3
        dialog.reject()


def frozen(thing: object) -> bool:
    """Whether ``thing`` is hidden from the collector's collections (``gc.freeze``): the
    collections walk, and ``gc.get_objects`` lists, only the three generations."""
    assert gc.is_tracked(thing)
    return not any(alive is thing for alive in gc.get_objects())


def test_what_the_window_loaded_is_kept_out_of_full_collections_even_after_an_earlier_freeze(
    qtbot: QtBot, simulator: Simulator, dirs: Path
) -> None:
    """A full collection walks every object not frozen with the interpreter lock held, and one set
    off in the middle of a kill stalls the window. What the window holds when its first book is on
    screen is frozen even in a process that froze before (an earlier window in a benchmark run);
    the polls after it freeze nothing more."""
    gc.freeze()  # the process froze once already, before this window was made
    try:
        store = SessionKeyStore()
        store.set(simulator.url, simulator.apikey)
        window = MainWindow(Settings(host=simulator.url), store, apikey=simulator.apikey)
        qtbot.addWidget(window)
        freeze_long_lived_objects_after_first_book(window)
        loaded_before_the_first_book = [window]
        with qtbot.waitSignal(window.bookShown, timeout=10_000):
            window.start()
        assert frozen(loaded_before_the_first_book)

        loaded_later = [window]
        with qtbot.waitSignal(window.bookShown, timeout=10_000):
            pass
        assert not frozen(loaded_later), "only the first book freezes, not every poll"
        window.close()
    finally:
        gc.unfreeze()
