"""What every collector writes through: the snapshot format version, the schema check, the JSON
text. Kept apart from collector.snapshot so that the planned collectors (a Compose file, a
Dockerfile) and `hullcheck collect` can write a snapshot without importing the Docker SDK."""

from __future__ import annotations

import json
from typing import Any

from hullcheck_common import snapshot_schema

SCHEMA_VERSION = "1.0"


def validate(snapshot: dict[str, Any]) -> None:
    """The collector checks its own output against the published schema before writing it."""
    found = snapshot_schema.problem(snapshot)
    if found is not None:
        where, message = found
        raise ValueError(f"collector produced an invalid snapshot at {where}: {message}")


def dumps(snapshot: dict[str, Any]) -> str:
    return json.dumps(snapshot, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
