"""Reading a snapshot someone hands us: strict, bounded, and with one clear line when it is bad.

Snapshots arrive from other machines and other people. Everything that can be wrong with a file
is reported as a SnapshotError naming the problem; nothing here raises anything else.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any

from hullcheck_common import snapshot_schema, userfile
from hullcheck_common.errors import HullcheckError

SUPPORTED_MAJOR = 1
DEFAULT_MAX_BYTES = 256 * 1024 * 1024  # a 5,000-container host is about 35 MB


class SnapshotError(HullcheckError):
    """The snapshot cannot be evaluated; the message says why in one line."""


def read_bytes(path: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """The bytes of a snapshot file, refusing what is not a regular file or is over `max_bytes`
    (hullcheck_common.userfile: a FIFO nobody writes to, a device or a socket is refused instead of
    hanging or reading forever). The refusal is a SnapshotError."""
    return userfile.read_bytes(path, what="a snapshot file", max_bytes=max_bytes,
                               not_regular_hint="save the snapshot to a file first",
                               too_large_hint="(raise it with --max-snapshot-size)", error=_refused)


def _refused(shown: str, problem: str) -> SnapshotError:
    return SnapshotError(f"{shown}: {problem}")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # dict() in C, then a length check: as cheap as a plain parse; the loop only runs to name a duplicate.
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        for key, _value in pairs:
            if key in seen:
                raise SnapshotError(f"duplicate key {key!r} in one JSON object")
            seen.add(key)
    return out


def _no_constants(name: str) -> Any:
    raise SnapshotError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise SnapshotError(f"number {text[:40]} is out of range")
    return value


# A \uD800-\uDFFF escape: rare in real snapshots, so the exact (slower) check runs only when one is there.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _check_unicode(value: Any, name: str) -> None:
    """Refuse unpaired UTF-16 surrogates (\\udc80): not text, and no report could print them."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            strings = (item,)
        elif isinstance(item, dict):
            strings = tuple(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
            continue
        else:
            continue
        for text in strings:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:
                raise SnapshotError(f"{name}: not valid JSON text: a string holds an unpaired UTF-16 surrogate "
                                    f"escape ({text.encode('utf-8', 'backslashreplace')[:60].decode()!r})") from None


def parse(data: bytes, name: str = "snapshot") -> dict[str, Any]:
    """Strict JSON: UTF-8, no NaN/Infinity, no duplicate keys, an object at the top."""
    if not data.strip():
        raise SnapshotError(f"{name}: empty file, not a snapshot")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SnapshotError(f"{name}: not UTF-8 text (byte {exc.start})") from None
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants,
                           parse_float=_finite_float)
    except SnapshotError as exc:
        raise SnapshotError(f"{name}: {exc}") from None
    except json.JSONDecodeError as exc:
        ends_early = exc.pos >= len(text.rstrip()) - 1 or exc.msg.startswith("Unterminated string")
        hint = " (the file ends early: truncated?)" if ends_early else ""
        raise SnapshotError(f"{name}: not valid JSON{hint}: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise SnapshotError(f"{name}: JSON nested too deeply to be a snapshot") from None
    if not isinstance(value, dict):
        kind = {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(value), "null")
        raise SnapshotError(f"{name}: the top level is a JSON {kind}, a snapshot is an object")
    if _SURROGATE_ESCAPE.search(text):
        _check_unicode(value, name)
    return value


def check_version(snapshot: dict[str, Any], name: str = "snapshot") -> None:
    version = snapshot.get("schema_version")
    if not isinstance(version, str) or not version.split(".")[0].isdigit():
        raise SnapshotError(f"{name}: no schema_version: is this a hullcheck snapshot?")
    major = int(version.split(".")[0])
    if major > SUPPORTED_MAJOR:
        raise SnapshotError(f"{name}: schema_version {version} is newer than this hullcheck reads "
                            f"({SUPPORTED_MAJOR}.x); upgrade hullcheck to evaluate it")
    if major < SUPPORTED_MAJOR:
        raise SnapshotError(f"{name}: schema_version {version} is older than this hullcheck reads ({SUPPORTED_MAJOR}.x)")


def validate(snapshot: dict[str, Any], name: str = "snapshot", size: int = 0, many: bool = False) -> None:
    """Refuse a snapshot that does not match the schema (hullcheck_common.snapshot_schema decides).

    `size` (bytes of the file) and `many` (this process validates many snapshots: policy test
    cases) say whether compiling the schema now pays, should the compiled one be stale."""
    check_version(snapshot, name)
    try:
        found = snapshot_schema.problem(snapshot, size, many)
    except RecursionError:
        raise SnapshotError(f"{name}: JSON nested too deeply to validate") from None
    if found is not None:
        where, message = found
        message = message if len(message) < 200 else message[:200] + "..."
        raise SnapshotError(f"{name}: does not match the snapshot schema at {where}: {message}")


def engine_summary(snapshot: dict[str, Any]) -> dict[str, Any]:
    """{kind, version, rootless} of the engine judged; snapshots from before meta.engine are
    dockerd's (the version from /version, rootless from meta.collector)."""
    meta = snapshot.get("meta") or {}
    if (meta.get("source") or {}).get("kind") == "compose":  # a plan: no engine was asked anything
        return {"kind": None, "version": None, "rootless": None, "planned": True}
    engine: dict[str, Any] = meta["engine"] if isinstance(meta.get("engine"), dict) else {}
    version = ((snapshot.get("engine") or {}).get("version") or {}) if isinstance(snapshot.get("engine"), dict) else {}
    return {"kind": engine.get("kind", "docker" if not engine else None),
            "version": engine.get("version", version.get("Version") if isinstance(version, dict) else None),
            "rootless": engine.get("rootless", (meta.get("collector") or {}).get("rootless"))}


def engine_text(engine: dict[str, Any] | None) -> str:
    """'podman 4.3.1 (rootless)' for report headers."""
    if engine and engine.get("planned"):
        return "planned from Compose (no engine)"
    if not engine:
        return "unknown engine"
    words = [str(engine.get("kind") or "unknown engine"), str(engine.get("version") or "")]
    text = " ".join(w for w in words if w)
    return text + (" (rootless)" if engine.get("rootless") else "")


def summary(snapshot: dict[str, Any], data: bytes) -> dict[str, Any]:
    """What results say about the snapshot they judged."""
    meta = snapshot.get("meta") or {}
    out = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "host": meta.get("hostname"),
        "schema_version": snapshot.get("schema_version"),
        "collected_at": meta.get("finished_at"),
        "hullcheck_version": meta.get("hullcheck_version"),
        "engine": engine_summary(snapshot),
        "collector_errors": len(meta.get("errors") or []),
        "containers": len(snapshot.get("containers") or []),
        "running_containers": sum(1 for c in snapshot.get("containers") or []
                                  if ((c.get("inspect") or {}).get("State") or {}).get("Running") is True),
    }
    source = meta.get("source")
    if isinstance(source, dict):  # a plan: what it was planned from, and the subjects it holds (evaluator/scope.py)
        out["source"] = source.get("kind")
        if isinstance(source.get("subjects"), list):  # read here, not through scope.py: the worker stays light
            out["subjects"] = list(source["subjects"])
    return out


def load(data: bytes, name: str = "snapshot") -> tuple[dict[str, Any], dict[str, Any]]:
    """Parse and validate; return the snapshot and its summary."""
    snapshot = parse(data, name)
    validate(snapshot, name, len(data))
    return snapshot, summary(snapshot, data)


