"""One absolute deadline for every socket operation of an HTTP call.

httpx's timeouts are per operation: its read timeout starts again with each chunk that arrives,
so a server or proxy that trickles its reply -- a header line every second, a body byte every
second -- holds a call for as long as it likes. A kill cannot wait that long.

:func:`install` wraps the network backend of an ``httpx.Client``'s connection pools: every
connect, TLS handshake, write and read is then given at most the time left until the calling
thread's deadline (:func:`until`), and none starts once it has passed. Connect, write and read
share the one budget. Nothing runs in the background -- no timer thread, no thread per call --
and a call costs one thread-local lookup and one clock read per socket operation (a few
microseconds in all, measured in ``tests/core/test_client.py``).

httpx offers no public way to give its default transport a network backend, so this reaches into
``httpx.HTTPTransport._pool._network_backend`` (httpcore's documented ``NetworkBackend``
interface). A client whose transport has no such pool (a test's ``MockTransport``) is left as it
is; the client's own deadline check on the body still holds there.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

_local = threading.local()


@contextlib.contextmanager
def until(ends: float | None) -> Iterator[None]:
    """Socket operations on this thread end by ``ends`` (``time.perf_counter()``), or raise
    httpcore's timeout for their kind (httpx turns it into its own)."""
    previous = getattr(_local, "ends", None)
    _local.ends = ends
    try:
        yield
    finally:
        _local.ends = previous


def _bounded(timeout: float | None, expired: type[Exception]) -> float | None:
    ends: float | None = getattr(_local, "ends", None)
    if ends is None:
        return timeout
    left = ends - time.perf_counter()
    if left <= 0:
        raise expired("the call's deadline passed")
    return left if timeout is None else min(timeout, left)


class _Stream(httpcore.NetworkStream):
    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _bounded(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _bounded(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        try:
            bounded = _bounded(timeout, httpcore.ConnectTimeout)
        except httpcore.ConnectTimeout:
            # httpcore closes the socket when the handshake fails, not when it never starts
            self._stream.close()
            raise
        return _Stream(self._stream.start_tls(ssl_context, server_hostname, bounded))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, backend: httpcore.NetworkBackend) -> None:
        self._backend = backend

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._backend.connect_tcp(host, port, bounded, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        bounded = _bounded(timeout, httpcore.ConnectTimeout)
        return _Stream(self._backend.connect_unix_socket(path, bounded, socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def install(http: httpx.Client) -> bool:
    """Give every pool of ``http`` the deadline-keeping backend (again is harmless). True when
    its default transport has one."""
    transports: list[object] = [getattr(http, "_transport", None)]
    transports.extend(getattr(http, "_mounts", {}).values())  # proxies from the environment
    installed = []
    for transport in transports:
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if isinstance(backend, httpcore.NetworkBackend):
            if not isinstance(backend, _Backend):
                pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
            installed.append(transport)
    return bool(installed) and installed[0] is transports[0]
