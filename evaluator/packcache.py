"""A private store of checked policy packs, so that every command does not re-check the pack.

Parsing 120 YAML files, validating each against the policy schema and compiling every jq
fragment costs far more than starting hullcheck. The result of all that is a pure function of
the content it was made from; the loader (evaluator/pack.py) makes the keys from that content and
the values from Policy.to_data(). This module only keeps JSON values under keys: one entry per
pack (`pack-KEY.json`, the newest MAX_ENTRIES kept), and one entry holding parsed policy files by
key (`files.json`, at most MAX_FILES of them).

The cache is a convenience, never a source of truth, and never trusted blindly: its directory
and each file must belong to the user running hullcheck and be writable by nobody else (another
user who could write there could make a broken or hostile pack look checked). Anything unusable
(missing, foreign-owned, group- or world-writable, corrupt, unwritable) reads as absent, and the
pack is checked from scratch, silently.

Where: `$HULLCHECK_CACHE_DIR`, else `$XDG_CACHE_HOME/hullcheck`, else `~/.cache/hullcheck`.
`HULLCHECK_CACHE_DIR=` (empty) turns it off.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from hullcheck_common.atomic import write_atomic

FORMAT = 2  # 2: values are the loader's (Policy.to_data), keys made from content only
MAX_ENTRIES = 32  # packs kept; the oldest are removed (tests and policy authors make many packs)
MAX_FILES = 1_000  # parsed policy files kept (read_files)
PARSED = "files.json"  # the parsed policy files, by key


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


def read(key: str) -> Any:
    """The value kept for a pack under this key, or None (absent, untrusted or unreadable)."""
    entry = _read_entry(f"pack-{key}.json")
    if entry is None or entry.get("key") != key:
        return None
    return entry.get("value")


def write(key: str, value: Any) -> None:
    """Keep a pack's value; give up silently when the cache is unusable."""
    _write_entry(f"pack-{key}.json", {"format": FORMAT, "key": key, "value": value})


def read_files(keys: list[str]) -> dict[str, Any]:
    """The values kept for parsed files under these keys, by key: a pack that differs from a
    cached one by a file or two (a policy being written, a custom pack beside the built-in one)
    parses only those files again."""
    entry = _read_entry(PARSED)
    kept = entry.get("files") if entry is not None else None
    if not isinstance(kept, dict):
        return {}
    return {key: kept[key] for key in keys if key in kept}


def write_files(values: dict[str, Any]) -> None:
    """Keep these parsed files' values beside the ones kept before, the newest first, at most
    MAX_FILES of them."""
    if not values:
        return
    entry = _read_entry(PARSED)
    kept = entry.get("files") if entry is not None else None
    files = dict(values)
    for key, value in (kept.items() if isinstance(kept, dict) else ()):
        if len(files) >= MAX_FILES:
            break
        files.setdefault(key, value)
    _write_entry(PARSED, {"format": FORMAT, "files": files})


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
