"""hullcheck's collector: reads a Docker host and its engine into one JSON snapshot.

It only reads. It never changes the host or the engine and never execs into containers.

    from collector import CollectOptions, collect
    snapshot = collect(CollectOptions())
"""

from .engine import EngineUnreachable
from .snapshot import SCHEMA_VERSION, CollectOptions, collect, dumps, validate

__all__ = ["CollectOptions", "EngineUnreachable", "SCHEMA_VERSION", "collect", "dumps", "validate"]
