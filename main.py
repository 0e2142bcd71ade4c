"""Entry point: ``killswitch`` / ``python main.py``.

Subcommands (simulate, cancel-all, trigger, set-key) and --version run without importing Qt;
anything else opens the window.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    from core.cli import SUBCOMMANDS

    if not args or args[0] not in (*SUBCOMMANDS, "--version", "-h", "--help"):
        try:
            from ui.app import run
        except ImportError as exc:  # the window is optional for headless installs
            print(f"killswitch: the window cannot start ({exc}); try 'killswitch --help'.", file=sys.stderr)
            return 2
        return run(args)
    from core.cli import main as cli_main

    return cli_main(args)


if __name__ == "__main__":
    sys.exit(main())
