"""The channel to the running window, from outside it: ``killswitch trigger`` and a second launch.

The window listens on a per-user local socket (``ui.single_instance``, a ``QLocalServer``). This
module is the Qt-free client: a stdlib ``AF_UNIX`` socket at the same path on Linux and macOS, the
same named pipe (``\\\\.\\pipe\\<name>``) opened as a file on Windows.

Protocol: one JSON object per line, each way.

* ``{"cmd": "show"}`` -> ``{"ok": true, "host": "http://..."}``: bring the window forward; ``host``
  is the server the window is on (absent while it has none).
* ``{"cmd": "fire", "trigger": "command line", "hosts": ["http://...", ...], "scope": {...}}``
  (``hosts``, ``scope`` optional; ``host`` with one URL is also understood) -> ``{"accepted": true}``
  at once, then the verdict when the kill is over: ``CancelReport.to_json()`` plus ``"summary"``
  and ``"headline"`` for one server, ``PressReport.to_json()`` for several. A window that cannot
  fire (no server or key set up, on other servers than ``hosts``, set to another kill scope than
  ``scope``) answers ``{"error": "<one sentence>"}`` instead of accepting.

The early ``accepted`` line tells a live window from a hung one: a frozen UI thread still lets the
operating system accept the connection, but never answers, and the caller must not wait a whole
kill deadline to find out.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import platformdirs

from core.settings import APP_DIR_NAME

if TYPE_CHECKING:  # imported where a window is asked: the window itself starts without it
    import socket

ENV_RUNTIME_DIR = "KILLSWITCH_RUNTIME_DIR"
SOCKET_FILE = "window.sock"
ACCEPT_TIMEOUT_S = 3.0  # a live window answers "accepted" in milliseconds
SHOW_TIMEOUT_S = 3.0
MAX_LINE = 1 << 20  # a verdict with thousands of orders is still far below this

Message = dict[str, Any]


class NoAnswerError(Exception):
    """The window took the connection but did not answer in time, or hung up without answering."""

    def __init__(self, *, hung_up: bool) -> None:
        super().__init__("the window hung up" if hung_up else "no answer in time")
        self.hung_up = hung_up


def runtime_dir() -> Path:
    """A directory only this user can use: $KILLSWITCH_RUNTIME_DIR, the user runtime dir, or /tmp."""
    override = os.environ.get(ENV_RUNTIME_DIR)
    if override:
        return Path(override)
    if sys.platform.startswith("linux"):
        base = os.environ.get("XDG_RUNTIME_DIR")
        if base and Path(base).is_dir():
            return Path(base) / APP_DIR_NAME
        # No logind session (containers, ssh, cron): a per-user directory in /tmp instead of
        # platformdirs' /run/user/<uid>, which does not exist there.
        return Path(tempfile.gettempdir()) / f"{APP_DIR_NAME}-{os.getuid()}"
    return Path(platformdirs.user_runtime_dir(APP_DIR_NAME, appauthor=False))


def ensure_private_dir(path: Path) -> Path:
    """Create ``path`` mode 0700; refuse (OSError) one that another user owns or could write to."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if os.name == "posix":
        info = path.stat()
        if info.st_uid != os.getuid():
            raise PermissionError(f"{path} belongs to another user")
        if info.st_mode & 0o077:
            path.chmod(0o700)
    return path


def server_name() -> str:
    """What ``QLocalServer.listen()`` is given: a full socket path, or a pipe name on Windows.

    Per user, so two people on one machine each get their own window.
    """
    if sys.platform == "win32":
        user = re.sub(r"[^A-Za-z0-9_.-]", "_", getpass.getuser()) or "user"
        return f"{APP_DIR_NAME}-{user}"
    return str(runtime_dir() / SOCKET_FILE)


def pipe_path(name: str) -> str:
    """The Windows path of QLocalServer's pipe for ``name``."""
    return name if name.startswith("\\\\.\\pipe\\") else f"\\\\.\\pipe\\{name}"


def ask_window_to_show(*, name: str | None = None, timeout_s: float = SHOW_TIMEOUT_S) -> Message | None:
    """Ask the running window to come forward: its answer (``ok``, and the ``host`` it is on), or
    None when no window answered."""
    try:
        conversation = _Conversation.open(name or server_name(), timeout_s)
    except OSError:
        return None
    if conversation is None:
        return None
    with conversation:
        try:
            conversation.send({"cmd": "show"})
            reply = conversation.receive(time.monotonic() + timeout_s)
        except (OSError, NoAnswerError):
            return None
    return reply if reply.get("ok") else None


def ask_window_to_fire(
    timeout_s: float,
    *,
    trigger: str = "command line",
    host: str | None = None,
    hosts: list[str] | None = None,
    scope: dict[str, Any] | None = None,
    every: bool = False,
    name: str | None = None,
    accept_timeout_s: float = ACCEPT_TIMEOUT_S,
    on_accepted: Callable[[], None] | None = None,
) -> Message | None:
    """Ask the running window to fire and wait up to ``timeout_s`` for its verdict.

    Returns the window's reply: a verdict (``CancelReport.to_json()`` keys plus ``summary``), or
    ``{"error": sentence}`` when the window cannot fire. Returns None when no window took the kill
    (none is running, it did not accept within ``accept_timeout_s``, or it hung up before its
    verdict), so the caller should run the kill itself. A window that accepted but gave no verdict
    within ``timeout_s`` yields an ``unverified`` reply: the kill may still be running there.
    ``on_accepted`` is called once the window has taken the kill, before its verdict.
    """
    message: Message = {"cmd": "fire", "trigger": trigger}
    named = hosts if hosts else ([host] if host else [])
    if len(named) == 1:
        message["host"] = named[0]  # what a window of the previous version understands
    if named:
        message["hosts"] = named
    if scope is not None:
        message["scope"] = scope
    if every:
        message["all"] = True
    try:
        conversation = _Conversation.open(name or server_name(), accept_timeout_s)
    except OSError:
        return None
    if conversation is None:
        return None
    with conversation:
        try:
            conversation.send(message)
            first = conversation.receive(time.monotonic() + accept_timeout_s)
        except (OSError, NoAnswerError):
            return None
        if not first.get("accepted"):
            if "error" in first:
                return first
            return {"error": "The running window gave an answer this version does not understand."}
        if on_accepted is not None:
            on_accepted()
        try:
            return conversation.receive(time.monotonic() + timeout_s)
        except NoAnswerError as exc:
            # Hung up: the window is gone (it crashed or quit), so running the kill here cannot
            # race it. Silent: the kill may still be running there, so say so instead.
            return None if exc.hung_up else no_verdict(timeout_s)
        except OSError:
            return None


def no_verdict(timeout_s: float) -> Message:
    """The honest reply when the window took the kill but never said how it ended."""
    sentence = (
        f"The window took the kill but reported no verdict within {timeout_s:.0f} s; "
        "check the window before trusting that you are flat."
    )
    return {"verdict": "unverified", "exit_code": 1, "summary": sentence, "errors": [sentence]}


def _ours(path: Path) -> bool:
    """Only a socket this user owns, in a directory this user owns, is the window.

    Anything else could be another user's program answering "flat" without cancelling a thing;
    treating it as "no window" makes the caller run the kill itself.
    """
    try:
        return all(p.stat().st_uid == os.getuid() for p in (path.parent, path))
    except OSError:
        return False


class _Conversation:
    """One connection to the window: send a line, read lines."""

    def __init__(self, sock: socket.socket | None, pipe: Any = None) -> None:
        self._sock = sock
        self._pipe = pipe
        self._buffer = b""

    @classmethod
    def open(cls, name: str, timeout_s: float) -> _Conversation | None:
        """None when nothing listens at ``name`` (no window, or a stale socket after a crash)."""
        if sys.platform == "win32":
            try:
                pipe = open(pipe_path(name), "r+b", buffering=0)  # noqa: SIM115 - closed by __exit__
            except FileNotFoundError:
                return None
            return cls(None, pipe)
        if not _ours(Path(name)):
            return None
        import socket

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout_s)
        try:
            sock.connect(name)
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            return None
        except OSError:
            sock.close()
            raise
        return cls(sock)

    def __enter__(self) -> _Conversation:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._sock is not None:
            self._sock.close()
        if self._pipe is not None:
            with contextlib.suppress(OSError):
                self._pipe.close()

    def send(self, message: Message) -> None:
        data = json.dumps(message).encode() + b"\n"
        if self._sock is not None:
            self._sock.sendall(data)
        else:
            self._pipe.write(data)
            self._pipe.flush()

    def receive(self, deadline: float) -> Message:
        """The next JSON line; NoAnswerError on timeout or hang-up, never a half line."""
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NoAnswerError(hung_up=False)
            chunk = self._read(remaining)
            if not chunk:
                raise NoAnswerError(hung_up=True)
            self._buffer += chunk
            if len(self._buffer) > MAX_LINE:
                raise NoAnswerError(hung_up=True)
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            reply = json.loads(line)
        except ValueError:
            raise NoAnswerError(hung_up=True) from None
        if not isinstance(reply, dict):
            raise NoAnswerError(hung_up=True)
        return reply

    def _read(self, timeout_s: float) -> bytes:
        if self._sock is not None:
            self._sock.settimeout(timeout_s)
            try:
                return self._sock.recv(65536)
            except TimeoutError:
                raise NoAnswerError(hung_up=False) from None
        # A pipe opened as a file has no timeout: read on a helper thread and stop waiting
        # for it when the deadline passes (closing the pipe then ends the read).
        result: list[bytes] = []

        def read() -> None:
            try:
                result.append(self._pipe.read(65536))
            except OSError:  # the window's end is gone (ERROR_BROKEN_PIPE, ERROR_PIPE_NOT_CONNECTED)
                result.append(b"")

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout_s)
        if reader.is_alive():
            raise NoAnswerError(hung_up=False)
        return result[0] if result else b""
