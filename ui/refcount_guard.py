"""A guard against a reference-counting bug in the pinned PySide6 (6.12.0) on Python 3.11.

``SignalInstance.emit()`` returns ``True`` without taking a reference to it (and a failed
``disconnect()`` does the same with ``False``), so every signal emitted from Python takes one
reference away from the ``True`` singleton. A fresh interpreter holds only a few dozen of those;
after that many emits the interpreter aborts with ``Fatal Python error: bool_dealloc``. An app
that polls every second and emits a few signals per poll would crash within minutes.

The same bug hits ``None``: every call of a C++ method that returns ``void`` (``setText``,
``setItem``, ``QTimer.start``...) takes one reference away from ``None``. A fresh interpreter holds
about 5,000; a window that updates a few labels per poll aborts with ``Fatal Python error:
none_dealloc`` within the hour, and filling a 10,000-row table does it at once.

Python 3.12 made ``True``, ``False`` and ``None`` immortal, which hides the bug. :func:`install`
does the same by hand on an interpreter where a probe shows the leak: it adds 2**40 references to
each, far more than any session can emit. It does nothing where the probe finds no leak, so it
goes away by itself when PySide6 or Python is upgraded.
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


def void_call_leaks_none() -> bool:
    """True when calling a C++ ``void`` method from Python takes a reference away from ``None``."""
    probe = _Probe()
    before = sys.getrefcount(None)
    for _ in range(_PROBE_EMITS):
        probe.setObjectName("probe")
    leaked = before - sys.getrefcount(None)
    return leaked >= _PROBE_EMITS // 2


def install() -> bool:
    """Pin ``True``, ``False`` and ``None`` if (and only if) the bug is present; True when it
    pinned them."""
    global _installed  # noqa: PLW0603 -- once per process
    if _installed:
        return True
    if sys.implementation.name != "cpython" or sys.version_info >= (3, 12):
        return False
    leaky = [*((True, False) if emit_leaks_true() else ()), *((None,) if void_call_leaks_none() else ())]
    if not leaky:
        return False
    for singleton in leaky:
        # ob_refcnt is the first field of every CPython object, at the address id() returns.
        ctypes.c_ssize_t.from_address(id(singleton)).value += _BALLAST
    _installed = True
    return True
