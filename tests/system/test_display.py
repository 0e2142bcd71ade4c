"""The Xvfb harness gives a real X display and takes it away again."""

from __future__ import annotations

import os
import subprocess

import pytest

from .conftest import Xvfb, require_binary, running_xvfb

pytestmark = pytest.mark.system


def test_the_display_answers_with_the_requested_screen_size(xvfb: Xvfb):
    xdotool = require_binary("xdotool", "xdotool")

    done = subprocess.run(
        [xdotool, "getdisplaygeometry"], env=xvfb.env, capture_output=True, text=True, timeout=10, check=True
    )

    assert done.stdout.split() == ["1280", "800"]
    assert xvfb.env["DISPLAY"] == xvfb.display


def test_the_display_harness_leaves_no_process_behind():
    with running_xvfb() as display:
        pid = display.daemon.process.pid

    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
