"""Markdown pull-request comment: summary, failures by severity with offenders, details, size cap."""

from __future__ import annotations

import re

from reports_support import container_index, evaluate_snapshot, example, patched

from evaluator.render import render
from evaluator.render.markdown import MAX_CHARS


def test_summary_table_failures_by_severity_and_details():
    document = evaluate_snapshot("misconfigured")
    text = render(document, "markdown")
    summary = document["summary"]
    assert f"| Fail | {summary['fail']} |" in text and f"| Pass | {summary['pass']} |" in text
    # Failures appear by severity: critical before high before medium, each with its offenders.
    order = [text.index(h) for h in ("#### Critical", "#### High", "#### Medium")]
    assert order == sorted(order)
    for result in document["results"]:
        offenders = [f["resource"]["name"] for f in result["findings"] if f["status"] == "fail"]
        row = next(line for line in text.splitlines() if line.startswith(f"| `{result['id']}` |"))
        assert all(name in row for name in offenders)
    assert text.count("<details>") == text.count("</details>") == summary["fail"]
    assert "/inspect/HostConfig/NetworkMode" in text
    assert "cut to stay under" not in text


def test_snapshot_text_cannot_inject_markup():
    snap = example("misconfigured")
    web = container_index(snap, "web")
    evil = patched("misconfigured", [
        {"op": "test", "path": f"/containers/{web}/inspect/Name", "value": "/web"},
        {"op": "replace", "path": f"/containers/{web}/inspect/Name", "value": "/x<img src=y onerror=alert(1)>|z"},
    ])
    text = render(evaluate_snapshot(evil), "markdown")
    outside_code = re.sub(r"`[^`\n]*`", "", text)  # a code span shows its text literally
    assert "<img" not in outside_code
    assert "&lt;img" in outside_code

    backtick = patched("misconfigured", [
        {"op": "test", "path": f"/containers/{web}/inspect/Name", "value": "/web"},
        {"op": "replace", "path": f"/containers/{web}/inspect/Name", "value": "/a`<marquee>`c"},
    ])
    text = render(evaluate_snapshot(backtick), "markdown")
    assert "<marquee>" not in re.sub(r"`[^`\n]*`", "", text)


def _synthetic(n_policies: int, n_resources: int) -> dict:
    """A large hand-made results document (the one exception: real packs are small today)."""
    results = []
    for p in range(n_policies):
        findings = [{"resource": {"type": "container", "name": f"svc-{p}-{r}", "id": f"{r:064x}", "key": f"container:svc-{p}-{r}"},
                     "status": "fail", "message": f"container svc-{p}-{r} breaks rule {p} " + "x" * 80,
                     "evidence": [{"pointer": f"/containers/{r}/inspect/HostConfig/Privileged", "value": True}]}
                    for r in range(n_resources)]
        results.append({"id": f"custom-{p}", "title": f"Synthetic policy {p}", "severity": ("critical", "high", "medium", "low")[p % 4],
                        "level": 1, "controls": {"cis-docker-1.6.0": f"5.{p}"}, "tags": [], "automated": True,
                        "description": "d", "remediation": "fix it " * 20, "references": [], "status": "fail",
                        "reason": None, "findings": findings, "passed": []})
    return {"results_version": "1.0", "tool": {"name": "hullcheck", "version": "0"},
            "snapshot": {"host": "big", "sha256": "0" * 64}, "pack": {}, "evaluated_at": "2026-01-01T00:00:00Z",
            "summary": {"pass": 0, "fail": n_policies, "error": 0, "not_applicable": 0, "manual": 0, "waived": 0,
                        "total": n_policies, "score": 0.0, "failed_resources": n_policies * n_resources},
            "results": results}


def test_a_huge_report_is_cut_under_the_limit_with_a_note():
    document = _synthetic(120, 300)
    text = render(document, "markdown")
    assert len(text) <= MAX_CHARS
    assert "cut to stay under 60,000 characters" in text
    assert text.count("<details>") == text.count("</details>")  # never a half-open block
    # The summary and the severity table survive; offenders lists are shortened, not dropped.
    assert "| Fail | 120 |" in text
    assert "#### Critical (30)" in text
    assert re.search(r"svc-0-0, .* and 290 more", text)


def test_a_failure_table_too_long_for_the_limit_is_cut_too():
    document = _synthetic(2000, 2)
    text = render(document, "markdown", max_chars=20_000)
    assert len(text) <= 20_000
    assert "cut to stay under 20,000 characters" in text


def test_new_findings_against_a_baseline_are_marked():
    from evaluator.diff import mark_baseline

    snap = example("misconfigured")
    web = container_index(snap, "web")
    before = patched("misconfigured", [
        {"op": "test", "path": f"/containers/{web}/inspect/Name", "value": "/web"},
        {"op": "replace", "path": f"/containers/{web}/inspect/HostConfig/NetworkMode", "value": "bridge"},
    ])
    document = mark_baseline(evaluate_snapshot("misconfigured"), evaluate_snapshot(before))
    text = render(document, "markdown")
    assert "**1 new** failing finding(s), 2 known, 0 fixed" in text
    row = next(line for line in text.splitlines() if line.startswith("| `cis-docker-5.10` |"))
    assert "web 🆕" in row
    assert "🆕" not in next(line for line in text.splitlines() if line.startswith("| `cis-docker-5.11` |"))
