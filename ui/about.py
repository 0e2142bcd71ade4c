"""What the About box says: the app's name and the version pyproject.toml gives it."""

from __future__ import annotations

from core import APP_NAME, __version__


def about_title() -> str:
    return f"About {APP_NAME}"


def about_text() -> str:
    """Name and version, e.g. "Kill Switch for OpenAlgo 0.1.0", plus one line on what it does.

    The version is ``core.__version__``: the package metadata pip wrote from pyproject.toml,
    which the frozen app carries too, so a checkout, an install and a build all agree.
    """
    return (
        f"{APP_NAME} {__version__}\n\n"
        "One press cancels every open and trigger-pending order on your OpenAlgo account, "
        "then checks the order book and reports each order."
    )
