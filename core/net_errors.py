"""Network failures as data: an ``httpx`` exception becomes a kind, a sentence naming the server
(never the key) and whether the request may have reached it.

"May have reached it" matters to a kill: a cancel-all whose connection dropped after the request
went out may have been carried out, and must never be reported as "nothing was cancelled".
Only failures that happen before any byte of the request can leave -- no connection (refused,
DNS, a failed TLS handshake, connect timeout), a bad URL, no free connection in the pool -- are
certain not to have reached it. A TLS error after the handshake (while writing the request or
reading the reply) is a dropped connection: the request may have gone out.
"""

from __future__ import annotations

import ssl

import httpx

from core.replies import ErrorKind

_DNS_HINTS = (
    "name or service not known",
    "nodename nor servname",
    "getaddrinfo",
    "name resolution",
    "no address associated",
    "errno -2",
    "errno -3",
    "errno -5",
    "errno 11001",
)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen and len(seen) < 10:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def classify_exception(exc: BaseException, host: str) -> tuple[ErrorKind, str, bool]:
    """``(kind, sentence, delivered)`` for a network failure talking to ``host``.

    ``delivered`` is False only when the request certainly never left this computer.
    """
    chain = _chain(exc)
    described = " ".join(str(e) for e in chain).lower()
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return ErrorKind.TIMEOUT, f"Timed out trying to connect to {host}; the request was not sent.", False
    if isinstance(exc, httpx.TimeoutException):
        return (
            ErrorKind.TIMEOUT,
            f"Timed out waiting for an answer from {host}; the request went out and may have been "
            "carried out.",
            True,
        )
    tls = any(isinstance(e, ssl.SSLError) for e in chain) or "certificate" in described or "ssl" in described
    if tls and isinstance(exc, httpx.ConnectError):
        # The handshake is part of connecting: no byte of the request has left yet.
        return (
            ErrorKind.TLS,
            f"The secure connection to {host} failed (TLS certificate not trusted or TLS error); "
            "the key was not sent.",
            False,
        )
    if tls:
        # A TLS error while writing or reading (a bad record, a tunnel cutting the stream): the
        # request may have gone out whole, so it may have been carried out.
        return (
            ErrorKind.CONNECTION_DROPPED,
            f"The secure connection to {host} broke before the reply was complete (TLS error) — "
            "the request may or may not have been carried out.",
            True,
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return ErrorKind.BAD_URL, f"The server address {host} is not a usable URL.", False
    if isinstance(exc, httpx.ConnectError):
        if any(hint in described for hint in _DNS_HINTS):
            return (
                ErrorKind.DNS,
                f"The server name in {host} could not be found (DNS) — check the URL.",
                False,
            )
        if "refused" in described:
            return (
                ErrorKind.CONNECTION_REFUSED,
                f"Nothing is listening at {host} (connection refused) — is OpenAlgo running?",
                False,
            )
        return ErrorKind.CONNECTION_REFUSED, f"Could not connect to {host} — is it reachable?", False
    if isinstance(exc, httpx.DecodingError):
        return ErrorKind.BAD_REPLY, f"The reply from {host} could not be decoded.", True
    return (
        ErrorKind.CONNECTION_DROPPED,
        f"The connection to {host} dropped before the reply was complete — the request may or may "
        "not have been carried out.",
        True,
    )
