"""SARIF 2.1.0 for code-scanning dashboards (GitHub, GitLab, Azure DevOps, DefectDojo).

- One rule per policy (ruleId = policy id), with `help.markdown` (rationale and remediation),
  `properties.security-severity` (critical 9.5, high 8.0, medium 5.5, low 3.0, info 0.0) and
  tags that carry the CIS numbers (`cis-docker-1.6.0:5.10`).
- One result per failing or waived resource. `partialFingerprints` hash the policy id with the
  resource's stable key (container name, compose project/service, image repository), never a
  container id, so an alert survives a redeploy and a dismissed one stays dismissed.
- Waived results carry `suppressions` [{kind: external, status: accepted, justification}].
- Resources that could not be judged are tool execution notifications, not results: an error
  is hullcheck's problem, not a finding in the host.
- There is no source file behind a host, so the physical location is a stable pseudo-path
  (`docker-host/<host>/<type>/<name>`); the real places are the `logicalLocations`. A resource
  planned from Compose files has real lines: its findings point at them (repository-relative
  `uri` under `%SRCROOT%`, `region.startLine`), so code scanning annotates the pull request.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

from .common import (
    SECURITY_SEVERITY,
    engine_of,
    fingerprint,
    host_of,
    not_judged_count,
    resource_key,
    signed_by,
    waiver_text,
)

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_NAME = "hullcheckResource/v1"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}


def _path_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._:@-]+", "_", text) or "_"


def _rule(result: dict[str, Any]) -> dict[str, Any]:
    controls = result.get("controls") or {}
    cis = [f"{framework}:{number}" for framework, number in sorted(controls.items())]
    numbers = ", ".join(f"{number} ({framework})" for framework, number in sorted(controls.items()))
    references = result.get("references") or []
    markdown = [f"**{result.get('title', result['id'])}**", ""]
    if numbers:
        markdown += [f"CIS Docker Benchmark: {numbers}", ""]
    markdown += ["**Why it matters**", "", str(result.get("description") or ""), "",
                 "**Remediation**", "", str(result.get("remediation") or "")]
    if result.get("audit"):
        markdown += ["", "**Audit**", "", str(result["audit"])]
    if references:
        markdown += ["", "**References**", ""] + [f"- {ref}" for ref in references]
    text = (f"{result.get('description') or ''}\n\nRemediation: {result.get('remediation') or ''}").strip()
    severity = str(result.get("severity") or "info")
    rule: dict[str, Any] = {
        "id": result["id"],
        "name": "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", result["id"]) if part),
        "shortDescription": {"text": str(result.get("title") or result["id"])},
        "fullDescription": {"text": str(result.get("description") or result.get("title") or result["id"])},
        "help": {"text": text, "markdown": "\n".join(markdown)},
        "defaultConfiguration": {"level": LEVELS.get(severity, "note"), "enabled": True},
        "properties": {
            "security-severity": SECURITY_SEVERITY.get(severity, "0.0"),
            "severity": severity,
            "precision": "very-high",
            "problem.severity": {"critical": "error", "high": "error", "medium": "warning"}.get(severity, "recommendation"),
            "tags": ["security", "docker", *cis, *[str(t) for t in result.get("tags") or []]],
            "automated": bool(result.get("automated", True)),
            "level": result.get("level"),
        },
    }
    if references and str(references[0]).startswith(("http://", "https://")):
        rule["helpUri"] = references[0]
    return rule


def _locations(host: str, ref: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    kind = str(ref.get("type") or "resource")
    name = str(ref.get("name") or "")
    logical = [{"name": host, "fullyQualifiedName": host, "kind": "host"}]
    if kind != "host":
        logical.append({"name": name, "fullyQualifiedName": f"{host}/{kind}/{name}", "kind": kind})
    image = ref.get("image")
    if image:
        logical.append({"name": str(image), "fullyQualifiedName": f"{host}/image/{image}", "kind": "image"})
    uri = f"docker-host/{_path_part(host)}/{_path_part(kind)}/{_path_part(name or resource_key(ref))}"
    physical = [{"physicalLocation": {"artifactLocation": {"uri": uri}, "region": {"startLine": 1}},
                 "logicalLocations": logical}]
    return physical, logical


SOURCE_ROOT = "%SRCROOT%"


def _source_locations(finding: dict[str, Any], logical: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The lines of the Compose files that set the offending values (planned snapshots only):
    repository-relative uris under %SRCROOT% (the checkout GitHub code scanning resolves them
    against), so the alert lands on the diff; an absolute path becomes a file:// uri."""
    out = []
    for loc in finding.get("locations") or []:
        path = str(loc.get("file") or "")
        artifact: dict[str, Any] = ({"uri": "file://" + quote(path)} if path.startswith("/")
                                    else {"uri": quote(path), "uriBaseId": SOURCE_ROOT})
        out.append({"physicalLocation": {"artifactLocation": artifact,
                                         "region": {"startLine": int(loc.get("line") or 1),
                                                    "startColumn": int(loc.get("column") or 1)}},
                    "logicalLocations": logical})
    return out


def _result(result: dict[str, Any], rule_index: int, finding: dict[str, Any], host: str) -> dict[str, Any]:
    ref = finding.get("resource") or {}
    severity = str(result.get("severity") or "info")
    locations, logical = _locations(host, ref)
    locations = _source_locations(finding, logical) or locations
    out: dict[str, Any] = {
        "ruleId": result["id"],
        "ruleIndex": rule_index,
        "kind": "fail",
        "level": LEVELS.get(severity, "note"),
        "message": {"text": str(finding.get("message") or result.get("title") or result["id"])},
        "locations": locations,
        "partialFingerprints": {FINGERPRINT_NAME: fingerprint(result["id"], ref)},
        "properties": {
            "resource": {"type": ref.get("type"), "name": ref.get("name"), "key": resource_key(ref)},
            "security-severity": SECURITY_SEVERITY.get(severity, "0.0"),
            "evidence": finding.get("evidence") or [],
        },
    }
    if finding.get("baseline"):
        out["baselineState"] = "new" if finding["baseline"] == "new" else "unchanged"
    if finding.get("status") == "waived":
        waiver = finding.get("waiver") or {}
        out["suppressions"] = [{
            "kind": "external", "status": "accepted", "justification": waiver_text(waiver),
            "properties": {k: waiver[k] for k in ("id", "owner", "ticket", "expires", "reason") if k in waiver},
        }]
    if finding.get("expired_waiver"):
        out["properties"]["expiredWaiver"] = finding["expired_waiver"]
    return out


def _all_findings(document: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    return [(r, f) for r in document.get("results", []) for f in r.get("findings", [])]


def render(document: dict[str, Any], **_: Any) -> str:
    """The results document as one SARIF 2.1.0 log with one run."""
    host = host_of(document)
    tool = document.get("tool") or {}
    results_list = document.get("results", [])
    rules = [_rule(r) for r in results_list]
    results: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    for index, result in enumerate(results_list):
        if result.get("status") == "error" and not result.get("findings"):
            notifications.append({
                "level": "error", "message": {"text": f"{result['id']} could not be judged: {result.get('reason')}"},
                "associatedRule": {"id": result["id"], "index": index},
            })
        for finding in result.get("findings", []):
            status = finding.get("status")
            if status in ("fail", "waived"):
                results.append(_result(result, index, finding, host))
            elif status == "error":
                locations, logical = _locations(host, finding.get("resource") or {})
                locations = _source_locations(finding, logical) or locations
                notifications.append({
                    "level": "error", "locations": locations,
                    "message": {"text": f"{result['id']} could not judge {(finding.get('resource') or {}).get('name')}: "
                                        f"{finding.get('message')}"},
                    "associatedRule": {"id": result["id"], "index": index},
                })
    invocation: dict[str, Any] = {"executionSuccessful": True, "toolExecutionNotifications": notifications}
    if document.get("evaluated_at"):
        invocation["endTimeUtc"] = document["evaluated_at"]
    snapshot = document.get("snapshot") or {}
    run: dict[str, Any] = {
        "tool": {"driver": {
            "name": "hullcheck", "version": str(tool.get("version") or ""),
            "semanticVersion": str(tool.get("version") or "0.0.0"),
            "rules": rules,
        }},
        "automationDetails": {"id": f"hullcheck/{host}/"},
        "invocations": [invocation],
        "results": results,
        "columnKind": "unicodeCodePoints",
        **({"originalUriBaseIds": {SOURCE_ROOT: {"description": {"text": "The directory hullcheck collect --compose ran in (the repository root in CI)."}}}}
           if any(f.get("locations") for _r, f in _all_findings(document)) else {}),
        "properties": {
            "host": host, "engine": engine_of(document), "snapshot": snapshot, "pack": document.get("pack") or {},
            **({"signedBy": signed_by(document)} if signed_by(document) else {}),
            "summary": document.get("summary") or {},
            **({"notJudged": {"count": not_judged_count(document), "reason": document["not_judged"].get("reason")}}
               if not_judged_count(document) else {}),
            **({"waivers": document["waivers"]} if "waivers" in document else {}),
            **({"baseline": document["baseline"]} if "baseline" in document else {}),
        },
    }
    log = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [run]}
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
