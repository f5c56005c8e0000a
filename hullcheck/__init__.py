"""hullcheck: a security auditor for Docker hosts.

The package is the thin front door that joins the two halves: `collector` (host -> snapshot)
and `evaluator` (snapshot -> results). Neither half imports the other.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hullcheck")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
