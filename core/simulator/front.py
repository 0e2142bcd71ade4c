"""The simulator's HTTP front: a threaded HTTP/1.1 server with keep-alive, standard library only.

Two details matter for speed and for clean shutdown:

- ``TCP_NODELAY`` on every accepted socket. The reply goes out as two writes (headers, body); with
  Nagle's algorithm on, the second waits for the client's delayed ACK and every request stalls ~40 ms.
- The server tracks its open connections. ``close()`` shuts them down so that handler threads blocked
  on an idle keep-alive connection wake up and end, and joins those threads.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from core.simulator.api import OpenAlgoApp
from core.simulator.replies import Reply

logger = logging.getLogger(__name__)

MAX_BODY = 1 << 20
"""Bodies beyond 1 MiB are refused; no OpenAlgo request comes near."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Werkzeug/3.1.3"
    sys_version = "Python/3.11"
    server: SimulatorHTTPServer

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.app.stats.record_connection()

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:
            # The client went away, or stop() shut the socket: either way this connection is over.
            self.close_connection = True

    def handle_one_request(self) -> None:
        # Waiting for the next request is where a front closes an idle kept-alive connection: a read
        # that times out ends this connection (BaseHTTPRequestHandler catches the TimeoutError).
        idle = self.server.app.quirks.idle_close_s
        self.connection.settimeout(idle if idle is not None and idle > 0 else None)
        super().handle_one_request()

    def log_message(self, format: str, *args: Any) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s %s", self.address_string(), format % args)

    def do_POST(self) -> None:
        self._serve()

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_OPTIONS(self) -> None:
        self._serve()

    def _serve(self) -> None:
        body = self._read_body()
        if body is None:
            # An unreadable body leaves the stream out of step: answer, then close.
            self.close_connection = True
            self._send(Reply(400, b"Bad Request", "text/plain"))
            return
        reply = self.server.app.serve(
            self.command, self.path, self.headers.get("Content-Type"), body, self.client_address[0]
        )
        if reply.dropped:
            self.close_connection = True
            return
        self._send(reply)

    def _read_body(self) -> bytes | None:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            return self._read_chunked()
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        if not 0 <= length <= MAX_BODY:
            return None
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes | None:
        parts: list[bytes] = []
        total = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                return None
            if size == 0:
                # Skip trailers up to the blank line.
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                return None
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and reply.body:
            self.wfile.write(reply.body)


class SimulatorHTTPServer(ThreadingHTTPServer):
    """One thread per connection; every connection and thread is tracked so that ``close()`` can end
    them all at once.

    The accept loop is our own rather than ``serve_forever``: it sleeps in ``select`` until a client
    connects or ``close()`` wakes it through a socket pair, so it neither polls while idle nor makes
    ``close()`` wait for a poll interval to run out."""

    daemon_threads = True
    block_on_close = False  # we join our own workers in close()

    def __init__(self, address: tuple[str, int], app: OpenAlgoApp) -> None:
        self.app = app
        self._lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._workers: set[threading.Thread] = set()
        super().__init__(address, _Handler)
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._acceptor = threading.Thread(
            target=self._accept, name=f"openalgo-sim-serve:{self.port}", daemon=True
        )

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks up the host's FQDN, which can take seconds on a machine with
        # slow DNS; the simulator has no use for it.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def start(self) -> None:
        self._acceptor.start()

    def _accept(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self.socket, selectors.EVENT_READ, "accept")
            selector.register(self._wake_reader, selectors.EVENT_READ, "wake")
            while True:
                for key, _ in selector.select():
                    if key.data == "wake":
                        return
                    self.handle_request()  # the listening socket is readable: accepts at once

    def process_request(self, request: Any, client_address: Any) -> None:
        worker = threading.Thread(
            target=self._work,
            args=(request, client_address),
            name=f"openalgo-sim-conn:{self.port}",
            daemon=True,
        )
        with self._lock:
            self._connections.add(request)
            self._workers.add(worker)
        worker.start()

    def _work(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._lock:
                self._connections.discard(request)
                self._workers.discard(threading.current_thread())

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("connection from %s failed", client_address, exc_info=True)

    def close(self, timeout: float = 1.0) -> None:
        """Stop accepting, wake and end every connection's thread, release the port."""
        if self._acceptor.is_alive():
            self._wake_writer.send(b"!")
            self._acceptor.join(timeout)
        with self._lock:
            connections = list(self._connections)
            workers = list(self._workers)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by its worker
                connection.shutdown(socket.SHUT_RDWR)
        self.server_close()
        self._wake_reader.close()
        self._wake_writer.close()
        for worker in workers:
            worker.join(timeout)
