"""Where the bundled data lives: the policy pack, the schemas, the example snapshots and the advisory data.

An installed wheel carries `policies/`, `snapshots/` and `advisories/` inside the `hullcheck` package; a source
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


@cache
def advisories_dir() -> Path:
    """The bundled advisory data (advisories.json) and what it was built from."""
    return _data_dir("advisories")


def snapshot_schema_path() -> Path:
    return snapshots_dir() / "snapshot.schema.json"


def policy_schema_path() -> Path:
    return policies_dir() / "policy.schema.json"


def example_snapshot_path() -> Path:
    """The snapshot `hullcheck audit --fallback-example` evaluates when no daemon answers."""
    return snapshots_dir() / "examples" / "misconfigured.json"


def _package_dir(name: str) -> Path:
    """A sibling package's directory (evaluator/, collector/), in a source tree and in a wheel alike."""
    from importlib.util import find_spec

    spec = find_spec(name)
    if spec is not None and spec.origin:
        return Path(spec.origin).resolve().parent
    return _HERE.parent / name


# `hullcheck schema KIND`: every file format hullcheck reads or writes, for people building tools around them.
SCHEMA_KINDS = ("snapshot", "policy", "results", "waiver", "fleet")


def schema_path(kind: str) -> Path:
    """Where the JSON Schema of a file format lives (it may be missing from a broken install)."""
    locations = {
        "snapshot": lambda: snapshots_dir() / "snapshot.schema.json",
        "policy": lambda: policies_dir() / "policy.schema.json",
        "waiver": lambda: policies_dir() / "waiver.schema.json",
        "results": lambda: _package_dir("evaluator") / "results.schema.json",
        "fleet": lambda: _package_dir("evaluator") / "fleet.schema.json",
    }
    if kind not in locations:
        raise KeyError(f"unknown schema '{kind}' (choose from {', '.join(SCHEMA_KINDS)})")
    return locations[kind]()


def schema_text(kind: str) -> str:
    """The JSON Schema of a file format as text ending in a newline; UsageError when the file is missing."""
    from .errors import UsageError

    path = schema_path(kind)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"the {kind} schema is missing from this installation ({path}); reinstall hullcheck") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the {kind} schema: {exc.strerror or exc}") from None
    return text if text.endswith("\n") else text + "\n"
