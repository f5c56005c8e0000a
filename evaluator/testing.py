"""Policy test cases: a base snapshot, a patch, the expected verdict.

Cases live beside each policy (its `tests:` list). The base is a recorded snapshot from
`snapshots/examples/` (or a .json path relative to the policy file); the patch is an RFC 7386
JSON Merge Patch and/or an RFC 6902 JSON Patch. The patched snapshot must still validate against
the snapshot schema, so fixtures cannot drift from what the collector really writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from hullcheck_common.userfile import read_bytes

from .policy import Policy
from .snapshot import DEFAULT_MAX_BYTES
from .worker_pool import Evaluator, Limits


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


class BaseSnapshots:
    """Base snapshots by name, each read once (parsed and validated once, by the worker)."""

    def __init__(self, examples_dir: Path) -> None:
        self.examples_dir = examples_dir
        self._cache: dict[Path, bytes] = {}

    def path_for(self, base: str, policy_path: str) -> Path:
        if base.endswith(".json"):
            candidate = Path(base)
            return candidate if candidate.is_absolute() else Path(policy_path).parent / candidate
        return self.examples_dir / f"{base}.json"

    def get(self, path: Path) -> bytes:
        if path not in self._cache:
            self._cache[path] = read_bytes(path, what="a snapshot file", max_bytes=DEFAULT_MAX_BYTES,
                                           error=lambda name, problem: ValueError(f"base snapshot {name}: {problem}"))
        return self._cache[path]


def _case_name(case: dict[str, Any], index: int) -> str:
    return case.get("name") or f"case {index + 1}"


def _case_result(policy: Policy, name: str, expected: dict[str, Any], outcome: tuple[str, Any]) -> CaseResult:
    """Judge one case from what the worker sent back: a raw verdict, or why the case cannot run."""
    from .results import policy_result

    kind, payload = outcome
    if kind == "problem":
        return CaseResult(policy.id, name, False, expected, problem=payload)
    result = policy_result(policy, payload)
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


def _run(evaluator: Evaluator, items: list[tuple[Policy, int, dict[str, Any]]], bases: BaseSnapshots) -> list[CaseResult]:
    """Cases of many policies in one worker job; results in the order given."""
    jobs: list[dict[str, Any]] = []
    early: dict[int, str] = {}
    for position, (policy, _index, case) in enumerate(items):
        path = bases.path_for(case.get("base", "minimal"), policy.path)
        try:
            bases.get(path)
        except ValueError as exc:
            early[position] = str(exc)
        job: dict[str, Any] = {"base": str(path), "policy": policy.id}
        for key in ("merge_patch", "json_patch"):
            if key in case:
                job[key] = case[key]
        jobs.append(job)
    runnable = [i for i in range(len(items)) if i not in early]
    data = {job["base"]: bases.get(Path(job["base"])) for i, job in enumerate(jobs) if i not in early}
    outcomes = evaluator.run_cases(data, [jobs[i] for i in runnable])
    by_position: dict[int, tuple[str, Any]] = {i: ("problem", why) for i, why in early.items()}
    by_position.update(zip(runnable, outcomes))
    return [_case_result(policy, _case_name(case, index), dict(case["expect"]), by_position[position])
            for position, (policy, index, case) in enumerate(items)]


def run_cases(policies: list[Policy], examples_dir: Path, limits: Limits | None = None,
              evaluator: Evaluator | None = None) -> list[CaseResult]:
    """Run every test case of every policy, all in one worker job.

    Pass `evaluator` to reuse one that already holds these policies (its workers stay warm).
    """
    bases = BaseSnapshots(examples_dir)
    items = [(policy, index, case) for policy in policies for index, case in enumerate(policy.tests)]
    own = evaluator is None
    ev = evaluator or Evaluator(policies, limits or Limits(policy_timeout=20))
    try:
        return _run(ev, items, bases) if items else []
    finally:
        if own:
            ev.close()


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
