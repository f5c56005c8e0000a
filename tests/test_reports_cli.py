"""The CLI side of reports: every format from evaluate and from stored results, --fail-on, render errors."""

from __future__ import annotations

import json

import jsonschema
import pytest
from junitparser import JUnitXml
from reports_support import EXAMPLES, SELECT, evaluate_snapshot
from test_reports_sarif import SCHEMA

from evaluator.gate import FAIL_ON_CHOICES, gating_results
from evaluator.render import render

SNAPSHOT = str(EXAMPLES / "misconfigured.json")


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """Results written by the real CLI, as a site would hand them over."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    path = tmp_path_factory.mktemp("stored") / "results.json"
    repo = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, "-m", "hullcheck.cli", "evaluate", *SELECT, SNAPSHOT, "--format", "json", "-o", str(path)],
                          cwd="/", env={**os.environ, "PYTHONPATH": str(repo)}, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr  # misconfigured fails
    return path


@pytest.mark.parametrize("fmt", ["sarif", "junit", "markdown", "html", "json", "text"])
def test_render_reproduces_each_format_from_stored_results(hullcheck_cli, stored, tmp_path, fmt):
    document = json.loads(stored.read_text())
    out = tmp_path / f"report.{fmt}"
    proc = hullcheck_cli("render", str(stored), "--format", fmt, "-o", str(out))
    assert proc.returncode == 0, proc.stderr  # render does not gate unless asked
    assert out.read_text() == render(document, fmt)


def test_evaluate_writes_every_format_directly(hullcheck_cli, tmp_path):
    sarif = tmp_path / "r.sarif"
    assert hullcheck_cli("evaluate", *SELECT, SNAPSHOT, "-f", "sarif", "-o", str(sarif)).returncode == 1
    jsonschema.Draft4Validator(SCHEMA).validate(json.loads(sarif.read_text()))
    junit = tmp_path / "r.xml"
    assert hullcheck_cli("evaluate", *SELECT, SNAPSHOT, "-f", "junit", "-o", str(junit)).returncode == 1
    assert JUnitXml.fromfile(str(junit)).failures == 3
    md = hullcheck_cli("evaluate", *SELECT, SNAPSHOT, "-f", "markdown")
    assert md.returncode == 1 and md.stdout.startswith("## hullcheck: vm")
    html = hullcheck_cli("evaluate", *SELECT, SNAPSHOT, "-f", "html")
    assert html.returncode == 1 and html.stdout.startswith("<!DOCTYPE html>")


def test_fail_on_thresholds(hullcheck_cli, tmp_path):
    # misconfigured fails one critical (5.32), one high (5.10) and one medium (5.11) policy.
    document = evaluate_snapshot("misconfigured")
    tripped = {t: sorted(r["id"] for r in gating_results(document, t)) for t in FAIL_ON_CHOICES if t != "new"}
    assert tripped == {"any": ["cis-docker-5.10", "cis-docker-5.11", "cis-docker-5.32"], "critical": ["cis-docker-5.32"],
                       "high": ["cis-docker-5.10", "cis-docker-5.32"],
                       "medium": ["cis-docker-5.10", "cis-docker-5.11", "cis-docker-5.32"],
                       "low": ["cis-docker-5.10", "cis-docker-5.11", "cis-docker-5.32"],
                       "info": ["cis-docker-5.10", "cis-docker-5.11", "cis-docker-5.32"], "none": []}
    assert hullcheck_cli("evaluate", *SELECT, SNAPSHOT, "--fail-on", "critical").returncode == 1
    assert hullcheck_cli("evaluate", *SELECT, SNAPSHOT, "--fail-on", "none").returncode == 0
    waivers = tmp_path / "w.yaml"
    waivers.write_text("waivers:\n  - {policy: cis-docker-5.32, reason: admin ui, expires: 2030-01-01}\n")
    # With the critical one waived, only thresholds at or below high trip.
    assert hullcheck_cli("evaluate", *SELECT, SNAPSHOT, "--waivers", str(waivers), "--fail-on", "critical").returncode == 0
    assert hullcheck_cli("evaluate", *SELECT, SNAPSHOT, "--waivers", str(waivers), "--fail-on", "high").returncode == 1
    bad = hullcheck_cli("evaluate", *SELECT, SNAPSHOT, "--fail-on", "severe")
    assert bad.returncode == 2 and "--fail-on must be one of" in bad.stderr


def test_render_gates_only_when_asked(hullcheck_cli, stored):
    assert hullcheck_cli("render", str(stored), "-f", "markdown").returncode == 0
    assert hullcheck_cli("render", str(stored), "-f", "markdown", "--fail-on", "any").returncode == 1
    assert hullcheck_cli("render", str(stored), "-f", "markdown", "--fail-on", "critical").returncode == 1


def test_render_applies_waivers_to_stored_results(hullcheck_cli, stored, tmp_path):
    waivers = tmp_path / "w.yaml"
    waivers.write_text("waivers:\n  - {policy: 'cis-docker-5.*', reason: lab host, expires: 2030-01-01}\n")
    proc = hullcheck_cli("render", str(stored), "-f", "json", "--waivers", str(waivers), "--fail-on", "any")
    assert proc.returncode == 0, proc.stderr
    waived = json.loads(proc.stdout)
    assert waived["summary"]["waived"] == 3
    again = tmp_path / "waived.json"
    again.write_text(proc.stdout)
    twice = hullcheck_cli("render", str(again), "--waivers", str(waivers))
    assert twice.returncode == 2 and "already have waivers applied" in twice.stderr


def test_render_refuses_bad_files_in_one_line(hullcheck_cli, stored, tmp_path):
    notjson = tmp_path / "x.json"
    notjson.write_text("{not json")
    cases = [str(notjson), SNAPSHOT, str(tmp_path), str(tmp_path / "missing.json")]
    for path in cases:
        proc = hullcheck_cli("render", path, "-f", "sarif")
        assert proc.returncode == 2, path
        assert proc.stdout == "" and proc.stderr.startswith("hullcheck: error: ") and proc.stderr.count("\n") == 1, proc.stderr
    proc = hullcheck_cli("render", str(stored), "-f", "html", "-o", str(stored))
    assert proc.returncode == 2 and "refusing to overwrite an input" in proc.stderr
    assert json.loads(stored.read_text())["results_version"]


def test_help_documents_formats_fail_on_and_exit_codes(hullcheck_cli):
    for command in ("evaluate", "audit", "render"):
        text = hullcheck_cli(command, "--help", env={"COLUMNS": "200"}).stdout
        assert "--fail-on" in text and "Exit codes" in text, command
        assert "sarif" in text and "markdown" in text, command
    assert "--waivers" in hullcheck_cli("evaluate", *SELECT, "--help", env={"COLUMNS": "200"}).stdout
    assert "Exit codes" in hullcheck_cli("waivers", "lint", "--help", env={"COLUMNS": "200"}).stdout
    assert "Exit codes" in hullcheck_cli("diff", "--help", env={"COLUMNS": "200"}).stdout


def test_render_gates_on_new_with_marks_stored_in_the_results(hullcheck_cli, stored, tmp_path):
    marked = tmp_path / "marked.json"
    proc = hullcheck_cli("evaluate", *SELECT, SNAPSHOT, "--baseline", str(stored), "-f", "json", "-o", str(marked), "--fail-on", "none")
    assert proc.returncode == 0, proc.stderr
    assert hullcheck_cli("render", str(marked), "--fail-on", "new").returncode == 0  # all known
    proc = hullcheck_cli("render", str(stored), "--fail-on", "new")  # no marks and no --baseline
    assert proc.returncode == 2 and "--baseline" in proc.stderr


def test_audit_takes_the_same_report_options(hullcheck_cli, tmp_path):
    waivers = tmp_path / "w.yaml"
    waivers.write_text("waivers:\n  - {policy: cis-docker-5.32, reason: admin ui, expires: 2030-01-01}\n")
    # No engine at this address: audit falls back to the bundled example (and says so).
    proc = hullcheck_cli("audit", *SELECT, "--docker-host", f"unix://{tmp_path}/none.sock", "--fallback-example",
                         "--waivers", str(waivers), "--fail-on", "critical", "--format", "sarif")
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)["runs"][0]["results"]
    assert [r["ruleId"] for r in results if r.get("suppressions")] == ["cis-docker-5.32"]
    assert hullcheck_cli("audit", *SELECT, "--docker-host", f"unix://{tmp_path}/none.sock", "--fallback-example",
                         "--fail-on", "new").returncode == 2


@pytest.mark.parametrize("damage", ["title", "severity", "findings.message", "findings.resource"])
def test_render_refuses_results_missing_what_reports_need(hullcheck_cli, stored, tmp_path, damage):
    document = json.loads(stored.read_text())
    target = document["results"][0]
    if damage.startswith("findings."):
        target["findings"][0].pop(damage.split(".")[1])
    else:
        target.pop(damage)
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))
    proc = hullcheck_cli("render", str(broken))
    assert proc.returncode == 2 and proc.stderr.startswith("hullcheck: error: ") and "results/0" in proc.stderr, proc.stderr
