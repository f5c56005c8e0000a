"""A private cache of checked policy packs, so that every command does not re-check the pack.

Parsing 120 YAML files, validating each against the policy schema and compiling every jq
fragment costs far more than starting hullcheck. The result of all that is a pure function of
the bytes of the policy files, the prelude and the loader's own code, so it is kept under a key
made of exactly those (plus the jq build, whose parser decides what compiles).

The cache is a convenience, never a source of truth, and never trusted blindly: its directory
and each file must belong to the user running hullcheck and be writable by nobody else (another
user who could write there could make a broken or hostile pack look checked). Anything unusable
(missing, foreign-owned, group- or world-writable, corrupt, unwritable) means the pack is checked
from scratch, silently.

Where: `$HULLCHECK_CACHE_DIR`, else `$XDG_CACHE_HOME/hullcheck`, else `~/.cache/hullcheck`.
`HULLCHECK_CACHE_DIR=` (empty) turns it off.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hullcheck_common.atomic import write_atomic

if TYPE_CHECKING:
    from .policy import Policy

FORMAT = 1
MAX_ENTRIES = 32  # packs kept; the oldest are removed (tests and policy authors make many packs)
_CODE = ("policy.py", "jqsafety.py", "program.py", "packcache.py")


def cache_dir() -> Path | None:
    """The cache directory this user would use, or None when turned off."""
    configured = os.environ.get("HULLCHECK_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "hullcheck"


def _private(st: os.stat_result) -> bool:
    """Owned by this user and writable by no one else."""
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _usable_dir(create: bool) -> Path | None:
    directory = cache_dir()
    if directory is None:
        return None
    try:
        if create:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(directory)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or not _private(st):
        return None
    return directory


def _jq_build() -> str:
    try:
        from importlib.metadata import version

        return version("jq")
    except Exception:  # noqa: BLE001 - an unknown build only makes the key more specific
        return "unknown"


def key(files: list[tuple[Path, bytes]]) -> str | None:
    """The cache key of a pack: every policy file's path and bytes, the prelude, the loader's code."""
    from .program import PRELUDE

    h = hashlib.sha256(f"hullcheck pack cache {FORMAT}\0jq {_jq_build()}\0".encode())
    here = Path(__file__).resolve().parent
    try:
        from hullcheck_common.resources import policy_schema_path

        for part in [*(here / name for name in _CODE), policy_schema_path()]:
            h.update(hashlib.sha256(part.read_bytes()).digest())
    except OSError:
        return None
    h.update(hashlib.sha256(PRELUDE.encode()).digest())
    for path, raw in files:
        h.update(f"{path}\0{len(raw)}\0".encode())
        h.update(raw)
    return h.hexdigest()


def read(pack_key: str) -> list[Policy] | None:
    """The cached pack for this key, or None (absent, untrusted or unreadable)."""
    from .policy import policy_from_data

    directory = _usable_dir(create=False)
    if directory is None:
        return None
    try:
        fd = os.open(directory / f"pack-{pack_key}.json", os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not _private(st):
            return None
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            entry = json.loads(fh.read())
        if entry.get("format") != FORMAT or entry.get("key") != pack_key:
            return None
        return [policy_from_data(item["data"], item["path"], item["sha256"], item["lines"]) for item in entry["policies"]]
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    finally:
        if fd >= 0:
            os.close(fd)


def _raw_data(policy: Policy) -> dict[str, Any]:
    """The policy's fields as its YAML gave them, for policy_from_data to rebuild it."""
    data: dict[str, Any] = {
        "id": policy.id, "title": policy.title, "description": policy.description, "remediation": policy.remediation,
        "severity": policy.severity, "level": policy.level, "controls": policy.controls, "automated": policy.automated,
        "tags": list(policy.tags), "references": list(policy.references), "audit": policy.audit,
        "requires": list(policy.requires), "applies": policy.applies,
        "not_applicable_reason": policy.not_applicable_reason, "resources": policy.resources,
        "assert": policy.assert_, "message": policy.message, "evidence": list(policy.evidence),
        "tests": list(policy.tests),
    }
    return data


def write(pack_key: str, policies: list[Policy]) -> None:
    """Keep the checked pack; give up silently when the cache is unusable or the pack is not plain JSON."""
    from .policy import policy_from_data

    directory = _usable_dir(create=True)
    if directory is None:
        return
    items = []
    for policy in policies:
        data = _raw_data(policy)
        try:
            round_trip = json.loads(json.dumps(data))
        except (TypeError, ValueError):
            return  # YAML gave something JSON cannot hold (a date in a test case): not cached
        item = {"data": round_trip, "path": policy.path, "sha256": policy.sha256, "lines": policy.lines}
        if policy_from_data(round_trip, policy.path, policy.sha256, policy.lines) != policy:
            return  # the cache would not give back exactly this policy (integer keys, ...)
        items.append(item)
    text = json.dumps({"format": FORMAT, "key": pack_key, "policies": items}, separators=(",", ":"))
    try:
        # the one atomic writer, owner-only: a reader never sees half an entry, and the entry passes
        # the same private-file check (owned by this user, writable by no one else) when read back
        write_atomic(directory / f"pack-{pack_key}.json", text, mode=0o600)
        _prune(directory)
    except OSError:
        return


def _prune(directory: Path) -> None:
    entries = sorted(directory.glob("pack-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[MAX_ENTRIES:]:
        try:
            old.unlink()
        except OSError:
            pass
