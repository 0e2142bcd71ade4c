"""The About text and the self-test, run from source (the frozen ones: tests/system/test_frozen.py)."""

from __future__ import annotations

import io
import tomllib
from pathlib import Path

from ui.about import about_text
from ui.self_test import NOTE_PREFIX
from ui.self_test import run as self_test

ROOT = Path(__file__).resolve().parents[2]


def test_about_box_names_the_app_and_the_version_in_pyproject():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]

    assert about_text().startswith(f"Kill Switch for OpenAlgo {version}\n")


def test_self_test_from_source_fires_one_kill_through_the_window_and_passes(qapp, tmp_path, monkeypatch):
    monkeypatch.setenv("KILLSWITCH_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("KILLSWITCH_DATA_DIR", str(tmp_path / "data"))
    out = io.StringIO()

    code = self_test([], out=out)

    lines = [line for line in out.getvalue().splitlines() if not line.startswith(NOTE_PREFIX)]
    assert code == 0, out.getvalue()
    assert [line.split(":")[0] for line in lines[1:-1]] == [
        "PASS  version",
        "PASS  keyring backend",
        "PASS  simulator",
        "PASS  window",
        "PASS  order book",
        "PASS  kill",
    ]
    assert lines[-1] == "self-test passed"


def test_the_about_button_shows_the_pyproject_version(qtbot, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The About box the trader opens names the same version as pyproject.toml."""
    import tomllib
    from pathlib import Path

    from PySide6.QtWidgets import QMessageBox

    from core.secrets import SessionKeyStore
    from core.settings import Settings
    from ui.main_window import MainWindow

    shown: list[str] = []
    # QMessageBox.about is modal; record what it would show instead of blocking the test.
    monkeypatch.setattr(QMessageBox, "about", lambda parent, title, text: shown.append(text))
    window = MainWindow(Settings(), SessionKeyStore(), persist=False, settings_path=tmp_path / "s.json")
    qtbot.addWidget(window)
    window.about_button.click()
    version = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())["project"][
        "version"
    ]
    assert shown and version in shown[0]


def test_self_test_keeps_a_computer_without_a_keyring_apart_from_its_pass(tmp_path):
    """A PASS is about the build; a computer with no keyring running is said on its own line."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env |= {
        "QT_QPA_PLATFORM": "offscreen",
        "DBUS_SESSION_BUS_ADDRESS": f"unix:path={tmp_path}/no-bus",
        "HOME": str(tmp_path / "home"),
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
    }

    done = subprocess.run(
        [sys.executable, str(ROOT / "main.py"), "--self-test"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    [at] = [i for i, line in enumerate(lines) if line.startswith("PASS  keyring backend:")]
    assert "usable" not in lines[at]
    assert lines[at + 1] == (
        f"{NOTE_PREFIX}no keyring is running on this computer — this computer's set-up, not a fault of "
        "the build (the window would keep a key typed into Settings in memory until it quits)"
    )
