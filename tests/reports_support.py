"""Helpers for the report, waiver and drift tests: real evaluations of the example snapshots.

Every results document these tests look at comes from evaluating a recorded snapshot (or a
JSON-patched copy of one, validated by the evaluator like any snapshot) with the real engine.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonpatch

from evaluator import Evaluator, Selection, Source, load_pack
from hullcheck_common.resources import policies_dir, snapshots_dir

EXAMPLES = snapshots_dir() / "examples"

# The reports tests judge the three policies of the first slice, whatever else the pack holds, so
# their expected counts do not move when policies are added. CLI calls pass SELECT for the same.
POLICIES = ("cis-docker-5.10", "cis-docker-5.11", "cis-docker-5.32")
SELECT = tuple(arg for pid in POLICIES for arg in ("--policy", pid))


def example(name: str) -> dict[str, Any]:
    return json.loads((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"))


def container_index(snapshot: dict[str, Any], name: str) -> int:
    for i, entry in enumerate(snapshot["containers"]):
        if entry["inspect"]["Name"].lstrip("/") == name:
            return i
    raise KeyError(name)


def patched(name: str, patch: list[dict[str, Any]]) -> dict[str, Any]:
    return jsonpatch.apply_patch(example(name), patch)


def write(tmp: Path, filename: str, document: dict[str, Any]) -> Path:
    path = tmp / filename
    path.write_text(json.dumps(document, indent=1), encoding="utf-8")
    return path


@cache
def _evaluator() -> Evaluator:
    return Evaluator(Selection(include=POLICIES).apply(load_pack([policies_dir()])), pack_version="test")


def evaluate_snapshot(snapshot: dict[str, Any] | str) -> dict[str, Any]:
    """Results of the built-in pack over an example (by name) or a snapshot object."""
    if isinstance(snapshot, str):
        return copy.deepcopy(_evaluate_file(snapshot))
    data = json.dumps(snapshot).encode()
    return _evaluator().evaluate(Source(name="patched", data=data))


@cache
def _evaluate_file(name: str) -> dict[str, Any]:
    path = EXAMPLES / f"{name}.json"
    return _evaluator().evaluate(Source(name=str(path), path=str(path)))


def failing_keys(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(r["id"], f["resource"]["key"]) for r in document["results"] for f in r["findings"] if f["status"] == "fail"}
