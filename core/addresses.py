"""Server addresses as the client uses them: a URL normalised to ``http(s)://host[:port][/prefix]``,
and whether it is this computer. Standard library only, so settings and the window can check an
address without loading the HTTP client."""

from __future__ import annotations

from urllib.parse import urlsplit


def normalise_host(url: str) -> str | None:
    """``http(s)://host[:port][/prefix]`` without a trailing slash, or None when not a usable URL."""
    url = url.strip()
    if not url:
        return None
    if "://" not in url:
        url = "http://" + url
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a bad port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        return None
    path = parts.path.rstrip("/")
    if path.endswith("/api/v1"):
        path = path[: -len("/api/v1")]
    return f"{parts.scheme}://{parts.netloc}{path}"


def is_loopback(url: str) -> bool:
    host = (urlsplit(url).hostname or "").lower()
    return host in ("localhost", "::1") or host.startswith("127.")
