"""One family for every error that is the user's input, not a bug.

The CLI maps the family to exit code 2 in one place (`hullcheck.cli.main`) and prints the message
as one line; anything else is an internal error. Each half raises its own subclass, so callers
embedding hullcheck can catch `HullcheckError` without knowing which half spoke.
"""

from __future__ import annotations


class HullcheckError(Exception):
    """Bad input (a file, a flag, an unreachable engine): one line for the user, exit code 2."""


class UsageError(HullcheckError):
    """A command-line usage problem the option parser cannot see (a flag combination, a missing file)."""
