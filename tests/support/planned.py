"""What the recorded planned snapshots (Compose, Dockerfile) are compared by."""

from __future__ import annotations

from typing import Any


def comparable(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The snapshot without what changes from one collection to the next (times, version, uid)."""
    meta = dict(snapshot["meta"])
    for key in ("started_at", "finished_at", "hullcheck_version"):
        meta.pop(key, None)
    meta["collector"] = {k: v for k, v in meta["collector"].items() if k != "uid"}
    return {**snapshot, "meta": meta}
