"""`python -m hullcheck`: the same as the `hullcheck` command."""

from .cli import run

run()
