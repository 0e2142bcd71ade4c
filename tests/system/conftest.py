"""Real parts for system tests: a private D-Bus session with GNOME Keyring, and an Xvfb display.

Fixtures:

* `session_bus` - a private D-Bus session bus with HOME, XDG_* and XDG_RUNTIME_DIR (0700) in a
  temporary directory. Nothing on it is D-Bus-activatable, so no desktop helper (keyring
  prompter, portal) can start behind our back; an unlock prompt is dismissed at once. Yields a
  `SessionBus` (`.address`, `.env`, `.root`, `.connect()`, `.daemon`).
* `secret_service` - `session_bus` plus `gnome-keyring-daemon --unlock --components=secrets`,
  so an unlocked "login" collection is the default. Yields a `SecretService` (`.env`,
  `.lock()`, `.is_locked()`, `.stored_secret(service, username)`, `.files()`, `.daemon`).
* `xvfb` - `Xvfb -screen 0 1280x800x24 -nolisten tcp -noreset` on a free display. Yields an `Xvfb`
  (`.display` such as ":7", `.env` with DISPLAY set and QT_QPA_PLATFORM=xcb, `.daemon`).
  With both, a child process gets `{**secret_service.env, "DISPLAY": xvfb.display}`.

`running_session_bus()`, `running_secret_service(bus)` and `running_xvfb()` are the same as
context managers, for tests that need them outside a fixture.

The bus fixtures also set their environment in this test process (monkeypatch), because that is
where `keyring` looks for the bus; `xvfb` does not touch os.environ. Every fixture starts its
daemons in their own process group and stops the whole group, so nothing outlives the test.

Missing binaries skip the test with the apt package to install - unless KILLSWITCH_SYSTEM_TESTS
is "require" (CI sets it), in which case they fail it.
"""

from __future__ import annotations

import contextlib
import os
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pytest
import secretstorage
from jeepney.io.blocking import DBusConnection, open_dbus_connection

STARTUP_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0
KEYRING_PASSWORD = "system-test-login-password"

# Variables from the developer's own desktop that would lead a child process to their real
# keyring, display or keyring configuration instead of ours.
_FOREIGN_ENV = (
    "DBUS_SESSION_BUS_ADDRESS",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XAUTHORITY",
    "GNOME_KEYRING_CONTROL",
    "SSH_AUTH_SOCK",
    "PYTHON_KEYRING_BACKEND",
    "KEYRING_PROPERTY_PREFERRED_COLLECTION",
    "QT_QPA_PLATFORM",
)

_DBUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


def require_binary(name: str, apt_package: str) -> str:
    """The path of `name`, or skip (fail, under KILLSWITCH_SYSTEM_TESTS=require) if it is missing."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (apt-get install {apt_package})"
        if os.environ.get("KILLSWITCH_SYSTEM_TESTS") == "require":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@dataclass
class Daemon:
    """A background process in its own process group, with its output in a log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        """Stop the process and anything it started in its group, then reap it."""
        pid = self.process.pid
        if self.process.returncode is None:
            _signal_group(pid, signal.SIGTERM)
            if not _exited(pid, STOP_TIMEOUT_S):
                _signal_group(pid, signal.SIGKILL)
                _exited(pid, STOP_TIMEOUT_S)
            # Until it is reaped, the exited leader holds its group id, so this reaches only
            # children it left behind, never an unrelated process that reused the number.
            _signal_group(pid, signal.SIGKILL)
        self.process.wait(STOP_TIMEOUT_S)


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signum)


def _exited(pid: int, timeout: float) -> bool:
    """Wait until `pid` has exited, without reaping it (WNOWAIT)."""
    deadline = time.monotonic() + timeout
    while os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@contextlib.contextmanager
def daemon(name: str, argv: list[str], env: dict[str, str], log_dir: Path, **popen: Any) -> Iterator[Daemon]:
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(argv, env=env, stderr=log_file, start_new_session=True, **popen)
    running = Daemon(name, process, log_path)
    try:
        yield running
    finally:
        running.stop()


def wait_for(what: str, ready: Callable[[], bool], daemon: Daemon) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not ready():
        if daemon.process.poll() is not None:
            raise RuntimeError(f"{daemon.name} exited ({daemon.process.returncode}):\n{daemon.log()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready after {STARTUP_TIMEOUT_S:g} s:\n{daemon.log()}")
        time.sleep(0.02)


def read_line(stream: IO[bytes], what: str, daemon: Daemon) -> str:
    """One line from a daemon's pipe, without waiting forever if it never comes."""
    fd = stream.fileno()
    data = b""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not data.endswith(b"\n"):
        remaining = deadline - time.monotonic()
        readable, _, _ = select.select([fd], [], [], max(remaining, 0))
        if not readable:
            raise RuntimeError(f"{what} not reported after {STARTUP_TIMEOUT_S:g} s:\n{daemon.log()}")
        chunk = os.read(fd, 256)
        if not chunk:
            raise RuntimeError(f"{daemon.name} exited before reporting {what}:\n{daemon.log()}")
        data += chunk
    return data.decode().strip()


# --- D-Bus session and Secret Service --------------------------------------------------------------


@dataclass
class SessionBus:
    address: str
    env: dict[str, str]
    root: Path  # HOME is root/home, XDG_RUNTIME_DIR is root/run
    daemon: Daemon

    def connect(self) -> DBusConnection:
        return open_dbus_connection(bus=self.address)


@contextlib.contextmanager
def running_session_bus() -> Iterator[SessionBus]:
    """A private D-Bus session bus and a private HOME; see the module docstring."""
    dbus_daemon = require_binary("dbus-daemon", "dbus-daemon")
    # Not pytest's tmp_path: the bus socket path must fit in sockaddr_un (108 bytes).
    with tempfile.TemporaryDirectory(prefix="ks-") as tmp:
        root = Path(tmp)
        home, runtime = root / "home", root / "run"
        home.mkdir()
        runtime.mkdir(mode=0o700)
        config = root / "session.conf"
        config.write_text(_DBUS_CONFIG.format(socket=runtime / "bus"))
        env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_ENV}
        env.update(
            HOME=str(home),
            XDG_RUNTIME_DIR=str(runtime),
            XDG_DATA_HOME=str(home / ".local" / "share"),
            XDG_CONFIG_HOME=str(home / ".config"),
            XDG_CACHE_HOME=str(home / ".cache"),
        )
        argv = [dbus_daemon, f"--config-file={config}", "--nofork", "--print-address=1"]
        with daemon("dbus-daemon", argv, env, root, stdout=subprocess.PIPE) as bus_daemon:
            stdout = bus_daemon.process.stdout
            assert stdout is not None
            with stdout:
                address = read_line(stdout, "the bus address", bus_daemon)
            env["DBUS_SESSION_BUS_ADDRESS"] = address
            yield SessionBus(address, env, root, bus_daemon)


@dataclass
class SecretService:
    bus: SessionBus
    daemon: Daemon

    @property
    def env(self) -> dict[str, str]:
        return self.bus.env

    def lock(self) -> None:
        """Lock the default collection, as the desktop does on screen lock."""
        with self.bus.connect() as connection:
            secretstorage.Collection(connection).lock()

    def is_locked(self) -> bool:
        with self.bus.connect() as connection:
            return secretstorage.Collection(connection).is_locked()

    def stored_secret(self, service: str, username: str) -> str | None:
        """The secret stored under keyring's attributes, read straight from the Secret Service."""
        with self.bus.connect() as connection:
            collection = secretstorage.Collection(connection)
            for item in collection.search_items({"service": service, "username": username}):
                return item.get_secret().decode()
        return None

    def files(self) -> list[Path]:
        """Every file under the private HOME and runtime directory."""
        return [path for path in self.bus.root.rglob("*") if path.is_file()]


def _default_collection_unlocked(bus: SessionBus) -> bool:
    try:
        with bus.connect() as connection:
            return not secretstorage.Collection(connection).is_locked()
    except secretstorage.SecretStorageException:
        return False  # gnome-keyring-daemon has not claimed org.freedesktop.secrets yet


@contextlib.contextmanager
def running_secret_service(bus: SessionBus) -> Iterator[SecretService]:
    """gnome-keyring-daemon on `bus`, with its "login" collection created and unlocked."""
    gnome_keyring = require_binary("gnome-keyring-daemon", "gnome-keyring")
    # --unlock reads the login password from stdin and creates the login keyring with it.
    argv = [gnome_keyring, "--foreground", "--unlock", "--components=secrets"]
    with daemon(
        "gnome-keyring-daemon", argv, bus.env, bus.root, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL
    ) as keyring_daemon:
        stdin = keyring_daemon.process.stdin
        assert stdin is not None
        with stdin:
            stdin.write(KEYRING_PASSWORD.encode())
        wait_for("the unlocked login collection", lambda: _default_collection_unlocked(bus), keyring_daemon)
        yield SecretService(bus, keyring_daemon)


@pytest.fixture
def session_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[SessionBus]:
    with running_session_bus() as bus:
        for name in _FOREIGN_ENV:
            monkeypatch.delenv(name, raising=False)
        for name, value in bus.env.items():
            monkeypatch.setenv(name, value)
        yield bus


@pytest.fixture
def secret_service(session_bus: SessionBus) -> Iterator[SecretService]:
    with running_secret_service(session_bus) as service:
        yield service


# --- X display ------------------------------------------------------------------------------------


@dataclass
class Xvfb:
    display: str
    env: dict[str, str]
    daemon: Daemon


def _accepts_connections(display: str) -> bool:
    """True once the server completes an X handshake: a socket that accepts is not enough
    (a server still setting up, or one on its way out, can accept and then hang up)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        try:
            sock.connect(f"/tmp/.X11-unix/X{display.lstrip(':')}")
        except OSError:
            return False
    from Xlib import error as xerror
    from Xlib.display import Display

    try:
        Display(display).close()
    except (OSError, xerror.DisplayError, xerror.ConnectionClosedError):
        return False
    return True


@contextlib.contextmanager
def running_xvfb(size: str = "1280x800x24") -> Iterator[Xvfb]:
    """Xvfb on the first free display number; see the module docstring."""
    xvfb = require_binary("Xvfb", "xvfb")
    # -displayfd: Xvfb picks a free display and writes its number here once it is listening.
    read_end, write_end = os.pipe()
    # -noreset: without it, the server resets when its last client leaves -- and the readiness
    # probe below is a client that leaves, so the test's first client could meet a server in the
    # middle of a reset and be hung up on (the flake this replaces).
    argv = [xvfb, "-displayfd", str(write_end), "-screen", "0", size, "-nolisten", "tcp", "-noreset"]
    env = {k: v for k, v in os.environ.items() if k not in _FOREIGN_ENV}
    with (
        tempfile.TemporaryDirectory(prefix="ks-x-") as tmp,
        os.fdopen(read_end, "rb") as display_pipe,
        contextlib.ExitStack() as stack,
    ):
        try:
            x_daemon = stack.enter_context(daemon("Xvfb", argv, env, Path(tmp), pass_fds=(write_end,)))
        finally:
            os.close(write_end)  # Xvfb has its own copy; ours would hide an early exit (no EOF)
        display = ":" + read_line(display_pipe, "the display number", x_daemon)
        wait_for(f"X display {display}", lambda: _accepts_connections(display), x_daemon)
        env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb")
        yield Xvfb(display, env, x_daemon)


@pytest.fixture
def xvfb() -> Iterator[Xvfb]:
    with running_xvfb() as display:
        yield display
