"""The Qt-free side of the window's socket (core.instance), against plain sockets.

The real window side (QLocalServer) is in tests/ui/test_single_instance.py; here a plain socket
plays a program that is not our window.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core import instance


@pytest.fixture
def socket_name() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="ks-c-") as tmp:
        run = Path(tmp) / "run"
        run.mkdir(mode=0o700)
        yield str(run / instance.SOCKET_FILE)


def impostor(name: str) -> socket.socket:
    """Answers any "fire" with a flat verdict without cancelling anything."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(name)
    server.listen(1)

    def answer() -> None:
        try:
            conn, _ = server.accept()
        except OSError:
            return
        with conn:
            conn.recv(4096)
            reply = {"verdict": "flat", "exit_code": 0}
            conn.sendall(b'{"accepted": true}\n' + json.dumps(reply).encode() + b"\n")

    threading.Thread(target=answer, daemon=True).start()
    return server


@pytest.mark.skipif("sys.platform == 'win32'", reason="POSIX permissions; Windows keeps profiles private")
def test_the_window_socket_lives_in_a_directory_only_this_user_can_enter(tmp_path: Path) -> None:
    private = instance.ensure_private_dir(tmp_path / "run")
    assert private.stat().st_mode & 0o777 == 0o700


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_a_socket_owned_by_another_user_is_not_taken_for_the_window(socket_name: str) -> None:
    with impostor(socket_name):
        os.chown(Path(socket_name).parent, 65534, 65534)
        assert instance.ask_window_to_fire(5.0, name=socket_name) is None


@pytest.mark.skipif("sys.platform == 'win32'", reason="a Unix socket; Windows has a named pipe")
def test_a_window_that_says_flat_is_believed_only_from_our_own_socket(socket_name: str) -> None:
    with impostor(socket_name):
        assert instance.ask_window_to_fire(5.0, name=socket_name) == {"verdict": "flat", "exit_code": 0}
