"""hullcheck's evaluator: declarative jq policies over a snapshot, offline.

It needs nothing but the snapshot: no Docker, no network.

    from evaluator import Evaluator, Source, load_pack
    with Evaluator(load_pack([policies_dir])) as ev:
        results = ev.evaluate(Source(name="host.json", path="host.json"))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .pack import PolicyError, load_pack
    from .policy import Policy, Selection
    from .snapshot import SnapshotError
    from .worker_pool import Evaluator, Limits, Source

__all__ = ["Evaluator", "Limits", "Policy", "PolicyError", "Selection", "SnapshotError", "Source", "load_pack"]

# Imported on first use: `policies list` needs the loader, not the worker pool, jsonschema or jq, and
# every command starts faster for what it does not import.
_HOMES = {"Evaluator": "worker_pool", "Limits": "worker_pool", "Source": "worker_pool", "Policy": "policy", "PolicyError": "pack",
          "Selection": "policy", "load_pack": "pack", "SnapshotError": "snapshot"}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'evaluator' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value
