"""hullcheck: a security auditor for Docker hosts.

This package is the thin command line that joins the two halves: `collector` (host -> snapshot)
and `evaluator` (snapshot -> results). Neither half imports the other nor this package; what they
share (version, data locations, vocabulary, atomic writer, errors) lives in `hullcheck_common`.
"""

from hullcheck_common import __version__

__all__ = ["__version__"]
