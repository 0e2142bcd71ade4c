"""One window per user: a real QLocalServer in this process, the Qt-free client on a thread.

The client (core.instance) is what `killswitch trigger` and a second launch run; here it talks
to the real server over a real socket, and real kills run against the simulator.
"""

from __future__ import annotations

import socket
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from core import instance
from core.cli_kill import run_headless_kill
from core.simulator import Simulator
from ui.single_instance import SingleInstance


@pytest.fixture
def socket_name() -> Iterator[str]:
    # Not tmp_path: a socket path must fit in sockaddr_un (108 bytes).
    with tempfile.TemporaryDirectory(prefix="ks-i-") as tmp:
        yield str(Path(tmp) / "run" / instance.SOCKET_FILE)


@pytest.fixture
def window_socket(qtbot: QtBot, socket_name: str) -> Iterator[SingleInstance]:
    server = SingleInstance(socket_name)
    assert server.listen()
    yield server
    server.close()


def on_thread(work: Callable[[], Any]) -> Callable[[], list[Any]]:
    """Run ``work`` on a thread (as another process would); returns a getter for its result."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(work()), daemon=True)
    thread.start()

    def done() -> list[Any]:
        return result

    return done


def test_a_second_instance_finds_the_first_one_running(
    window_socket: SingleInstance, socket_name: str
) -> None:
    second = SingleInstance(socket_name)
    try:
        assert second.listen() is False
    finally:
        second.close()
    assert window_socket.listening


@pytest.mark.skipif("sys.platform == 'win32'", reason="a Unix socket; Windows has a named pipe")
def test_a_socket_left_behind_by_a_crash_is_taken_over(qtbot: QtBot, socket_name: str) -> None:
    Path(socket_name).parent.mkdir(mode=0o700)
    crashed = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    crashed.bind(socket_name)  # a crash leaves the file; nobody listens on it any more
    crashed.close()
    server = SingleInstance(socket_name)
    try:
        assert server.listen() is True
        assert server.listening
    finally:
        server.close()


def test_a_second_launch_brings_the_running_window_forward(
    qtbot: QtBot, window_socket: SingleInstance, socket_name: str
) -> None:
    with qtbot.waitSignal(window_socket.showRequested, timeout=5000):
        answer = on_thread(lambda: instance.ask_window_to_show(name=socket_name))
    qtbot.waitUntil(lambda: bool(answer()), timeout=5000)
    assert answer() == [{"ok": True}]


def test_a_second_launch_learns_which_server_the_window_is_on(
    qtbot: QtBot, window_socket: SingleInstance, socket_name: str
) -> None:
    window_socket.set_host(lambda: "http://10.0.0.5:5000")
    answer = on_thread(lambda: instance.ask_window_to_show(name=socket_name))
    qtbot.waitUntil(lambda: bool(answer()), timeout=5000)
    assert answer() == [{"ok": True, "host": "http://10.0.0.5:5000"}]


def test_with_no_window_running_nobody_is_asked(socket_name: str) -> None:
    assert instance.ask_window_to_fire(5.0, name=socket_name) is None
    assert instance.ask_window_to_show(name=socket_name) is None


def test_trigger_gets_the_verdict_of_the_kill_the_window_ran(
    qtbot: QtBot, window_socket: SingleInstance, socket_name: str, simulator: Simulator
) -> None:
    def window_fires(trigger: str) -> None:
        report, _code = run_headless_kill(simulator.url, simulator.apikey, "KillSwitch", 30.0, trigger)
        window_socket.deliver_report(report)

    window_socket.fireRequested.connect(window_fires)
    working = {order["orderid"] for order in simulator.working_orders()}
    with qtbot.waitSignal(window_socket.fireRequested, timeout=5000) as asked:
        answer = on_thread(lambda: instance.ask_window_to_fire(30.0, name=socket_name))
    qtbot.waitUntil(lambda: bool(answer()), timeout=30_000)
    reply = answer()[0]
    assert asked.args == ["command line"]
    assert reply["verdict"] == "flat"
    assert reply["exit_code"] == 0
    assert set(reply["canceled_orders"]) == working
    assert reply["summary"].startswith("FLAT")
    assert simulator.working_orders() == []


def test_a_window_that_cannot_fire_sends_the_trigger_away_at_once(
    qtbot: QtBot, window_socket: SingleInstance, socket_name: str
) -> None:
    window_socket.set_fire_check(lambda request: "The window has no API key set up, so it cannot fire.")
    fired: list[str] = []
    window_socket.fireRequested.connect(fired.append)
    answer = on_thread(lambda: instance.ask_window_to_fire(30.0, name=socket_name))
    qtbot.waitUntil(lambda: bool(answer()), timeout=5000)
    assert answer() == [{"error": "The window has no API key set up, so it cannot fire."}]
    assert fired == []


def test_the_servers_and_scope_named_by_the_trigger_reach_the_windows_check(
    qtbot: QtBot, window_socket: SingleInstance, socket_name: str
) -> None:
    asked: list[dict[str, Any]] = []

    def check(request: dict[str, Any]) -> str | None:
        asked.append(request)
        return "The window is connected to another server, so it did not fire."

    window_socket.set_fire_check(check)
    hosts = ["http://10.0.0.9:5000", "http://10.0.0.10:5000"]
    scope = {"close_positions": True, "guard_s": 0.0, "halt": False}
    answer = on_thread(lambda: instance.ask_window_to_fire(30.0, hosts=hosts, scope=scope, name=socket_name))
    qtbot.waitUntil(lambda: bool(answer()), timeout=5000)
    assert asked[0]["hosts"] == hosts and asked[0]["scope"] == scope
    assert "error" in answer()[0]


def test_a_window_closing_mid_kill_releases_the_waiting_trigger(qtbot: QtBot, socket_name: str) -> None:
    server = SingleInstance(socket_name)
    assert server.listen()
    with qtbot.waitSignal(server.fireRequested, timeout=5000):
        answer = on_thread(lambda: instance.ask_window_to_fire(30.0, name=socket_name))
    server.close()
    qtbot.waitUntil(lambda: bool(answer()), timeout=5000)
    assert answer() == [{"error": "The window closed before the kill finished."}]


@pytest.mark.skipif("sys.platform == 'win32'", reason="a Unix socket; Windows has a named pipe")
def test_a_hung_window_is_not_waited_on_for_a_whole_kill(socket_name: str) -> None:
    # A frozen UI thread: the OS still accepts the connection, but nothing ever answers.
    Path(socket_name).parent.mkdir(mode=0o700)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as frozen:
        frozen.bind(socket_name)
        frozen.listen(1)
        assert instance.ask_window_to_fire(600.0, name=socket_name, accept_timeout_s=0.5) is None


def test_a_second_launch_on_another_server_says_which_server_the_open_window_is_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from ui.app import _already_open, parse

    code = _already_open(
        parse(["--host", "http://10.0.0.9:5000"]), {"ok": True, "host": "http://10.0.0.5:5000"}
    )
    said = capsys.readouterr().err
    assert code == 2
    assert "already open is on http://10.0.0.5:5000, not http://10.0.0.9:5000" in said
    assert (
        _already_open(parse(["--host", "http://10.0.0.5:5000"]), {"ok": True, "host": "http://10.0.0.5:5000"})
        == 0
    )
