"""Each Compose file is checked against the Compose Specification's JSON Schema (vendored, see
SCHEMA-SOURCE.md), after interpolation and before merging, so an error names its own file and line."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from .source import ComposeError, LDict, LList, Pos

SCHEMA_PATH = Path(__file__).resolve().parent / "compose-spec.schema.json"

# Service keys the specification gained after the vendored schema was published (values unchecked).
NEWER_SERVICE_KEYS = ("develop", "uts", "gpus", "annotations", "attach", "label_file", "post_start", "pre_stop",
                      "cgroup", "models", "provider", "use_api_socket")
# Long-syntax port keys added since (host_ip, name, app_protocol).
NEWER_PORT_KEYS = ("host_ip", "name", "app_protocol")
_TOP_KEYS = ("version", "name", "services", "networks", "volumes", "secrets", "configs", "include")


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    for key in NEWER_SERVICE_KEYS:
        schema["definitions"]["service"]["properties"].setdefault(key, {})
    schema["properties"].setdefault("include", {"type": "array"})
    for option in schema["definitions"]["service"]["properties"]["ports"]["items"]["oneOf"]:
        if option.get("type") == "object":
            for key in NEWER_PORT_KEYS:
                option["properties"].setdefault(key, {"type": "string"})
    return jsonschema.Draft201909Validator(schema)


def _position(doc: Any, path: list[Any], fallback: Pos | None) -> Pos | None:
    """The position of the deepest key or entry along `path` that the document records."""
    pos = fallback
    node = doc
    for part in path:
        if isinstance(node, LDict) and part in node:
            pos = node.keypos.get(part) or pos
            node = node[part]
        elif isinstance(node, LList) and isinstance(part, int) and part < len(node):
            pos = node.itempos[part] or pos
            node = node[part]
        else:
            break
    return pos


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
        pos = _position(doc, [*path, extras[0]], start)
        where = f" in {_describe(path)}" if path else " at the top level"
        raise ComposeError(f"unknown key {extras[0]!r}{where}", pos)
    pos = _position(doc, path, start)
    message = error.message if len(error.message) < 200 else error.message[:200] + "..."
    raise ComposeError(f"invalid {_describe(path)}: {message}", pos)
