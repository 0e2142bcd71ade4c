"""The Qt side of the kill switch: adapts ``core`` to widgets, threads and signals."""

from ui import refcount_guard

refcount_guard.install()  # before any module of ui emits a signal; see refcount_guard
