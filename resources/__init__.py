"""Icons and the stylesheet, loaded through importlib.resources.

Going through ``importlib.resources`` (never ``__file__``) keeps the same code working from a
checkout, an installed wheel and the frozen executable.
"""

from __future__ import annotations

from importlib import resources

ICON = "icon.png"
STYLESHEET = "style.qss"


def read_bytes(name: str) -> bytes:
    """The bytes of a bundled resource, e.g. ``read_bytes(ICON)``."""
    return resources.files(__name__).joinpath(name).read_bytes()


def read_text(name: str) -> str:
    """The text of a bundled resource, e.g. ``read_text(STYLESHEET)``."""
    return resources.files(__name__).joinpath(name).read_text(encoding="utf-8")
