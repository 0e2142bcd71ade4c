"""The app's log file: what is logged is kept, the key never is."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.log_file import KeyRedactor, close_log, hold_early_records, open_log

KEY = "logfile-key-9b1e4c7a2d5f8e0b3c6a9d2f5e8b1c4a"
NEW_KEY = "logfile-key-2-0f3a6d9c2e5b8a1d4f7c0e3b6a9d2c5f"


@pytest.fixture
def logged(tmp_path: Path) -> Iterator[tuple[KeyRedactor, Path]]:
    redactor = KeyRedactor()
    redactor.add(KEY)
    path = open_log(redactor, tmp_path / "logs")
    yield redactor, path
    close_log()


def test_the_key_is_removed_from_messages_arguments_tracebacks_and_stacks(
    logged: tuple[KeyRedactor, Path],
) -> None:
    _, path = logged
    log = logging.getLogger("test.log_file")
    log.warning("request body %s", {"apikey": KEY, "strategy": "KillSwitch"})
    try:
        raise ValueError(f"server echoed {KEY}")
    except ValueError:
        log.exception("reply not understood")
    log.info("with stack for %s", KEY, stack_info=True)
    text = path.read_text("utf-8")
    assert "'apikey': '<APIKEY>'" in text
    assert "ValueError: server echoed <APIKEY>" in text and "Traceback" in text
    assert "with stack for <APIKEY>" in text
    assert KEY not in text


def test_a_key_set_later_in_the_session_is_removed_too(logged: tuple[KeyRedactor, Path]) -> None:
    redactor, path = logged
    redactor.add(NEW_KEY)
    logging.getLogger("test.log_file").warning("old %s new %s", KEY, NEW_KEY)
    text = path.read_text("utf-8")
    assert "old <APIKEY> new <APIKEY>" in text
    assert KEY not in text and NEW_KEY not in text


@pytest.mark.skipif("sys.platform == 'win32'", reason="POSIX permissions; Windows keeps profiles private")
def test_the_log_file_is_readable_by_its_owner_only(logged: tuple[KeyRedactor, Path]) -> None:
    _, path = logged
    assert path.stat().st_mode & 0o077 == 0
    assert path.parent.stat().st_mode & 0o077 == 0


def test_what_is_logged_before_the_file_opens_is_written_first_with_the_key_removed(tmp_path: Path) -> None:
    # The window opens its log file after its first paint; what it said before must not be lost.
    redactor = KeyRedactor()
    redactor.add(KEY)
    hold_early_records()
    log = logging.getLogger("test.log_file")
    log.info("starting with %s", KEY)
    logging.getLogger("httpx").info("HTTP Request: POST /api/v1/ping")  # too chatty to keep
    try:
        path = open_log(redactor, tmp_path / "logs")
        log.info("after the first paint")
    finally:
        close_log()
    lines = path.read_text("utf-8").splitlines()
    assert [line.split(": ", 1)[1] for line in lines] == ["starting with <APIKEY>", "after the first paint"]
