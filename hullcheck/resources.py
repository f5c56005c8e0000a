"""Where the bundled data lives: the policy pack, the schemas and the example snapshots.

An installed wheel carries `policies/` and `snapshots/` inside the `hullcheck` package; a source
checkout (or an editable install) has them at the repository root. Both halves ask here, so
neither needs to know how hullcheck was installed.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_HERE = Path(__file__).resolve().parent


def _data_dir(name: str) -> Path:
    for candidate in (_HERE / name, _HERE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"hullcheck's bundled '{name}' directory is missing; reinstall hullcheck")


@cache
def policies_dir() -> Path:
    """The built-in policy pack (also holds the policy and waiver schemas)."""
    return _data_dir("policies")


@cache
def snapshots_dir() -> Path:
    """The snapshot schema and the recorded example snapshots."""
    return _data_dir("snapshots")


def snapshot_schema_path() -> Path:
    return snapshots_dir() / "snapshot.schema.json"


def policy_schema_path() -> Path:
    return policies_dir() / "policy.schema.json"


def example_snapshot_path() -> Path:
    """The snapshot `hullcheck audit --fallback-example` evaluates when no daemon answers."""
    return snapshots_dir() / "examples" / "misconfigured.json"
