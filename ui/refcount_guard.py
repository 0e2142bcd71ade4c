"""A guard against a reference-counting bug in the pinned PySide6 (6.12.0) on Python 3.11.

``SignalInstance.emit()`` returns ``True`` without taking a reference to it (and a failed
``disconnect()`` does the same with ``False``), so every signal emitted from Python takes one
reference away from the ``True`` singleton. A fresh interpreter holds only a few dozen of those;
after that many emits the interpreter aborts with ``Fatal Python error: bool_dealloc``. An app
that polls every second and emits a few signals per poll would crash within minutes.

Python 3.12 made ``True`` and ``False`` immortal, which hides the bug. :func:`install` does the
same by hand on an interpreter where a probe shows the leak: it adds 2**40 references to each, far
more than any session can emit. It does nothing where the probe finds no leak, so it goes away
by itself when PySide6 or Python is upgraded.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal

_PROBE_EMITS = 16
_BALLAST = 1 << 40
_installed = False


class _Probe(QObject):
    ping = Signal()


def emit_leaks_true() -> bool:
    """True when emitting a signal from Python takes a reference away from ``True``."""
    probe = _Probe()
    before = sys.getrefcount(True)
    for _ in range(_PROBE_EMITS):
        probe.ping.emit()
    leaked = before - sys.getrefcount(True)
    return leaked >= _PROBE_EMITS // 2


def install() -> bool:
    """Pin ``True`` and ``False`` if (and only if) the bug is present; True when it pinned them."""
    global _installed  # noqa: PLW0603 -- once per process
    if _installed:
        return True
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12) or not emit_leaks_true():
        return False
    for singleton in (True, False):
        # ob_refcnt is the first field of every CPython object, at the address id() returns.
        ctypes.c_ssize_t.from_address(id(singleton)).value += _BALLAST
    _installed = True
    return True
