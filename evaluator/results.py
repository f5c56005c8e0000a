"""Turning raw verdicts into the results document: the stable contract every report reads.

Deterministic: the same snapshot and pack give byte-identical results apart from
`evaluated_at`. Policies are in pack order, findings and passes sorted by resource name and id.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from hullcheck_common import __version__
from hullcheck_common.vocabulary import STATUSES, RawVerdict, resource_key

from .policy import Policy
from .program import MAX_RESOURCES

RESULTS_VERSION = "1.1"  # 1.1: summary.not_judged, not_judged, snapshot.source and .subjects

# The JSON Schema (2020-12) of the document document() returns; shipped inside the package.
SCHEMA_PATH = Path(__file__).resolve().parent / "results.schema.json"


def _text(value: Any) -> Any:
    return sys.intern(value) if type(value) is str else value


def _resource_key(item: dict[str, Any]) -> tuple[str, str, str]:
    ref = item.get("resource") or item
    return (str(ref.get("type") or ""), str(ref.get("name") or ""), str(ref.get("id") or ""))


def policy_result(policy: Policy, raw: RawVerdict | None) -> dict[str, Any]:
    """One policy's result: status, reason, findings (fail and error per resource), passes."""
    out: dict[str, Any] = policy.metadata()
    out.update({"status": "error", "reason": None, "findings": [], "passed": []})
    if raw is not None and raw.get("s") == "not_judged":  # the snapshot does not hold what it judges (scope.py)
        out["status"] = "not_judged"
        out["reason"] = "the snapshot does not hold what this policy judges"
        return out
    if not policy.automated and not (raw or {}).get("items"):
        kind = (raw or {}).get("s")  # set only for a manual policy with `applies` or `resources` (or in a test case)
        if kind == "not_applicable":
            out["status"] = "not_applicable"
            out["reason"] = policy.not_applicable_reason or "does not apply to this host"
        elif kind == "error":
            out["reason"] = str((raw or {}).get("reason") or "unknown error")
        else:
            out["status"] = "manual"
            out["reason"] = "needs a person to judge: see the audit steps"
        return out
    if raw is None:
        out["reason"] = "no verdict came back from the evaluator"
        return out
    kind = raw.get("s")
    if kind == "error":
        out["reason"] = str(raw.get("reason") or "unknown error")
        return out
    if kind == "not_applicable":
        out["status"] = "not_applicable"
        out["reason"] = policy.not_applicable_reason or "does not apply to this host"
        return out
    items = raw.get("items") or []
    if len(items) > MAX_RESOURCES:
        out["reason"] = f"more than {MAX_RESOURCES} resources: refusing to judge a partial list"
        return out
    if not items:
        out["status"] = "not_applicable"
        out["reason"] = "nothing to judge: no resources of this kind in the snapshot"
        return out
    findings = []
    passed = []
    for item in items:
        ref = item.get("r") or {}
        # Interned: the same container's name, id and key recur in every policy's result (a
        # 5,000-container host has ~125,000 of them, ~30 MB as separate strings).
        resource: dict[str, Any] = {"type": _text(ref.get("type")), "name": _text(ref.get("name")),
                                    "id": _text(ref.get("id")), "key": sys.intern(resource_key(dict(ref)))}
        if ref.get("image"):
            resource["image"] = _text(ref["image"])
        if item.get("s") == "pass":
            passed.append(resource)
        elif item.get("s") in ("fail", "manual"):
            finding: dict[str, Any] = {"resource": resource, "status": item["s"],
                       "message": item.get("m") or (f"{policy.title}: not met by {resource['name']}" if item["s"] == "fail"
                                                    else f"{policy.title}: a person must judge {resource['name']}"),
                       "evidence": item.get("ev") or []}
            if item.get("loc"):
                finding["locations"] = item["loc"]
            findings.append(finding)
        else:
            finding = {"resource": resource, "status": "error",
                       "message": str(item.get("reason") or "unknown error"), "evidence": []}
            if item.get("loc"):
                finding["locations"] = item["loc"]
            findings.append(finding)
    findings.sort(key=_resource_key)
    passed.sort(key=_resource_key)
    _unique_keys(findings, passed)
    out["findings"] = findings
    out["passed"] = passed
    statuses = {f["status"] for f in findings}
    if "fail" in statuses:
        out["status"] = "fail"
    elif "error" in statuses:
        out["status"] = "error"
        out["reason"] = f"{sum(f['status'] == 'error' for f in findings)} resource(s) could not be judged"
    elif "manual" in statuses:
        out["status"] = "manual"
        out["reason"] = f"{sum(f['status'] == 'manual' for f in findings)} resource(s) need a person to judge them"
    else:
        out["status"] = "pass"
    if not policy.automated and out["status"] != "manual":  # its facts shown, a person still judges it
        out["status"] = "manual"
        out["reason"] = "needs a person to judge: see the audit steps and the facts listed"
    return out


def _unique_keys(findings: list[dict[str, Any]], passed: list[dict[str, Any]]) -> None:
    """Make every resource key unique within one policy (two tags of one image repository share
    a key): a shared key gets the resource name appended, so reports never merge two resources."""
    refs = [f["resource"] for f in findings] + passed
    counts: dict[str, int] = {}
    for ref in refs:
        counts[ref["key"]] = counts.get(ref["key"], 0) + 1
    for ref in refs:
        if counts[ref["key"]] > 1:
            ref["key"] = f"{ref['key']}#{ref['name']}"


def summarize(results: list[dict[str, Any]], not_judged: int = 0) -> dict[str, Any]:
    """Counts per status over the judged policies (`total` is theirs), the score, the failing
    resources; `not_judged` counts the policies the snapshot could not decide, apart."""
    counts: dict[str, Any] = {status: 0 for status in STATUSES}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    judged = counts["pass"] + counts["fail"]
    counts["total"] = len(results)
    counts["score"] = round(100.0 * counts["pass"] / judged, 1) if judged else None
    counts["failed_resources"] = sum(sum(f["status"] == "fail" for f in r["findings"]) for r in results)
    counts["not_judged"] = not_judged
    return counts


def document(results: list[dict[str, Any]], snapshot: dict[str, Any], pack: dict[str, Any],
             evaluated_at: str, not_judged: dict[str, Any] | None = None,
             advisories: dict[str, Any] | None = None) -> dict[str, Any]:
    """The results document around each policy's result (policy_result), in pack order;
    `not_judged` (scope.not_judged_block) lists the policies the snapshot could not decide,
    `advisories` (advisories.document_block) the advisory data the policies were given."""
    out: dict[str, Any] = {
        "results_version": RESULTS_VERSION,
        "tool": {"name": "hullcheck", "version": __version__},
        "snapshot": snapshot,
        "pack": pack,
    }
    if advisories:
        out["advisories"] = advisories
    out.update({
        "evaluated_at": evaluated_at,
        "summary": summarize(results, len(not_judged["policies"]) if not_judged else 0),
    })
    if not_judged:
        out["not_judged"] = not_judged
    out["results"] = results
    return out
