"""`hullcheck advisories import`: an OSV bundle carried into a site becomes the local store.

A bundle is the Go vulnerability database's zip (vulndb.zip: ID/GO-*.json), an OSV.dev
per-ecosystem zip (all.zip: GO-*.json and GHSA-*.json), a directory of OSV files (a clone's
data/osv, an advisory-database subtree), or a hullcheck advisory data file built elsewhere with
scripts/build-advisories. The same build as the bundled data's is applied (evaluator/advisories/
build.py), with the bundled moby tag table, GitHub records and hand-kept supplement, so an
imported store judges exactly as the bundled data would with those sources.

With --trust, the bundle must be one file with BUNDLE.sig beside it, an SSH signature in the
namespace `hullcheck-advisories` by a key the allowed-signers file trusts for that namespace (any
principal): `ssh-keygen -Y sign -n hullcheck-advisories -f KEY vulndb.zip` makes one. The bytes
verified are the bytes imported.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from hullcheck_common import userfile

from .build import FORMAT, BuildError, Tables, build, document, dumps
from .store import STORE_FILE, AdvisoryDataError, store_dir

if TYPE_CHECKING:
    from hullcheck_common.sshsig import AllowedSigners

NAMESPACE = "hullcheck-advisories"
MAX_BUNDLE_BYTES = 1024 * 1024 * 1024
MAX_MEMBER_BYTES = 16 * 1024 * 1024


def _bundled(name: str) -> Path:
    from hullcheck_common.resources import advisories_dir

    return advisories_dir() / name


def _json_members(data: bytes, origin: str) -> Iterator[tuple[str, Any]]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise AdvisoryDataError(f"{origin}: not a zip file: {exc}") from None
    with archive:
        for info in archive.infolist():
            if info.is_dir() or not info.filename.endswith(".json") or info.file_size > MAX_MEMBER_BYTES:
                continue
            try:
                yield info.filename, json.loads(archive.read(info))
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # an index or a stray file: not a record


def _directory_members(path: Path) -> Iterator[tuple[str, Any]]:
    for file in sorted(path.rglob("*.json")):
        try:
            yield str(file.relative_to(path)), json.loads(userfile.read_bytes(file, max_bytes=MAX_MEMBER_BYTES))
        except (json.JSONDecodeError, UnicodeDecodeError, userfile.UserFileError):
            continue  # not a record file (a FIFO, a directory named *.json, a file over the limit): skipped, as before


def read_bundle(path: Path, trust: AllowedSigners | None = None) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    """The JSON members of a bundle and what it was (file or directory, sha256, who signed it)."""
    about: dict[str, Any] = {"from": str(path)}
    if path.is_dir():
        if trust is not None:
            raise AdvisoryDataError(f"{path}: --trust verifies one signed file (BUNDLE and BUNDLE.sig): zip the "
                                    "directory, sign the zip, import the zip")
        return list(_directory_members(path)), about
    data = userfile.read_bytes(path, what="an advisory bundle", max_bytes=MAX_BUNDLE_BYTES,
                               error=lambda name, problem: AdvisoryDataError(f"{name}: {problem}"))
    about["sha256"] = hashlib.sha256(data).hexdigest()
    if trust is not None:
        from hullcheck_common.signed_files import check_bytes, check_trust

        trusted = check_trust(path, check_bytes(path, data, NAMESPACE, "advisory bundle"), trust, NAMESPACE, None)
        about["signed_by"] = {"principal": trusted.principal, "fingerprint": trusted.key.fingerprint,
                              "key_type": trusted.key.label}
    if zipfile.is_zipfile(io.BytesIO(data)):
        return list(_json_members(data, str(path))), about
    try:
        return [(path.name, json.loads(data))], about
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AdvisoryDataError(f"{path}: neither a zip nor JSON: {exc}") from None


def _records(members: list[tuple[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any] | None]:
    """(Go records, GitHub records, a hullcheck data file if the bundle is one)."""
    go: list[dict[str, Any]] = []
    ghsa: list[dict[str, Any]] = []
    for _name, value in members:
        if isinstance(value, dict) and value.get("format") == FORMAT:
            return [], [], value
        for record in value if isinstance(value, list) else [value]:
            if not isinstance(record, dict) or not isinstance(record.get("id"), str):
                continue
            if record["id"].startswith("GO-"):
                go.append(record)
            elif record["id"].startswith("GHSA-"):
                ghsa.append(record)
    return go, ghsa, None


def _date(records: list[dict[str, Any]], path: Path) -> str:
    """The newest `modified` of the records (the Go database's zip has them), else the bundle's mtime."""
    dates = [str(r.get("modified"))[:10] for r in records if isinstance(r.get("modified"), str)
             and str(r.get("modified"))[:4].isdigit() and not str(r.get("modified")).startswith("0001")]
    if dates:
        return max(dates)
    return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc).date().isoformat()


def import_bundle(path: Path, trust: AllowedSigners | None = None, date: str | None = None) -> dict[str, Any]:
    """Build the advisory data from a bundle and write it to the local store; returns its document."""
    from hullcheck_common.atomic import write_atomic

    if not path.exists():
        raise AdvisoryDataError(f"{path}: no such file or directory")
    members, about = read_bundle(path, trust)
    go, ghsa, ready = _records(members)
    if ready is not None:
        doc = ready
        if not isinstance(doc.get("records"), list):
            raise AdvisoryDataError(f"{path}: hullcheck advisory data without records")
    else:
        bundled_ghsa = {}
        for file in sorted(_bundled("sources").rglob("GHSA-*.json")):
            record = json.loads(file.read_text())
            bundled_ghsa[record["id"]] = record
        for record in ghsa:
            bundled_ghsa[record["id"]] = record  # the bundle's own GitHub records win
        tables = Tables.from_json(json.loads(_bundled("moby-releases.json").read_text()))
        supplement = json.loads(_bundled("supplement.json").read_text())["records"]
        try:
            records = build(go, list(bundled_ghsa.values()), supplement, tables)
        except BuildError as exc:
            raise AdvisoryDataError(f"{path}: {exc}") from None
        if not go and not ghsa:
            raise AdvisoryDataError(f"{path}: no Go (GO-*) or GitHub (GHSA-*) OSV record in this bundle")
        when = date or _date(go + ghsa, path)
        sources = [{"name": "imported bundle", "path": str(path), "date": when, "go_records": len(go),
                    "ghsa_records": len(ghsa), **({"sha256": about["sha256"]} if "sha256" in about else {})},
                   {"name": "moby/moby tags", **tables.source, "path": "advisories/moby-releases.json (bundled)"},
                   {"name": "hullcheck supplement", "path": "advisories/supplement.json (bundled)",
                    "records": [r["id"] for r in supplement]}]
        doc = document(records, sources, when)
        if not any(doc["counts"].values()):
            raise AdvisoryDataError(f"{path}: no advisory about Docker Engine, containerd or runc in this bundle")
    doc["imported"] = {**about, "at": datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")}
    directory = store_dir()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    target = directory / STORE_FILE
    write_atomic(target, dumps(doc), mode=0o600)
    return doc
