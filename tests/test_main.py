"""The entry point sends each subcommand to the command line and everything else to the window."""

from __future__ import annotations

import pytest

import main
from core import cli


@pytest.mark.parametrize("name", cli.SUBCOMMANDS)
def test_every_subcommand_goes_to_the_command_line_not_the_window(name: str) -> None:
    assert not main.opens_window([name, "--help"])


@pytest.mark.parametrize("args", [[], ["--demo"], ["--host", "http://127.0.0.1:5000"]])
def test_no_subcommand_opens_the_window(args: list[str]) -> None:
    assert main.opens_window(args)
