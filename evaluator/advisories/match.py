"""Which advisories a snapshot's engine components are affected by: the facts CIS 1.2.2 judges.

`inputs(snapshot)` takes the little a snapshot says about its components (versions, the packages
that provide them, the distribution) and `facts(inputs, data, max_age_days)` matches them
against the advisory data. The policy (policies/cis-docker/1.2.2-*.yaml) reads the facts as
`$advisories` and decides pass, fail, manual or error in jq; nothing here decides a verdict.

How a component is judged (docs/advisories.md):
- an **upstream build** (Docker's own packages docker-ce / containerd.io, a static binary that no
  package owns, or, when packages were not recorded, a version string without a distribution's
  marks) by the upstream ranges: each advisory whose range holds its version is `affected`;
- a **distribution build** (Debian's docker.io 20.10.24+dfsg1, Ubuntu's -0ubuntu1~22.04, Fedora's
  moby-engine...) never by upstream ranges alone, since it may carry backported fixes under an old
  number: with that distribution's OSV data (`--advisories`) by its package version and dpkg's
  rules; without it, the upstream matches of the version it was built from are `candidates` for a
  person to check;
- a development build (`1.0.0-rc6+dev`) or a range hullcheck cannot map to releases: candidates.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timezone
from typing import Any

from .names import TITLES
from .ranges import Interval, affected_by
from .versions import DebianVersion, Upstream, VersionError, is_plain_upstream, upstream

# Packages of upstream releases as the projects build them: Docker's own repositories.
UPSTREAM_PACKAGES = frozenset({"docker-ce", "docker-ce-rootless-extras", "containerd.io", "docker-ee", "docker-ee-rootless-extras"})
# Marks of a distribution's build in a version string or a build's GitCommit.
_DISTRO_MARK = re.compile(r"(\+dfsg|[~+]ds\d|ubuntu|\+deb\d|~deb\d|\.el\d|\.fc\d|\.amzn|\.suse|\+b\d)", re.I)
_HEX_COMMIT = re.compile(r"^(v\d[\w.+-]*-g)?[0-9a-f]{7,40}(-dirty)?$")

NOT_COVERED_NOTE = "hullcheck's advisory data covers Docker Engine, containerd and runc"


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def inputs(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The facts of a snapshot the matching needs (small: sent to the jq worker with the job)."""
    meta = snapshot.get("meta") or {}
    source = meta.get("source") or {}
    host: dict[str, Any] = snapshot["host"] if isinstance(snapshot.get("host"), dict) else {}
    engine: dict[str, Any] = snapshot["engine"] if isinstance(snapshot.get("engine"), dict) else {}
    version: dict[str, Any] = engine["version"] if isinstance(engine.get("version"), dict) else {}
    kind = (meta.get("engine") or {}).get("kind") if isinstance(meta.get("engine"), dict) else None
    packages: dict[str, Any] | None = host["packages"] if isinstance(host.get("packages"), dict) else None
    components: list[dict[str, Any]] = []
    not_covered: list[dict[str, Any]] = []
    for index, item in enumerate(version.get("Components") or []):
        if not isinstance(item, dict):
            continue
        name = str(item.get("Name") or "")
        text = item.get("Version")
        details: dict[str, Any] = item["Details"] if isinstance(item.get("Details"), dict) else {}
        pointer = f"/engine/version/Components/{index}"
        lower = name.lower()
        if lower == "engine":
            component = "engine"
        elif lower == "containerd":
            component = "containerd"
        elif lower in ("runc", "oci runtime (runc)"):
            component = "runc"
            if isinstance(text, str) and text.startswith("runc version"):
                text = text.split("\n", 1)[0][len("runc version"):].strip()
        elif lower in ("docker-init", "docker init"):
            continue
        else:
            not_covered.append({"name": name, "version": text if isinstance(text, str) else None, "pointer": pointer})
            continue
        components.append({"component": component, "version": text, "raw_version": item.get("Version"), "reported_name": name,
                           "pointer": pointer,
                           "git_commit": _text(details.get("GitCommit"))})
    if not components and kind != "podman" and version.get("Version") is not None:
        components.append({"component": "engine", "version": version.get("Version"), "raw_version": version.get("Version"),
                           "reported_name": "Version",
                           "pointer": "/engine/version", "git_commit": _text(version.get("GitCommit"))})
    by_component = (packages or {}).get("components") if isinstance((packages or {}).get("components"), dict) else {}
    for item in components:
        recorded = by_component.get(item["component"]) if by_component else None
        item["package"] = recorded.get("package") if isinstance(recorded, dict) else None
        item["path"] = recorded.get("path") if isinstance(recorded, dict) else None
        item["package_recorded"] = isinstance(recorded, dict) and not recorded.get("error")
        item["package_pointer"] = f"/host/packages/components/{item['component']}" if isinstance(recorded, dict) else None
    os_release: dict[str, Any] = host["os_release"] if isinstance(host.get("os_release"), dict) else {}
    return {
        "collected_at": meta.get("finished_at"),
        "kind": kind or ("docker" if components else None),
        "planned": bool(source.get("kind")) and source.get("kind") != "live",
        "os": {k: os_release.get(k) for k in ("ID", "ID_LIKE", "VERSION_ID", "VERSION_CODENAME", "PRETTY_NAME")},
        "packages_recorded": packages is not None and not (packages or {}).get("error"),
        "package_manager": (packages or {}).get("manager"),
        "components": components,
        "not_covered": not_covered,
    }


# ---- distribution data ----------------------------------------------------------------------

def ecosystem_matches(ecosystem: str, os_info: dict[str, Any]) -> bool:
    """An OSV ecosystem ('Debian:12', 'Ubuntu:22.04:LTS', 'Ubuntu:Pro:20.04:LTS') for this host's release."""
    parts = ecosystem.split(":")
    distro = str(os_info.get("ID") or "").lower()
    release = str(os_info.get("VERSION_ID") or "")
    if not parts or parts[0].lower() != distro or not release:
        return False
    return release in parts[1:] or (distro == "debian" and parts[1:2] == [release.split(".")[0]])


def upstream_base(text: str) -> str:
    """The upstream release a distribution version was built from: 20.10.24+dfsg1 -> 20.10.24,
    1.0.0~rc93+ds1-5 -> 1.0.0-rc93, 24.0.7-0ubuntu2~22.04.1 -> 24.0.7, 2:1.1.5-1 -> 1.1.5."""
    text = text.split(":", 1)[1] if re.match(r"^\d+:", text) else text
    match = re.match(r"^v?(\d+(?:\.\d+)*)(?:[~-]((?:rc|beta|alpha)[.\d]*))?", text)
    if match is None:
        raise VersionError(f"no upstream release number in {text!r}")
    return match.group(1) + (f"-{match.group(2)}" if match.group(2) else "")


# ---- matching -----------------------------------------------------------------------------------

def _branch_text(version: Upstream) -> str:
    return f"{version.release[0]}.{version.release[1]}"


def _match(record: dict[str, Any], entry: dict[str, Any], hit: Interval, every: list[Interval], installed: str,
           version: Any, parse: Any) -> dict[str, Any]:
    info = (entry.get("database_specific") or {}).get("hullcheck") or {}
    severity = ((record.get("database_specific") or {}).get("hullcheck") or {}).get("severity") \
        or (record.get("database_specific") or {}).get("severity")
    # Debian's and Ubuntu's OSV records name the CVE they are about in `upstream` (OSV 1.7).
    aliases = [a for a in [*(record.get("aliases") or []), *(record.get("upstream") or [])] if isinstance(a, str)]
    cve = next((a for a in aliases if a.startswith("CVE-")), None)
    later_fixes = []
    for item in every:
        if item.fixed is None:
            continue
        try:
            if version < parse(item.fixed):
                later_fixes.append(item.fixed)
        except VersionError:
            continue
    later_fixes = sorted(set(later_fixes), key=parse)
    fix = hit.fixed
    same_branch = None
    if fix is not None and isinstance(version, Upstream):
        try:
            same_branch = Upstream(fix).branch == version.branch
        except VersionError:
            same_branch = None
    if fix is not None and same_branch is not False:
        fixed_text = f"fixed in {fix}"
    elif fix is not None:
        fixed_text = f"no fixed release on the {_branch_text(version)} branch; first fixed release {fix}"
    else:
        upgrade = [f for f in later_fixes]
        fixed_text = "no fixed release on its branch" + (f"; fixed in {', '.join(upgrade)}" if upgrade else "")
    name = cve or str(record.get("id"))
    ids = sorted({str(record.get("id")), *aliases} - {name})
    return {
        "id": str(record.get("id")), "name": name, "cve": cve, "ids": ", ".join(ids),
        "aliases": aliases, "summary": str(record.get("summary") or ""),
        "severity": str(severity).lower() if severity else None,
        "installed": installed, "range": hit.describe(), "fixed": fix, "fixed_on_branch": bool(fix) and same_branch is not False,
        "fixed_text": fixed_text, "later_fixes": later_fixes,
        "range_source": info.get("range_source"), "bundled": (info.get("bundled") or {}).get("name"),
    }


def _upstream_matches(records: list[dict[str, Any]], component: str, version: Upstream, git_commit: str | None
                      ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(affected, unmappable) for an upstream version."""
    affected: list[dict[str, Any]] = []
    unmapped: list[dict[str, Any]] = []
    for record in records:
        for entry in record.get("affected") or []:
            info = (entry.get("database_specific") or {}).get("hullcheck") or {}
            if info.get("component") != component:
                continue
            hit, every = affected_by(entry.get("ranges") or [], entry.get("versions") or [], version, upstream)
            if hit is None:
                continue
            if git_commit and any(str(b.get("git_commit", "")).startswith(git_commit.lower()) or
                                  git_commit.lower().startswith(str(b.get("git_commit", ""))[:7])
                                  for b in info.get("fixed_builds") or [] if b.get("git_commit")):
                continue  # a build known to carry the fix under an older number
            item = _match(record, entry, hit, every, version.text, version, upstream)
            if info.get("unmapped"):
                item["note"] = info["unmapped"]
                unmapped.append(item)
            else:
                affected.append(item)
            break  # one match per advisory and component
    return _dedupe(affected), _dedupe(unmapped)


def _dedupe(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, out = set(), []
    for item in items:
        if item["id"] not in seen:
            seen.add(item["id"])
            out.append(item)
    return sorted(out, key=lambda m: m["name"])


def _distribution_matches(records: list[dict[str, Any]], os_info: dict[str, Any], package: dict[str, Any]
                          ) -> tuple[bool, list[dict[str, Any]]]:
    """(the data covers this package, the records that affect its version) by dpkg's rules."""
    names = {str(package.get("source") or ""), str(package.get("name") or "")} - {""}
    text = str(package.get("version") or "")
    version = DebianVersion(text)
    covered = False
    out = []
    for record in records:
        for entry in record.get("affected") or []:
            pkg = entry.get("package") or {}
            if pkg.get("name") not in names or not ecosystem_matches(str(pkg.get("ecosystem") or ""), os_info):
                continue
            covered = True
            hit, every = affected_by(entry.get("ranges") or [], entry.get("versions") or [], version, DebianVersion)
            if hit is not None:
                item = _match(record, entry, hit, every, text, version, DebianVersion)
                item["range_source"] = f"{record.get('id')}: {pkg.get('ecosystem')} {pkg.get('name')} {hit.describe()}"
                item["fixed_text"] = f"fixed in {hit.fixed}" if hit.fixed else "no fixed package version"
                out.append(item)
                break
    return covered, _dedupe(out)


def _build(item: dict[str, Any], manager: str | None) -> tuple[str, str]:
    """('upstream' | 'distribution' | 'development', why) for one component."""
    text = str(item.get("version") or "")
    package = item.get("package") if isinstance(item.get("package"), dict) else None
    commit = item.get("git_commit") or ""
    if package:
        described = f"{package.get('name')} {package.get('version')}"
        if package.get("name") in UPSTREAM_PACKAGES:
            return "upstream", f"package {described}: Docker's build of the upstream release"
        origin = {"dpkg": "distribution package", "rpm": "distribution package"}.get(str(package.get("manager") or manager), "package")
        source = f" (source {package.get('source')} {package.get('source_version') or ''})".rstrip() \
            if package.get("source") and package.get("source") != package.get("name") else ""
        return "distribution", f"{origin} {described}{source}"
    marked = _DISTRO_MARK.search(text) or (commit and not _HEX_COMMIT.match(commit) and _DISTRO_MARK.search(commit))
    if item.get("package_recorded"):
        if marked:
            return "distribution", f"{item.get('path') or 'the binary'} belongs to no package, but {text} is a distribution's version"
        return "upstream", f"{item.get('path') or 'the binary'} belongs to no package: an upstream build"
    why = "the packages were not recorded (remote or rootless engine, or an older snapshot)"
    if marked:
        return "distribution", f"{why}; {text} (commit {commit or 'unknown'}) is a distribution's build"
    return "upstream", f"{why}: judged as an upstream build by its version string"


def facts(inputs_: dict[str, Any], data: Any, max_age_days: int, now: datetime | None = None) -> dict[str, Any]:
    """`$advisories` for the policies: the data's date and age, and per component what matched."""
    reference = _parse_time(inputs_.get("collected_at")) or now or datetime.now(timezone.utc)
    data_date = date.fromisoformat(data.date) if data.date else None
    age = (reference.date() - data_date).days if data_date else None
    out_components = []
    os_info = inputs_.get("os") or {}
    for item in inputs_.get("components") or []:
        component = item["component"]
        text = item.get("version")
        entry: dict[str, Any] = {
            "component": component, "title": TITLES.get(component, component), "version": text,
            "raw_version": item.get("raw_version", text), "reported_name": item.get("reported_name") or component,
            "pointer": item.get("pointer"), "path": item.get("path"), "package": item.get("package"),
            "package_pointer": item.get("package_pointer"), "git_commit": item.get("git_commit"),
            "error": None, "build": None, "build_reason": None, "judged_by": None,
            "affected": [], "candidates": [], "distribution_data": None,
        }
        out_components.append(entry)
        if not isinstance(text, str) or not text.strip():
            entry["error"] = f"{entry['title']}: no version recorded ({text!r})"
            continue
        build, why = _build(item, inputs_.get("package_manager"))
        entry["build"], entry["build_reason"] = build, why
        records = data.records_for(component)
        try:
            if build == "upstream":
                version = Upstream(text)
                affected, unmapped = _upstream_matches(records, component, version, item.get("git_commit"))
                if is_plain_upstream(version):
                    entry["judged_by"] = "upstream"
                    entry["affected"], entry["candidates"] = affected, unmapped
                else:  # a development build: its number does not say which fixes it has
                    entry["build"] = "development"
                    entry["build_reason"] = f"{text} is a development build of {'.'.join(map(str, version.release))}"
                    entry["candidates"] = _dedupe(affected + unmapped)
                continue
            package = entry["package"] if isinstance(entry["package"], dict) else None
            if package and data.distribution and str(package.get("manager")) == "dpkg":
                covered, hits = _distribution_matches(data.distribution, os_info, package)
                entry["distribution_data"] = {"covered": covered, "files": data.distribution_files}
                if covered:
                    entry["judged_by"] = "distribution"
                    entry["affected"] = hits
                    continue
            base = Upstream(upstream_base(text))
            affected, unmapped = _upstream_matches(records, component, base, None)
            entry["base"] = base.text
            entry["candidates"] = _dedupe(affected + unmapped)
        except VersionError as exc:
            entry["error"] = f"{entry['title']} version {text!r} cannot be compared: {exc}"
    return {
        "data": {"date": data.date, "age_days": age, "max_age_days": max_age_days,
                 "stale": age is not None and age > max_age_days, "origin": data.origin,
                 "reference": "the snapshot's collection time" if inputs_.get("collected_at") else "the evaluation time",
                 "distribution_files": data.distribution_files},
        "kind": inputs_.get("kind"),
        "planned": inputs_.get("planned"),
        "os": (inputs_.get("os") or {}).get("PRETTY_NAME"),
        "components": out_components,
        "not_covered": [{**n, "reason": f"{NOT_COVERED_NOTE}, not {n['name']}: not judged"} for n in inputs_.get("not_covered") or []],
    }


def _parse_time(text: Any) -> datetime | None:
    """The day of a snapshot's timestamp (2026-11-29T03:45:54.763Z): only the date counts."""
    if not isinstance(text, str):
        return None
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        return None
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
