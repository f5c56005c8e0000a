"""What both halves of hullcheck share, and nothing else: the version, where the bundled data lives,
the results vocabulary, the one atomic writer and the error family.

Layering (enforced by import-linter, see pyproject.toml): `hullcheck` (the CLI) may import
`collector` and `evaluator`; those two import neither each other nor `hullcheck`; all three may
import `hullcheck_common`, which imports none of them.
"""

# The one place the version is written: pyproject.toml reads it from here (tool.hatch.version).
# A literal, not importlib.metadata: that import costs ~15 ms of every command and every jq worker.
__version__ = "0.1.0"
