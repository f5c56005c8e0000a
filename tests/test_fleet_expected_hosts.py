"""`evaluate --expect-hosts`: a host that should have sent a snapshot and did not is reported, not forgotten.

A fleet directory only holds what arrived; without the list of expected hosts, a host whose
collection failed would make the fleet look smaller, not incomplete. These tests run the CLI on
recorded example snapshots named after their hosts, as the Ansible play leaves them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from conftest import REPO

EXAMPLES = REPO / "snapshots" / "examples"
ONE = ("--policy", "cis-docker-5.10")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hullcheck.cli", *args], capture_output=True, text=True, cwd="/",
                          timeout=300, env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)})


@pytest.fixture()
def fleet_dir(tmp_path: Path) -> Path:
    snapshots = tmp_path / "snapshots"
    snapshots.mkdir()
    (snapshots / "web01.json").write_text((EXAMPLES / "misconfigured.json").read_text())
    (snapshots / "web02.json").write_text((EXAMPLES / "minimal.json").read_text())
    return tmp_path


def _expect(fleet_dir: Path, text: str) -> Path:
    path = fleet_dir / "expected-hosts.txt"
    path.write_text(text)
    return path


def test_expected_hosts_without_a_snapshot_are_not_collected(fleet_dir: Path) -> None:
    expected = _expect(fleet_dir, "# the inventory\nweb01\nweb02\nweb03 unreachable: ssh: connect timed out\n\ndb01\n")
    proc = _cli("evaluate", str(fleet_dir / "snapshots"), "--expect-hosts", str(expected), "-f", "json", *ONE)
    assert proc.returncode == 2, proc.stderr  # incomplete: never clean for a CI gate
    assert "2 expected host(s) have no snapshot: web03, db01" in proc.stderr
    fleet = json.loads(proc.stdout)
    jsonschema.Draft202012Validator(json.loads((REPO / "evaluator" / "fleet.schema.json").read_text())).validate(fleet)
    hosts = {h["key"]: h for h in fleet["hosts"]}
    assert set(hosts) == {"web01", "web02", "web03", "db01"}  # keyed by the names the operator knows
    assert hosts["web01"]["status"] == hosts["web02"]["status"] == "evaluated"
    assert hosts["web03"] == {**hosts["web03"], "status": "not_collected",
                              "error": "web03: not collected (unreachable: ssh: connect timed out)"}
    assert hosts["db01"]["error"] == "db01: not collected"
    assert fleet["summary"]["hosts"] == 4 and fleet["summary"]["not_collected"] == 2
    assert fleet["summary"]["unreadable"] == 0 and fleet["summary"]["evaluated"] == 2
    for policy in fleet["policies"]:  # hosts without results count in no policy's figures
        assert not {"web03", "db01"} & set(policy["failing_hosts"] + policy["error_hosts"])


def test_every_host_expected_and_present_keeps_the_usual_exit_code(fleet_dir: Path) -> None:
    expected = _expect(fleet_dir, "web01\nweb02\n")
    plain = _cli("evaluate", str(fleet_dir / "snapshots"), "-f", "json", *ONE)
    with_list = _cli("evaluate", str(fleet_dir / "snapshots"), "--expect-hosts", str(expected), "-f", "json", *ONE)
    assert with_list.returncode == plain.returncode == 1  # web01 fails 5.10
    assert json.loads(with_list.stdout)["summary"]["not_collected"] == 0


def test_no_snapshot_at_all_still_reports_every_host(fleet_dir: Path, tmp_path: Path) -> None:
    """A run where every host failed leaves an empty directory: the report says so, host by host."""
    empty = tmp_path / "empty"
    empty.mkdir()
    expected = _expect(fleet_dir, "web01 unreachable\nweb02 unreachable\n")
    out = tmp_path / "fleet.md"
    proc = _cli("evaluate", str(empty), "--expect-hosts", str(expected), "-f", "markdown", "-o", str(out), *ONE)
    assert proc.returncode == 2, proc.stderr
    text = out.read_text()
    assert "## Not collected (2)" in text and "- web01: not collected (unreachable)" in text


def test_a_bad_expected_hosts_file_is_one_line(fleet_dir: Path) -> None:
    twice = _expect(fleet_dir, "web01\nweb01 again\n")
    proc = _cli("evaluate", str(fleet_dir / "snapshots"), "--expect-hosts", str(twice), *ONE)
    assert proc.returncode == 2 and "line 2: host 'web01' is named twice" in proc.stderr
    assert "Traceback" not in proc.stderr
    missing = _cli("evaluate", str(fleet_dir / "snapshots"), "--expect-hosts", str(fleet_dir / "nope.txt"), *ONE)
    assert missing.returncode == 2 and "nope.txt: no such file" in missing.stderr


def test_render_reads_a_stored_fleet_report(fleet_dir: Path, tmp_path: Path) -> None:
    expected = _expect(fleet_dir, "web01\nweb02\nweb03 unreachable\n")
    stored = tmp_path / "fleet.json"
    _cli("evaluate", str(fleet_dir / "snapshots"), "--expect-hosts", str(expected), "-f", "json", "-o", str(stored), *ONE)
    html = _cli("render", str(stored), "-f", "html")
    assert html.returncode == 0, html.stderr
    assert '<ul id="not-collected">' in html.stdout and "web03: not collected (unreachable)" in html.stdout
    assert '<div class="card" data-count="not_collected"><b>1</b>' in html.stdout
    text = _cli("render", str(stored), "-f", "text")
    assert text.returncode == 0 and "Not collected (1)" in text.stdout and "1 not collected" in text.stdout
    sarif = _cli("render", str(stored), "-f", "sarif")
    assert sarif.returncode == 2 and "not available for a fleet" in sarif.stderr
    broken = tmp_path / "broken-fleet.json"
    broken.write_text(json.dumps({**json.loads(stored.read_text()), "hosts": "nope"}))
    bad = _cli("render", str(broken), "-f", "markdown")
    assert bad.returncode == 2 and "not a fleet report this hullcheck reads: hosts" in bad.stderr
