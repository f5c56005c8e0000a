"""Policy test cases: a base snapshot, a patch, the expected verdict.

Cases live beside each policy (its `tests:` list). The base is a recorded snapshot from
`snapshots/examples/` (or a .json path relative to the policy file); the patch is an RFC 7386
JSON Merge Patch and/or an RFC 6902 JSON Patch. The patched snapshot must still validate against
the snapshot schema, so fixtures cannot drift from what the collector really writes.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import jsonpatch

from .engine import Evaluator, Limits, Source
from .policy import Policy
from .snapshot import SnapshotError, validate


@dataclass
class CaseResult:
    policy_id: str
    case: str
    ok: bool
    expected: dict[str, Any]
    actual: dict[str, Any] = field(default_factory=dict)
    problem: str | None = None  # the case itself is broken (bad base, bad patch, invalid snapshot)

    def describe(self) -> str:
        """One line: which case, then what differs (status, offenders missing/unexpected) and the reason."""
        if self.problem:
            return f"{self.policy_id} [{self.case}]: broken case: {self.problem}"
        return f"{self.policy_id} [{self.case}]: {verdict_diff(self.expected, self.actual)}"


def verdict_diff(expected: dict[str, Any], actual: dict[str, Any]) -> str:
    """A readable one-line difference between an expected and an actual verdict."""
    parts = []
    if expected.get("status") != actual.get("status"):
        parts.append(f"status: expected {expected.get('status')}, got {actual.get('status')}")
    else:
        parts.append(f"status: {actual.get('status')} as expected")
    if "offenders" in expected:
        want, got = set(expected["offenders"]), set(actual.get("offenders") or ())
        if want != got:
            detail = [f"expected {sorted(want)}, got {sorted(got)}"]
            if want - got:
                detail.append(f"missing {', '.join(sorted(want - got))}")
            if got - want:
                detail.append(f"unexpected {', '.join(sorted(got - want))}")
            parts.append("offenders: " + "; ".join(detail))
    if actual.get("reason"):
        parts.append(f"reason: {actual['reason']}")
    return " | ".join(parts)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


class BaseSnapshots:
    """Base snapshots by name, each read once."""

    def __init__(self, examples_dir: Path) -> None:
        self.examples_dir = examples_dir
        self._cache: dict[Path, dict[str, Any]] = {}

    def path_for(self, base: str, policy_path: str) -> Path:
        if base.endswith(".json"):
            candidate = Path(base)
            return candidate if candidate.is_absolute() else Path(policy_path).parent / candidate
        return self.examples_dir / f"{base}.json"

    def get(self, path: Path) -> dict[str, Any]:
        if path not in self._cache:
            try:
                self._cache[path] = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise ValueError(f"base snapshot {path}: {exc}") from None
        return self._cache[path]


def build_case_snapshot(policy: Policy, case: dict[str, Any], bases: BaseSnapshots) -> dict[str, Any]:
    """The base with the case's patches applied, validated against the snapshot schema."""
    base = bases.get(bases.path_for(case.get("base", "minimal"), policy.path))
    snapshot = copy.deepcopy(base)
    if "merge_patch" in case:
        snapshot = merge_patch(snapshot, case["merge_patch"])
    if "json_patch" in case:
        try:
            snapshot = jsonpatch.apply_patch(snapshot, case["json_patch"])
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as exc:
            raise ValueError(f"JSON Patch does not apply: {exc}") from None
    try:
        validate(snapshot, "patched snapshot")
    except SnapshotError as exc:
        raise ValueError(str(exc)) from None
    return snapshot


def run_case(evaluator: Evaluator, policy: Policy, case: dict[str, Any], bases: BaseSnapshots,
             index: int = 0) -> CaseResult:
    """One case of one policy, evaluated with that policy alone (the evaluator must hold it)."""
    name = case.get("name") or f"case {index + 1}"
    expected = dict(case["expect"])
    try:
        snapshot = build_case_snapshot(policy, case, bases)
    except ValueError as exc:
        return CaseResult(policy.id, name, False, expected, problem=str(exc))
    data = json.dumps(snapshot).encode()
    try:
        document = evaluator.evaluate(Source(name=f"{policy.id} [{name}]", data=data), policy_ids=(policy.id,))
    except SnapshotError as exc:
        return CaseResult(policy.id, name, False, expected, problem=str(exc))
    result = next(r for r in document["results"] if r["id"] == policy.id)
    actual: dict[str, Any] = {"status": result["status"]}
    if "offenders" in expected:
        actual["offenders"] = sorted(f["resource"]["name"] for f in result["findings"] if f["status"] == "fail")
        expected["offenders"] = sorted(expected["offenders"])
    ok = actual == expected
    if not ok:
        reasons = [result["reason"]] if result.get("reason") else []
        reasons += [f"{f['resource']['name']}: {f['message']}" for f in result["findings"] if f["status"] == "error"][:3]
        if reasons:
            actual["reason"] = "; ".join(reasons)
    return CaseResult(policy.id, name, ok, expected, actual)


def run_cases(policies: list[Policy], examples_dir: Path, limits: Limits | None = None,
              evaluator: Evaluator | None = None) -> list[CaseResult]:
    """Run every test case of every policy; one evaluator (and its workers) for all of them.

    Pass `evaluator` to reuse one that already holds these policies (its workers stay warm).
    """
    bases = BaseSnapshots(examples_dir)
    results: list[CaseResult] = []
    own = evaluator is None
    ev = evaluator or Evaluator(policies, limits or Limits(policy_timeout=20))
    try:
        for policy in policies:
            for index, case in enumerate(policy.tests):
                results.append(run_case(ev, policy, case, bases, index))
    finally:
        if own:
            ev.close()
    return results


def coverage(policies: Iterable[Policy]) -> tuple[list[str], list[str]]:
    """(covered, uncovered): automated policies with at least one passing and one failing case."""
    covered: list[str] = []
    uncovered: list[str] = []
    for policy in policies:
        if not policy.automated:
            continue
        kinds = {case["expect"]["status"] for case in policy.tests}
        (covered if {"pass", "fail"} <= kinds else uncovered).append(policy.id)
    return covered, uncovered


@dataclass
class CaseReport:
    """What `hullcheck test` reports: every case's result and which policies lack a pass or fail case."""

    results: list[CaseResult]
    covered: list[str]
    uncovered: list[str]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results) and not self.uncovered


def case_report(policies: list[Policy], examples: Path) -> CaseReport:
    """Run every policy's cases against the recorded examples and measure coverage."""
    covered, uncovered = coverage(policies)
    return CaseReport(run_cases(policies, examples), covered, uncovered)
