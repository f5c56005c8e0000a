"""Every policy's own test cases pass, and every automated policy has a passing and a failing case."""

from __future__ import annotations

from evaluator import load_pack
from evaluator.testing import coverage, run_cases
from hullcheck_common.resources import policies_dir, snapshots_dir


def test_every_policy_case_passes():
    policies = load_pack([policies_dir()])
    results = run_cases(policies, snapshots_dir() / "examples")
    assert results, "no policy test cases found"
    failed = [r.describe() for r in results if not r.ok]
    assert not failed, "\n".join(failed)


def test_every_automated_policy_has_a_passing_and_a_failing_case():
    covered, uncovered = coverage(load_pack([policies_dir()]))
    assert covered
    assert not uncovered, f"automated policies without both a passing and a failing case: {uncovered}"


def test_hullcheck_test_command_reports_and_exits(hullcheck_cli):
    proc = hullcheck_cli("test")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 failed" in proc.stdout
    assert "coverage:" in proc.stdout
