"""The per-server lock file: kept open between kills, never two holders, a note beside the lock."""

from __future__ import annotations

from pathlib import Path

from core.one_kill import ServerLocks


def test_a_held_lock_is_refused_to_another_holder_and_its_note_names_the_kill(tmp_path: Path) -> None:
    ours = ServerLocks(tmp_path).for_server("http://127.0.0.1:5000")
    theirs = ServerLocks(tmp_path).for_server("http://127.0.0.1:5000")  # as another process has
    assert ours.acquire()
    ours.describe(7, tmp_path / "kills.sqlite3", "hotkey")
    assert not theirs.acquire()
    note = theirs.held_by()
    assert note is not None
    record = str(tmp_path / "kills.sqlite3")
    assert (note["kill_id"], note["trigger"], note["record"]) == (7, "hotkey", record)
    ours.release()
    assert theirs.held_by() is None
    assert theirs.acquire()
    theirs.close()


def test_the_same_server_reuses_one_lock_and_it_can_be_taken_again_after_release(tmp_path: Path) -> None:
    locks = ServerLocks(tmp_path)
    lock = locks.for_server("http://a")
    assert locks.for_server("http://a") is lock
    for _ in range(3):
        assert lock.acquire()
        lock.release()
    lock.close()


def test_a_lock_file_replaced_between_kills_is_opened_again_so_two_holders_never_coexist(
    tmp_path: Path,
) -> None:
    ours = ServerLocks(tmp_path).for_server("http://a")
    assert ours.acquire()
    ours.release()
    ours.path.unlink()  # someone cleaned the directory while the window was idle
    theirs = ServerLocks(tmp_path).for_server("http://a")
    assert theirs.acquire()  # takes the new file
    assert not ours.acquire()  # ours follows the path to the new file: held
    theirs.release()
    assert ours.acquire()
    ours.close()
    theirs.close()


def test_a_shorter_note_leaves_nothing_of_the_longer_one_before_it(tmp_path: Path) -> None:
    ours = ServerLocks(tmp_path).for_server("http://a")
    other = ServerLocks(tmp_path).for_server("http://a")
    assert ours.acquire()
    ours.describe(123456789, tmp_path / ("long" * 40), "command line")
    ours.describe(1, None, "button")
    note = other.held_by()
    assert note is not None
    assert (note["kill_id"], note["record"], note["trigger"]) == (1, None, "button")
    ours.close()


def test_a_released_lock_carries_no_note_for_whoever_takes_it_next(tmp_path: Path) -> None:
    ours = ServerLocks(tmp_path).for_server("http://a")
    theirs = ServerLocks(tmp_path).for_server("http://a")
    watcher = ServerLocks(tmp_path).for_server("http://a")
    assert ours.acquire()
    ours.describe(41, tmp_path / "kills.sqlite3", "hotkey")
    ours.release()
    assert theirs.acquire()  # taken, its own note not yet written
    assert watcher.held_by() == {}  # not kill 41's note
    theirs.close()
    ours.close()
