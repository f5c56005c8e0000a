"""The generated snapshot validator (hullcheck_common/compiled_schema.py) is current and never accepts
what jsonschema refuses: it may only save time, never let a malformed snapshot through."""

from __future__ import annotations

import copy
import hashlib
import json
import random
from pathlib import Path
from typing import Any, Iterator

import pytest

from hullcheck_common import compiled_schema, snapshot_schema
from hullcheck_common.resources import snapshot_schema_path, snapshots_dir

EXAMPLES = sorted((snapshots_dir() / "examples").glob("*.json"))


def test_generated_from_this_schema() -> None:
    digest = hashlib.sha256(snapshot_schema_path().read_bytes()).hexdigest()
    assert compiled_schema.SCHEMA_SHA256 == digest, "the schema changed: run python3 scripts/compile-snapshot-schema"
    assert snapshot_schema.precompiled() is compiled_schema.validate


def _paths(node: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, (*at, key))
    elif isinstance(node, list):
        for index, value in enumerate(node[:3]):
            yield from _paths(value, (*at, index))


def _mutants(doc: dict[str, Any], rng: random.Random, count: int) -> Iterator[dict[str, Any]]:
    """Copies of `doc` with one value replaced by a value of another type, or one key removed."""
    paths = [p for p in _paths(doc) if p]
    for path in rng.sample(paths, min(count, len(paths))):
        for replacement in (None, 7, "x", [], {}, True, "__delete__"):
            mutant = copy.deepcopy(doc)
            parent = mutant
            for step in path[:-1]:
                parent = parent[step]
            if replacement == "__delete__":
                if not isinstance(parent, dict):
                    continue
                del parent[path[-1]]
            else:
                parent[path[-1]] = replacement
            yield mutant


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.stem)
def test_never_accepts_what_jsonschema_refuses(example: Path) -> None:
    doc = json.loads(example.read_bytes())
    strict = snapshot_schema.jsonschema_validator()
    compiled = compiled_schema.validate
    compiled(doc)  # a recorded snapshot is valid: both accept it
    assert strict.is_valid(doc)
    rng = random.Random(example.stem)
    refused = checked = 0
    for mutant in _mutants(doc, rng, 12):
        checked += 1
        try:
            compiled(mutant)
        except Exception:  # noqa: BLE001 - any refusal sends the snapshot to jsonschema
            refused += 1
            continue
        assert strict.is_valid(mutant), f"{example.name}: compiled validator accepted what jsonschema refuses"
    assert refused > checked // 10, f"{example.name}: the compiled validator refused only {refused} of {checked}"
