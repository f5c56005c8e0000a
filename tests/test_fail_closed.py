"""Fail closed: for every automated policy of the built-in pack, missing evidence is `error`, never `pass`.

Nothing here names a policy: the pack is loaded and iterated, and what to take away is derived
from each policy's own `evidence` (JSON Pointers relative to each resource's `path`, or absolute
with `snapshot:`) and `requires` (absolute). For each policy a base snapshot is chosen where it
judges at least one resource (misconfigured, then minimal, then any other example), so the
`error` after the removal is caused by the removal and not by a policy that never judged anything.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from typing import Any, Iterator

import jq
import jsonpatch
import pytest

from evaluator import Evaluator, Limits, Source, load_pack
from evaluator.program import fragment_check_program, uses_advisories
from evaluator.snapshot import SnapshotError, validate
from hullcheck_common.resources import policies_dir, snapshots_dir

PACK = load_pack([policies_dir()])
AUTOMATED = [p for p in PACK if p.automated]
BY_ID = {p.id: p for p in AUTOMATED}
EXAMPLES = snapshots_dir() / "examples"
# Last, a variant of the misconfigured example whose engine components are Docker's upstream
# builds, collected just after the bundled advisory data's date: every recorded host runs Debian's
# distribution builds, which CIS 1.2.2 leaves to a person, so only here does it judge resources.
UPSTREAM = "misconfigured-upstream"
BASE_ORDER = ["misconfigured", "minimal"] + sorted(
    p.stem for p in EXAMPLES.glob("*.json") if p.stem not in ("misconfigured", "minimal")) + [UPSTREAM]
JUDGED = ("pass", "fail")


@cache
def base_snapshot(name: str) -> str:
    if name == UPSTREAM:
        snapshot = json.loads((EXAMPLES / "misconfigured.json").read_text(encoding="utf-8"))
        snapshot["meta"]["finished_at"] = "2026-08-30T00:00:00.000Z"
        for component, (version, commit) in zip(snapshot["engine"]["version"]["Components"],
                                                (("27.1.0", "6312585"), ("1.7.13", "v1.7.13"), ("1.1.11", "v1.1.11-0-g4bccb38"))):
            component["Version"], component["Details"]["GitCommit"] = version, commit
        return json.dumps(snapshot)
    return (EXAMPLES / f"{name}.json").read_text(encoding="utf-8")


def load_base(name: str) -> dict[str, Any]:
    return json.loads(base_snapshot(name))


@pytest.fixture(scope="module")
def evaluator() -> Iterator[Evaluator]:
    with Evaluator(PACK, Limits(policy_timeout=60)) as ev:
        yield ev


@pytest.fixture(scope="module")
def base_results(evaluator: Evaluator) -> dict[str, dict[str, dict[str, Any]]]:
    """Every policy's result on every example snapshot, unmodified: base -> id -> result."""
    out = {}
    for name in BASE_ORDER:
        document = evaluator.evaluate(Source(name=name, data=base_snapshot(name).encode()), evaluated_at="-")
        out[name] = {r["id"]: r for r in document["results"]}
    return out


def resource_paths(policy_id: str, snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """The policy's own `resources` stream on this snapshot: [{type, name, id, path}]."""
    policy = BY_ID[policy_id]
    program = fragment_check_program(f"[limit(200000; ({policy.resources}\n))] | map({{type, name, id, path}})",
                                     wrapped_input=True)
    return jq.compile(program).input_value({"a": advisory_facts(snapshot, policy), "s": snapshot}).first()


def advisory_facts(snapshot: dict[str, Any], policy: Any) -> Any:
    """$advisories as the evaluator computes it, for a policy that reads it (else null)."""
    if not uses_advisories([policy]):
        return None
    from evaluator.advisories import match, store

    return match.facts(match.inputs(snapshot), store.load(prefer="bundled"), 30)


def choose_base(policy_id: str, results: dict[str, dict[str, dict[str, Any]]]) -> str | None:
    """The first example where the policy judges (pass or fail) at least one resource."""
    for name in BASE_ORDER:
        result = results[name].get(policy_id)
        if result is None:  # not judged from this source (a plan that does not hold its subject)
            continue
        judged = result["passed"] + [f["resource"] for f in result["findings"] if f["status"] == "fail"]
        if result["status"] in JUDGED and judged:
            return name
    return None


def pointers_for(policy_id: str, resources: list[dict[str, Any]]) -> list[tuple[str, list[str]]]:
    """(declared evidence, absolute pointers it names across the resources)."""
    out = []
    for item in BY_ID[policy_id].evidence:
        if item.startswith("snapshot:"):
            out.append((item, [item[len("snapshot:"):]]))
        else:
            out.append((item, [r["path"] + item for r in resources]))
    return out


def evaluate_one(evaluator: Evaluator, snapshot: dict[str, Any], policy_ids: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    document = evaluator.evaluate(Source(name="mutated", data=json.dumps(snapshot).encode()), evaluated_at="-",
                                  policy_ids=policy_ids)
    return {r["id"]: r for r in document["results"]}


def with_errors(snapshot: dict[str, Any], pointers: list[str]) -> dict[str, Any]:
    out = copy.deepcopy(snapshot)
    out["meta"]["errors"] = sorted([*out["meta"]["errors"],
                                    *({"source": p, "reason": "fail-closed test: not read"} for p in pointers)],
                                   key=lambda e: (e["source"], e["reason"]))
    return out


def without(snapshot: dict[str, Any], pointers: list[str]) -> dict[str, Any] | None:
    """The snapshot with these pointers removed, or None when that breaks the schema (or cannot be done)."""
    try:
        out = jsonpatch.apply_patch(snapshot, [{"op": "remove", "path": p} for p in dict.fromkeys(pointers) if p])
        validate(out, "mutated")
    except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, SnapshotError):
        return None
    return out


def assert_error(result: dict[str, Any], resources: list[dict[str, Any]] | None, what: str) -> None:
    """`error` for the policy; when it judged resources one by one, `error` for each of them."""
    assert result["status"] == "error", f"{result['id']}: {what} gave {result['status']}, not error"
    assert not result["passed"], f"{result['id']}: {what}: resources still passed: {result['passed']}"
    if resources and result["findings"]:
        errored = {(f["resource"]["type"], f["resource"]["id"]) for f in result["findings"] if f["status"] == "error"}
        missing = {(r["type"], r["id"]) for r in resources} - errored
        assert not missing, f"{result['id']}: {what}: not error for {sorted(missing)}"


class Plan:
    """Per policy: its base and resources; per base, the batched mutations and their results.

    Collector errors only block what a policy declares (evidence, requires, its resources' paths),
    so errors recorded for every policy at once test each policy as if alone: one evaluation per
    base instead of one per policy. Removals can interact (a policy may read more than it
    declares), so those run one policy at a time.
    """

    def __init__(self, evaluator: Evaluator, results: dict[str, dict[str, dict[str, Any]]]) -> None:
        self.base: dict[str, str | None] = {p.id: choose_base(p.id, results) for p in AUTOMATED}
        self.resources: dict[str, list[dict[str, Any]]] = {}
        errors_at: dict[str, list[str]] = {}
        paths_at: dict[str, list[str]] = {}
        for policy in AUTOMATED:
            base = self.base[policy.id]
            if base is None:
                continue
            self.resources[policy.id] = resource_paths(policy.id, load_base(base))
            errors_at.setdefault(base, []).extend(
                p for _, pointers in pointers_for(policy.id, self.resources[policy.id]) for p in pointers)
            paths_at.setdefault(base, []).extend(r["path"] for r in self.resources[policy.id] if r["path"])
        self.with_errors: dict[str, dict[str, dict[str, Any]]] = {}
        self.with_path_errors: dict[str, dict[str, dict[str, Any]]] = {}
        for base in errors_at:
            ids = tuple(pid for pid, b in self.base.items() if b == base)
            self.with_errors[base] = evaluate_one(evaluator, with_errors(load_base(base), sorted(set(errors_at[base]))), ids)
            self.with_path_errors[base] = evaluate_one(
                evaluator, with_errors(load_base(base), sorted(set(paths_at[base]))), ids)


@pytest.fixture(scope="module")
def plan(evaluator: Evaluator, base_results: dict[str, Any]) -> Plan:
    return Plan(evaluator, base_results)


@pytest.mark.parametrize("policy_id", [p.id for p in AUTOMATED])
def test_missing_evidence_is_error(evaluator: Evaluator, base_results: dict[str, Any], plan: Plan, policy_id: str) -> None:
    policy = BY_ID[policy_id]
    base = plan.base[policy_id]
    if base is None:
        statuses = {name: (base_results[name].get(policy_id) or {"status": "not_judged"})["status"] for name in BASE_ORDER}
        # Planned snapshots (from Compose files or a Dockerfile) hold no host sections: the policies
        # that need them are not judged there, so only the recorded hosts decide applicability.
        on_hosts = [s for name, s in statuses.items() if not name.startswith(("compose-", "dockerfile-"))]
        if policy.applies and all(s == "not_applicable" for s in on_hosts):
            if not policy.requires:
                pytest.skip(f"not applicable on every example ({policy.not_applicable_reason}) and requires nothing")
            return  # its `requires` is still checked by test_missing_required_data_is_error
        pytest.fail(f"{policy_id} judges no resource on any example snapshot ({statuses}): its fail-closed "
                    "behaviour cannot be shown; add an example snapshot or a resource it judges")
    snapshot = load_base(base)
    resources = plan.resources[policy_id]
    assert resources, f"{policy_id}: resources stream is empty on {base} although results judged some"
    assert policy.evidence, f"{policy_id}: an automated policy must name its evidence"

    # 1. A collector error recorded at every evidence pointer (data kept): error.
    assert_error(plan.with_errors[base][policy_id], resources, f"collector errors at {policy.evidence} on {base}")
    # 2. A collector error at each resource's own path (the resource was not read whole): error.
    if any(r["path"] for r in resources):
        assert_error(plan.with_path_errors[base][policy_id], resources, f"collector errors at the resources' paths on {base}")

    # 3. Each evidence pointer removed from every resource (where the schema allows its absence).
    #    Absence of an optional key can mean "not configured": a policy whose `applies` reads it may
    #    then be not_applicable, but never pass.
    for declared, pointers in pointers_for(policy_id, resources):
        mutated = without(snapshot, pointers)
        if mutated is None:
            continue
        result = evaluate_one(evaluator, mutated, (policy_id,))[policy_id]
        if policy.applies and result["status"] == "not_applicable":
            continue
        still = resources
        # The stream may read it too (an absolute pointer; or the advisory facts, computed from the
        # versions the evidence points at): judge what it yields now.
        if declared.startswith("snapshot:") or uses_advisories([BY_ID[policy_id]]):
            try:
                still = resource_paths(policy_id, mutated)
            except ValueError:  # the stream itself fails: the policy as a whole must be error
                still = None
        assert_error(result, still, f"evidence {declared} removed on {base}")


REQUIRED = sorted({pointer for p in AUTOMATED for pointer in p.requires})


@pytest.mark.parametrize("variant", ["collector-error", "null-with-error", "null", "removed"])
@pytest.mark.parametrize("pointer", REQUIRED)
def test_missing_required_data_is_error(evaluator: Evaluator, plan: Plan, pointer: str, variant: str) -> None:
    """Every policy that requires this pointer is error when it was not collected, however that shows."""
    policies = [p.id for p in AUTOMATED if pointer in p.requires]
    for base in sorted({plan.base[pid] or "misconfigured" for pid in policies}):
        ids = tuple(pid for pid in policies if (plan.base[pid] or "misconfigured") == base)
        snapshot = load_base(base)
        if variant == "collector-error":
            mutated: dict[str, Any] | None = with_errors(snapshot, [pointer])
        elif variant in ("null", "null-with-error"):
            try:
                patched = jsonpatch.apply_patch(snapshot, [{"op": "add", "path": pointer, "value": None}])
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException):
                pytest.skip(f"{pointer}: its parent is absent in {base}")
            mutated = with_errors(patched, [pointer]) if variant == "null-with-error" else patched
            try:
                validate(mutated, "mutated")
            except SnapshotError:
                pytest.skip(f"{pointer} cannot be null in a valid snapshot")
        else:
            mutated = without(snapshot, [pointer])
            if mutated is None:
                pytest.skip(f"{pointer} cannot be absent from a valid snapshot")
        results = evaluate_one(evaluator, mutated, ids)
        for pid in ids:
            assert results[pid]["status"] == "error", f"{pid}: {variant} at {pointer} on {base} gave {results[pid]['status']}"
            assert not results[pid]["passed"]
