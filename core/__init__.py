"""Qt-free heart of the kill switch: client, orders, the kill procedure, simulator, record."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

DIST_NAME = "openalgo-killswitch"
APP_NAME = "Kill Switch for OpenAlgo"


def _version() -> str:
    # pyproject.toml is the one source of truth: an installed checkout exposes it through the
    # package metadata; the frozen app ships that metadata; a bare checkout reads the file.
    try:
        return metadata.version(DIST_NAME)
    except metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        try:
            return str(tomllib.loads(pyproject.read_text("utf-8"))["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "0+unknown"


__version__ = _version()
