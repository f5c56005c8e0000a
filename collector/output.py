"""What every collector writes through: the snapshot format version, the schema check, the JSON
text. Kept apart from collector.snapshot so that the planned collectors (a Compose file, a
Dockerfile) and `hullcheck collect` can write a snapshot without importing the Docker SDK."""

from __future__ import annotations

import json
import os
from typing import Any

from hullcheck_common import __version__, snapshot_schema
from hullcheck_common.vocabulary import utc_timestamp

SCHEMA_VERSION = "1.0"


def validate(snapshot: dict[str, Any]) -> None:
    """The collector checks its own output against the published schema before writing it."""
    found = snapshot_schema.problem(snapshot)
    if found is not None:
        where, message = found
        raise ValueError(f"collector produced an invalid snapshot at {where}: {message}")


def dumps(snapshot: dict[str, Any]) -> str:
    return json.dumps(snapshot, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def planned_snapshot(*, started: str, hostname: str, endpoint: str, redacted: bool, errors: list[dict[str, Any]],
                     source: dict[str, Any], containers: list[dict[str, Any]] | None = None,
                     images: list[dict[str, Any]] | None = None,
                     networks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """A snapshot planned from files (a Compose application, a Dockerfile), validated: nothing was
    read from a host or an engine, so their sections are null and the collector is "remote"."""
    snapshot: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "meta": {
            "hullcheck_version": __version__,
            "started_at": started,
            "finished_at": utc_timestamp("milliseconds"),
            "hostname": hostname,
            "engine_endpoint": endpoint,
            "collector": {"uid": os.getuid(), "in_container": False, "container_id": None, "rootless": None,
                          "remote": True, "host_root": None, "redacted": redacted, "label_filter": []},
            "errors": errors,
            "source": source,
        },
        "engine": {"version": None, "info": None},
        "daemon": {"process": None, "config_file": None, "options": None, "units": None},
        "containers": containers,
        "images": images,
        "networks": networks,
        "volumes": None,
        "plugins": None,
        "swarm": None,
        "host": None,
        "files": None,
        "audit": None,
    }
    validate(snapshot)
    return snapshot
