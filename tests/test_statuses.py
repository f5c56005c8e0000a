"""Each status, error isolation, and fail-closed verdicts when data is absent, judged by the real
engine over the recorded example snapshot with tiny packs written by the tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from policy_packs import MISCONFIGURED, RUNNING, offenders, patched_snapshot, policy, result_of, write_pack

from evaluator import Evaluator, Source, load_pack
from hullcheck_common.resources import policies_dir

HOST_NET = '.inspect.HostConfig.NetworkMode != "host"'


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pack(
        tmp_path_factory.mktemp("statuses") / "pack",
        policy("tst-pass", assert_=".inspect.State.Running == true", evidence=["/inspect/State/Running"]),
        policy("tst-fail", assert_=HOST_NET, evidence=["/inspect/HostConfig/NetworkMode"]),
        policy("tst-na", applies='$snap.swarm.state == "active"', not_applicable_reason="swarm mode is not active"),
        policy("tst-empty", resources="running_containers | select(.name == \"nobody\")"),
        policy("tst-manual", automated=False, audit="Ask the owner of the host."),
        # runtime errors: one per resource (tonumber on a name), one for the whole policy
        policy("tst-runtime", assert_='.inspect.Name | ltrimstr("/") | tonumber > 0'),
        policy("tst-runtime-some", assert_='if .inspect.Name == "/web" then error("no web") else true end'),
        policy("tst-runtime-all", resources='error("resources blew up")'),
        policy("tst-not-bool", assert_=".inspect.Name"),
        # absent data
        policy("tst-evidence-missing", assert_=HOST_NET, evidence=["/inspect/HostConfig/NoSuchField"]),
        policy("tst-evidence-abs-missing", assert_=HOST_NET, evidence=["snapshot:/engine/no_such"]),
        policy("tst-evidence-blocked", assert_=HOST_NET, evidence=["/inspect/HostConfig/NetworkMode"]),
        policy("tst-requires-missing", requires=["/engine/info/NoSuchKey"]),
        policy("tst-requires-blocked", requires=["/host/docker_root"]),
        # evidence paths with numeric segments: array indices, or object keys that look like them
        policy("tst-evidence-index", assert_="true", evidence=["/inspect/Mounts/0/Type"]),
        policy("tst-evidence-digit-key", assert_="true", evidence=["/inspect/Config/Labels/0"]),
        policy("tst-fail-digit-key", assert_="false", evidence=["/inspect/Config/Labels/0", "/inspect/Mounts/0/Type"]),
        policy("tst-requires-digit-key", requires=["/engine/info/Labels/0"]),
    )


@pytest.fixture(scope="module")
def evaluator(pack: Path):
    with Evaluator(load_pack([policies_dir(), pack])) as ev:
        yield ev


@pytest.fixture(scope="module")
def document(evaluator: Evaluator) -> dict:
    return evaluator.evaluate(Source(name="misconfigured", path=str(MISCONFIGURED)))


def test_pass(document):
    result = result_of(document, "tst-pass")
    assert result["status"] == "pass" and result["findings"] == []
    assert {p["name"] for p in result["passed"]} == RUNNING


def test_fail_names_the_offender_with_evidence(document):
    result = result_of(document, "tst-fail")
    assert result["status"] == "fail"
    assert offenders(document, "tst-fail") == {"web"}
    assert {p["name"] for p in result["passed"]} == RUNNING - {"web"}
    [finding] = result["findings"]
    assert finding["message"] == "container web does not comply"
    assert finding["evidence"] == [{"pointer": "/containers/3/inspect/HostConfig/NetworkMode", "value": "host"}]


def test_not_applicable_by_applies_and_by_no_resources(document):
    assert result_of(document, "tst-na")["status"] == "not_applicable"
    assert result_of(document, "tst-na")["reason"] == "swarm mode is not active"
    assert result_of(document, "tst-empty")["status"] == "not_applicable"


def test_manual_carries_the_audit_steps(document):
    result = result_of(document, "tst-manual")
    assert result["status"] == "manual" and result["audit"] == "Ask the owner of the host."


def test_runtime_errors_are_errors(document):
    result = result_of(document, "tst-runtime")
    assert result["status"] == "error"
    assert {f["resource"]["name"] for f in result["findings"]} == RUNNING
    assert all(f["status"] == "error" and "cannot be parsed as a number" in f["message"] for f in result["findings"])
    whole = result_of(document, "tst-runtime-all")
    assert whole["status"] == "error" and whole["reason"] == "resources blew up"
    not_bool = result_of(document, "tst-not-bool")
    assert not_bool["status"] == "error"
    assert "exactly one boolean" in not_bool["findings"][0]["message"]


def test_one_resource_error_never_hides_the_others(document):
    result = result_of(document, "tst-runtime-some")
    assert result["status"] == "error"
    assert [(f["resource"]["name"], f["message"]) for f in result["findings"]] == [("web", "no web")]
    assert {p["name"] for p in result["passed"]} == RUNNING - {"web"}


def test_error_isolation_other_policies_judge_as_if_alone(document, evaluator):
    """The broken policies change nothing about the rest: the same verdicts as a run without them."""
    broken = {"tst-runtime", "tst-runtime-some", "tst-runtime-all", "tst-not-bool"}
    alone_ids = tuple(r["id"] for r in document["results"] if r["id"] not in broken)
    alone = evaluator.evaluate(Source(name="misconfigured", path=str(MISCONFIGURED)), policy_ids=alone_ids)
    together = [r for r in document["results"] if r["id"] not in broken]
    assert together == alone["results"]
    # and the built-in pack still finds what it finds on this snapshot
    assert offenders(document, "cis-docker-5.10") == {"web"}
    assert offenders(document, "cis-docker-5.32") == {"dashboard"}


def test_absent_evidence_is_error_never_pass(document):
    result = result_of(document, "tst-evidence-missing")
    assert result["status"] == "error"
    assert {f["resource"]["name"] for f in result["findings"]} == RUNNING and not result["passed"]
    assert "evidence absent from the snapshot: /containers/0/inspect/HostConfig/NoSuchField" in \
        [f["message"] for f in result["findings"]]
    absolute = result_of(document, "tst-evidence-abs-missing")
    assert absolute["status"] == "error" and "/engine/no_such" in absolute["findings"][0]["message"]


def test_requires_missing_is_error(document):
    result = result_of(document, "tst-requires-missing")
    assert result["status"] == "error"
    assert result["reason"] == "required data absent from the snapshot: /engine/info/NoSuchKey"


@pytest.mark.parametrize("source", ["/containers/3/inspect/HostConfig/NetworkMode",  # exactly the pointer
                                    "/containers/3/inspect",                          # above it
                                    "/containers/3"])
def test_collector_error_at_or_above_evidence_is_error(evaluator, tmp_path, source):
    def record_error(snapshot: dict) -> None:
        snapshot["meta"]["errors"].append({"source": source, "reason": "permission denied"})

    path = patched_snapshot(tmp_path, "blocked.json", record_error)
    document = evaluator.evaluate(Source(name="blocked", path=str(path)), policy_ids=("tst-evidence-blocked", "tst-fail"))
    result = result_of(document, "tst-evidence-blocked")
    assert result["status"] == "error"
    [finding] = result["findings"]
    assert finding["resource"]["name"] == "web" and finding["status"] == "error"
    assert finding["message"] == f"collector could not read {source}: permission denied"
    assert {p["name"] for p in result["passed"]} == RUNNING - {"web"}


def test_collector_error_below_the_evidence_does_not_block(evaluator, tmp_path):
    def record_error(snapshot: dict) -> None:
        snapshot["meta"]["errors"].append({"source": "/containers/3/inspect/HostConfig/NetworkModeX", "reason": "x"})

    path = patched_snapshot(tmp_path, "sibling.json", record_error)
    document = evaluator.evaluate(Source(name="sibling", path=str(path)), policy_ids=("tst-evidence-blocked",))
    assert result_of(document, "tst-evidence-blocked")["status"] == "fail"


def test_collector_error_at_a_required_pointer_is_error(evaluator, tmp_path):
    def lose_host(snapshot: dict) -> None:
        snapshot["host"] = None
        snapshot["meta"]["errors"].append({"source": "/host", "reason": "no host root mounted"})

    path = patched_snapshot(tmp_path, "nohost.json", lose_host)
    document = evaluator.evaluate(Source(name="nohost", path=str(path)), policy_ids=("tst-requires-blocked", "tst-pass"))
    result = result_of(document, "tst-requires-blocked")
    assert result["status"] == "error"
    assert result["reason"] == "collector could not read /host: no host root mounted"
    assert result_of(document, "tst-pass")["status"] == "pass"


def test_summary_counts_every_status(document):
    summary = document["summary"]
    counted = {s: sum(r["status"] == s for r in document["results"]) for s in ("pass", "fail", "error", "not_applicable", "manual")}
    assert all(summary[s] == n for s, n in counted.items())
    assert all(n > 0 for n in counted.values())
    assert summary["total"] == len(document["results"])
    assert summary["score"] == round(100 * summary["pass"] / (summary["pass"] + summary["fail"]), 1)
    assert json.dumps(document)  # plain JSON all the way down


def _digit_keys(snapshot: dict) -> None:
    """Labels whose keys look like array indices: "0" on db (null-valued on web), and an info label."""
    by_name = {c["inspect"]["Name"]: c for c in snapshot["containers"]}
    by_name["/db"]["inspect"]["Config"]["Labels"] = {"0": "zero"}
    by_name["/web"]["inspect"]["Config"]["Labels"] = {"0": None}
    snapshot["engine"]["info"]["Labels"] = {"0": "zero"}


def test_numeric_segments_are_array_indices_or_object_keys_as_the_data_says(evaluator, tmp_path):
    """An evidence or requires pointer with a numeric segment is present exactly where the data
    has it: an array index in range (dashboard's one mount), an object key "0" (db's label,
    web's null-valued one), and absent elsewhere; evidence values come from the same path."""
    path = patched_snapshot(tmp_path, "digits.json", _digit_keys)
    ids = ("tst-evidence-index", "tst-evidence-digit-key", "tst-fail-digit-key", "tst-requires-digit-key")
    document = evaluator.evaluate(Source(name="digits", path=str(path)), policy_ids=ids)
    index = result_of(document, "tst-evidence-index")
    assert {p["name"] for p in index["passed"]} == {"dashboard"}
    assert {f["resource"]["name"] for f in index["findings"]} == RUNNING - {"dashboard"}
    assert all("evidence absent from the snapshot" in f["message"] for f in index["findings"])
    digit = result_of(document, "tst-evidence-digit-key")
    assert {p["name"] for p in digit["passed"]} == {"db", "web"}, "present: a value, and a null value"
    assert {f["resource"]["name"] for f in digit["findings"]} == RUNNING - {"db", "web"}
    failing = result_of(document, "tst-fail-digit-key")
    assert {f["resource"]["name"] for f in failing["findings"] if f["status"] == "fail"} == set()
    # With both pointers present nowhere at once, each container is an error naming what is absent.
    assert all("evidence absent" in f["message"] for f in failing["findings"])
    assert result_of(document, "tst-requires-digit-key")["status"] == "pass"


def test_evidence_values_through_numeric_segments(evaluator, tmp_path):
    def mount_and_label(snapshot: dict) -> None:
        _digit_keys(snapshot)
        dashboard = next(c for c in snapshot["containers"] if c["inspect"]["Name"] == "/dashboard")
        dashboard["inspect"]["Config"]["Labels"] = {"0": "dash"}

    path = patched_snapshot(tmp_path, "both.json", mount_and_label)
    document = evaluator.evaluate(Source(name="both", path=str(path)), policy_ids=("tst-fail-digit-key",))
    result = result_of(document, "tst-fail-digit-key")
    [finding] = [f for f in result["findings"] if f["status"] == "fail"]
    assert finding["resource"]["name"] == "dashboard"
    mount_type = json.loads(MISCONFIGURED.read_text())["containers"][0]["inspect"]["Mounts"][0]["Type"]
    assert finding["evidence"] == [{"pointer": "/containers/0/inspect/Config/Labels/0", "value": "dash"},
                                   {"pointer": "/containers/0/inspect/Mounts/0/Type", "value": mount_type}]
