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
MAX_FILES = 1_000  # parsed policy files kept (read_files)
PARSED = "files.json"  # the parsed policy files, by key
_CODE = ("policy.py", "jqsafety.py", "program.py", "packcache.py", "scope.py")


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
    """The jq binding's shared object, by path, size and modification time: a rebuilt binding
    (scripts/fast-jq) gets a new key. Found without importing it (or importlib.metadata:
    ~15 ms of every command)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("jq")
        origin = spec.origin if spec is not None else None
        if origin is None:
            return "unknown"
        st = os.stat(origin)
        return f"{origin}\0{st.st_size}\0{st.st_mtime_ns}"
    except (ImportError, ValueError, OSError):  # an unknown build only makes the key more specific
        return "unknown"


def _loader_digest() -> bytes | None:
    """What decides how a file parses besides its bytes: the cache format, the jq build, the
    loader's code, the policy schema and the prelude. None when the loader's files cannot be read."""
    from .program import PRELUDE

    h = hashlib.sha256(f"hullcheck pack cache {FORMAT}\0jq {_jq_build()}\0".encode())
    here = Path(__file__).resolve().parent
    try:
        from hullcheck_common import vocabulary
        from hullcheck_common.resources import policy_schema_path

        # the vocabulary too: its POINTER_SUBJECTS decide the subjects derived for custom policies
        for part in [*(here / name for name in _CODE), Path(vocabulary.__file__),
                     policy_schema_path()]:
            h.update(hashlib.sha256(part.read_bytes()).digest())
    except OSError:
        return None
    h.update(hashlib.sha256(PRELUDE.encode()).digest())
    return h.digest()


def keys(files: list[tuple[Path, bytes]]) -> tuple[str, list[str]] | None:
    """The cache key of a pack (every policy file's path and bytes, the prelude, the loader's
    code), and of each of its files alone (its path and bytes, the same prelude and code)."""
    loader = _loader_digest()
    if loader is None:
        return None
    pack = hashlib.sha256(loader)
    each = []
    for path, raw in files:
        head = f"{path}\0{len(raw)}\0".encode()
        pack.update(head)
        pack.update(raw)
        each.append(hashlib.sha256(loader + head + raw).hexdigest())
    return pack.hexdigest(), each


def read(pack_key: str) -> list[Policy] | None:
    """The cached pack for this key, or None (absent, untrusted or unreadable)."""
    from .policy import policy_from_data

    entry = _read_entry(f"pack-{pack_key}.json")
    if entry is None or entry.get("key") != pack_key:
        return None
    try:
        return [policy_from_data(item["data"], item["path"], item["sha256"], item["lines"]) for item in entry["policies"]]
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def read_files(file_keys: list[str]) -> dict[str, Policy]:
    """The policies parsed before from files with these keys (keys()), by key: a pack that differs
    from a cached one by a file or two (a policy being written, a custom pack beside the built-in
    one) parses only those files again. Never trusted for the pack as a whole: load_pack still
    compiles all of its jq together."""
    from .policy import policy_from_data

    entry = _read_entry(PARSED)
    found: dict[str, Policy] = {}
    if entry is None or not isinstance(entry.get("files"), dict):
        return found
    for file_key in file_keys:
        item = entry["files"].get(file_key)
        if item is None:
            continue
        try:
            found[file_key] = policy_from_data(item["data"], item["path"], item["sha256"], item["lines"])
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
    return found


def _read_entry(name: str) -> dict[str, Any] | None:
    """One cache file as JSON of this FORMAT, if it is this user's own and writable by no one else."""
    directory = _usable_dir(create=False)
    if directory is None:
        return None
    try:
        fd = os.open(directory / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not _private(st):
            return None
        with os.fdopen(fd, "rb") as fh:
            fd = -1
            entry = json.loads(fh.read())
        return entry if isinstance(entry, dict) and entry.get("format") == FORMAT else None
    except (OSError, ValueError):
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
        "assert": policy.assert_, "manual": policy.manual, "message": policy.message, "evidence": list(policy.evidence),
        "tests": list(policy.tests), "subject": policy.subject, "needs": list(policy.needs),
    }
    return data


def _item(policy: Policy) -> dict[str, Any] | None:
    """The policy as a cache item, or None when the cache could not give back exactly this policy."""
    from .policy import policy_from_data

    data = _raw_data(policy)
    try:
        round_trip = json.loads(json.dumps(data))
    except (TypeError, ValueError):
        return None  # YAML gave something JSON cannot hold (a date in a test case): not cached
    if policy_from_data(round_trip, policy.path, policy.sha256, policy.lines) != policy:
        return None  # integer keys, ...
    return {"data": round_trip, "path": policy.path, "sha256": policy.sha256, "lines": policy.lines}


def write(pack_key: str, policies: list[Policy]) -> None:
    """Keep the checked pack; give up silently when the cache is unusable or the pack is not plain JSON."""
    items = [_item(policy) for policy in policies]
    if any(item is None for item in items):
        return
    _write_entry(f"pack-{pack_key}.json", {"format": FORMAT, "key": pack_key, "policies": items})


def write_files(parsed: dict[str, Policy]) -> None:
    """Keep these parsed files (by their keys()) beside the ones kept before, the newest first,
    at most MAX_FILES of them."""
    entry = _read_entry(PARSED)
    kept = entry.get("files") if entry is not None else None
    files: dict[str, Any] = {}
    for file_key, policy in parsed.items():
        item = _item(policy)
        if item is not None:
            files[file_key] = item
    if not files:
        return
    for file_key, item in (kept.items() if isinstance(kept, dict) else ()):
        if len(files) >= MAX_FILES:
            break
        files.setdefault(file_key, item)
    _write_entry(PARSED, {"format": FORMAT, "files": files})


def _write_entry(name: str, entry: dict[str, Any]) -> None:
    directory = _usable_dir(create=True)
    if directory is None:
        return
    try:
        # the one atomic writer, owner-only: a reader never sees half an entry, and the entry passes
        # the same private-file check (owned by this user, writable by no one else) when read back
        write_atomic(directory / name, json.dumps(entry, separators=(",", ":")), mode=0o600)
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
