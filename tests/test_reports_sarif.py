"""SARIF: valid against the official 2.1.0 schema, one rule per policy, fingerprints that survive a redeploy."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from reports_support import container_index, evaluate_snapshot, example, patched

from evaluator.render import render
from evaluator.waivers import apply_waivers, load_waivers, parse_as_of

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())


def sarif(document):
    log = json.loads(render(document, "sarif"))
    errors = sorted(jsonschema.Draft4Validator(SCHEMA).iter_errors(log), key=lambda e: list(e.absolute_path))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors[:5]]
    return log


@pytest.mark.parametrize("name", ["misconfigured", "minimal"])
def test_sarif_validates_against_the_official_schema(name):
    document = evaluate_snapshot(name)
    log = sarif(document)
    run = log["runs"][0]
    assert log["version"] == "2.1.0"
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [r["id"] for r in document["results"]]
    failing = [(r["id"], f["resource"]["name"]) for r in document["results"] for f in r["findings"] if f["status"] == "fail"]
    assert sorted((res["ruleId"], res["properties"]["resource"]["name"]) for res in run["results"]) == sorted(failing)


def test_rules_carry_help_security_severity_and_cis_tags():
    document = evaluate_snapshot("misconfigured")
    rules = {r["id"]: r for r in sarif(document)["runs"][0]["tool"]["driver"]["rules"]}
    for result in document["results"]:
        rule = rules[result["id"]]
        assert result["remediation"] in rule["help"]["markdown"]
        assert result["description"] in rule["help"]["markdown"]
        score = float(rule["properties"]["security-severity"])
        assert {"critical": 9.0 <= score <= 10, "high": 7.0 <= score < 9.0, "medium": 4.0 <= score < 7.0,
                "low": 0.1 <= score < 4.0, "info": score == 0.0}[result["severity"]]
        for framework, number in result["controls"].items():
            assert f"{framework}:{number}" in rule["properties"]["tags"]
    assert rules["cis-docker-5.32"]["defaultConfiguration"]["level"] == "error"  # critical
    assert rules["cis-docker-5.11"]["defaultConfiguration"]["level"] == "warning"  # medium


def test_results_have_rule_level_and_logical_locations_for_host_container_and_image():
    document = evaluate_snapshot("misconfigured")
    run = sarif(document)["runs"][0]
    result = next(r for r in run["results"] if r["ruleId"] == "cis-docker-5.10")
    assert result["level"] == "error"
    logical = {loc["kind"]: loc["name"] for loc in result["locations"][0]["logicalLocations"]}
    assert logical == {"host": "vm", "container": "web", "image": "hullcheck-test/busybox:1"}


def test_fingerprints_survive_a_redeploy_and_never_contain_the_container_id():
    before = evaluate_snapshot("misconfigured")
    snap = example("misconfigured")
    web = container_index(snap, "web")
    old_id = snap["containers"][web]["inspect"]["Id"]
    redeployed = patched("misconfigured", [
        {"op": "test", "path": f"/containers/{web}/inspect/Name", "value": "/web"},
        {"op": "replace", "path": f"/containers/{web}/inspect/Id", "value": "f" * 64},
    ])
    after = evaluate_snapshot(redeployed)

    def prints(document):
        return {(r["ruleId"], r["properties"]["resource"]["name"]): r["partialFingerprints"]
                for r in sarif(document)["runs"][0]["results"]}

    assert prints(before) == prints(after)
    text = render(before, "sarif")
    result_text = json.dumps(json.loads(text)["runs"][0]["results"])
    assert old_id not in result_text and old_id[:12] not in result_text


def test_compose_project_and_service_key_the_fingerprint():
    snap = example("misconfigured")
    web = container_index(snap, "web")
    labels = {"com.docker.compose.project": "shop", "com.docker.compose.service": "frontend",
              "com.docker.compose.container-number": "1"}
    first = patched("misconfigured", [
        {"op": "test", "path": f"/containers/{web}/inspect/Name", "value": "/web"},
        {"op": "replace", "path": f"/containers/{web}/inspect/Config/Labels", "value": labels},
    ])
    # Compose recreates the container under a new name and id: the alert is the same one.
    second = patched("misconfigured", [
        {"op": "test", "path": f"/containers/{web}/inspect/Name", "value": "/web"},
        {"op": "replace", "path": f"/containers/{web}/inspect/Config/Labels", "value": labels},
        {"op": "replace", "path": f"/containers/{web}/inspect/Name", "value": "/shop-frontend-1"},
        {"op": "replace", "path": f"/containers/{web}/inspect/Id", "value": "e" * 64},
    ])
    results = [sarif(evaluate_snapshot(s))["runs"][0]["results"] for s in (first, second)]
    hostnet = [next(r for r in rs if r["ruleId"] == "cis-docker-5.10") for rs in results]
    assert hostnet[0]["properties"]["resource"]["key"] == "container:compose/shop/frontend/1"
    assert hostnet[0]["partialFingerprints"] == hostnet[1]["partialFingerprints"]
    assert hostnet[1]["properties"]["resource"]["name"] == "shop-frontend-1"


def test_waived_results_are_suppressed_with_the_justification(tmp_path):
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - policy: cis-docker-5.10\n    resources: [web]\n"
                       "    reason: edge proxy needs the host network\n    owner: netops\n    expires: 2030-01-01\n")
    document = apply_waivers(evaluate_snapshot("misconfigured"), load_waivers(waivers), parse_as_of("2026-11-29"))
    run = sarif(document)["runs"][0]
    hostnet = next(r for r in run["results"] if r["ruleId"] == "cis-docker-5.10")
    assert hostnet["suppressions"][0]["kind"] == "external"
    assert hostnet["suppressions"][0]["status"] == "accepted"
    assert "edge proxy needs the host network" in hostnet["suppressions"][0]["justification"]
    assert all("suppressions" not in r for r in run["results"] if r["ruleId"] != "cis-docker-5.10")


def test_evaluation_errors_are_notifications_not_results():
    snap = example("misconfigured")
    worker = container_index(snap, "worker")
    broken = patched("misconfigured", [
        {"op": "test", "path": f"/containers/{worker}/inspect/Name", "value": "/worker"},
        {"op": "remove", "path": f"/containers/{worker}/inspect/HostConfig/Memory"},
    ])
    document = evaluate_snapshot(broken)
    assert any(f["status"] == "error" for r in document["results"] for f in r["findings"])
    run = sarif(document)["runs"][0]
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert any(n["associatedRule"]["id"] == "cis-docker-5.11" and "worker" in n["message"]["text"] for n in notes)
    assert not any(r["ruleId"] == "cis-docker-5.11" and r["properties"]["resource"]["name"] == "worker" for r in run["results"])


def test_resources_sharing_a_key_are_told_apart():
    snap = example("misconfigured")
    labels = {"com.docker.compose.project": "shop", "com.docker.compose.service": "api"}
    patch = []
    for name in ("web", "worker", "db", "dashboard"):
        i = container_index(snap, name)
        patch += [{"op": "test", "path": f"/containers/{i}/inspect/Name", "value": f"/{name}"},
                  {"op": "replace", "path": f"/containers/{i}/inspect/Config/Labels", "value": labels}]
    document = evaluate_snapshot(patched("misconfigured", patch))
    memory = next(r for r in document["results"] if r["id"] == "cis-docker-5.11")
    keys = [f["resource"]["key"] for f in memory["findings"]] + [p["key"] for p in memory["passed"]]
    assert len(set(keys)) == len(keys) == 4
    assert "container:compose/shop/api#worker" in keys
    prints = [r["partialFingerprints"] for r in sarif(document)["runs"][0]["results"]]
    assert len({json.dumps(p) for p in prints}) == len(prints)


def test_image_findings_are_keyed_by_repository(tmp_path, hullcheck_cli):
    """A custom pack judging images: the key drops the tag, the logical location is the image."""
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "image-user.yaml").write_text("""
id: custom-image-user
title: Images declare a non-root user
description: An image without USER runs its containers as root unless the run says otherwise.
remediation: Add a USER instruction to the Dockerfile.
severity: low
level: 1
controls: {cis-docker-1.6.0: "4.1"}
automated: true
requires: [/images]
resources: images
assert: (.inspect.Config.User // "") != ""
message: '"image \\((.inspect.RepoTags // [])[0] // .inspect.Id) has no USER"'
evidence: [/inspect/Config/User]
""")
    out = tmp_path / "r.sarif"
    proc = hullcheck_cli("evaluate", str(Path(__file__).parent.parent / "snapshots/examples/misconfigured.json"),
                         "--policies", str(pack), "--policy", "custom-image-user", "-f", "sarif", "-o", str(out))
    assert proc.returncode == 1, proc.stderr
    log = json.loads(out.read_text())
    errors = list(jsonschema.Draft4Validator(SCHEMA).iter_errors(log))
    assert not errors
    keys = {r["properties"]["resource"]["key"] for r in log["runs"][0]["results"]}
    assert "image:hullcheck-test/busybox" in keys  # repository, not repository:tag
    assert len(keys) == 3 and all(k.startswith("image:") for k in keys)
    tagged = next(r for r in log["runs"][0]["results"] if r["properties"]["resource"]["key"] == "image:hullcheck-test/busybox")
    kinds = {loc["kind"]: loc["name"] for loc in tagged["locations"][0]["logicalLocations"]}
    assert kinds == {"host": "vm", "image": "hullcheck-test/busybox:1"}
    assert float(log["runs"][0]["tool"]["driver"]["rules"][0]["properties"]["security-severity"]) == 3.0
