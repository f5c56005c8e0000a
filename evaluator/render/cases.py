"""Reports of `hullcheck test`: the policy test cases' summary for people, and JUnit XML for CI."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

if TYPE_CHECKING:
    from ..testing import CaseReport, CaseResult


def text(report: CaseReport, **_: Any) -> str:
    """FAIL lines for the wrong cases, then counts and coverage."""
    failed = [r for r in report.results if not r.ok]
    lines = [f"FAIL {r.describe()}" for r in failed]
    lines.append(f"{len(report.results) - len(failed)} passed, {len(failed)} failed")
    lines.append(f"coverage: {len(report.covered)} of {len(report.covered) + len(report.uncovered)} automated policies "
                 "have a passing and a failing case" + (f"; without: {', '.join(report.uncovered)}" if report.uncovered else ""))
    return "\n".join(lines) + "\n"


def junit(report: CaseReport, **_: Any) -> str:
    """JUnit XML of the case results: one testsuite per policy, one testcase per case.

    A wrong verdict is a `failure`; a case that cannot run (bad base, patch or snapshot) an `error`.
    """
    results = report.results
    broken = sum(bool(r.problem) for r in results)
    wrong = sum(not r.ok and not r.problem for r in results)
    root = ET.Element("testsuites", name="hullcheck policy tests", tests=str(len(results)),
                      failures=str(wrong), errors=str(broken))
    by_policy: dict[str, list[CaseResult]] = {}
    for result in results:
        by_policy.setdefault(result.policy_id, []).append(result)
    for policy_id, cases in by_policy.items():
        suite = ET.SubElement(root, "testsuite", name=policy_id, tests=str(len(cases)),
                              failures=str(sum(not c.ok and not c.problem for c in cases)),
                              errors=str(sum(bool(c.problem) for c in cases)))
        for case in cases:
            element = ET.SubElement(suite, "testcase", classname=policy_id, name=case.case)
            if not case.ok:
                tag = "error" if case.problem else "failure"
                failure = ET.SubElement(element, tag, message=case.describe())
                failure.text = case.describe()
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
