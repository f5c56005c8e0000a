"""Drift: two snapshots (containers, daemon options, settings), two results files, and --baseline / --fail-on new."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from reports_support import EXAMPLES, SELECT, container_index, evaluate_snapshot, example, patched, write

from evaluator.diff import diff_results, diff_snapshots, mark_baseline

REPO = Path(__file__).resolve().parent.parent


def redeployed() -> dict:
    """misconfigured after every container was recreated: same names, new ids."""
    snap = example("misconfigured")
    patch = []
    for i, entry in enumerate(snap["containers"]):
        patch += [{"op": "test", "path": f"/containers/{i}/inspect/Name", "value": entry["inspect"]["Name"]},
                  {"op": "replace", "path": f"/containers/{i}/inspect/Id", "value": f"{i + 1:x}" * 64}]
    return patched("misconfigured", patch)


def drifted() -> dict:
    """misconfigured a week later: old-job removed, a new container, web and db reconfigured, icc changed."""
    snap = example("misconfigured")
    web, db, old = (container_index(snap, n) for n in ("web", "db", "old-job"))
    newcomer = json.loads(json.dumps(snap["containers"][web]))
    newcomer["inspect"]["Name"] = "/cache"
    newcomer["inspect"]["Id"] = "c" * 64
    mount = {"Type": "bind", "Source": "/etc", "Destination": "/host-etc", "Mode": "", "RW": True, "Propagation": "rprivate"}
    patch = [
        {"op": "test", "path": f"/containers/{web}/inspect/Name", "value": "/web"},
        {"op": "replace", "path": f"/containers/{web}/inspect/Config/User", "value": "0"},
        {"op": "replace", "path": f"/containers/{web}/inspect/HostConfig/Privileged", "value": True},
        {"op": "test", "path": f"/containers/{db}/inspect/Name", "value": "/db"},
        {"op": "add", "path": f"/containers/{db}/inspect/Mounts/-", "value": mount},
        {"op": "replace", "path": "/daemon/options/icc/value", "value": not snap["daemon"]["options"]["icc"]["value"]},
        {"op": "test", "path": f"/containers/{old}/inspect/Name", "value": "/old-job"},
        {"op": "remove", "path": f"/containers/{old}"},
        {"op": "add", "path": "/containers/-", "value": newcomer},
    ]
    return patched("misconfigured", patch)


def test_snapshot_drift_names_containers_daemon_options_and_settings(tmp_path, hullcheck_cli):
    old = EXAMPLES / "misconfigured.json"
    new = write(tmp_path, "later.json", drifted())
    proc = hullcheck_cli("diff", str(old), str(new), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert report["kind"] == "snapshots"
    assert report["containers_added"] == ["cache"]
    assert report["containers_removed"] == ["old-job"]
    changed = {c["name"]: {ch["setting"]: (ch["old"], ch["new"]) for ch in c["changes"]} for c in report["containers_changed"]}
    assert set(changed) == {"web", "db"}
    assert changed["web"]["User"][1] == "0"
    assert changed["web"]["HostConfig.Privileged"] == (False, True)
    assert "/host-etc" in json.dumps(changed["db"]["Mounts"][1]) and "/host-etc" not in json.dumps(changed["db"]["Mounts"][0])
    assert [d["option"] for d in report["daemon_options_changed"]] == ["icc"]
    text = hullcheck_cli("diff", str(old), str(new))
    assert text.returncode == 1
    assert "  + cache" in text.stdout and "  - old-job" in text.stdout and "HostConfig.Privileged: false -> true" in text.stdout


def test_identical_snapshots_have_no_drift(hullcheck_cli):
    path = str(EXAMPLES / "misconfigured.json")
    proc = hullcheck_cli("diff", path, path)
    assert proc.returncode == 0, proc.stderr
    assert "Containers changed: 0" in proc.stdout
    assert not diff_snapshots(redeployed(), example("misconfigured"))["containers_changed"]  # ids are not settings


def test_snapshot_diff_does_not_import_the_collector():
    code = ("import sys; from evaluator.diff import diff_snapshots, load_snapshot; "
            f"r = diff_snapshots(load_snapshot({str(EXAMPLES / 'minimal.json')!r}), load_snapshot({str(EXAMPLES / 'misconfigured.json')!r})); "
            "assert r['containers_added'], r; assert 'collector' not in sys.modules, 'collector imported'; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stderr


def test_results_diff_new_fixed_unchanged(tmp_path, hullcheck_cli):
    minimal = write(tmp_path, "minimal-results.json", evaluate_snapshot("minimal"))
    bad = write(tmp_path, "misconfigured-results.json", evaluate_snapshot("misconfigured"))
    worse = hullcheck_cli("diff", str(minimal), str(bad), "--format", "json")
    assert worse.returncode == 1
    report = json.loads(worse.stdout)
    expected = {("cis-docker-5.10", "container:web"), ("cis-docker-5.11", "container:worker"),
                ("cis-docker-5.32", "container:dashboard")}
    assert {(f["policy"], f["key"]) for f in report["new_findings"]} == expected
    assert report["fixed"] == [] and report["unchanged"] == []
    better = hullcheck_cli("diff", str(bad), str(minimal), "--format", "json")
    assert better.returncode == 0
    assert {(f["policy"], f["key"]) for f in json.loads(better.stdout)["fixed"]} == expected


def test_a_redeploy_changes_no_finding():
    report = diff_results(evaluate_snapshot("misconfigured"), evaluate_snapshot(redeployed()))
    assert report["new_findings"] == [] and report["fixed"] == []
    assert len(report["unchanged"]) == 3


def test_a_fixed_container_shows_as_fixed():
    snap = example("misconfigured")
    web = container_index(snap, "web")
    fixed = patched("misconfigured", [
        {"op": "test", "path": f"/containers/{web}/inspect/Name", "value": "/web"},
        {"op": "replace", "path": f"/containers/{web}/inspect/HostConfig/NetworkMode", "value": "bridge"},
    ])
    report = diff_results(evaluate_snapshot("misconfigured"), evaluate_snapshot(fixed))
    assert [(f["policy"], f["key"], f["after"]) for f in report["fixed"]] == [("cis-docker-5.10", "container:web", None)]
    document = mark_baseline(evaluate_snapshot(fixed), evaluate_snapshot("misconfigured"))
    assert document["baseline"]["fixed"] == [{"policy": "cis-docker-5.10", "key": "container:web", "name": "web"}]


def test_baseline_marks_new_and_known_and_fail_on_new_gates_only_new(tmp_path, hullcheck_cli):
    snapshot = str(EXAMPLES / "misconfigured.json")
    old = write(tmp_path, "old.json", evaluate_snapshot(redeployed()))  # same names, other ids
    proc = hullcheck_cli("evaluate", *SELECT, snapshot, "--baseline", str(old), "--fail-on", "new", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    document = json.loads(proc.stdout)
    marks = [f["baseline"] for r in document["results"] for f in r["findings"]]
    assert marks == ["known"] * 3
    assert document["baseline"]["new_failures"] == 0 and document["baseline"]["known_failures"] == 3
    # Without --fail-on new the known failures still fail the run.
    assert hullcheck_cli("evaluate", *SELECT, snapshot, "--baseline", str(old)).returncode == 1

    # One of the three was not in the baseline: it alone is new, and it alone gates.
    snap = example("misconfigured")
    web = container_index(snap, "web")
    partial = patched("misconfigured", [
        {"op": "test", "path": f"/containers/{web}/inspect/Name", "value": "/web"},
        {"op": "replace", "path": f"/containers/{web}/inspect/HostConfig/NetworkMode", "value": "bridge"},
    ])
    older = write(tmp_path, "older.json", evaluate_snapshot(partial))
    proc = hullcheck_cli("evaluate", *SELECT, snapshot, "--baseline", str(older), "--fail-on", "new", "--format", "json")
    assert proc.returncode == 1
    new = [(r["id"], f["resource"]["name"]) for r in json.loads(proc.stdout)["results"] for f in r["findings"] if f["baseline"] == "new"]
    assert new == [("cis-docker-5.10", "web")]


def test_bad_inputs_exit_2_with_one_line(tmp_path, hullcheck_cli):
    results = write(tmp_path, "r.json", evaluate_snapshot("minimal"))
    snapshot = str(EXAMPLES / "minimal.json")
    for args in (("diff", snapshot, str(results)), ("diff", str(tmp_path / "none.json"), snapshot),
                 ("evaluate", snapshot, "--baseline", snapshot), ("evaluate", snapshot, "--fail-on", "new")):
        proc = hullcheck_cli(*args)
        assert proc.returncode == 2, args
        assert proc.stderr.startswith("hullcheck: error: ") and proc.stderr.count("\n") == 1, proc.stderr
    garbage = tmp_path / "garbage.json"
    garbage.write_text('{"results_version": "1.0", "results": "nope", "summary": {}}')
    proc = hullcheck_cli("diff", str(garbage), str(garbage))
    assert proc.returncode == 2 and "'results' must be a list" in proc.stderr
