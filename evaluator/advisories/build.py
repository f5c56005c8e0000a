"""From public OSV sources to hullcheck's advisory data: one record per advisory, each affected
entry in the release versions of one component (Docker Engine, containerd, runc).

Used by `scripts/build-advisories` (the bundled file) and by `hullcheck advisories import` (a
bundle carried into a site); both give the same records for the same inputs.

Which source decides what (docs/advisories.md explains why):

- **containerd, runc**: the Go vulnerability database's SEMVER ranges (plain release numbers);
  GitHub's advisory adds its severity, and decides only when the Go database has no record.
- **Docker Engine** (Go modules github.com/docker/docker and github.com/moby/moby, which carry
  the engine's own version numbers as `v27.1.1+incompatible` up to v28.5.2), in this order:
  1. GitHub's advisory, when it gives ECOSYSTEM ranges: it is the moby maintainers' own
     repository advisory and names the releases that exist, per branch (CVE-2024-41110: fixed in
     23.0.15, 25.0.6, 26.1.5, 27.1.1, and no fix in 19.03, 20.10, 24.0 or 26.0);
  2. the Go report's `custom_ranges` of engine versions (GO-2024-2521: only 19.03.0);
  3. the Go SEMVER ranges, `+incompatible` dropped; an interval the Go data leaves open stops at
     29.0.0 (`limit`): the module ends at v28.5.2, so it says nothing about later engines;
  4. for engines from 29.0 on (module github.com/moby/moby/v2, v2.0.0-beta.N): the engine
     release tagged on the same commit, from moby's own tags (advisories/moby-releases.json).
     A beta the table does not know leaves the range unmapped: such engines get the advisory as
     a candidate for a person to check, never a guess.
- **BuildKit** bundled in the engine: the Go ranges of github.com/moby/buildkit applied to the
  BuildKit version each engine release vendors (moby's vendor.mod at each tag), as engine ranges.
- **The hand-kept supplement** (advisories/supplement.json) decides for what it states
  (CVE-2019-5736, which no machine-readable source ranges).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Iterable

from .names import COMPONENTS, FORMAT, TITLES
from .versions import Upstream, VersionError

__all__ = ["COMPONENTS", "FORMAT", "TITLES", "BuildError", "Tables", "build", "document", "dumps"]


ENGINE_MODULES = ("github.com/docker/docker", "github.com/moby/moby")
ENGINE_V2 = "github.com/moby/moby/v2"
MODULES = {
    "github.com/docker/docker": "engine", "github.com/moby/moby": "engine", ENGINE_V2: "engine",
    "github.com/containerd/containerd": "containerd", "github.com/containerd/containerd/v2": "containerd",
    "github.com/opencontainers/runc": "runc", "github.com/moby/buildkit": "buildkit",
}
# The first engine release not published as github.com/docker/docker (docker-v29.0.0: moby/moby/v2).
ENGINE_MODULE_END = "29.0.0"
# v1 modules a /v2 module followed: their ranges end where the /v2 module's versions begin.
SUCCEEDED = {"github.com/containerd/containerd": "2.0.0-0"}


class BuildError(ValueError):
    """Input that cannot become advisory data (a malformed record, an unreadable version)."""


def clean(version: str) -> str:
    """A Go module version as the release it names: v27.1.1+incompatible -> 27.1.1."""
    text = version[1:] if version.startswith("v") else version
    return text[: -len("+incompatible")] if text.endswith("+incompatible") else text


@dataclass
class Tables:
    """What moby's own tags say (advisories/moby-releases.json, made by scripts/build-advisories)."""

    v2_to_engine: dict[str, str] = field(default_factory=dict)   # "2.0.0-beta.8" -> "29.3.1"
    buildkit_by_engine: dict[str, str] = field(default_factory=dict)  # "25.0.2" -> "0.12.5"
    source: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Tables:
        return cls(dict(data.get("v2_to_engine") or {}), dict(data.get("buildkit_by_engine") or {}),
                   dict(data.get("source") or {}))


def _events_clean(events: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{k: (v if v == "0" or k == "limit" else clean(str(v)))} for e in events for k, v in e.items()
            if k in ("introduced", "fixed", "last_affected", "limit")]


def _ranges(entry: dict[str, Any], kinds: tuple[str, ...] = ("SEMVER", "ECOSYSTEM")) -> list[list[dict[str, str]]]:
    return [_events_clean(r.get("events") or []) for r in entry.get("ranges") or [] if r.get("type") in kinds]


def _affected(component: str, events: list[dict[str, str]], source: str, **more: Any) -> dict[str, Any]:
    name = {"engine": "github.com/docker/docker", "containerd": "github.com/containerd/containerd",
            "runc": "github.com/opencontainers/runc"}[component]
    return {"package": {"ecosystem": "Go", "name": name},
            "ranges": [{"type": "ECOSYSTEM", "events": events}],
            "database_specific": {"hullcheck": {"component": component, "range_source": source, **more}}}


def _check_events(events: list[dict[str, str]], where: str) -> None:
    for event in events:
        for value in event.values():
            if value in ("0", "*"):
                continue
            try:
                Upstream(value)
            except VersionError as exc:
                raise BuildError(f"{where}: {exc}") from None


def _primary_alias(record: dict[str, Any]) -> str:
    aliases = [a for a in record.get("aliases") or [] if isinstance(a, str)]
    for prefix in ("CVE-", "GHSA-"):
        for alias in aliases:
            if alias.startswith(prefix):
                return alias
    return str(record.get("id"))


def _severity(record: dict[str, Any]) -> str | None:
    db = record.get("database_specific") or {}
    value = db.get("severity") or (db.get("hullcheck") or {}).get("severity")
    return str(value).upper() if isinstance(value, str) and value else None


def _summary(record: dict[str, Any]) -> str:
    text = str(record.get("summary") or record.get("details") or "").strip()
    text = re.sub(r" in github\.com/\S+$", "", text)  # the Go database names the module last
    return text.splitlines()[0][:300] if text else ""


def _engine_v2(events: list[dict[str, str]], tables: Tables) -> tuple[list[dict[str, str]], str | None]:
    """moby/moby/v2 events (v2.0.0-beta.N) as engine events, or why they cannot be mapped."""
    out: list[dict[str, str]] = []
    for event in events:
        for kind, value in event.items():
            if value == "0":
                out.append({kind: "29.0.0-0"} if kind == "introduced" else {kind: value})
                continue
            engine = tables.v2_to_engine.get(value)
            if engine is None:
                return [], (f"github.com/moby/moby/v2 {value} has no Docker Engine release in this hullcheck's table "
                            "of moby tags (advisories/moby-releases.json)")
            out.append({kind: engine})
    return out, None


def _engine_limit(events: list[dict[str, str]]) -> list[dict[str, str]]:
    """Cap an interval left open at the end of the docker/docker module line."""
    return _limit(events, ENGINE_MODULE_END)


def _buildkit_engine(events: list[dict[str, str]], tables: Tables) -> list[dict[str, str]]:
    """Engine events for a BuildKit range: per engine branch, from the first release that vendors an
    affected BuildKit to the first later release of that branch that does not."""
    from .ranges import contains, intervals

    spans = intervals(events, Upstream)
    by_branch: dict[tuple[int, int], list[tuple[Upstream, bool]]] = {}
    for engine, buildkit in tables.buildkit_by_engine.items():
        try:
            version, vendored = Upstream(engine), Upstream(clean(buildkit))
        except VersionError:
            continue
        hit = any(contains(span, vendored, Upstream) for span in spans)
        by_branch.setdefault(version.branch, []).append((version, hit))
    out: list[dict[str, str]] = []
    for branch in sorted(by_branch):
        releases = sorted(by_branch[branch], key=lambda vh: vh[0])
        opened: Upstream | None = None
        last_hit: Upstream | None = None
        for version, hit in releases:
            if hit and opened is None:
                opened = version
            elif not hit and opened is not None:
                out += [{"introduced": opened.text}, {"fixed": version.text}]
                opened = None
            if hit:
                last_hit = version
        if opened is not None and last_hit is not None:
            out += [{"introduced": opened.text}, {"last_affected": last_hit.text}]
    return out


def _go_component(record: dict[str, Any], tables: Tables, source: str) -> dict[str, list[dict[str, Any]]]:
    """Affected entries by component from one Go database record."""
    by: dict[str, list[dict[str, Any]]] = {}
    engine_events: list[list[dict[str, str]]] = []
    engine_custom: list[list[dict[str, str]]] = []
    v2_events: list[list[dict[str, str]]] = []
    rid = str(record.get("id"))
    for entry in record.get("affected") or []:
        name = ((entry.get("package") or {}).get("name")) or ""
        component = MODULES.get(name)
        if component is None:
            continue
        if name in ENGINE_MODULES:
            engine_events += [e for e in _ranges(entry, ("SEMVER",)) if e not in engine_events]
            custom = ((entry.get("ecosystem_specific") or {}).get("custom_ranges")) or []
            engine_custom += [e for e in (_events_clean(r.get("events") or []) for r in custom
                                          if r.get("type") == "ECOSYSTEM") if e not in engine_custom]
        elif name == ENGINE_V2:
            v2_events += _ranges(entry, ("SEMVER",))
        elif component == "buildkit":
            for events in _ranges(entry, ("SEMVER",)):
                _check_events(events, f"{rid} {name}")
                mapped = _buildkit_engine(events, tables)
                if mapped:
                    by.setdefault("engine", []).append(_affected(
                        "engine", mapped, f"{rid}: github.com/moby/buildkit {_describe(events)}, applied to the BuildKit "
                        "each engine release vendors (moby vendor.mod)", bundled={"name": "buildkit", "events": events}))
        else:
            for events in _ranges(entry, ("SEMVER",)):
                _check_events(events, f"{rid} {name}")
                by.setdefault(component, []).append(_affected(component, _module_line(name, events),
                                                              f"{rid}: {name} {_describe(events)}"))
    if engine_custom:
        for events in engine_custom:
            _check_events(events, f"{rid} custom_ranges")
            by.setdefault("engine", []).append(_affected("engine", events, f"{rid}: engine versions (custom_ranges)"))
    elif engine_events:
        for events in engine_events:
            _check_events(events, f"{rid} github.com/docker/docker")
            by.setdefault("engine", []).append(_affected(
                "engine", _engine_limit(events), f"{rid}: github.com/docker/docker {_describe(events)} (engines before 29.0)"))
    for events in v2_events:
        _check_events(events, f"{rid} {ENGINE_V2}")
        mapped, why = _engine_v2(events, tables)
        if why is not None:
            by.setdefault("engine", []).append(_affected(
                "engine", [{"introduced": "29.0.0-0"}], f"{rid}: {ENGINE_V2} {_describe(events)}", unmapped=why))
        elif mapped:
            by.setdefault("engine", []).append(_affected(
                "engine", mapped, f"{rid}: {ENGINE_V2} {_describe(events)}, as engine releases (moby tags)"))
    return by


def _module_line(name: str, events: list[dict[str, str]]) -> list[dict[str, str]]:
    """A Go module's range as release numbers of its own major line: a /vN module's versions start
    at N.0.0 (`introduced: 0` of containerd/v2 does not reach containerd 1.7), and a v1 module that
    a /v2 module followed ends before 2.0.0 (an interval it leaves open says nothing about 2.x)."""
    match = re.search(r"/v(\d+)$", name)
    if match:
        start = f"{match.group(1)}.0.0-0"
        return [{"introduced": start} if e == {"introduced": "0"} else e for e in events]
    if name in SUCCEEDED:
        return _limit(events, SUCCEEDED[name])
    return events


def _limit(events: list[dict[str, str]], end: str) -> list[dict[str, str]]:
    depth = 0
    for event in events:
        kind = next(iter(event))
        depth = 1 if kind == "introduced" else 0 if kind in ("fixed", "last_affected") else depth
    return events + [{"limit": end}] if depth else events


def _describe(events: list[dict[str, str]]) -> str:
    return " ".join(f"{k} {v}" for e in events for k, v in e.items())


def _ghsa_component(record: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    by: dict[str, list[dict[str, Any]]] = {}
    rid = str(record.get("id"))
    for entry in record.get("affected") or []:
        name = ((entry.get("package") or {}).get("name")) or ""
        component = MODULES.get(name)
        if component is None or component == "buildkit":
            continue
        for events in _ranges(entry, ("ECOSYSTEM", "SEMVER")):
            if component == "engine" and any(v.startswith("2.0.0-") for e in events for v in e.values()):
                continue  # a moby/moby/v2 module range: not engine numbers
            _check_events(events, f"{rid} {name}")
            by.setdefault(component, []).append(_affected(component, events, f"{rid}: {name} {_describe(events)}"))
    return by


def _supplement_component(record: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    by: dict[str, list[dict[str, Any]]] = {}
    for entry in record.get("affected") or []:
        info = ((entry.get("database_specific") or {}).get("hullcheck")) or {}
        component = info.get("component")
        if component not in COMPONENTS:
            raise BuildError(f"{record.get('id')}: affected entry without a hullcheck component")
        for events in _ranges(entry, ("ECOSYSTEM", "SEMVER")):
            _check_events(events, str(record.get("id")))
        by.setdefault(component, []).append({**entry, "database_specific": {"hullcheck": {
            **info, "range_source": f"{record.get('id')} (hand-kept supplement): {info.get('range_source', '')}".rstrip(": ")}}})
    return by


def build(go: Iterable[dict[str, Any]], ghsa: Iterable[dict[str, Any]], supplement: Iterable[dict[str, Any]],
          tables: Tables) -> list[dict[str, Any]]:
    """The advisory records: one per advisory (Go record, else GitHub's, else the supplement's)."""
    groups: dict[str, dict[str, Any]] = {}
    order: list[str] = []

    def group_of(record: dict[str, Any]) -> dict[str, Any]:
        names = {str(record.get("id")), *(str(a) for a in record.get("aliases") or [])}
        for key in order:
            if names & groups[key]["names"]:
                groups[key]["names"] |= names
                return groups[key]
        key = _primary_alias(record)
        groups[key] = {"names": names, "go": [], "ghsa": [], "supplement": []}
        order.append(key)
        return groups[key]

    for record in go:
        if record.get("withdrawn") or str(record.get("summary", "")).startswith("WITHDRAWN"):
            continue
        if any(MODULES.get(((a.get("package") or {}).get("name")) or "") for a in record.get("affected") or []):
            group_of(record)["go"].append(record)
    for record in ghsa:
        if record.get("withdrawn"):
            continue
        group_of(record)["ghsa"].append(record)
    for record in supplement:
        group_of(record)["supplement"].append(record)

    out = []
    for key in order:
        group = groups[key]
        by: dict[str, list[dict[str, Any]]] = {}
        for record in group["go"]:
            for component, entries in _go_component(record, tables, "go").items():
                by.setdefault(component, []).extend(entries)
        for record in group["ghsa"]:
            for component, entries in _ghsa_component(record).items():
                if component == "engine" or component not in by:
                    # GitHub's engine ranges replace the Go data's module ranges, but not the
                    # BuildKit-derived or moby/moby/v2-derived ones (engines from 29.0 on).
                    kept = [e for e in by.get(component, []) if component == "engine" and _keeps(e)]
                    by[component] = kept + entries
        for record in group["supplement"]:
            for component, entries in _supplement_component(record).items():
                by[component] = entries
        if not by:
            continue
        primary = (group["go"] or group["ghsa"] or group["supplement"])[0]
        aliases = sorted(group["names"] - {str(primary.get("id"))})
        severity_record = next((r for r in [*group["supplement"], *group["ghsa"]] if _severity(r)), None)
        vectors = next((r.get("severity") for r in [*group["supplement"], *group["ghsa"]] if r.get("severity")), None)
        summary = next((_summary(r) for r in [*group["go"], *group["ghsa"], *group["supplement"]] if _summary(r)), "")
        record_out: dict[str, Any] = {
            "schema_version": "1.6.0",
            "id": str(primary.get("id")),
            "modified": str(primary.get("modified") or ""),
            "aliases": aliases,
            "summary": summary,
            "affected": [entry for component in COMPONENTS for entry in by.get(component, [])],
            "database_specific": {"hullcheck": {
                "severity": _severity(severity_record) if severity_record else None,
                "sources": sorted({str(r.get("id")) for r in [*group["go"], *group["ghsa"], *group["supplement"]]}),
            }},
        }
        if vectors:
            record_out["severity"] = vectors
        refs = [ref for r in [*group["go"], *group["ghsa"], *group["supplement"]] for ref in (r.get("references") or [])
                if isinstance(ref, dict) and ref.get("type") in ("ADVISORY", "WEB", "FIX")][:6]
        if refs:
            record_out["references"] = refs
        out.append(record_out)
    return sorted(out, key=lambda r: r["id"])


def _keeps(entry: dict[str, Any]) -> bool:
    info = (entry.get("database_specific") or {}).get("hullcheck") or {}
    return bool(info.get("bundled") or info.get("unmapped") or ENGINE_V2 in str(info.get("range_source", "")))


def document(records: list[dict[str, Any]], sources: list[dict[str, Any]], date: str) -> dict[str, Any]:
    """The advisory data file: its format, date, sources and records."""
    counts = {c: sum(1 for r in records if any(_component(a) == c for a in r["affected"])) for c in COMPONENTS}
    return {"format": FORMAT, "date": date, "sources": sources, "counts": counts, "records": records}


def _component(entry: dict[str, Any]) -> str | None:
    return ((entry.get("database_specific") or {}).get("hullcheck") or {}).get("component")


def dumps(doc: dict[str, Any]) -> str:
    """One record a line: diffs of a refresh show which advisories changed."""
    head = {k: v for k, v in doc.items() if k != "records"}
    lines = [json.dumps(head, sort_keys=True)[:-1] + ', "records": [']
    records = doc["records"]
    for index, record in enumerate(records):
        lines.append(json.dumps(record, sort_keys=True) + ("," if index < len(records) - 1 else ""))
    lines.append("]}")
    return "\n".join(lines) + "\n"
