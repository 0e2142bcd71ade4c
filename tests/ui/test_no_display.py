"""With no display at all (an SSH session, a server, a container), starting the window says so and
points to the command line, instead of aborting inside Qt's platform plugin ("Reinstalling the
application may fix this problem")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ui.app_process import FOREIGN, REPO
from ui.app import NO_DISPLAY, no_display


@pytest.mark.parametrize(
    ("environ", "platform", "none"),
    [
        ({}, "linux", True),
        ({"DISPLAY": ":0"}, "linux", False),
        ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
        ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
        ({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, "linux", True),
        ({"QT_QPA_PLATFORM": "wayland", "DISPLAY": ":0"}, "linux", True),
        ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
        ({"QT_QPA_PLATFORM": "minimal:enable_fonts"}, "linux", False),
        ({}, "win32", False),
        ({}, "darwin", False),
    ],
)
def test_no_display_is_told_from_the_environment_before_qt_starts(
    environ: dict[str, str], platform: str, none: bool
) -> None:
    assert no_display(environ, platform) is none


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="only Linux can lack a display")
def test_the_window_without_a_display_says_so_and_points_to_cancel_all(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in FOREIGN and k != "QT_QPA_PLATFORM"}
    env |= {"KILLSWITCH_CONFIG_DIR": str(tmp_path / "config"), "KILLSWITCH_DATA_DIR": str(tmp_path / "data")}

    done = subprocess.run(
        [sys.executable, "main.py", "--demo"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 2
    assert done.stderr.strip() == NO_DISPLAY
    assert "killswitch cancel-all" in done.stderr
    assert "Reinstalling" not in done.stderr and done.stdout == ""
