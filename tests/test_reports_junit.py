"""JUnit: parsed by a real consumer (junitparser): a suite per section, stable case names, right verdicts."""

from __future__ import annotations

import re

from junitparser import Failure, JUnitXml, Skipped
from reports_support import container_index, evaluate_snapshot, example, patched

from evaluator.render import render
from evaluator.waivers import apply_waivers, load_waivers, parse_as_of


def parse(tmp_path, document, name="report.xml"):
    path = tmp_path / name
    path.write_text(render(document, "junit"), encoding="utf-8")
    return JUnitXml.fromfile(str(path))


def cases(xml):
    out = {}
    for suite in xml:
        for case in suite:
            assert case.name not in out, f"duplicate test case name {case.name}"
            out[case.name] = (suite.name, case)
    return out


def verdict(case):
    kinds = {type(r) for r in case.result}
    return "failure" if Failure in kinds else "skipped" if Skipped in kinds else "passed"


def test_a_suite_per_section_and_a_case_per_policy_and_resource(tmp_path):
    document = evaluate_snapshot("misconfigured")
    xml = parse(tmp_path, document)
    by_name = cases(xml)
    expected = {}
    for result in document["results"]:
        for f in result["findings"]:
            expected[f"{result['id']}[{f['resource']['key']}]"] = "failure"
        for p in result["passed"]:
            expected[f"{result['id']}[{p['key']}]"] = "passed"
    assert {n: verdict(c) for n, (_, c) in by_name.items()} == expected
    assert {s for s, _ in by_name.values()} == {"5 Container Runtime"}
    assert xml.tests == len(expected) and xml.failures == document["summary"]["failed_resources"]
    failure = next(r for r in by_name["cis-docker-5.10[container:web]"][1].result)
    assert "host network" in failure.message
    assert "/inspect/HostConfig/NetworkMode" in failure.text  # the evidence travels with the failure


def test_names_are_stable_between_runs_and_never_hold_container_ids(tmp_path):
    snap = example("misconfigured")
    ids = [c["inspect"]["Id"] for c in snap["containers"]]
    patch = []
    for name in ("web", "worker", "dashboard", "db"):
        i = container_index(snap, name)
        patch += [{"op": "test", "path": f"/containers/{i}/inspect/Name", "value": f"/{name}"},
                  {"op": "replace", "path": f"/containers/{i}/inspect/Id", "value": f"{i}" * 64}]
    first = parse(tmp_path, evaluate_snapshot("misconfigured"), "a.xml")
    second = parse(tmp_path, evaluate_snapshot(patched("misconfigured", patch)), "b.xml")
    assert set(cases(first)) == set(cases(second))
    text = (tmp_path / "a.xml").read_text()
    assert not any(i[:12] in text for i in ids)
    assert all(re.fullmatch(r"[a-z0-9.-]+(\[[a-z]+:[^\]]+\])?", n) for n in cases(first))


def test_not_applicable_waived_and_errors(tmp_path):
    # minimal: no running container, so every section 5 policy is not applicable -> skipped.
    xml = parse(tmp_path, evaluate_snapshot("minimal"), "min.xml")
    assert {verdict(c) for _, c in cases(xml).values()} == {"skipped"}
    assert xml.skipped == len(evaluate_snapshot("minimal")["results"])

    waivers = tmp_path / "w.yaml"
    waivers.write_text("waivers:\n  - {policy: cis-docker-5.32, reason: dashboard is the admin UI, expires: 2030-01-01}\n")
    snap = example("misconfigured")
    worker = container_index(snap, "worker")
    broken = patched("misconfigured", [
        {"op": "test", "path": f"/containers/{worker}/inspect/Name", "value": "/worker"},
        {"op": "remove", "path": f"/containers/{worker}/inspect/HostConfig/Memory"},
    ])
    document = apply_waivers(evaluate_snapshot(broken), load_waivers(waivers), parse_as_of("2026-11-29"))
    by_name = cases(parse(tmp_path, document, "mixed.xml"))
    waived = by_name["cis-docker-5.32[container:dashboard]"][1]
    assert verdict(waived) == "skipped" and "dashboard is the admin UI" in next(iter(waived.result)).message
    error = by_name["cis-docker-5.11[container:worker]"][1]
    assert verdict(error) == "failure" and next(iter(error.result)).type == "error"
