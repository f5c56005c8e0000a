"""hullcheck's collector: reads a Docker host and its engine into one JSON snapshot.

It only reads. It never changes the host or the engine and never execs into containers.

    from collector import CollectOptions, collect
    snapshot = collect(CollectOptions())
"""

from .sdk import defer

defer("paramiko")  # before the Docker SDK is first imported (collector/sdk.py says why)
defer("charset_normalizer", version_in="version.py")

from .engine import EngineUnreachable  # noqa: E402
from .snapshot import SCHEMA_VERSION, CollectOptions, collect, dumps, validate  # noqa: E402

__all__ = ["CollectOptions", "EngineUnreachable", "SCHEMA_VERSION", "collect", "dumps", "validate"]
