"""OsKeyStore's own rules, SessionKeyStore, and server URL normalisation.

These tests inject a FAKE keyring backend (an in-memory dict that can be told to fail). It is a
fake on purpose: what is tested here is OsKeyStore's judgement - refusing backends that would
keep the key unencrypted, turning each kind of keyring failure into the right sentence, never
letting the key into a message - and a real keyring can neither be made plaintext nor be made to
fail with a chosen error on cue. The real Secret Service is in tests/system/test_keyring.py.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
from typing import ClassVar

import keyring.errors
import pytest
import secretstorage.exceptions
from hypothesis import given
from hypothesis import strategies as st
from jeepney import DBusAddress, new_error, new_method_call
from jeepney.wrappers import DBusErrorResponse
from keyring.backend import KeyringBackend
from keyring.backends import chainer, fail, null

from core.secrets import (
    KEYRING_BACKEND_MODULES,
    SERVICE_NAME,
    KeyStoreError,
    KeyStoreProblem,
    OsKeyStore,
    SessionKeyStore,
    choose_key_store,
    normalise_server,
)

SERVER = "http://127.0.0.1:5000"
KEY = "c0ffee-5ecret-api-key-7d3a9b"
SESSION_ONLY = "The key can be kept for this session only."


class FakeKeyring(KeyringBackend):
    """A fake, in-memory keyring backend; see the module docstring for why it is a fake."""

    # keyring registers every backend class it sees; this keeps its own backend discovery (in
    # this test process) from ever choosing a fake.
    viable = False
    priority = 5  # "recommended", like a real OS keyring

    def __init__(self, fail_with: BaseException | None = None) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}
        self.fail_with = fail_with

    def _maybe_fail(self) -> None:
        if self.fail_with is not None:
            raise self.fail_with

    def get_password(self, service: str, username: str) -> str | None:
        self._maybe_fail()
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self._maybe_fail()
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self._maybe_fail()
        if self.entries.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError("No such password!")


class PlaintextKeyring(FakeKeyring):
    """Stands in for keyrings.alt.file.PlaintextKeyring: same name, same priority."""

    priority = 0.5


class UnencryptedFileKeyring(FakeKeyring):
    """A keyring that claims a high priority, but whose name says it does not encrypt."""

    priority = 9


class ObscureKeyring(FakeKeyring):
    """A keyring keyring itself does not recommend (priority below 1)."""

    priority = 0.9


class KeyringThatWillNotDelete(FakeKeyring):
    def delete_password(self, service: str, username: str) -> None:
        raise keyring.errors.PasswordDeleteError("Access denied")


class EmptyChainer(chainer.ChainerBackend):
    """keyring's chainer when no backend is viable (a fixed list instead of discovery)."""

    viable = False
    backends: ClassVar[list[KeyringBackend]] = []


def dbus_error(name: str) -> DBusErrorResponse:
    call = new_method_call(DBusAddress("/org/freedesktop/secrets", "org.freedesktop.secrets"), "Unlock")
    return DBusErrorResponse(new_error(call, name, "s", ("raw D-Bus text",)))


@pytest.fixture
def no_session_bus(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Secret Service reachable, so "is one running?" has a known answer."""
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/killswitch-test-bus")


# --- a working keyring ----------------------------------------------------------------------------


def test_a_key_is_stored_under_the_app_service_and_the_normalised_server():
    backend = FakeKeyring()

    OsKeyStore(backend).set("HTTP://127.0.0.1:5000/", KEY)

    assert backend.entries == {(SERVICE_NAME, SERVER): KEY}


def test_a_stored_key_reads_back_and_a_missing_one_is_none():
    store = OsKeyStore(FakeKeyring())
    store.set(SERVER, KEY)

    assert store.get(SERVER) == KEY
    assert store.get("http://127.0.0.1:5001") is None


def test_deleting_a_key_that_is_not_there_is_fine():
    store = OsKeyStore(FakeKeyring())

    store.delete(SERVER)

    assert store.get(SERVER) is None


def test_a_delete_the_keyring_refuses_is_an_error():
    backend = KeyringThatWillNotDelete()
    store = OsKeyStore(backend)
    store.set(SERVER, KEY)

    with pytest.raises(KeyStoreError) as raised:
        store.delete(SERVER)

    assert raised.value.problem is KeyStoreProblem.REFUSED
    assert backend.entries == {(SERVICE_NAME, SERVER): KEY}


def test_a_usable_keyring_passes_the_check():
    assert OsKeyStore(FakeKeyring()).check() is None


def test_an_empty_key_is_a_mistake_not_a_key():
    with pytest.raises(ValueError, match="empty"):
        OsKeyStore(FakeKeyring()).set(SERVER, "   ")


# --- keyrings that are refused ------------------------------------------------------------------


@pytest.mark.parametrize("backend_class", [PlaintextKeyring, UnencryptedFileKeyring, ObscureKeyring])
def test_a_keyring_that_would_keep_the_key_unencrypted_is_refused(backend_class: type[FakeKeyring]):
    backend = backend_class()
    store = OsKeyStore(backend)

    problem = store.check()
    with pytest.raises(KeyStoreError) as raised:
        store.set(SERVER, KEY)

    assert problem is not None
    assert problem.problem is KeyStoreProblem.PLAINTEXT
    assert raised.value.problem is KeyStoreProblem.PLAINTEXT
    assert "unencrypted" in raised.value.sentence
    assert raised.value.sentence.endswith(SESSION_ONLY)
    assert backend.entries == {}


@pytest.mark.usefixtures("no_session_bus")
@pytest.mark.parametrize("backend", [fail.Keyring(), null.Keyring(), EmptyChainer()], ids=type)
def test_no_keyring_at_all_is_said_plainly(backend: KeyringBackend):
    problem = OsKeyStore(backend).check()

    assert problem is not None
    assert problem.problem is KeyStoreProblem.NO_KEYRING
    assert (
        problem.sentence
        == f"No usable keyring on this computer (no Secret Service is running). {SESSION_ONLY}"
    )


@pytest.mark.usefixtures("no_session_bus")
def test_reading_from_no_keyring_raises_rather_than_saying_there_is_no_key():
    # null.Keyring answers None to everything: exactly the lie the UI must not be told.
    with pytest.raises(KeyStoreError) as raised:
        OsKeyStore(null.Keyring()).get(SERVER)

    assert raised.value.problem is KeyStoreProblem.NO_KEYRING


def test_the_chainer_stores_only_in_its_first_keyring():
    first, plaintext = FakeKeyring(), PlaintextKeyring()

    class Chainer(EmptyChainer):
        backends: ClassVar[list[KeyringBackend]] = [first, plaintext]

    OsKeyStore(Chainer()).set(SERVER, KEY)

    assert first.entries == {(SERVICE_NAME, SERVER): KEY}
    assert plaintext.entries == {}


# --- failures become sentences ------------------------------------------------------------------

LOCKED = "The keyring is locked. Unlock it and try again, or keep the key for this session only."

FAILURES = [
    (keyring.errors.KeyringLocked("Failed to unlock the collection!"), KeyStoreProblem.LOCKED),
    (secretstorage.exceptions.LockedException("Collection is locked!"), KeyStoreProblem.LOCKED),
    (secretstorage.exceptions.PromptDismissedException("Prompt dismissed."), KeyStoreProblem.LOCKED),
    (dbus_error("org.freedesktop.Secret.Error.IsLocked"), KeyStoreProblem.LOCKED),
    (TimeoutError("prompt not answered"), KeyStoreProblem.LOCKED),
    (keyring.errors.NoKeyringError("No recommended backend"), KeyStoreProblem.NO_KEYRING),
    (keyring.errors.InitError("Failed to create the collection"), KeyStoreProblem.NO_KEYRING),
    (
        secretstorage.exceptions.SecretServiceNotAvailableException("not running"),
        KeyStoreProblem.NO_KEYRING,
    ),
    (dbus_error("org.freedesktop.DBus.Error.ServiceUnknown"), KeyStoreProblem.NO_KEYRING),
    (ConnectionResetError("Connection reset by peer"), KeyStoreProblem.NO_KEYRING),
    (keyring.errors.PasswordSetError("reason"), KeyStoreProblem.REFUSED),
    (dbus_error("org.freedesktop.DBus.Error.AccessDenied"), KeyStoreProblem.FAILED),
    (RuntimeError("something nobody expected"), KeyStoreProblem.FAILED),
]


@pytest.mark.parametrize(("failure", "problem"), FAILURES, ids=lambda value: type(value).__name__)
def test_a_keyring_failure_becomes_one_plain_sentence(failure: Exception, problem: KeyStoreProblem):
    store = OsKeyStore(FakeKeyring(fail_with=failure))

    with pytest.raises(KeyStoreError) as raised:
        store.set(SERVER, KEY)

    error = raised.value
    assert error.problem is problem
    assert str(error) == error.sentence
    assert str(failure) not in error.sentence  # no raw library text on screen...
    assert type(failure).__name__ in error.detail  # ...but it is in the log detail
    if problem is KeyStoreProblem.LOCKED:
        assert error.sentence == LOCKED


@pytest.mark.parametrize(("failure", "problem"), FAILURES, ids=lambda value: type(value).__name__)
def test_reading_from_a_broken_keyring_raises_instead_of_returning_none(
    failure: Exception, problem: KeyStoreProblem
):
    with pytest.raises(KeyStoreError) as raised:
        OsKeyStore(FakeKeyring(fail_with=failure)).get(SERVER)

    assert raised.value.problem is problem


def test_the_key_never_reaches_an_error_or_the_log(caplog: pytest.LogCaptureFixture):
    # A backend that puts the password in its own error message, which happens.
    store = OsKeyStore(FakeKeyring(fail_with=keyring.errors.PasswordSetError(f"cannot store {KEY}")))

    with caplog.at_level(logging.DEBUG), pytest.raises(KeyStoreError) as raised:
        store.set(SERVER, KEY)

    error = raised.value
    shown = [str(error), repr(error), error.sentence, error.detail, repr(error.args), caplog.text]
    assert not [text for text in shown if KEY in text]
    assert error.__cause__ is None
    assert error.__context__ is None
    assert "<key>" in error.detail


def test_stores_do_not_show_keys_in_their_repr():
    os_store, session_store = OsKeyStore(FakeKeyring()), SessionKeyStore()
    os_store.set(SERVER, KEY)
    session_store.set(SERVER, KEY)

    assert KEY not in repr(os_store)
    assert KEY not in repr(session_store)


# --- choosing a store ---------------------------------------------------------------------------


def test_a_usable_keyring_is_chosen():
    choice = choose_key_store(FakeKeyring())

    assert isinstance(choice.store, OsKeyStore)
    assert choice.problem is None


def test_a_plaintext_keyring_is_passed_over_for_the_session_store():
    choice = choose_key_store(PlaintextKeyring())

    assert isinstance(choice.store, SessionKeyStore)
    assert choice.problem is not None
    assert choice.problem.problem is KeyStoreProblem.PLAINTEXT


def test_the_session_store_keeps_one_key_per_server_until_it_is_deleted():
    store = SessionKeyStore()
    store.set("HTTP://127.0.0.1:5000/", KEY)

    assert store.get(SERVER) == KEY
    assert store.get("http://127.0.0.1:5001") is None
    store.delete(SERVER)
    store.delete(SERVER)
    assert store.get(SERVER) is None


def test_the_session_store_forgets_everything_with_the_session():
    SessionKeyStore().set(SERVER, KEY)

    assert SessionKeyStore().get(SERVER) is None


def test_descriptions_name_the_keyring_a_trader_knows():
    # Importing a foreign platform's backend module is harmless; nothing here calls into it.
    windows = importlib.import_module("keyring.backends.Windows").WinVaultKeyring()
    macos = importlib.import_module("keyring.backends.macOS").Keyring()

    assert OsKeyStore(windows).description == "Windows Credential Manager"
    assert OsKeyStore(macos).description == "macOS Keychain"
    assert SessionKeyStore().description == "session only (memory)"


# --- server URLs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "normalised"),
    [
        ("http://127.0.0.1:5000", "http://127.0.0.1:5000"),
        ("HTTP://LocalHost:5000/", "http://localhost:5000"),
        ("  https://Algo.Example.COM/  ", "https://algo.example.com"),
        ("https://algo.example.com:443/", "https://algo.example.com"),
        ("http://algo.example.com:80", "http://algo.example.com"),
        ("https://example.com/OpenAlgo//", "https://example.com/OpenAlgo"),
        ("http://[::1]:5000/", "http://[::1]:5000"),
        ("https://algo.example.com/api/?x=1#top", "https://algo.example.com/api"),
        ("127.0.0.1:5000/", "127.0.0.1:5000"),
        ("HTTP://[::1", "http://[::1"),  # not a URL (unclosed bracket): trimmed and lowered only
        ("http://:5000/", "http://:5000"),  # no host: likewise
    ],
)
def test_a_server_url_has_one_spelling(url: str, normalised: str):
    assert normalise_server(url) == normalised


@given(st.text())
def test_normalising_twice_changes_nothing(url: str):
    once = normalise_server(url)

    assert normalise_server(once) == once


# --- packaging ----------------------------------------------------------------------------------


def test_the_hidden_imports_cover_every_backend_keyring_can_load():
    entry_points = importlib.metadata.entry_points(group="keyring.backends")

    assert {entry.value for entry in entry_points} <= set(KEYRING_BACKEND_MODULES)


def test_every_listed_keyring_backend_module_imports_on_any_platform():
    # keyring.backends.macOS.api binds Security.framework at import, so only macOS can load it;
    # the backend modules themselves guard their platform imports.
    for name in KEYRING_BACKEND_MODULES:
        if name.startswith("keyring.") and name != "keyring.backends.macOS.api":
            importlib.import_module(name)
