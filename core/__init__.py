"""Qt-free heart of the kill switch: client, orders, the kill procedure, simulator, record."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DIST_NAME = "openalgo-killswitch"
APP_NAME = "Kill Switch for OpenAlgo"
DEFAULT_STRATEGY = "KillSwitch"
"""The strategy label sent with cancel-all and cancels when none is set: a name in OpenAlgo's logs."""
DEFAULT_DEADLINE_S = 30.0
"""The longest a whole kill may take unless Settings or ``--deadline`` say otherwise; by then it
ends with a verdict whatever the server does. Here rather than in core.kill, so that the settings
and the window read it without importing the kill's dependencies (about 35 ms)."""


def _version() -> str:
    # pyproject.toml is the one source of truth: an installed checkout exposes it through the
    # package metadata; the frozen app ships that metadata; a bare checkout reads the file.
    # The metadata's Version line is read directly: importlib.metadata costs 20-25 ms of imports
    # (email, zipfile, csv...) on every start of the window and of every command.
    version = _version_from_dist_info()
    if version is not None:
        return version
    from importlib import metadata  # an unusual install (an egg, a zip): ask the full machinery

    try:
        return metadata.version(DIST_NAME)
    except metadata.PackageNotFoundError:
        import tomllib

        pyproject = Path(__file__).resolve().parent.parent / "pyproject.toml"
        try:
            return str(tomllib.loads(pyproject.read_text("utf-8"))["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "0+unknown"


def _version_from_dist_info() -> str | None:
    """The Version of the first ``openalgo_killswitch-*.dist-info`` on ``sys.path``, as
    importlib.metadata would find it; None when there is none."""
    prefix = DIST_NAME.replace("-", "_") + "-"
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.startswith(prefix) and name.endswith(".dist-info"):
                try:
                    with open(os.path.join(entry or ".", name, "METADATA"), encoding="utf-8") as file:
                        for line in file:
                            if line.startswith("Version:"):
                                return line.split(":", 1)[1].strip()
                            if not line.strip():  # the headers end at the first blank line
                                break
                except OSError:
                    continue
    return None


__version__ = _version()
