"""The advisory data in use: the bundled file, or a newer one imported into the local store, plus
any distribution data given with --advisories.

hullcheck never fetches: the bundled file (advisories/advisories.json, made by
scripts/build-advisories) ships with it, and `hullcheck advisories import` writes what an
operator carried into a site into the local store ($HULLCHECK_ADVISORIES_DIR, else
$XDG_DATA_HOME/hullcheck/advisories, else ~/.local/share/hullcheck/advisories). Of the two, the
one with the later data date is used. A store another user could have written (not owned by
this user, or group- or world-writable) is ignored with a warning: it could hide advisories.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, Callable

from hullcheck_common import userfile
from hullcheck_common.errors import HullcheckError

from .names import COMPONENTS, FORMAT

STORE_FILE = "advisories.json"
# Distribution data: records of these source packages are kept (Debian, Ubuntu; names as they were and are).
_DISTRO_PACKAGE_WORDS = ("docker", "containerd", "runc", "moby")
MAX_DISTRIBUTION_BYTES = 512 * 1024 * 1024


class AdvisoryDataError(HullcheckError):
    """Advisory data that cannot be used: which file, and why."""


class AdvisoryData:
    """The advisory records in use and where they come from (picklable: sent to the jq worker)."""

    def __init__(self, date: str | None, sources: list[dict[str, Any]], records: list[dict[str, Any]], origin: str,
                 path: str, imported: dict[str, Any] | None = None, distribution: list[dict[str, Any]] | None = None,
                 distribution_files: list[str] | None = None) -> None:
        self.date = date
        self.sources = sources
        self.records = records
        self.origin = origin              # "bundled" or "store"
        self.path = path
        self.imported = imported
        self.distribution: list[dict[str, Any]] = list(distribution or [])
        self.distribution_files: list[str] = list(distribution_files or [])
        self._by_component: dict[str, list[dict[str, Any]]] = {}

    def __repr__(self) -> str:
        return f"AdvisoryData(date={self.date!r}, origin={self.origin!r}, records={len(self.records)})"

    def records_for(self, component: str) -> list[dict[str, Any]]:
        if not self._by_component:
            for name in COMPONENTS:
                self._by_component[name] = [r for r in self.records if any(
                    ((a.get("database_specific") or {}).get("hullcheck") or {}).get("component") == name
                    for a in r.get("affected") or [])]
        return self._by_component.get(component, [])

    def counts(self) -> dict[str, int]:
        return {name: len(self.records_for(name)) for name in COMPONENTS}

    def summary(self) -> dict[str, Any]:
        """What a results document says about the data that judged it."""
        return {"date": self.date, "origin": self.origin, "counts": self.counts(),
                "sources": [{k: s.get(k) for k in ("name", "commit", "date") if s.get(k) is not None} for s in self.sources],
                "distribution_files": list(self.distribution_files),
                **({"imported": self.imported} if self.imported else {})}



def bundled_path() -> Path:
    from hullcheck_common.resources import advisories_dir

    return advisories_dir() / STORE_FILE


def store_dir() -> Path:
    explicit = os.environ.get("HULLCHECK_ADVISORIES_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "hullcheck" / "advisories"


def read_document(path: Path, data: bytes | None = None) -> dict[str, Any]:
    """An advisory data file (format hullcheck-advisories/1), checked enough to be used."""
    raw = data if data is not None else userfile.read_bytes(
        path, what="an advisory data file", max_bytes=MAX_DISTRIBUTION_BYTES,
        error=lambda name, problem: AdvisoryDataError(f"{name}: {problem}"))
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AdvisoryDataError(f"{path}: not JSON advisory data: {exc}") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT or not isinstance(document.get("records"), list):
        raise AdvisoryDataError(f"{path}: not hullcheck advisory data (format {FORMAT})")
    return document


def _private(path: Path) -> str | None:
    """Why a store file must not be trusted, or None."""
    try:
        st = path.stat()
        parent = path.parent.stat()
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    for what, info in (("file", st), ("directory", parent)):
        if info.st_uid != os.getuid():
            return f"its {what} belongs to another user"
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            return f"its {what} is writable by others"
    return None


def load(distribution_files: list[Path] | None = None, warn: Callable[[str], None] | None = None,
         prefer: str | None = None) -> AdvisoryData:
    """The advisory data to judge with: the bundled file or the local store (the later date wins),
    plus the distribution data files named."""
    bundled = bundled_path()
    chosen = _from_document(read_document(bundled), "bundled", bundled)
    stored = store_dir() / STORE_FILE
    if prefer != "bundled" and stored.is_file():
        problem = _private(stored)
        if problem is not None:
            if warn:
                warn(f"hullcheck: advisory store {stored} ignored: {problem}")
        else:
            try:
                local = _from_document(read_document(stored), "store", stored)
            except AdvisoryDataError as exc:
                if warn:
                    warn(f"hullcheck: advisory store ignored: {exc}")
            else:
                if (local.date or "") >= (chosen.date or ""):
                    chosen = local
    for path in distribution_files or []:
        records = read_distribution(path)
        chosen.distribution.extend(records)
        chosen.distribution_files.append(str(path))
    return chosen


def _from_document(document: dict[str, Any], origin: str, path: Path) -> AdvisoryData:
    return AdvisoryData(date=document.get("date"), sources=list(document.get("sources") or []),
                        records=list(document["records"]), origin=origin, path=str(path),
                        imported=document.get("imported"))


# ---- distribution data (--advisories) ---------------------------------------------------------

def _relevant(record: Any) -> bool:
    if not isinstance(record, dict):
        return False
    for entry in record.get("affected") or []:
        pkg = (entry or {}).get("package") or {}
        ecosystem = str(pkg.get("ecosystem") or "")
        name = str(pkg.get("name") or "").lower()
        if ecosystem.split(":")[0] in ("Debian", "Ubuntu") and any(w in name for w in _DISTRO_PACKAGE_WORDS):
            return True
    return False


def _records_in(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and isinstance(value.get("records"), list):
        return value["records"]
    if isinstance(value, dict) and isinstance(value.get("vulns"), list):
        return value["vulns"]
    return [value]


def read_distribution(path: Path) -> list[dict[str, Any]]:
    """The Debian and Ubuntu OSV records about Docker, containerd and runc packages in a file: one
    record, a JSON list, or a zip of OSV files (OSV.dev's per-ecosystem all.zip)."""
    import io
    import zipfile

    data = userfile.read_bytes(path, what="an advisory data file", max_bytes=MAX_DISTRIBUTION_BYTES,
                               shown=f"--advisories {path}", error=lambda name, problem: AdvisoryDataError(f"{name}: {problem}"))
    found: list[Any] = []
    try:
        if zipfile.is_zipfile(io.BytesIO(data)):
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                for name in archive.namelist():
                    if name.endswith(".json"):
                        found.extend(_records_in(json.loads(archive.read(name))))
        else:
            found = _records_in(json.loads(data))
    except (OSError, zipfile.BadZipFile) as exc:
        raise AdvisoryDataError(f"--advisories {path}: cannot read: {exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AdvisoryDataError(f"--advisories {path}: not OSV JSON: {exc}") from None
    records = [r for r in found if _relevant(r)]
    if not records:
        raise AdvisoryDataError(f"--advisories {path}: no Debian or Ubuntu OSV record about a Docker, containerd or runc "
                                f"package among its {len(found)} record(s)")
    return records
