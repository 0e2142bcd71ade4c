"""The pinned PySide6 must not corrupt the refcounts of True and None.

PySide6-Essentials 6.12.0 on Python 3.11 takes one reference away from ``True`` on every
``Signal.emit()`` and from ``None`` on every call of a C++ ``void`` method; the interpreter then
aborts (``Fatal Python error: bool_dealloc`` / ``none_dealloc``) after a few dozen emits or a few
thousand calls -- a kill switch that polls every second would die within minutes. 6.11.3 does
not have the bug, which is why it is pinned. This test fails on an upgrade that brings it back.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Signal


class _Probe(QObject):
    ping = Signal()


def test_emitting_signals_leaves_the_refcount_of_true_alone() -> None:
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(50):
        probe.ping.emit()
    assert sys.getrefcount(True) - before > -25


def test_void_calls_leave_the_refcount_of_none_alone() -> None:
    probe = _Probe()
    before = sys.getrefcount(None)
    for _ in range(50):
        probe.setObjectName("probe")
    assert sys.getrefcount(None) - before > -25
