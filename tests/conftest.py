"""Every test runs against its own config, data and runtime folders, never the user's own.

Kills write a record, settings are saved, the one-instance socket is created: a test run must
not touch a trader's real ones, nor find a real window's socket. Tests that need particular
folders set them again themselves.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

# Linux's own parts: the system tests drive Xvfb, a Secret Service on D-Bus and the Linux build,
# and the key-store tests import the Secret Service client (secretstorage, jeepney), which only
# Linux installs. Windows is exercised under Wine instead (packaging/wine/check.sh).
collect_ignore = [] if sys.platform.startswith("linux") else ["system", "core/test_secrets.py"]


@pytest.fixture(autouse=True)
def private_app_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("app-dirs")
    for name, sub in (
        ("KILLSWITCH_CONFIG_DIR", "config"),
        ("KILLSWITCH_DATA_DIR", "data"),
        ("KILLSWITCH_RUNTIME_DIR", "run"),
    ):
        folder = root / sub
        folder.mkdir(mode=0o700)
        monkeypatch.setenv(name, str(folder))
    yield root


def open_lock_files() -> list[str]:
    """The kill lock files this process has open, read from /proc (Linux)."""
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        pytest.skip("needs /proc to list this process's open files")
    paths = []
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            paths.append(os.readlink(fd))
    return [p for p in paths if p.endswith(".lock")]
