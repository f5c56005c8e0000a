"""Each Compose file is checked against the Compose Specification's JSON Schema (vendored, see
SCHEMA-SOURCE.md), after interpolation and before merging, so an error names its own file and line."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from hullcheck_common.yamlread import position

from .source import ComposeError, Pos

SCHEMA_PATH = Path(__file__).resolve().parent / "compose-spec.schema.json"
_TOP_KEYS = ("version", "name", "services", "networks", "volumes", "secrets", "configs", "include", "models")


@cache
def _validator() -> Any:
    """The Compose Specification's schema, as published (JSON Schema 2020-12), unchanged."""
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _unexpected(error: jsonschema.ValidationError) -> list[str]:
    if error.validator != "additionalProperties" or not isinstance(error.instance, dict):
        return []
    schema = error.schema
    if not isinstance(schema, dict):  # a boolean schema names no properties
        return []
    known = set(schema.get("properties") or {})
    patterns = [re.compile(p) for p in schema.get("patternProperties") or {}]
    return [k for k in error.instance if k not in known and not any(p.search(k) for p in patterns)]


def _describe(path: list[Any]) -> str:
    return ".".join(str(p) for p in path) or "the top level"


def validate_file(doc: Any, file: str) -> None:
    """Raise ComposeError (file:line: ...) for a file that is not Compose or breaks the schema."""
    start = Pos(file, 1, 1)
    if not isinstance(doc, dict):
        kind = "empty" if doc is None else type(doc).__name__.replace("LList", "list").replace("str", "a string")
        raise ComposeError(f"not a Compose file: the top level is {kind}, not a mapping with services:", start)
    if not any(k in doc for k in _TOP_KEYS if k != "version"):
        keys = ", ".join(str(k) for k in list(doc)[:5])
        raise ComposeError(f"not a Compose file: no services: (top-level keys: {keys})", start)
    error = jsonschema.exceptions.best_match(_validator().iter_errors(doc))
    if error is None:
        return
    path = list(error.absolute_path)
    extras = _unexpected(error)
    if extras:
        pos = position(doc, [*path, extras[0]], start)
        where = f" in {_describe(path)}" if path else " at the top level"
        raise ComposeError(f"unknown key {extras[0]!r}{where}", pos)
    pos = position(doc, path, start)
    if error.validator == "uniqueItems" and isinstance(error.instance, list):
        seen: list[Any] = []
        for index, item in enumerate(error.instance):
            if item in seen:
                pos = position(doc, [*path, index], start)
                raise ComposeError(f"invalid {_describe(path)}: duplicate entry {item!r}", pos)
            seen.append(item)
    message = error.message
    if len(message) > 200:  # the whole value quoted: say "the value" instead
        message = message.replace(repr(error.instance), "the value")
        message = message if len(message) <= 200 else message[:200] + "..."
    raise ComposeError(f"invalid {_describe(path)}: {message}", pos)
