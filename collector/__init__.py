"""hullcheck's collector: reads a Docker host and its engine into one JSON snapshot.

It only reads. It never changes the host or the engine and never execs into containers.

    from collector import CollectOptions, collect
    snapshot = collect(CollectOptions())
"""

from .sdk import defer

defer("paramiko")  # before the Docker SDK is first imported (collector/sdk.py says why)
defer("charset_normalizer", version_in="version.py")

from typing import TYPE_CHECKING, Any  # noqa: E402

from .output import SCHEMA_VERSION, dumps, validate  # noqa: E402

if TYPE_CHECKING:
    from .engine_api import EngineUnreachable
    from .snapshot import CollectOptions, collect

__all__ = ["CollectOptions", "EngineUnreachable", "SCHEMA_VERSION", "collect", "dumps", "validate"]


def __getattr__(name: str) -> Any:
    """The engine collector on first use: writing a planned snapshot (a Compose file, a Dockerfile)
    never imports the Docker SDK (~0.3 s)."""
    if name == "EngineUnreachable":
        from .engine_api import EngineUnreachable

        return EngineUnreachable
    if name in ("CollectOptions", "collect"):
        from . import snapshot

        return getattr(snapshot, name)
    raise AttributeError(f"module 'collector' has no attribute {name!r}")
