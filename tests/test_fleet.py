"""Many snapshots at once: one fleet report, per-host results, bad inputs counted, not fatal.

The fleet is built from the recorded example snapshots with host names and a few settings
changed, so every host's expected failures are known; they are also checked against evaluating
each snapshot on its own, so the fleet report can never drift from the single-host results.
"""

from __future__ import annotations

import json
import os
import pty
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import REPO

EXAMPLES = REPO / "snapshots" / "examples"
THREE = ("--policy", "cis-docker-5.10", "--policy", "cis-docker-5.11", "--policy", "cis-docker-5.32")

# host -> the policies (of THREE) it fails
EXPECTED_FAILS = {
    "web01": {"cis-docker-5.10", "cis-docker-5.11", "cis-docker-5.32"},
    "web02": {"cis-docker-5.11", "cis-docker-5.32"},
    "db01": {"cis-docker-5.32"},
    "clean01": set(),
}


def _variant(base: str, hostname: str, network_web: str | None = None, worker_memory: int | None = None) -> str:
    snapshot = json.loads((EXAMPLES / f"{base}.json").read_text())
    snapshot["meta"]["hostname"] = hostname
    if network_web is not None:
        assert snapshot["containers"][3]["inspect"]["Name"] == "/web"
        snapshot["containers"][3]["inspect"]["HostConfig"]["NetworkMode"] = network_web
    if worker_memory is not None:
        assert snapshot["containers"][4]["inspect"]["Name"] == "/worker"
        snapshot["containers"][4]["inspect"]["HostConfig"]["Memory"] = worker_memory
    return json.dumps(snapshot, indent=1)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """snapshots/<host>/snapshot.json as an Ansible fetch leaves them, plus an earlier run's outputs."""
    root = tmp_path_factory.mktemp("site") / "snapshots"
    layout = {
        "web01": _variant("misconfigured", "web01"),
        "web02": _variant("misconfigured", "web02", network_web="bridge"),
        "db01": _variant("misconfigured", "db01", network_web="bridge", worker_memory=64 * 1024 * 1024),
        "clean01": _variant("minimal", "clean01"),
    }
    for host, text in layout.items():
        (root / host).mkdir(parents=True)
        (root / host / "snapshot.json").write_text(text)
    # hullcheck's own outputs from an earlier run are not snapshots and must be skipped.
    (root / "previous").mkdir()
    (root / "previous" / "fleet.json").write_text("{}")
    (root / "previous" / "web01__snapshot.results.json").write_text("{}")
    (root / ".hidden.json").write_text("{")
    return root


def _fleet(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    fleet = json.loads(proc.stdout)
    schema = json.loads((REPO / "evaluator" / "fleet.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(fleet)
    return fleet


@pytest.fixture(scope="module")
def fleet_run(site: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """One fleet evaluation of the site (two jobs, per-host files), shared by the tests that read it."""
    out = tmp_path_factory.mktemp("fleet-out") / "results"
    proc = subprocess.run([sys.executable, "-m", "hullcheck.cli", "evaluate", str(site), "--format", "json", "--jobs", "2",
                           "--output-dir", str(out), *THREE], capture_output=True, text=True, cwd="/", timeout=300,
                          env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)})
    return proc, out


@pytest.fixture(scope="module")
def alone(site: Path) -> dict[str, dict[str, Any]]:
    """Each snapshot evaluated on its own, in-process, through the evaluator's single-host path."""
    from evaluator import Evaluator, Selection, Source, load_pack
    from hullcheck_common.resources import policies_dir

    policies = Selection(include=tuple(THREE[1::2])).apply(load_pack([policies_dir()]))
    with Evaluator(policies, pack_version=__import__("hullcheck").__version__) as ev:
        return {str(f): ev.evaluate(Source(name=str(f), path=str(f))) for f in sorted(site.glob("*/snapshot.json"))}


def test_a_directory_of_hosts_becomes_one_fleet_report(fleet_run: Any) -> None:
    proc, _out = fleet_run
    assert proc.returncode == 1, proc.stderr  # some host fails a policy
    assert proc.stderr == "", "no progress bar and no error when stderr is not a terminal and all inputs are good"
    fleet = _fleet(proc)
    hosts = {h["key"]: h for h in fleet["hosts"]}
    assert set(hosts) == set(EXPECTED_FAILS), "one entry per snapshot, earlier outputs and hidden files skipped"
    for key, expected in EXPECTED_FAILS.items():
        assert set(hosts[key]["failed"]) == expected, key
    by_policy = {p["id"]: set(p["failing_hosts"]) for p in fleet["policies"]}
    assert by_policy == {
        "cis-docker-5.10": {"web01"},
        "cis-docker-5.11": {"web01", "web02"},
        "cis-docker-5.32": {"web01", "web02", "db01"},
    }
    summary = fleet["summary"]
    assert (summary["hosts"], summary["evaluated"], summary["unreadable"]) == (4, 4, 0)
    assert (summary["hosts_failing"], summary["hosts_passing"]) == (3, 1)
    assert summary["failures_by_severity"] == {"critical": 3, "high": 1, "medium": 2, "low": 0, "info": 0}
    assert summary["hosts_failing_by_severity"] == {"critical": 3, "high": 1, "medium": 2, "low": 0, "info": 0}
    assert fleet["worst_hosts"] == ["web01", "web02", "db01"], "ranked by critical, then high, then medium failures"


def test_fleet_agrees_with_each_host_evaluated_alone(fleet_run: Any, alone: dict[str, dict[str, Any]]) -> None:
    fleet = _fleet(fleet_run[0])
    assert {h["source"] for h in fleet["hosts"]} == set(alone)
    for host in fleet["hosts"]:
        document = alone[host["source"]]
        assert host["statuses"] == {r["id"]: r["status"] for r in document["results"]}
        assert host["summary"] == document["summary"]
        assert host["snapshot"] == document["snapshot"]


def test_output_dir_keeps_every_hosts_results(fleet_run: Any, alone: dict[str, dict[str, Any]]) -> None:
    proc, out = fleet_run
    written = sorted(p.name for p in out.iterdir())
    assert written == ["clean01__snapshot.results.json", "db01__snapshot.results.json", "fleet.json",
                       "web01__snapshot.results.json", "web02__snapshot.results.json"]
    fleet = json.loads((out / "fleet.json").read_text())
    assert fleet == json.loads(proc.stdout)
    for host in fleet["hosts"]:
        document = json.loads(Path(host["results_file"]).read_text())
        expected = json.loads(json.dumps(alone[host["source"]]))
        document.pop("evaluated_at")
        expected.pop("evaluated_at")
        assert document == expected, "a host's results file is exactly what evaluating it alone gives"


def test_jobs_do_not_change_the_report(site: Path, fleet_run: Any, hullcheck_cli: Any, tmp_path: Path) -> None:
    """--jobs 1 gives the same fleet as --jobs 2; and a re-run over a tree holding earlier outputs skips them."""
    _proc, out = fleet_run
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    shutil.copytree(out, copy / "results")
    proc = hullcheck_cli("evaluate", str(copy), "--format", "json", "--jobs", "1", *THREE)
    assert proc.returncode == 1, proc.stderr
    one = _fleet(proc)
    two = _fleet(fleet_run[0])
    for doc in (one, two):
        doc.pop("evaluated_at")
        for host in doc["hosts"]:
            host["results_file"] = host["source"] = None
    assert one == two


def test_evaluate_many_runs_one_worker_process_per_job(site: Path) -> None:
    from evaluator import Evaluator, Source, load_pack
    from hullcheck_common.resources import policies_dir

    files = sorted(site.glob("*/snapshot.json")) * 2
    with Evaluator(load_pack([policies_dir()])) as ev:
        results = list(ev.evaluate_many([Source(name=str(f), path=str(f)) for f in files], jobs=2))
        workers = len(ev._idle)
    assert [src.name for src, _ in results] == [str(f) for f in files], "results come back in the order given"
    assert all(isinstance(doc, dict) for _, doc in results)
    assert 1 <= workers <= 2


def test_a_directory_without_snapshots_is_said(site: Path, fleet_run: Any, hullcheck_cli: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = hullcheck_cli("evaluate", str(site / "web01"), str(empty), "--format", "json", *THREE)
    assert proc.returncode == 2, "a directory with no snapshot is an input error, after the rest was evaluated"
    assert proc.stderr.splitlines()[0] == f"hullcheck: error: {empty}: no snapshot (*.json) in this directory"
    assert [h["key"] for h in _fleet(proc)["hosts"]] == ["web01"]


def test_bad_snapshots_are_reported_and_the_rest_evaluated(site: Path, hullcheck_cli: Any, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.json"
    truncated.write_text((EXAMPLES / "minimal.json").read_text()[:200])
    wrong = tmp_path / "not-a-snapshot.json"
    wrong.write_text('{"hello": "world"}')
    missing = tmp_path / "missing.json"
    proc = hullcheck_cli("evaluate", str(site), str(truncated), str(wrong), str(missing), "--format", "json", *THREE)
    assert proc.returncode == 2, "an incomplete fleet is an input error, after the rest was evaluated"
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 4 and all(line.startswith("hullcheck: error: ") for line in lines), proc.stderr
    for bad in (truncated, wrong, missing):
        assert sum(str(bad) in line for line in lines) == 1
    assert "3 of 7 input(s) could not be evaluated" in lines[-1]
    assert "Traceback" not in proc.stderr
    fleet = _fleet(proc)
    assert fleet["summary"]["unreadable"] == 3 and fleet["summary"]["evaluated"] == 4
    unreadable = {h["source"]: h for h in fleet["hosts"] if h["status"] == "unreadable"}
    assert set(unreadable) == {str(truncated), str(wrong), str(missing)}
    assert all(h["error"] and not h["statuses"] for h in unreadable.values())
    assert {p["id"]: len(p["failing_hosts"]) for p in fleet["policies"]}["cis-docker-5.32"] == 3


def test_globs_are_expanded_and_one_that_matches_nothing_is_said(site: Path, hullcheck_cli: Any) -> None:
    proc = hullcheck_cli("evaluate", f"{site}/web*/snapshot.json", "--format", "json", *THREE)
    assert proc.returncode == 1, proc.stderr
    assert {h["key"] for h in _fleet(proc)["hosts"]} == {"web01", "web02"}
    proc = hullcheck_cli("evaluate", f"{site}/nothing-*.json", *THREE)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"hullcheck: error: no snapshot to evaluate: {site}/nothing-*.json: matches no file"]


def test_two_snapshots_of_one_host_are_told_apart(hullcheck_cli: Any, tmp_path: Path) -> None:
    for name in ("monday.json", "tuesday.json"):
        (tmp_path / name).write_text(_variant("misconfigured", "web01"))
    fleet = _fleet(hullcheck_cli("evaluate", str(tmp_path / "monday.json"), str(tmp_path / "tuesday.json"),
                                 "--format", "json", *THREE))
    keys = [h["key"] for h in fleet["hosts"]]
    assert len(set(keys)) == 2 and all(k.startswith("web01 (") for k in keys)


def test_single_file_keeps_the_single_host_report(hullcheck_cli: Any) -> None:
    proc = hullcheck_cli("evaluate", str(EXAMPLES / "misconfigured.json"), "--format", "json", *THREE)
    assert proc.returncode == 1
    document = json.loads(proc.stdout)
    assert "results_version" in document and "fleet_version" not in document
    text = hullcheck_cli("evaluate", str(EXAMPLES / "misconfigured.json"), *THREE)
    assert text.stdout.startswith("hullcheck ") and "Summary:" in text.stdout and "fleet" not in text.stdout
    # A directory is a fleet even with one snapshot in it.
    fleet = hullcheck_cli("evaluate", str(EXAMPLES), "--format", "json", "--policy", "cis-docker-5.10")
    assert "fleet_version" in json.loads(fleet.stdout)


def test_single_host_only_formats_are_refused_for_a_fleet(site: Path, hullcheck_cli: Any) -> None:
    from hullcheck.cli import OutputFormat

    single_only = [f.value for f in OutputFormat if f.value not in ("text", "json", "markdown", "html")]
    for fmt in single_only:  # sarif, junit... describe one host
        proc = hullcheck_cli("evaluate", str(site), "--format", fmt, *THREE)
        assert proc.returncode == 2 and "--output-dir" in proc.stderr


def test_text_report_names_worst_hosts_and_widest_failures(site: Path, hullcheck_cli: Any) -> None:
    proc = hullcheck_cli("evaluate", str(site), *THREE)
    assert proc.returncode == 1, proc.stderr
    text = proc.stdout
    assert "4 evaluated: 3 failing, 1 without failures" in text
    worst = text.index("Worst hosts")
    assert text.index("web01", worst) < text.index("web02", worst) < text.index("db01", worst)
    spread = text.index("Policies failing on most hosts")
    lines = text[spread:].splitlines()
    assert lines[1].split()[:2] == ["3/4", "cis-docker-5.32"]
    assert "failing: web01, web02, db01" in text or "failing: db01, web01, web02" in text or "db01" in lines[2]


def test_markdown_fleet_report(site: Path, hullcheck_cli: Any) -> None:
    proc = hullcheck_cli("evaluate", str(site), "--format", "markdown", *THREE)
    assert proc.returncode == 1, proc.stderr
    md = proc.stdout
    assert md.startswith("# hullcheck fleet report")
    assert "| 4 | 4 | 3 | 1 | 0 |" in md
    assert "| critical | 3 | 3 |" in md
    assert "| 3/4 | `cis-docker-5.32`" in md


class _HeatMap(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, str]] = []
        self.external: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "td" and "data-status" in a:
            self.cells.append(a)
        if tag == "script":
            self.scripts += 1
        for key in ("src", "href"):
            if key in a:
                self.external.append(a[key])


def test_html_heat_map_is_self_contained_and_matches_the_json(site: Path, fleet_run: Any, hullcheck_cli: Any,
                                                              tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text("[]")
    report = tmp_path / "fleet.html"
    proc = hullcheck_cli("evaluate", str(site), str(broken), "--format", "html", "-o", str(report), *THREE)
    assert proc.returncode == 2, proc.stderr
    fleet = _fleet(fleet_run[0])  # the same site without the broken file
    fleet["hosts"].append({"key": str(broken), "status": "unreadable", "statuses": {}})
    html = report.read_text()
    parser = _HeatMap()
    parser.feed(html)
    assert parser.external == [] and parser.scripts == 0 and "url(" not in html and "@import" not in html
    policies = [p["id"] for p in fleet["policies"]]
    assert len(parser.cells) == len(fleet["hosts"]) * len(policies), "one cell per host and policy"
    seen = {(c["data-host"], c["data-policy"]): c["data-status"] for c in parser.cells}
    for host in fleet["hosts"]:
        for policy_id in policies:
            expected = host["statuses"].get(policy_id, "missing") if host["status"] == "evaluated" else "missing"
            assert seen[(host["key"], policy_id)] == expected
    rows = [c["data-host"] for c in parser.cells[:: len(policies)]]
    assert rows[:3] == ["web01", "web02", "db01"] and rows[-1] == str(broken), "worst first, unreadable last"
    assert 'data-count="unreadable"><b>1</b>' in html


def test_progress_bar_on_a_terminal_only(site: Path) -> None:
    """stderr a terminal: a progress bar; stdout stays a clean report."""
    master, slave = pty.openpty()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TERM": "xterm", "COLUMNS": "100"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen([sys.executable, "-m", "hullcheck.cli", "evaluate", str(site), str(site / "web01"),
                             "--format", "json", "--jobs", "1", *THREE],
                            stdout=subprocess.PIPE, stderr=slave, env=env, cwd="/")
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    stdout = proc.stdout.read()
    proc.wait(120)
    os.close(master)
    terminal = b"".join(chunks).decode(errors="replace")
    assert proc.returncode == 1
    assert "evaluating" in terminal and "/4" in terminal
    assert json.loads(stdout)["summary"]["hosts"] == 4


def test_fleet_honours_every_limit_flag(tmp_path: Path, hullcheck_cli: Any) -> None:
    """--max-snapshot-size, --policy-timeout and --worker-memory reach every host's evaluation in a
    fleet, exactly as for one snapshot (the fleet once built its own limits and ignored them)."""
    from policy_packs import policy, write_pack

    fleet = tmp_path / "fleet"
    fleet.mkdir()
    shutil.copy(EXAMPLES / "misconfigured.json", fleet / "web01.json")
    with (fleet / "big.json").open("wb") as fh:  # sparse: 3 MB of zeros costs nothing
        fh.truncate(3 * 1024 * 1024)
    pack = write_pack(tmp_path / "pack", policy("custom-endless", resources="def f: f; f"))
    out = tmp_path / "out"
    proc = hullcheck_cli("evaluate", str(fleet), "--policies", str(pack), "--policy", "custom-*",
                         "--max-snapshot-size", "2", "--policy-timeout", "2", "--output-dir", str(out),
                         "--format", "json", timeout=300)
    assert proc.returncode == 2, proc.stderr  # one snapshot could not be evaluated
    assert "over the 2 MB limit" in proc.stderr and "--max-snapshot-size" in proc.stderr
    results = json.loads((out / "web01.results.json").read_text())
    assert [(r["id"], r["status"], r["reason"]) for r in results["results"]] == [
        ("custom-endless", "error", "exceeded the time limit of 2s")]

    hungry = write_pack(tmp_path / "hungry", policy("custom-huge-string", **{"assert": '("x" * 1000000000 | length) > 0'}))
    (fleet / "big.json").unlink()
    shutil.copy(EXAMPLES / "minimal.json", fleet / "db01.json")
    proc = hullcheck_cli("evaluate", str(fleet), "--policies", str(hungry), "--policy", "custom-*",
                         "--worker-memory", "256", "--format", "json", timeout=300)
    assert proc.returncode == 2, proc.stderr
    hosts = json.loads(proc.stdout)["hosts"]  # a 1 GB string does not fit the 256 MB worker on any host
    assert [h["status"] for h in hosts] == ["unreadable", "unreadable"]
    assert all("worker's memory limit" in h["error"] for h in hosts), hosts
