"""From a live engine to a report: the walking skeleton, for real."""

from __future__ import annotations

import json
import shutil
import subprocess

from conftest import REPO


def offenders(document: dict, policy_id: str) -> set[str]:
    result = next(r for r in document["results"] if r["id"] == policy_id)
    return {f["resource"]["name"] for f in result["findings"] if f["status"] == "fail"}


def passed(document: dict, policy_id: str) -> set[str]:
    result = next(r for r in document["results"] if r["id"] == policy_id)
    return {p["name"] for p in result["passed"]}


def test_audit_names_exactly_the_offenders(run_container, session_label, hullcheck_cli):
    limited = {"mem_limit": "64m"}
    hostnet = run_container("hostnet", network_mode="host", **limited)
    nomem = run_container("nomem")
    sock = run_container("sock", volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "ro"}}, **limited)
    good = run_container("good", **limited)
    stopped = run_container("stopped", command=("true",), **{})
    stopped.wait(timeout=30)

    proc = hullcheck_cli("audit", "--format", "json", "--label", f"hullcheck.test={session_label}",
                         "--policy", "cis-docker-5.10", "--policy", "cis-docker-5.11", "--policy", "cis-docker-5.32")
    assert proc.returncode == 1, proc.stderr  # findings exist
    document = json.loads(proc.stdout)

    assert offenders(document, "cis-docker-5.10") == {hostnet.name}
    assert offenders(document, "cis-docker-5.11") == {nomem.name}
    assert offenders(document, "cis-docker-5.32") == {sock.name}
    running = {hostnet.name, nomem.name, sock.name, good.name}
    for policy_id in ("cis-docker-5.10", "cis-docker-5.11", "cis-docker-5.32"):
        judged = offenders(document, policy_id) | passed(document, policy_id)
        assert judged == running, "only running containers are judged, each exactly once"
    assert stopped.name not in str(document)


def test_audit_without_a_daemon_says_how_to_proceed(hullcheck_cli, tmp_path):
    proc = hullcheck_cli("audit", env={"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "DOCKER_HOST" in lines[0] and "hullcheck evaluate" in lines[0]
    assert "Traceback" not in proc.stderr


def test_fallback_example_evaluates_the_bundled_snapshot(hullcheck_cli, tmp_path):
    proc = hullcheck_cli("audit", "--fallback-example", "--format", "json",
                         env={"DOCKER_HOST": f"unix://{tmp_path}/no.sock"})
    assert proc.returncode == 1, proc.stderr  # the bundled example is the misconfigured host
    assert "bundled example" in proc.stderr
    document = json.loads(proc.stdout)
    assert document["summary"]["total"] == len(document["results"]) > 0


def test_version(hullcheck_cli):
    proc = hullcheck_cli("--version")
    assert proc.returncode == 0
    assert proc.stdout.startswith("hullcheck ")


def test_installed_console_script_works_from_another_directory(tmp_path):
    """`pip install .` puts a `hullcheck` on PATH that finds its bundled pack from anywhere."""
    exe = shutil.which("hullcheck")
    assert exe, "hullcheck is not installed: pip install '.[test]'"
    example = REPO / "snapshots" / "examples" / "misconfigured.json"
    proc = subprocess.run([exe, "evaluate", str(example), "--format", "json"], capture_output=True, text=True,
                          cwd=tmp_path, check=False)
    assert proc.returncode == 1, proc.stderr
    assert {"web", "worker", "dashboard"} <= {f["resource"]["name"] for r in json.loads(proc.stdout)["results"]
                                               for f in r["findings"]}
