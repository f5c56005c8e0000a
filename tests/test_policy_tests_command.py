"""`hullcheck test DIR`: one readable line per failing case, a coverage line, exit codes, JUnit XML."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from junitparser import Error, Failure, JUnitXml
from policy_packs import policy, write_pack

HOST_NET = '.inspect.HostConfig.NetworkMode != "host"'
WEB_TO_BRIDGE = [{"op": "test", "path": "/containers/3/inspect/Name", "value": "/web"},
                 {"op": "replace", "path": "/containers/3/inspect/HostConfig/NetworkMode", "value": "bridge"}]


def good_policy(policy_id: str = "tst-good") -> dict:
    return policy(policy_id, assert_=HOST_NET, evidence=["/inspect/HostConfig/NetworkMode"], tests=[
        {"name": "web on the host network fails", "base": "misconfigured", "expect": {"status": "fail", "offenders": ["web"]}},
        {"name": "all on bridges passes", "base": "misconfigured", "json_patch": WEB_TO_BRIDGE, "expect": {"status": "pass"}},
        {"name": "nothing running", "base": "minimal", "expect": {"status": "not_applicable"}},
    ])


@pytest.fixture(scope="module")
def bad_pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pack(
        tmp_path_factory.mktemp("cases") / "pack",
        good_policy(),
        policy("tst-wrong", assert_=HOST_NET, tests=[
            {"name": "expects the wrong offender", "base": "misconfigured",
             "expect": {"status": "fail", "offenders": ["db", "worker"]}},
            {"name": "expects pass but it fails", "base": "misconfigured", "expect": {"status": "pass"}},
        ]),
        policy("tst-error", assert_='.inspect.Name | tonumber > 0', tests=[
            {"name": "pass case that errors", "base": "misconfigured", "expect": {"status": "pass"}},
            {"name": "fail case that errors", "base": "misconfigured", "expect": {"status": "fail"}},
        ]),
        policy("tst-nocover", tests=[{"name": "only a passing case", "base": "misconfigured", "expect": {"status": "pass"}}]),
        policy("tst-broken", tests=[
            {"name": "patch does not apply", "base": "misconfigured",
             "json_patch": [{"op": "test", "path": "/containers/3/inspect/Name", "value": "/db"}], "expect": {"status": "pass"}},
            {"name": "patch breaks the schema", "base": "misconfigured",
             "merge_patch": {"schema_version": 1}, "expect": {"status": "fail"}},
        ]),
        policy("tst-manual", automated=False, tests=[{"name": "manual", "expect": {"status": "manual"}}]),
    )


@pytest.fixture(scope="module")
def run(bad_pack: Path, tmp_path_factory: pytest.TempPathFactory):
    """`hullcheck test PACK --junit FILE` once for the module (as the hullcheck_cli fixture runs it)."""
    junit = tmp_path_factory.mktemp("junit") / "cases.xml"
    proc = subprocess.run([sys.executable, "-m", "hullcheck.cli", "test", str(bad_pack), "--junit", str(junit)],
                          capture_output=True, text=True, cwd="/", timeout=300, check=False,
                          env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)})
    return proc, junit


def test_exit_1_and_one_line_per_failing_case(run):
    proc, _ = run
    assert proc.returncode == 1, proc.stderr
    fails = [line for line in proc.stdout.splitlines() if line.startswith("FAIL ")]
    assert len(fails) == 6, proc.stdout
    assert ("FAIL tst-wrong [expects the wrong offender]: status: fail as expected | offenders: expected "
            "['db', 'worker'], got ['web']; missing db, worker; unexpected web") in fails
    assert "FAIL tst-wrong [expects pass but it fails]: status: expected pass, got fail" in fails


def test_error_reason_is_in_the_line(run):
    proc, _ = run
    line = next(line for line in proc.stdout.splitlines() if "[pass case that errors]" in line)
    assert "status: expected pass, got error" in line
    assert "reason: 4 resource(s) could not be judged; dashboard: " in line and "cannot be parsed as a number" in line


def test_broken_cases_say_why(run):
    proc, _ = run
    out = proc.stdout
    assert "FAIL tst-broken [patch does not apply]: broken case: JSON Patch does not apply" in out
    assert "FAIL tst-broken [patch breaks the schema]: broken case: patched snapshot: " in out


def test_summary_and_coverage_lines(run):
    proc, _ = run
    assert "5 passed, 6 failed" in proc.stdout.splitlines()
    coverage = next(line for line in proc.stdout.splitlines() if line.startswith("coverage:"))
    # coverage counts the kinds of case a policy declares (whether they pass is the line above)
    assert coverage == "coverage: 4 of 5 automated policies have a passing and a failing case; without: tst-nocover"


def test_junit_xml_parses_with_a_real_consumer(run):
    _, junit = run
    xml = JUnitXml.fromfile(str(junit))
    suites = {suite.name: suite for suite in xml}
    assert set(suites) == {"tst-good", "tst-wrong", "tst-error", "tst-nocover", "tst-broken", "tst-manual"}
    cases = {(suite.name, case.name): case for suite in xml for case in suite}
    assert len(cases) == 11
    assert cases[("tst-good", "web on the host network fails")].is_passed
    wrong = cases[("tst-wrong", "expects the wrong offender")]
    assert isinstance(wrong.result[0], Failure) and "unexpected web" in wrong.result[0].message
    assert isinstance(cases[("tst-broken", "patch does not apply")].result[0], Error)
    assert sum(s.failures for s in xml) == 4 and sum(s.errors for s in xml) == 2


def test_a_clean_pack_exits_0(tmp_path, hullcheck_cli):
    pack = write_pack(tmp_path / "pack", good_policy("tst-clean"))
    proc = hullcheck_cli("test", str(pack))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.splitlines() == ["3 passed, 0 failed",
                                        "coverage: 1 of 1 automated policies have a passing and a failing case"]


def test_missing_coverage_alone_exits_1(tmp_path, hullcheck_cli):
    pack = write_pack(tmp_path / "pack", policy("tst-half", tests=[{"name": "p", "base": "misconfigured",
                                                                      "expect": {"status": "pass"}}]))
    proc = hullcheck_cli("test", str(pack))
    assert proc.returncode == 1
    assert "1 passed, 0 failed" in proc.stdout and "without: tst-half" in proc.stdout
