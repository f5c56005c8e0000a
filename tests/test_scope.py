"""Scope: a snapshot holds subjects, a policy judges one (and may need others); what a source does
not hold is listed once as not judged, never error, never pass (issue 25, Deliver 3).

Judged by the real engine over the recorded examples (the Compose plans in snapshots/examples are
recorded by the real collector) and tiny packs written by the tests.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import jq
import jsonschema
import pytest
import yaml
from policy_packs import EXAMPLES, MISCONFIGURED, policy, write_pack

from evaluator import Evaluator, Source, load_pack
from evaluator import program as program_mod
from evaluator.diff import diff_results
from evaluator.pack import PolicyError
from evaluator.policy import derive_scope
from evaluator.render import render
from evaluator.results import SCHEMA_PATH
from evaluator.waivers import apply_waivers, load_waivers
from hullcheck_common.resources import policies_dir, policy_schema_path, snapshot_schema_path
from hullcheck_common.vocabulary import JUDGED_SUBJECTS, POINTER_SUBJECTS, SUBJECTS, pointer_subject

HARDENED_PLAN = EXAMPLES / "compose-hardened.json"
MISCONFIGURED_PLAN = EXAMPLES / "compose-misconfigured.json"

POINTERS = {
    "/host/apparmor": "host", "/daemon/options/icc": "daemon", "/engine/info": "engine", "/networks/0": "engine",
    "/volumes": "engine", "/plugins": "engine", "/files/~1etc~1docker": "files", "/audit/watches": "files",
    "/swarm/nodes": "swarm", "/images/2/history": "image", "/containers": "container",
    "/containers/3/inspect/HostConfig": "container", "/containers/3/processes": "processes",
    "/containers/3/processes/Processes/0": "processes", "/containers/3/processesX": "container",
    "/meta/finished_at": None, "": None, "/hostX": None,
}


def test_subjects_have_one_home_every_schema_agrees():
    snapshot = json.loads(snapshot_schema_path().read_text())
    source = snapshot["$defs"]["meta"]["properties"]["source"]["properties"]
    assert source["subjects"]["items"]["enum"] == list(SUBJECTS)
    policy_schema = json.loads(policy_schema_path().read_text())
    assert policy_schema["properties"]["subject"]["enum"] == list(JUDGED_SUBJECTS)
    assert policy_schema["properties"]["needs"]["items"]["enum"] == list(SUBJECTS)
    results = json.loads(SCHEMA_PATH.read_text())
    assert results["$defs"]["subject"]["enum"] == list(SUBJECTS)
    assert set(POINTER_SUBJECTS.values()) == set(SUBJECTS)


@pytest.mark.parametrize("pointer", sorted(POINTERS))
def test_a_pointer_belongs_to_the_subject_of_its_longest_prefix(pointer):
    assert pointer_subject(pointer) == POINTERS[pointer]


def test_the_jq_engine_reads_the_same_map():
    """The generated program classifies pointers exactly as the Python scope module does."""
    code = (program_mod._HEAD + program_mod._ERRS + program_mod._ENGINE
            + "[$__ptrs[] | _hc_segs | _hc_subject_of(.)]")
    out = jq.compile(code, args={"__ptrs": sorted(POINTERS)}).input_value({}).first()
    assert out == [POINTERS[p] for p in sorted(POINTERS)]


def test_every_builtin_policy_declares_its_subject():
    files = sorted(policies_dir().rglob("*.yaml"))
    assert len(files) > 100
    undeclared = [f.name for f in files if "subject" not in yaml.safe_load(f.read_text())]
    assert undeclared == []


def test_derivation_from_requires():
    assert derive_scope(["/containers", "/engine/info"]) == ("container", ("engine",))
    assert derive_scope(["/meta/finished_at", "/images", "/containers", "/images/0"]) == ("image", ("container",))
    assert derive_scope(["/containers/0/processes"]) == ("container", ("processes",))
    assert derive_scope(["/meta/finished_at"]) == (None, ())
    assert derive_scope([]) == (None, ())


@pytest.fixture(scope="module")
def custom(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pack(
        tmp_path_factory.mktemp("scope") / "pack",
        # declared container: the engine fact is read where it is held, skipped where it is not
        policy("tst-scope-declared", subject="container", requires=["/containers", "/engine/info"],
               assert_='.inspect.HostConfig.NetworkMode != "host"',
               evidence=["/inspect/HostConfig/NetworkMode", "snapshot:/engine/info/Driver", "/processes"]),
        # derived: requires a container and the engine, so it needs both
        policy("tst-scope-derived", requires=["/containers", "/engine/info"]),
        # nothing derivable: judged on every source
        policy("tst-scope-everywhere", resources="host", assert_="true"),
        # a manual host policy: not judged from a plan, manual on a host
        policy("tst-scope-manual", automated=False, subject="host"),
    )


@pytest.fixture(scope="module")
def scoped(custom: Path):
    with Evaluator(load_pack([policies_dir(), custom])) as ev:
        yield ev


def _evaluate(ev: Evaluator, path: Path, data: bytes | None = None) -> dict:
    return ev.evaluate(Source(name=path.name, data=data if data is not None else path.read_bytes()))


def _results(document: dict) -> dict:
    return {r["id"]: r for r in document["results"]}


def test_custom_subject_is_derived_once_at_load_and_kept_by_the_pack_cache(custom, tmp_path, monkeypatch):
    monkeypatch.setenv("HULLCHECK_CACHE_DIR", str(tmp_path / "cache"))
    first = {p.id: p for p in load_pack([custom])}
    assert (first["tst-scope-derived"].subject, first["tst-scope-derived"].needs) == ("container", ("engine",))
    assert (first["tst-scope-declared"].subject, first["tst-scope-declared"].needs) == ("container", ())
    assert (first["tst-scope-everywhere"].subject, first["tst-scope-everywhere"].needs) == (None, ())
    assert list((tmp_path / "cache").glob("pack-*.json")), "the pack was not cached"
    again = {p.id: p for p in load_pack([custom])}  # from the cache this time
    assert again == first
    assert {p.id: p.scope for p in again.values()} == {p.id: p.scope for p in first.values()}


def test_the_hardened_plan_shows_no_error_and_lists_the_rest_once(scoped):
    document = _evaluate(scoped, HARDENED_PLAN)
    jsonschema.Draft202012Validator(json.loads(SCHEMA_PATH.read_text())).validate(document)
    summary, block = document["summary"], document["not_judged"]
    assert summary["error"] == 0 and summary["fail"] == 0 and summary["pass"] > 20
    listed = [p["id"] for p in block["policies"]]
    judged = [r["id"] for r in document["results"]]
    assert summary["not_judged"] == len(listed) and summary["total"] == len(judged)
    assert sorted(listed + judged) == sorted(p.id for p in scoped.policies)  # each policy exactly once
    assert {"cis-docker-2.14", "cis-docker-5.7", "cis-docker-6.2", "cis-docker-7.1", "tst-scope-derived",
            "tst-scope-manual", "cis-docker-1.1.2"} <= set(listed)
    assert block["reason"] == ("this Compose plan holds containers only; they need the host, the daemon, the engine, "
                               "the host's files, the swarm, images or running processes")
    entry = next(p for p in block["policies"] if p["id"] == "cis-docker-5.7")
    assert entry["subject"] == "container" and entry["lacks"] == ["processes"]
    assert document["snapshot"]["subjects"] == ["container"] and document["snapshot"]["source"] == "compose"


def test_a_live_snapshot_judges_everything_as_before(scoped):
    document = _evaluate(scoped, MISCONFIGURED)
    assert "not_judged" not in document and document["summary"]["not_judged"] == 0
    assert "subjects" not in document["snapshot"] and "source" not in document["snapshot"]
    results = _results(document)
    assert results["tst-scope-manual"]["status"] == "manual"
    assert results["tst-scope-derived"]["status"] == "pass"
    assert len(results) == len(scoped.policies)


def test_pointers_outside_the_scope_are_skipped_inside_it_strict(scoped, tmp_path):
    plan = _results(_evaluate(scoped, MISCONFIGURED_PLAN))
    result = plan["tst-scope-declared"]
    assert result["status"] == "fail"
    (finding,) = result["findings"]
    assert finding["resource"]["name"] == "misconfigured-web-1"
    # the engine's fact and the container's processes are not part of the plan: not read, not reported
    assert [e["pointer"] for e in finding["evidence"]] == ["/containers/2/inspect/HostConfig/NetworkMode"]
    assert plan["tst-scope-everywhere"]["status"] == "pass"
    # live, the same pointers are required and reported
    live = _results(_evaluate(scoped, MISCONFIGURED))
    (finding,) = live["tst-scope-declared"]["findings"]
    assert [e["pointer"] for e in finding["evidence"]] == \
        ["/containers/3/inspect/HostConfig/NetworkMode", "/engine/info/Driver", "/containers/3/processes"]
    snapshot = json.loads(MISCONFIGURED.read_text())
    snapshot["engine"]["info"] = None
    live = _results(_evaluate(scoped, MISCONFIGURED, json.dumps(snapshot).encode()))
    assert live["tst-scope-declared"]["status"] == "error"  # fail closed where the engine is in scope
    assert "/engine/info" in live["tst-scope-declared"]["reason"]


def test_a_plan_that_holds_images_judges_the_image_policies(scoped):
    snapshot = json.loads(MISCONFIGURED_PLAN.read_text())
    snapshot["meta"]["source"]["subjects"] = ["container", "image"]
    snapshot["images"] = json.loads(MISCONFIGURED.read_text())["images"]
    document = _evaluate(scoped, MISCONFIGURED_PLAN, json.dumps(snapshot).encode())
    results = _results(document)
    assert results["cis-docker-4.6"]["status"] in ("pass", "fail")
    assert "cis-docker-6.1" not in results  # sprawl is the engine's store, not the plan's images
    assert "they need the host, the daemon, the engine, the host's files, the swarm or running processes" \
        in document["not_judged"]["reason"] and "holds images and containers only" in document["not_judged"]["reason"]


def test_each_report_says_it_once_and_nothing_per_policy(scoped):
    document = _evaluate(scoped, HARDENED_PLAN)
    count = document["summary"]["not_judged"]
    line = f"{count} policies not judged: this Compose plan holds containers only; they need the host"
    for fmt in ("text", "markdown", "html"):
        out = render(document, fmt)
        assert out.count(line) == 1, fmt
    text = render(document, "text")
    assert "cis-docker-2.14" not in text and "cis-docker-5.7" not in text
    sarif = json.loads(render(document, "sarif"))
    run = sarif["runs"][0]
    assert run["properties"]["notJudged"] == {"count": count, "reason": document["not_judged"]["reason"]}
    rules = {r["id"] for r in run["tool"]["driver"]["rules"]}
    assert rules and not rules & {p["id"] for p in document["not_judged"]["policies"]}
    junit = render(document, "junit")
    assert "cis-docker-5.7" not in junit and "cis-docker-5.10" in junit
    live = render(_evaluate(scoped, MISCONFIGURED), "text")
    assert "not judged" not in live


def test_cli_the_hardened_plan_exits_0_with_one_line(hullcheck_cli):
    out = hullcheck_cli("evaluate", str(HARDENED_PLAN))
    assert out.returncode == 0, out.stdout + out.stderr
    assert re.search(r"^Summary: \d+ passed, 0 failed, 0 errors", out.stdout, re.M), out.stdout
    (line,) = [x for x in out.stdout.splitlines() if "not judged" in x]
    assert re.fullmatch(r"\d+ policies not judged: this Compose plan holds containers only; they need .+\.", line)
    # a selection the plan can judge entirely lists nothing as not judged
    out = hullcheck_cli("evaluate", str(MISCONFIGURED_PLAN), "--policy", "cis-docker-5.10", "--format", "json")
    document = json.loads(out.stdout)
    assert out.returncode == 1 and "not_judged" not in document and document["summary"]["not_judged"] == 0


def test_waivers_diff_and_baseline_leave_not_judged_policies_out(scoped, tmp_path):
    document = _evaluate(scoped, HARDENED_PLAN)
    (tmp_path / "waivers.yaml").write_text(
        "waivers:\n"
        "  - {id: W1, policy: cis-docker-2.14, reason: daemon default accepted on this fleet, expires: 2999-01-01}\n"
        "  - {id: W2, policy: 'cis-docker-7.*', reason: swarm is not used here, expires: 2999-01-01}\n"
        "  - {id: W3, policy: cis-docker-5.10, reason: nothing fails here any more, expires: 2999-01-01}\n")
    waivers = load_waivers(tmp_path / "waivers.yaml")
    import datetime as dt

    apply_waivers(document, waivers, dt.date(2030, 1, 1))
    assert [w["id"] for w in document["waivers"]["stale"]] == ["W3"]  # not W1, W2: their policies were not judged
    assert document["summary"]["not_judged"] == len(document["not_judged"]["policies"])  # kept when re-summarised
    live = _evaluate(scoped, MISCONFIGURED)
    drift = diff_results(live, _evaluate(scoped, MISCONFIGURED_PLAN))
    fixed = {f["policy"] for f in drift["fixed"]}
    assert "cis-docker-2.14" not in fixed and "cis-docker-5.7" not in fixed  # not judged is not fixed
    assert "cis-docker-2.14" not in drift["policies_removed"]


def test_a_misspelt_subject_in_holds_is_refused_at_load(tmp_path):
    pack = write_pack(tmp_path / "pack", policy("tst-typo", assert_='if holds("engin") then true else false end'))
    with pytest.raises(PolicyError, match=r'tst-typo.yaml:\d+: assert: holds\("engin"\): no such subject'):
        load_pack([pack], cache=False)
