"""What both halves of hullcheck share, and nothing else: the version, where the bundled data lives,
the results vocabulary, the one atomic writer and the error family.

Layering (enforced by import-linter, see pyproject.toml): `hullcheck` (the CLI) may import
`collector` and `evaluator`; those two import neither each other nor `hullcheck`; all three may
import `hullcheck_common`, which imports none of them.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hullcheck")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
