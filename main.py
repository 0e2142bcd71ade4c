"""Entry point: ``killswitch`` / ``python main.py``.

Subcommands (simulate, cancel-all, trigger, set-key) and --version run without importing Qt;
--self-test runs the build's smoke test (ui.self_test); anything else opens the window.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

# core.cli's subcommands, spelled here so that opening the window does not import the command
# line (its argument parser and everything it pulls in); tests/test_main.py keeps the two equal.
SUBCOMMANDS = ("simulate", "cancel-all", "trigger", "set-key")


def opens_window(args: Sequence[str]) -> bool:
    """True when these arguments are for the window rather than the command line."""
    return not args or args[0] not in (*SUBCOMMANDS, "--version", "-h", "--help", "--self-test")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--self-test"]:  # the build's smoke test: simulator, window, one kill
        from ui.self_test import run as self_test

        return self_test(args[1:])
    if opens_window(args):
        try:
            from ui import startup_probe

            if startup_probe.wanted():  # KILLSWITCH_STARTUP_PROBE=1: time the start-up, then quit
                startup_probe.install()
            from ui.app import run
        except ImportError as exc:  # the window is optional for headless installs
            print(f"killswitch: the window cannot start ({exc}); try 'killswitch --help'.", file=sys.stderr)
            return 2
        return run(args)
    from core.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
