"""The snapshot schema, and the one way both halves check a snapshot against it.

The collector checks what it wrote, the evaluator what it was handed; both ask `problem()`.
Acceptance is fast: the schema compiled ahead by fastjsonschema (compiled_schema.py, written by
scripts/compile-snapshot-schema and used only while its SHA-256 matches the schema file), else,
for big or many snapshots, compiled now. A snapshot the fast validator does not accept goes to
jsonschema, which decides and says where and why: the compiled validator never refuses on its
own. jsonschema is imported only then (~80 ms of imports and validator building).
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import TYPE_CHECKING, Any, Callable

from .resources import snapshot_schema_path

if TYPE_CHECKING:
    import jsonschema

# Below this many bytes, compiling the schema at run time (~0.1 s, only when compiled_schema.py
# is stale) costs more than it saves over jsonschema.
RUNTIME_COMPILE_MIN_BYTES = 1_000_000


@cache
def schema_bytes() -> bytes:
    return snapshot_schema_path().read_bytes()


@cache
def schema() -> dict[str, Any]:
    return json.loads(schema_bytes())


@cache
def precompiled() -> Callable[[Any], Any] | None:
    """compiled_schema.validate while it was generated from this very schema, else None."""
    try:
        from . import compiled_schema
    except ImportError:
        return None
    if compiled_schema.SCHEMA_SHA256 != hashlib.sha256(schema_bytes()).hexdigest():
        return None  # the schema changed and scripts/compile-snapshot-schema was not re-run
    return compiled_schema.validate


# Keywords that mean the same in Draft 7 (what fastjsonschema implements) and in 2020-12 (what the
# snapshot schema is written in). A schema using anything else is validated by jsonschema alone.
_SAME_IN_DRAFT7 = frozenset({
    "$schema", "$id", "$ref", "$defs", "$comment", "title", "description", "default", "examples", "type", "enum",
    "const", "properties", "additionalProperties", "patternProperties", "required", "items", "pattern", "format",
    "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength",
    "minItems", "maxItems", "uniqueItems", "minProperties", "maxProperties", "propertyNames", "anyOf", "oneOf",
    "allOf", "not", "if", "then", "else", "contains",
})
_NAME_MAPS = frozenset({"properties", "patternProperties", "$defs"})
_NOT_SCHEMAS = frozenset({"enum", "const", "default", "examples", "required", "type"})


def same_in_draft7(node: Any) -> bool:
    """True when fastjsonschema (Draft 7) judges `node` exactly as 2020-12 does."""
    if isinstance(node, bool):
        return True
    if not isinstance(node, dict):
        return False
    if "$ref" in node and set(node) - {"$ref", "description", "title", "$comment"}:
        return False  # Draft 7 ignores a $ref's siblings, 2020-12 applies them
    for key, value in node.items():
        if key not in _SAME_IN_DRAFT7:
            return False
        if key in _NAME_MAPS:
            if not isinstance(value, dict) or not all(same_in_draft7(v) for v in value.values()):
                return False
        elif key in ("anyOf", "oneOf", "allOf"):
            if not isinstance(value, list) or not all(same_in_draft7(v) for v in value):
                return False
        elif key == "items" and not isinstance(value, (dict, bool)):
            return False  # the array form means prefixItems in 2020-12
        elif key not in _NOT_SCHEMAS and isinstance(value, (dict, bool)) and not same_in_draft7(value):
            return False
    return True


@cache
def _runtime_compiled() -> Callable[[Any], Any] | None:
    try:
        import fastjsonschema
    except ImportError:
        return None
    if not same_in_draft7(schema()):
        return None
    try:
        return fastjsonschema.compile(schema(), use_formats=False)  # jsonschema checks no formats either
    except Exception:  # noqa: BLE001 - fall back to jsonschema
        return None


def _fast_accepts(snapshot: Any, size: int, many: bool) -> bool:
    validator = precompiled()
    if validator is None and (many or size >= RUNTIME_COMPILE_MIN_BYTES):
        validator = _runtime_compiled()
    if validator is None:
        return False
    try:
        validator(snapshot)
        return True
    except Exception:  # noqa: BLE001 - any refusal is jsonschema's to judge and word
        return False


@cache
def jsonschema_validator() -> jsonschema.protocols.Validator:
    import jsonschema

    return jsonschema.Draft202012Validator(schema())


def problem(snapshot: Any, size: int = 0, many: bool = False) -> tuple[str, str] | None:
    """None when `snapshot` matches the schema, else (JSON pointer, jsonschema's message) of the
    best-matching error. `size` (bytes) and `many` (this process checks many snapshots) say
    whether compiling the schema now would pay, when compiled_schema.py is stale.
    RecursionError propagates: the caller words "nested too deeply"."""
    if _fast_accepts(snapshot, size, many):
        return None
    import jsonschema

    error = jsonschema.exceptions.best_match(jsonschema_validator().iter_errors(snapshot))
    if error is None:
        return None
    return "/" + "/".join(str(p) for p in error.absolute_path), error.message
