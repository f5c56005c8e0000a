"""HTML report: self-contained, rendered by a real headless Chromium, and the counts it shows match the JSON.

Chromium is a CI dependency (.ci/run installs it): without it these tests FAIL, unless
HULLCHECK_ALLOW_NO_BROWSER=1 says this run has no browser on purpose.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from reports_support import container_index, evaluate_snapshot, example, patched

from evaluator.render import render
from evaluator.waivers import apply_waivers, load_waivers, parse_as_of

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="module")
def chromium() -> str:
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("HULLCHECK_ALLOW_NO_BROWSER") == "1":
        pytest.skip("no headless Chromium; HULLCHECK_ALLOW_NO_BROWSER=1")
    pytest.fail("the HTML report tests need a headless Chromium (apt-get install chromium); "
                "set HULLCHECK_ALLOW_NO_BROWSER=1 to skip them on purpose")
    raise AssertionError


def browse(chromium: str, page: Path, tmp_path: Path, fragment: str = "", screenshot: Path | None = None) -> str:
    """The DOM after the page's own scripts ran (or a screenshot), from a headless Chromium with no network use."""
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    args = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}", "--window-size=1300,1400"]
    args += [f"--screenshot={screenshot}"] if screenshot else ["--dump-dom"]
    proc = subprocess.run([*args, page.as_uri() + fragment], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


class Dom(HTMLParser):
    """Elements by id, and the result rows and findings the page's script created."""

    def __init__(self) -> None:
        super().__init__()
        self.by_id: dict[str, dict[str, str | None]] = {}
        self.rows: list[dict[str, str | None]] = []
        self.findings: list[dict[str, str | None]] = []
        self.body: dict[str, str | None] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.by_id[a["id"]] = a
        if tag == "tr" and "result" in (a.get("class") or "").split():
            self.rows.append(a)
        if "data-finding-status" in a:
            self.findings.append(a)
        if tag == "body":
            self.body = a


def dom(text: str) -> Dom:
    parser = Dom()
    parser.feed(text)
    return parser


@pytest.fixture(scope="module")
def mixed_document(tmp_path_factory):
    """misconfigured, with one resource made unjudgeable and one failure waived: every kind of count."""
    tmp = tmp_path_factory.mktemp("html")
    snap = example("misconfigured")
    worker = container_index(snap, "worker")
    broken = patched("misconfigured", [
        {"op": "test", "path": f"/containers/{worker}/inspect/Name", "value": "/worker"},
        {"op": "remove", "path": f"/containers/{worker}/inspect/HostConfig/Memory"},
    ])
    waivers = tmp / "w.yaml"
    waivers.write_text("waivers:\n  - {policy: cis-docker-5.32, reason: dashboard is the admin UI, expires: 2030-01-01}\n")
    return apply_waivers(evaluate_snapshot(broken), load_waivers(waivers), parse_as_of("2026-11-29"))


def test_the_report_is_self_contained():
    text = render(evaluate_snapshot("misconfigured"), "html")
    assert "Content-Security-Policy" in text and "default-src 'none'" in text
    assert not re.search(r"<(script|img|iframe|link|embed|object|source|audio|video)\b[^>]*\b(src|href)=", text, re.I)
    assert "@import" not in text and "url(" not in text
    assert "<svg" in text and 'id="chart-sections"' in text


@pytest.mark.parametrize("which", ["misconfigured", "minimal", "mixed"])
def test_counts_rendered_in_chromium_match_the_json(chromium, tmp_path, mixed_document, which):
    document = mixed_document if which == "mixed" else evaluate_snapshot(which)
    page = tmp_path / "report.html"
    page.write_text(render(document, "html"), encoding="utf-8")
    shown = dom(browse(chromium, page, tmp_path))
    assert shown.body.get("data-rendered") == "true", "the page's script did not run"
    summary = document["summary"]
    for status in ("pass", "fail", "error", "not_applicable", "manual", "waived", "total"):
        assert shown.by_id[f"count-{status}"]["data-count"] == str(summary[status]), status
    assert shown.by_id["count-findings"]["data-count"] == str(summary["failed_resources"])
    assert len(shown.rows) == len(document["results"])
    assert shown.by_id["shown-count"]["data-count"] == str(len(document["results"]))
    assert len(shown.findings) == sum(len(r["findings"]) for r in document["results"])
    statuses = sorted(f["data-finding-status"] for f in shown.findings)
    assert statuses == sorted(f["status"] for r in document["results"] for f in r["findings"])


def test_filters_by_status_severity_and_section(chromium, tmp_path, mixed_document):
    page = tmp_path / "report.html"
    page.write_text(render(mixed_document, "html"), encoding="utf-8")
    results = mixed_document["results"]
    for fragment, expected in (
        ("#status=fail", [r for r in results if r["status"] == "fail"]),
        ("#status=waived", [r for r in results if r["status"] == "waived"]),
        ("#severity=critical", [r for r in results if r["severity"] == "critical"]),
        ("#section=5&severity=high", [r for r in results if r["severity"] == "high"]),
    ):
        shown = dom(browse(chromium, page, tmp_path, fragment))
        visible = [row["data-id"] for row in shown.rows if "hidden" not in row]
        assert visible == [r["id"] for r in expected], fragment
        assert shown.by_id["shown-count"]["data-count"] == str(len(expected))


def test_evidence_is_shown_for_each_finding(chromium, tmp_path, mixed_document):
    page = tmp_path / "report.html"
    page.write_text(render(mixed_document, "html"), encoding="utf-8")
    text = browse(chromium, page, tmp_path)
    for result in mixed_document["results"]:
        for finding in result["findings"]:
            for ev in finding["evidence"]:
                assert ev["pointer"] in text


def test_snapshot_text_is_never_markup(chromium, tmp_path):
    snap = example("misconfigured")
    web = container_index(snap, "web")
    evil = patched("misconfigured", [
        {"op": "test", "path": f"/containers/{web}/inspect/Name", "value": "/web"},
        {"op": "replace", "path": f"/containers/{web}/inspect/Name", "value": "/w</script><img id=pwned src=x>"},
    ])
    page = tmp_path / "report.html"
    page.write_text(render(evaluate_snapshot(evil), "html"), encoding="utf-8")
    shown = dom(browse(chromium, page, tmp_path))
    assert "pwned" not in shown.by_id
    assert shown.body.get("data-rendered") == "true"


def test_a_screenshot_renders(chromium, tmp_path, mixed_document):
    page = tmp_path / "report.html"
    page.write_text(render(mixed_document, "html"), encoding="utf-8")
    shot = tmp_path / "report.png"
    browse(chromium, page, tmp_path, screenshot=shot)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    keep = os.environ.get("HULLCHECK_KEEP_SCREENSHOT")
    if keep:
        shutil.copy(shot, keep)
