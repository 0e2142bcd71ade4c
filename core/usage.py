"""The one exception the command line raises for bad input."""


class UsageError(Exception):
    """Bad input from the command line or configuration; the message is for the user (exit 2)."""
