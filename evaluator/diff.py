"""Drift between two runs: results against results (new, fixed, unchanged findings) and snapshot
against snapshot (containers added and removed, daemon and container settings that changed).

Findings are identified by policy id plus the resource's stable key (container name, compose
project/service, image repository), never by container id, so a redeployed container keeps its
findings `known`. Snapshots are read as JSON files here: this module never imports the collector.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hullcheck_common import userfile
from hullcheck_common.errors import HullcheckError
from hullcheck_common.vocabulary import resource_key

from .snapshot import DEFAULT_MAX_BYTES, SnapshotError, engine_summary, parse, validate

RESULTS_MAJOR = "1"


class ResultsError(HullcheckError):
    """A results file that cannot be used (exit code 2 at the CLI)."""


# ---- reading files ------------------------------------------------------------------------------

def read_json(path: Path | str, data: bytes | None = None) -> dict[str, Any]:
    """Strict JSON object from a file (or its bytes, already read), or a one-line error (SnapshotError's
    checks, shared)."""
    if data is None:
        data = userfile.read_bytes(path, what="a results or snapshot file", max_bytes=DEFAULT_MAX_BYTES,
                                   error=lambda name, problem: ResultsError(f"{name}: {problem}"))
    try:
        return parse(data, str(path))
    except SnapshotError as exc:
        raise ResultsError(str(exc)) from None


def kind_of(document: dict[str, Any]) -> str:
    """'results' (written by evaluate), 'snapshot' (written by collect), or 'unknown'."""
    if "results_version" in document:
        return "results"
    if "schema_version" in document and "meta" in document:
        return "snapshot"
    return "unknown"


def check_results(document: dict[str, Any], name: str) -> dict[str, Any]:
    """Enough structure for every renderer: a version we read and a list of policy results."""
    version = document.get("results_version")
    if not isinstance(version, str):
        raise ResultsError(f"{name}: no results_version: is this a file written by `hullcheck evaluate --format json`?")
    if version.split(".")[0] != RESULTS_MAJOR:
        raise ResultsError(f"{name}: results_version {version} is not one this hullcheck reads ({RESULTS_MAJOR}.x)")
    results = document.get("results")
    if not isinstance(results, list) or not isinstance(document.get("summary"), dict):
        raise ResultsError(f"{name}: 'results' must be a list and 'summary' an object")
    for i, result in enumerate(results):
        if not isinstance(result, dict) or not all(isinstance(result.get(k), str) for k in ("id", "title", "severity", "status")) \
                or not isinstance(result.get("findings", []), list) or not isinstance(result.get("passed", []), list):
            raise ResultsError(f"{name}: results/{i} is not a policy result (id, title, severity, status, findings)")
        for j, finding in enumerate(result.get("findings", [])):
            if not isinstance(finding, dict) or not isinstance(finding.get("resource"), dict) \
                    or not isinstance(finding.get("status"), str) or not isinstance(finding.get("message"), str):
                raise ResultsError(f"{name}: results/{i}/findings/{j} is not a finding (resource, status, message)")
    return document


def load_results(path: Path | str, data: bytes | None = None) -> dict[str, Any]:
    """A stored results document, checked; ResultsError with one line when it is not one.

    `data`: the file's bytes already read (and verified: render --trust), so it is not read twice."""
    if data is None:
        document = read_json(path)
    else:
        try:
            document = parse(data, str(path))
        except SnapshotError as exc:
            raise ResultsError(str(exc)) from None
    if kind_of(document) == "snapshot":
        raise ResultsError(f"{path}: is a snapshot, not results (evaluate it first: hullcheck evaluate {path} --format json)")
    return check_results(document, str(path))


# ---- results against results --------------------------------------------------------------------

def finding_index(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """(policy id, resource key) -> {status, severity, title, message} for every fail, waived or error finding."""
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for result in document.get("results", []):
        for finding in result.get("findings", []):
            ref = finding.get("resource") or {}
            out[(result["id"], resource_key(ref))] = {
                "policy": result["id"], "key": resource_key(ref), "name": ref.get("name"),
                "status": finding.get("status"), "severity": result.get("severity"), "title": result.get("title"),
                "message": finding.get("message"),
            }
    return out


def _failing(entry: dict[str, Any] | None) -> bool:
    return entry is not None and entry["status"] in ("fail", "waived")


def diff_results(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """New, fixed and unchanged failing findings (waived counts as failing: the risk is there).

    A policy one side did not judge (its snapshot did not hold what it judges: scope.py) is left
    out on both sides: not judged is neither fixed nor new."""
    from .scope import not_judged_ids

    unjudged = not_judged_ids(old) | not_judged_ids(new)
    before, after = finding_index(old), finding_index(new)
    new_items, fixed, unchanged = [], [], []
    for key in sorted(k for k in set(before) | set(after) if k[0] not in unjudged):
        b, a = before.get(key), after.get(key)
        if a is not None and _failing(a) and not _failing(b):
            new_items.append({**a, "before": b["status"] if b else None})
        elif b is not None and _failing(b) and not _failing(a):
            fixed.append({**b, "after": a["status"] if a else None})
        elif a is not None and b is not None and _failing(a) and _failing(b):
            unchanged.append({**a, "before": b["status"]})
    old_ids = {r["id"] for r in old.get("results", [])} - unjudged
    new_ids = {r["id"] for r in new.get("results", [])} - unjudged
    return {
        "kind": "results",
        "old": _results_label(old), "new": _results_label(new),
        "new_findings": new_items, "fixed": fixed, "unchanged": unchanged,
        "policies_added": sorted(new_ids - old_ids), "policies_removed": sorted(old_ids - new_ids),
    }


def _results_label(document: dict[str, Any]) -> dict[str, Any]:
    snap = document.get("snapshot") or {}
    return {"host": snap.get("host"), "snapshot": snap.get("sha256"), "collected_at": snap.get("collected_at"),
            "evaluated_at": document.get("evaluated_at")}


def mark_baseline(document: dict[str, Any], baseline: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    """Mark each fail, waived or error finding `new` or `known` against earlier results (in place).

    Also records a top-level `baseline` block: where it came from and the fixed findings.
    """
    before = finding_index(baseline)
    counts = {"new": 0, "known": 0}
    for result in document.get("results", []):
        for finding in result.get("findings", []):
            key = (result["id"], resource_key(finding.get("resource") or {}))
            mark = "known" if key in before else "new"
            finding["baseline"] = mark
            if finding.get("status") == "fail":
                counts[mark] += 1
    drift = diff_results(baseline, document)
    document["baseline"] = {
        "file": source, **{f"baseline_{k}": v for k, v in _results_label(baseline).items()},
        "new_failures": counts["new"], "known_failures": counts["known"],
        "fixed": [{"policy": f["policy"], "key": f["key"], "name": f["name"]} for f in drift["fixed"]],
    }
    return document


# ---- snapshot against snapshot -------------------------------------------------------------------

def check_snapshot(snapshot: dict[str, Any], name: str) -> dict[str, Any]:
    """A parsed snapshot validated against the snapshot schema (ResultsError when it does not match)."""
    if kind_of(snapshot) == "results":
        raise ResultsError(f"{name}: is a results file; diff two results files or two snapshots")
    try:
        validate(snapshot, name)
    except SnapshotError as exc:
        raise ResultsError(str(exc)) from None
    return snapshot


def load_snapshot(path: Path | str) -> dict[str, Any]:
    """A snapshot file, parsed strictly and validated against the snapshot schema."""
    return check_snapshot(read_json(path), str(path))


def _container_view(entry: dict[str, Any]) -> dict[str, Any]:
    """The settings of a container that matter for its security, flattened to comparable values."""
    inspect = entry.get("inspect") or {}
    config = inspect.get("Config") or {}
    host_config = inspect.get("HostConfig") or {}
    view: dict[str, Any] = {
        "Image": config.get("Image"),
        "ImageId": inspect.get("Image"),
        "User": config.get("User"),
        "Running": (inspect.get("State") or {}).get("Running"),
        "Entrypoint": config.get("Entrypoint"),
        "Cmd": config.get("Cmd"),
        "Env (names)": sorted(str(e).split("=", 1)[0] for e in (config.get("Env") or [])),
        "Labels": config.get("Labels") or {},
        "Healthcheck": config.get("Healthcheck"),
        "Mounts": sorted(({"Type": m.get("Type"), "Source": m.get("Source"), "Destination": m.get("Destination"),
                           "RW": m.get("RW"), "Propagation": m.get("Propagation")} for m in inspect.get("Mounts") or []),
                         key=lambda m: json.dumps(m, sort_keys=True)),
        "Networks": sorted(((inspect.get("NetworkSettings") or {}).get("Networks") or {}).keys()),
        "AppArmorProfile": inspect.get("AppArmorProfile"),
    }
    for key, value in host_config.items():
        view[f"HostConfig.{key}"] = value
    return view


def _by_name(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for entry in snapshot.get("containers") or []:
        name = str((entry.get("inspect") or {}).get("Name") or "").lstrip("/")
        out[name] = entry
    return out


def _changes(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"setting": k, "old": old.get(k), "new": new.get(k)}
            for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def _image_names(snapshot: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for image in snapshot.get("images") or []:
        inspect = image.get("inspect") or {}
        tags = inspect.get("RepoTags") or []
        names.update(tags or [str(inspect.get("Id"))])
    return names


def diff_snapshots(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Configuration drift: containers (by name), daemon options, engine version, images, files."""
    old_c, new_c = _by_name(old), _by_name(new)
    changed = []
    for name in sorted(set(old_c) & set(new_c)):
        changes = _changes(_container_view(old_c[name]), _container_view(new_c[name]))
        if changes:
            changed.append({"name": name, "changes": changes})
    old_opts = ((old.get("daemon") or {}).get("options")) or {}
    new_opts = ((new.get("daemon") or {}).get("options")) or {}
    daemon = []
    for key in sorted(set(old_opts) | set(new_opts)):
        o, n = old_opts.get(key) or {}, new_opts.get(key) or {}
        if o.get("value") != n.get("value") or (key in old_opts) != (key in new_opts):
            daemon.append({"option": key, "old": o.get("value"), "new": n.get("value"),
                           "old_source": o.get("source"), "new_source": n.get("source")})
    old_files, new_files = old.get("files") or {}, new.get("files") or {}
    files = []
    for path in sorted(set(old_files) | set(new_files)):
        o, n = old_files.get(path) or {}, new_files.get(path) or {}
        fields = [f for f in ("exists", "type", "uid", "gid", "mode", "target") if o.get(f) != n.get(f)]
        if fields:
            files.append({"path": path, "changes": [{"setting": f, "old": o.get(f), "new": n.get(f)} for f in fields]})
    version = lambda s: (((s.get("engine") or {}).get("version")) or {}).get("Version")  # noqa: E731
    old_images, new_images = _image_names(old), _image_names(new)
    meta = lambda s: {"host": (s.get("meta") or {}).get("hostname"), "collected_at": (s.get("meta") or {}).get("finished_at"),  # noqa: E731
                      "engine": engine_summary(s)}
    old_engine, new_engine = engine_summary(old), engine_summary(new)
    return {
        "kind": "snapshots",
        "old": meta(old), "new": meta(new),
        "containers_added": sorted(set(new_c) - set(old_c)),
        "containers_removed": sorted(set(old_c) - set(new_c)),
        "containers_changed": changed,
        "daemon_options_changed": daemon,
        "engine_version": None if version(old) == version(new) else {"old": version(old), "new": version(new)},
        # Another kind of engine (docker -> podman) or rootless mode switched: every daemon
        # setting means something else, so say it before the setting-by-setting changes.
        "engine_changed": None if (old_engine["kind"], old_engine["rootless"]) == (new_engine["kind"], new_engine["rootless"])
        else {"old": old_engine, "new": new_engine},
        "images_added": sorted(new_images - old_images),
        "images_removed": sorted(old_images - new_images),
        "files_changed": files,
    }


def has_drift(report: dict[str, Any]) -> bool:
    """Snapshots: anything changed. Results: any new failing finding."""
    if report["kind"] == "results":
        return bool(report["new_findings"])
    return any(bool(report.get(k)) for k in ("engine_changed", "containers_added", "containers_removed", "containers_changed",
                                           "daemon_options_changed", "engine_version", "images_added",
                                           "images_removed", "files_changed"))


def diff_files(old: Path | str, new: Path | str) -> dict[str, Any]:
    """`hullcheck diff OLD NEW`: two snapshots or two results files in, the drift report out."""
    before, after = read_json(old), read_json(new)
    kinds = [kind_of(before), kind_of(after)]
    if kinds[0] != kinds[1] or "unknown" in kinds:
        raise ResultsError(f"{old} is {kinds[0]} and {new} is {kinds[1]}: diff two snapshots or two results files")
    if kinds[0] == "results":
        return diff_results(check_results(before, str(old)), check_results(after, str(new)))
    return diff_snapshots(check_snapshot(before, str(old)), check_snapshot(after, str(new)))
