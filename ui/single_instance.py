"""One window per user: the local socket a second launch and ``killswitch trigger`` talk to.

The protocol and the Qt-free client are in ``core.instance``. The window owns one
``SingleInstance``; it is the only thing here that touches Qt.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtNetwork import QLocalServer, QLocalSocket

from core import instance
from core.report import CancelReport

log = logging.getLogger(__name__)

PROBE_TIMEOUT_MS = 1000
# On Windows the window must not hang up first: a named pipe's server end disconnecting
# (DisconnectNamedPipe, which QLocalSocket calls) throws away what the caller has not read yet, so
# a verdict written a moment before would be lost and the caller would run a second kill. There
# the caller hangs up after its last answer, and the window drops one that lingers this long.
# (A Unix socket keeps written bytes readable after the server closes.)
LINGER_MS = 10_000
CLOSE_GRACE_MS = 2000  # a closing window waits at most this long for its callers to read
FireCheck = Callable[[dict[str, Any]], str | None]
"""Given a "fire" request (``hosts``, ``scope`` ...), None to fire, or one sentence why not."""


class SingleInstance(QObject):
    """Listens for "show" and "fire" from other processes and answers them.

    Signals:
        showRequested(): a second launch wants the window forward.
        fireRequested(str): ``killswitch trigger`` asked for a kill; the argument is the trigger
            name ("command line"). Answer it by passing the kill's report to ``deliver_report``.

    ``listen()`` returns False when another instance already answers on this user's socket (the
    caller should then ask it to show itself and exit); a socket left behind by a crash is removed
    and taken over.
    """

    showRequested = Signal()  # noqa: N815 - Qt naming for signals
    fireRequested = Signal(str)  # noqa: N815

    def __init__(self, name: str | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.name = name or instance.server_name()
        self.sentence = ""  # why listening failed, when it did
        self._server = QLocalServer(self)
        # Only this user may connect: the socket can fire kills.
        self._server.setSocketOptions(QLocalServer.SocketOption.UserAccessOption)
        self._server.newConnection.connect(self._accept)
        self._buffers: dict[QLocalSocket, bytes] = {}
        self._waiting: list[QLocalSocket] = []  # "fire" clients waiting for a verdict
        self._check: FireCheck | None = None
        self._host: Callable[[], str | None] = lambda: None

    @property
    def listening(self) -> bool:
        return self._server.isListening()

    def listen(self) -> bool:
        """Own the socket: True if this is the first instance, False if another one answers.

        With no answer, a socket file left behind by a crash is removed and taken over. Listening
        can also fail outright (``sentence`` says why); that returns True too, since nothing then
        stops this window from working on its own.
        """
        if self._server.isListening():
            return True
        if not self._prepare_directory():
            return True
        # Probe first: with UserAccessOption, Qt creates the socket elsewhere and renames it into
        # place, which would silently replace a live instance's socket rather than fail.
        if self._another_instance_answers():
            return False
        return self.take_over()

    def take_over(self) -> bool:
        """Listen even though the socket exists (stale, or its window is hung); False on failure."""
        QLocalServer.removeServer(self.name)
        if self._server.listen(self.name):
            self.sentence = ""
            return True
        self.sentence = (
            f"Could not open the local socket for other launches and 'killswitch trigger' "
            f"({self._server.errorString()}); they will start their own kill instead."
        )
        log.warning("%s", self.sentence)
        return False

    def set_fire_check(self, check: FireCheck | None) -> None:
        """Decide, per "fire" request, whether the window can take it.

        ``check(request)`` gets the request (the servers and scope the caller named, if any) and
        returns None to fire, or one sentence why the window will not (no key set up, other
        servers, another scope); the caller then runs the kill itself instead of waiting.
        """
        self._check = check

    def set_host(self, host: Callable[[], str | None]) -> None:
        """Where "show" learns which server the window is on (a second launch names it)."""
        self._host = host

    def deliver_report(self, report: CancelReport) -> None:
        """Answer every waiting "fire" with this kill's verdict (a trigger during a kill joins it)."""
        reply = report.to_json()
        reply["summary"] = report.summary()
        reply["headline"] = report.verdict.headline
        waiting, self._waiting = self._waiting, []
        for sock in waiting:
            self._reply(sock, reply)
            self._hang_up(sock)

    def refuse_waiting(self, sentence: str) -> None:
        """Tell every waiting "fire" that no kill will come (e.g. the window is closing)."""
        waiting, self._waiting = self._waiting, []
        for sock in waiting:
            self._reply(sock, {"error": sentence})
            self._hang_up(sock)

    def close(self) -> None:
        """Stop listening and drop every connection; waiting triggers are told the window closed.

        Replies already written (a verdict delivered just before the window closed) get up to
        half a second to leave before the connections are dropped."""
        told = list(self._waiting)
        self.refuse_waiting("The window closed before the kill finished.")
        if sys.platform == "win32":  # see LINGER_MS: let them read it before the pipes go
            deadline = time.monotonic() + CLOSE_GRACE_MS / 1000
            for sock in told:
                left_ms = max(0, int((deadline - time.monotonic()) * 1000))
                if sock.state() == QLocalSocket.LocalSocketState.ConnectedState:
                    sock.waitForBytesWritten(left_ms)
                    sock.waitForDisconnected(left_ms)
        for sock in list(self._buffers):
            if sock.bytesToWrite() > 0:
                sock.waitForBytesWritten(500)
            sock.abort()
        self._buffers.clear()
        self._server.close()

    # -- connections ---------------------------------------------------------------------------

    def _prepare_directory(self) -> bool:
        if sys.platform == "win32" or "/" not in self.name:
            return True  # a pipe name: nothing on disk
        try:
            instance.ensure_private_dir(Path(self.name).parent)
        except OSError as exc:
            self.sentence = (
                f"Could not prepare {Path(self.name).parent} for the local socket ({exc}); "
                "other launches and 'killswitch trigger' will start their own kill instead."
            )
            log.warning("%s", self.sentence)
            return False
        return True

    def _another_instance_answers(self) -> bool:
        probe = QLocalSocket()
        probe.connectToServer(self.name)
        alive = probe.waitForConnected(PROBE_TIMEOUT_MS)
        probe.abort()
        return alive

    def _accept(self) -> None:
        while self._server.hasPendingConnections():
            sock = self._server.nextPendingConnection()
            self._buffers[sock] = b""
            sock.readyRead.connect(lambda sock=sock: self._read(sock))
            sock.disconnected.connect(lambda sock=sock: self._forget(sock))

    def _forget(self, sock: QLocalSocket) -> None:
        self._buffers.pop(sock, None)
        if sock in self._waiting:
            self._waiting.remove(sock)
        sock.deleteLater()

    def _read(self, sock: QLocalSocket) -> None:
        if sock not in self._buffers:
            return
        self._buffers[sock] += bytes(sock.readAll().data())
        while sock in self._buffers and b"\n" in self._buffers[sock]:
            line, _, rest = self._buffers[sock].partition(b"\n")
            self._buffers[sock] = rest
            self._handle(sock, line)
        if sock in self._buffers and len(self._buffers[sock]) > instance.MAX_LINE:
            sock.abort()

    def _handle(self, sock: QLocalSocket, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self._reply(sock, {"error": "The window could not read that request."})
            return
        command = message.get("cmd")
        if command == "show":
            host = self._host()
            self._reply(sock, {"ok": True, **({"host": host} if host else {})})
            self.showRequested.emit()
        elif command == "fire":
            self._fire(sock, message)
        else:
            self._reply(sock, {"error": f"The window does not know the command {str(command)[:40]!r}."})

    def _fire(self, sock: QLocalSocket, message: dict[str, Any]) -> None:
        trigger = str(message.get("trigger") or "command line")[:40]
        refusal = self._check(message) if self._check is not None else None
        if refusal:
            self._reply(sock, {"error": refusal})
            return
        self._reply(sock, {"accepted": True})
        self._waiting.append(sock)
        self.fireRequested.emit(trigger)

    @staticmethod
    def _hang_up(sock: QLocalSocket) -> None:
        """End a conversation after its last answer without losing that answer (LINGER_MS)."""
        if sys.platform == "win32":
            QTimer.singleShot(LINGER_MS, sock, sock.abort)  # cancelled if the caller hangs up first
        else:
            sock.disconnectFromServer()

    @staticmethod
    def _reply(sock: QLocalSocket, message: dict[str, Any]) -> None:
        if sock.state() != QLocalSocket.LocalSocketState.ConnectedState:
            return
        sock.write(json.dumps(message).encode() + b"\n")
        sock.flush()
