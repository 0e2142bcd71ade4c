"""The OpenAlgo API key: kept in the OS keyring, never in plain text.

Two stores sit behind the small `KeyStore` interface:

* `OsKeyStore` keeps the key in the operating system's keyring through the `keyring` library
  (Secret Service on Linux, Credential Manager on Windows, the Keychain on macOS). It refuses
  keyrings that would write the key to disk unencrypted, and turns every keyring failure into a
  `KeyStoreError` carrying one sentence a trader understands.
* `SessionKeyStore` keeps the key in memory for this run only: the fallback when there is no
  usable keyring, or when the trader asks for it.

`choose_key_store()` picks between them. Nothing here imports Qt, and no message, repr or log
line ever contains the key.
"""

from __future__ import annotations

import enum
import logging
import sys
import threading
import types
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final, Protocol
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    from keyring.backend import KeyringBackend

# keyring (with secretstorage, jeepney and cryptography: 60-130 ms) is imported on first use of
# the OS keyring, not with this module: the window's SessionKeyStore, a --demo start and a key
# from the environment never need it, and a start that does need it reads the key after the
# window's own imports.


def _load_keyring() -> None:
    """Import keyring and this platform's backends (once; later calls are dictionary look-ups).

    keyring finds its backends through entry points; importing the ones this platform needs makes
    them register even if a frozen build lost keyring's metadata (the spec lists them as hidden
    imports through ``KEYRING_BACKEND_MODULES``).
    """
    import keyring
    import keyring.errors
    from keyring.backends import SecretService, chainer, fail, null  # noqa: F401

    if sys.platform == "win32":
        import keyring.backends.Windows
    elif sys.platform == "darwin":
        import keyring.backends.macOS  # noqa: F401


__all__ = [
    "KEYRING_BACKEND_MODULES",
    "SERVICE_NAME",
    "KeyStore",
    "KeyStoreChoice",
    "KeyStoreError",
    "KeyStoreProblem",
    "OsKeyStore",
    "SessionKeyStore",
    "choose_key_store",
    "normalise_server",
]

log = logging.getLogger(__name__)

SERVICE_NAME: Final = "openalgo-killswitch"
"""The keyring service name; the keyring username is the normalised server URL."""

UNLOCK_PROMPT_TIMEOUT_S: Final = 120.0
"""How long get/set/delete wait for the trader to answer the desktop's keyring unlock prompt."""

KEYRING_BACKEND_MODULES: Final[tuple[str, ...]] = (
    # For packaging/killswitch.spec: hiddenimports=[*KEYRING_BACKEND_MODULES].
    #
    # keyring chooses its backend at run time: it loads every module named in its
    # "keyring.backends" entry points, asks each backend class for its priority and takes the
    # highest. A frozen app therefore needs (1) the backend modules, which nothing imports
    # statically, and (2) keyring's dist-info, or the entry points are invisible and keyring
    # falls back to fail.Keyring ("No recommended backend", jaraco/keyring#399, #468).
    # PyInstaller's bundled hook-keyring.py does both (collect_submodules("keyring.backends") and
    # copy_metadata("keyring")); keep datas += copy_metadata("keyring") in the spec anyway, and
    # list the modules here so that a missing or changed hook cannot silently cost us the keyring.
    # A module that does not exist on the build platform only produces a "hidden import not
    # found" note.
    "keyring.backends",
    "keyring.backends.chainer",
    "keyring.backends.fail",
    "keyring.backends.null",
    # Linux: the Secret Service over D-Bus (GNOME Keyring, KeePassXC, KWallet >= 5.97).
    "keyring.backends.SecretService",
    "secretstorage",
    "jeepney",
    "jeepney.io.blocking",
    # Linux alternatives; they are only viable if their bindings (gi, dbus-python) are bundled,
    # which we do not do, but listing them keeps keyring's entry points importable.
    "keyring.backends.libsecret",
    "keyring.backends.kwallet",
    # Windows: Credential Manager through pywin32-ctypes (its hook adds win32ctypes.core.ctypes).
    "keyring.backends.Windows",
    "win32ctypes.pywin32",
    "win32ctypes.pywin32.win32cred",
    "win32ctypes.pywin32.pywintypes",
    "win32ctypes.core",
    # macOS: the Keychain through ctypes and Security.framework.
    "keyring.backends.macOS",
    "keyring.backends.macOS.api",
)

_SESSION_ONLY = "The key can be kept for this session only."


class KeyStoreProblem(enum.Enum):
    """What kind of trouble a `KeyStoreError` reports, for the UI to choose what to offer."""

    NO_KEYRING = "no-keyring"  # nothing usable is running or installed
    PLAINTEXT = "plaintext"  # the only keyring would keep the key unencrypted; refused
    LOCKED = "locked"  # the keyring is locked and was not unlocked
    REFUSED = "refused"  # the keyring would not store or delete the key
    FAILED = "failed"  # anything else the keyring did wrong


class KeyStoreError(Exception):
    """A key store could not do what was asked.

    `sentence` is one sentence a trader understands and is also the exception's text;
    `detail` names the underlying error for the log. Neither ever contains the key.
    """

    def __init__(self, problem: KeyStoreProblem, sentence: str, detail: str = "") -> None:
        super().__init__(sentence)
        self.problem = problem
        self.sentence = sentence
        self.detail = detail


class KeyStore(Protocol):
    """Where the API key for a server lives. Servers are matched after `normalise_server`."""

    @property
    def description(self) -> str:
        """Where keys go, for the settings dialog: "Secret Service (GNOME Keyring)"."""
        ...

    def get(self, server: str) -> str | None:
        """The key for `server`, or None if none is stored. Raises KeyStoreError if the store
        cannot be read, so that "no key" and "keyring broken" never look alike."""
        ...

    def set(self, server: str, key: str) -> None:
        """Store (or replace) the key for `server`. Raises KeyStoreError."""
        ...

    def delete(self, server: str) -> None:
        """Forget the key for `server`; a missing key is fine. Raises KeyStoreError."""
        ...


def normalise_server(url: str) -> str:
    """The server URL in the one spelling the keyring is keyed by.

    Scheme and host are lower-cased; a default port (:80 for http, :443 for https), trailing
    slashes, query and fragment are dropped; the path keeps its case. Normalising twice changes
    nothing. Text that is not a URL with a scheme and host is only trimmed and lower-cased.
    """
    text = _trim_end(url.strip())
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unclosed IPv6 bracket: not a URL, so only trimmed and lowered
        return text.lower()
    if not (parts.scheme and parts.netloc):
        return text.lower()
    if not parts.hostname or any(c.isspace() for c in parts.netloc):  # "http://:5000", "http://a b"
        return text.lower()
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:  # an IPv6 literal keeps its brackets
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:  # a port that is not a number: keep the host part as written
        port = None
        host = parts.netloc.rpartition("@")[2].lower()
    if port is not None and (scheme, port) not in {("http", 80), ("https", 443)}:
        host = f"{host}:{port}"
    return urlunsplit((scheme, host, _trim_end(parts.path), "", ""))


def _trim_end(text: str) -> str:
    """`text` without trailing slashes and spaces, in any mix ("a/ /" -> "a")."""
    end = len(text)
    while end and (text[end - 1] == "/" or text[end - 1].isspace()):
        end -= 1
    return text[:end]


class SessionKeyStore:
    """Keys in this process's memory only: gone when the app quits."""

    description: Final = "session only (memory)"

    def __init__(self) -> None:
        self._keys: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, server: str) -> str | None:
        with self._lock:
            return self._keys.get(normalise_server(server))

    def set(self, server: str, key: str) -> None:
        _refuse_empty(key)
        with self._lock:
            self._keys[normalise_server(server)] = key

    def delete(self, server: str) -> None:
        with self._lock:
            self._keys.pop(normalise_server(server), None)

    def __repr__(self) -> str:
        with self._lock:
            return f"SessionKeyStore(servers={sorted(self._keys)!r})"


class OsKeyStore:
    """The key in the operating system's keyring, under service `SERVICE_NAME`.

    `backend` is injected by tests; by default it is whatever `keyring.get_keyring()` chose for
    this process. Every keyring failure becomes a KeyStoreError. get/set/delete may show the
    desktop's unlock prompt and wait up to `UNLOCK_PROMPT_TIMEOUT_S` for it, so call them off the
    UI thread; `check()` never prompts.
    """

    def __init__(self, backend: KeyringBackend | None = None) -> None:
        _load_keyring()
        import keyring

        self._backend = backend if backend is not None else keyring.get_keyring()
        self._description: str | None = None

    @property
    def description(self) -> str:
        if self._description is None:
            self._description = _describe(_effective_backend(self._backend))
        return self._description

    def check(self) -> KeyStoreError | None:
        """Why this keyring cannot keep the key right now, or None if it can.

        Refuses a missing keyring, one that would store the key unencrypted, and reports a
        locked keyring as locked (without asking to unlock it).
        """
        try:
            backend = self._usable_backend()
            if _is_secret_service(backend):
                _secret_service_unlock(backend, prompt=False)
        except KeyStoreError as error:
            return error
        except Exception as exc:
            return self._translate(exc, "check")
        return None

    def get(self, server: str) -> str | None:
        username = normalise_server(server)
        backend = self._usable_backend()
        try:
            if _is_secret_service(backend):
                _secret_service_unlock(backend, prompt=True)
            return backend.get_password(SERVICE_NAME, username)
        except KeyStoreError:
            raise
        except Exception as exc:
            raise self._translate(exc, "read") from exc

    def set(self, server: str, key: str) -> None:
        _refuse_empty(key)
        username = normalise_server(server)
        backend = self._usable_backend()
        try:
            if _is_secret_service(backend):
                _secret_service_unlock(backend, prompt=True)
            backend.set_password(SERVICE_NAME, username, key)
        except KeyStoreError:
            raise
        except Exception as exc:
            failure = self._translate(exc, "store", secret=key)
        else:
            return
        # Raised outside the except block so that neither __cause__ nor __context__ leads to the
        # original error, whose frames and message could hold the key.
        raise failure

    def delete(self, server: str) -> None:
        username = normalise_server(server)
        backend = self._usable_backend()
        try:
            if _is_secret_service(backend):
                _secret_service_unlock(backend, prompt=True)
            backend.delete_password(SERVICE_NAME, username)
        except KeyStoreError:
            raise
        except _keyring_errors().PasswordDeleteError as exc:
            # Backends raise this both for "nothing stored" and for a real refusal; only the
            # second is an error.
            _close_leaked_connections(exc)
            if self.get(server) is not None:
                raise self._translate(exc, "delete") from exc
        except Exception as exc:
            raise self._translate(exc, "delete") from exc

    def __repr__(self) -> str:
        return f"OsKeyStore(backend={type(self._backend).__module__}.{type(self._backend).__qualname__})"

    def _usable_backend(self) -> KeyringBackend:
        """The backend that will hold the key, or KeyStoreError if there is none worth using."""
        from keyring.backends import fail, null

        backend = _effective_backend(self._backend)
        if backend is None or isinstance(backend, (fail.Keyring, null.Keyring)):
            raise KeyStoreError(KeyStoreProblem.NO_KEYRING, _no_keyring_sentence(), _class_name(backend))
        try:
            priority = float(type(backend).priority)
        except Exception as exc:  # keyring's way of saying "not usable here"
            _close_leaked_connections(exc)
            raise KeyStoreError(
                KeyStoreProblem.NO_KEYRING, _unusable_sentence(backend), _detail(exc)
            ) from exc
        if priority < 1 or _says_unencrypted(backend):
            raise KeyStoreError(
                KeyStoreProblem.PLAINTEXT,
                f"The only keyring found here ({_describe(backend)}) would keep the key unencrypted, "
                f"so it is not used. {_SESSION_ONLY}",
                f"{_class_name(backend)} (priority {priority:g})",
            )
        return backend

    def _translate(self, exc: BaseException, action: str, secret: str = "") -> KeyStoreError:
        _close_leaked_connections(exc)
        problem = _classify(exc)
        detail = _detail(exc, secret)
        log.warning("Keyring (%s) could not %s the API key: %s", self.description, action, detail)
        return KeyStoreError(problem, _sentence(problem, action), detail)


@dataclass(frozen=True)
class KeyStoreChoice:
    """The store to use, and why the OS keyring was passed over (or is locked), if it was."""

    store: KeyStore
    problem: KeyStoreError | None


def choose_key_store(backend: KeyringBackend | None = None) -> KeyStoreChoice:
    """The OS keyring if it can keep the key, otherwise a session-only store.

    A locked keyring is still chosen: using it shows the desktop's unlock prompt.
    """
    store = OsKeyStore(backend)
    problem = store.check()
    if problem is None or problem.problem is KeyStoreProblem.LOCKED:
        return KeyStoreChoice(store, problem)
    log.info("Keeping the API key for this session only: %s", problem.detail or problem.sentence)
    return KeyStoreChoice(SessionKeyStore(), problem)


def _refuse_empty(key: str) -> None:
    if not key or key.isspace():
        raise ValueError("the API key is empty")


# --- which backend, and what to call it ---------------------------------------------------------

_UNENCRYPTED_MARKERS: Final = ("plaintext", "plain_text", "unencrypted", "insecure", "cleartext")

_DESCRIPTIONS: Final = {
    "keyring.backends.Windows.WinVaultKeyring": "Windows Credential Manager",
    "keyring.backends.macOS.Keyring": "macOS Keychain",
    "keyring.backends.kwallet.DBusKeyring": "KWallet",
    "keyring.backends.kwallet.DBusKeyringKWallet4": "KWallet",
    "keyring.backends.fail.Keyring": "no keyring",
    "keyring.backends.null.Keyring": "no keyring",
}

# What the process that owns org.freedesktop.secrets calls itself (/proc/PID/comm, 15 chars).
_SECRET_SERVICE_PROVIDERS: Final = {
    "gnome-keyring-d": "GNOME Keyring",
    "keepassxc": "KeePassXC",
    "kwalletd5": "KWallet",
    "kwalletd6": "KWallet",
    "oo7-daemon": "oo7",
}


def _effective_backend(backend: KeyringBackend) -> KeyringBackend | None:
    """The backend that will actually hold the key.

    keyring's chainer reads from every viable backend, plaintext ones included; we use only the
    one it would write to first, so the key is read from where it is written.
    """
    from keyring.backends import chainer

    if isinstance(backend, chainer.ChainerBackend):
        chained: list[KeyringBackend] = list(type(backend).backends)
        return chained[0] if chained else None
    return backend


def _class_name(backend: KeyringBackend | None) -> str:
    if backend is None:
        return "keyring.backends.chainer.ChainerBackend (empty)"
    return f"{type(backend).__module__}.{type(backend).__qualname__}"


def _says_unencrypted(backend: KeyringBackend) -> bool:
    name = _class_name(backend).lower()
    return any(marker in name for marker in _UNENCRYPTED_MARKERS)


def _describe(backend: KeyringBackend | None) -> str:
    if backend is None:
        return "no keyring"
    name = _class_name(backend)
    if _is_secret_service(backend) or name == "keyring.backends.libsecret.Keyring":
        provider = _secret_service_provider()
        return f"Secret Service ({provider})" if provider else "Secret Service"
    return _DESCRIPTIONS.get(name, str(type(backend).name))


def _secret_service_provider() -> str | None:
    """Which program answers for the Secret Service on the session bus, if we can tell."""
    try:
        import secretstorage
        from jeepney.bus_messages import message_bus  # type: ignore[import-untyped]
        from jeepney.io.blocking import Proxy  # type: ignore[import-untyped]

        with closing(secretstorage.dbus_init()) as bus:
            dbus = Proxy(message_bus, bus)
            (owner,) = dbus.GetNameOwner("org.freedesktop.secrets")
            (pid,) = dbus.GetConnectionUnixProcessID(owner)
        comm = Path(f"/proc/{int(pid)}/comm").read_text(encoding="utf-8").strip()
    except Exception:  # only a nicer label is lost
        return None
    return _SECRET_SERVICE_PROVIDERS.get(comm)


def _secret_service_unlock(backend: KeyringBackend, *, prompt: bool) -> None:
    """Make sure the Secret Service collection keyring will use is unlocked.

    keyring's own unlock waits for the prompt without a time limit and leaks its D-Bus socket
    when the collection stays locked; this does the same on a connection we close, with a limit.
    """
    import secretstorage

    path = getattr(backend, "preferred_collection", None) or "/org/freedesktop/secrets/aliases/default"
    with closing(secretstorage.dbus_init()) as bus:
        try:
            collection = secretstorage.Collection(bus, path)
        except secretstorage.ItemNotFoundException:
            return  # no default collection yet: keyring creates it (with its own prompt)
        if not collection.is_locked():
            return
        if prompt:
            try:
                collection.unlock(timeout=UNLOCK_PROMPT_TIMEOUT_S)
            except TimeoutError:
                raise KeyStoreError(
                    KeyStoreProblem.LOCKED,
                    "The keyring is locked and its unlock prompt was not answered in time. "
                    "Unlock it and try again, or keep the key for this session only.",
                    "unlock prompt timed out",
                ) from None
            if not collection.is_locked():
                return
        raise KeyStoreError(KeyStoreProblem.LOCKED, _LOCKED_SENTENCE, f"collection {path} is locked")


# --- errors as sentences ------------------------------------------------------------------------

_LOCKED_SENTENCE: Final = (
    "The keyring is locked. Unlock it and try again, or keep the key for this session only."
)

# D-Bus error names that mean "nobody is answering" rather than "the keyring said no".
_DBUS_UNAVAILABLE: Final = frozenset(
    {
        "org.freedesktop.DBus.Error.ServiceUnknown",
        "org.freedesktop.DBus.Error.NoReply",
        "org.freedesktop.DBus.Error.Spawn.ExecFailed",
        "org.freedesktop.DBus.Error.Disconnected",
        "org.freedesktop.DBus.Error.NoServer",
        "org.freedesktop.DBus.Error.Timeout",
    }
)


def _is_secret_service(backend: KeyringBackend) -> bool:
    from keyring.backends import SecretService

    return isinstance(backend, SecretService.Keyring)


def _keyring_errors() -> types.ModuleType:
    _load_keyring()
    import keyring.errors

    return keyring.errors


def _classify(exc: BaseException) -> KeyStoreProblem:
    # secretstorage and jeepney are matched by class name: they exist only on Linux.
    errors = _keyring_errors()
    names = {cls.__name__ for cls in type(exc).__mro__}
    dbus_error = str(getattr(exc, "name", "")) if "DBusErrorResponse" in names else ""
    if (
        isinstance(exc, (errors.KeyringLocked, TimeoutError))
        or names & {"LockedException", "PromptDismissedException"}
        or dbus_error.endswith(".IsLocked")
    ):
        return KeyStoreProblem.LOCKED
    if (
        isinstance(exc, (errors.NoKeyringError, errors.InitError, OSError))
        or "SecretServiceNotAvailableException" in names
        or dbus_error in _DBUS_UNAVAILABLE
    ):
        return KeyStoreProblem.NO_KEYRING
    if isinstance(exc, (errors.PasswordSetError, errors.PasswordDeleteError)):
        return KeyStoreProblem.REFUSED
    return KeyStoreProblem.FAILED


def _sentence(problem: KeyStoreProblem, action: str) -> str:
    match problem:
        case KeyStoreProblem.LOCKED:
            return _LOCKED_SENTENCE
        case KeyStoreProblem.NO_KEYRING:
            return f"The keyring is not answering, so the key could not be {_PAST[action]}. {_SESSION_ONLY}"
        case KeyStoreProblem.REFUSED:
            return f"The keyring refused to {action} the key. {_SESSION_ONLY}"
        case _:
            return (
                f"The keyring failed while trying to {action} the key. "
                "Try again, or keep it for this session only."
            )


_PAST: Final = {"read": "read", "store": "stored", "delete": "deleted", "check": "checked"}


def _no_keyring_sentence() -> str:
    from keyring.backends import SecretService

    if sys.platform.startswith("linux") and not SecretService.Keyring.viable:
        return f"No usable keyring on this computer (no Secret Service is running). {_SESSION_ONLY}"
    return f"No usable keyring on this computer. {_SESSION_ONLY}"


def _unusable_sentence(backend: KeyringBackend) -> str:
    if _is_secret_service(backend):
        return _no_keyring_sentence()
    return f"The keyring ({_describe(backend)}) cannot be used on this computer. {_SESSION_ONLY}"


def _detail(exc: BaseException, secret: str = "") -> str:
    """The error's type and text for the log, with the key blanked out if it is in there."""
    text = str(exc)
    if secret:
        text = text.replace(secret, "<key>")
    return f"{type(exc).__module__}.{type(exc).__qualname__}: {text}"


def _close_leaked_connections(exc: BaseException) -> None:
    """Close D-Bus connections that keyring opened and abandoned on its way out with `exc`.

    keyring's Secret Service backend opens a connection per call and closes it only on success;
    left to the garbage collector, the socket raises ResourceWarning. The frames that raised are
    still reachable from the traceback, so their connections can be closed here.
    """
    tb: types.TracebackType | None = exc.__traceback__
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            if type(value).__name__ == "DBusConnection" and callable(getattr(value, "close", None)):
                value.close()
        tb = tb.tb_next
