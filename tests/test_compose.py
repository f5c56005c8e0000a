"""Compose files judged before they are deployed: the planned snapshot, its source positions, the
reports that show them, bad input, and agreement with Debian's docker-compose 1.29 `config`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from support.planned import comparable

from collector import dumps, validate
from collector.compose import (
    ComposeError,
    ComposeOptions,
    collect_compose,
    load_project,
)
from collector.compose.normalize import parse_port, parse_volume
from evaluator import Source
from evaluator.render import render, sarif
from tests.compose_support import EXAMPLES, FILES, PROJECTS, plan, staged
from tests.test_reports_html import browse, chromium  # noqa: F401 - chromium is a fixture


def _line_of(path: Path, text: str) -> int:
    """The 1-based line of the first line containing `text` (expectations derive from the files)."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {path}")


def _results(evaluator, snapshot: dict) -> dict:
    document = evaluator.evaluate(Source(name="planned", data=dumps(snapshot).encode()))
    return {r["id"]: r for r in document["results"]}, document


@pytest.mark.parametrize("name", sorted(FILES))
def test_recorded_planned_snapshot_is_what_the_project_gives(name):
    recorded = json.loads((EXAMPLES / f"compose-{name}.json").read_text())
    validate(recorded)
    assert comparable(plan(name)) == comparable(recorded), "re-record with: python tests/compose_support.py"
    assert recorded["meta"]["source"]["kind"] == "compose"
    assert [f["path"] for f in recorded["meta"]["source"]["files"]][:2] == FILES[name]


def test_planned_containers_look_like_docker_inspect():
    snap = plan("misconfigured")
    by_name = {c["inspect"]["Name"]: c for c in snap["containers"]}
    assert set(by_name) == {"/misconfigured-db-1", "/misconfigured-proxy-1", "/misconfigured-web-1"}  # debug: profile
    proxy = by_name["/misconfigured-proxy-1"]["inspect"]
    labels = proxy["Config"]["Labels"]
    assert labels["com.docker.compose.project"] == "misconfigured"
    assert labels["com.docker.compose.service"] == "proxy" and labels["com.docker.compose.container-number"] == "1"
    assert proxy["HostConfig"]["PortBindings"]["80/tcp"] == [{"HostIp": "", "HostPort": "8080"}]  # .env WEB_PORT
    assert proxy["HostConfig"]["PortBindings"]["9090/udp"] == [{"HostIp": "127.0.0.1", "HostPort": "9090"}]
    assert proxy["HostConfig"]["CapAdd"] == ["NET_ADMIN", "SYS_ADMIN"]  # appended across the two files
    data = [m for m in proxy["Mounts"] if m["Destination"] == "/data"]
    assert len(data) == 1 and data[0]["RW"] is True  # merged by target: compose.prod.yaml's entry wins
    db = by_name["/misconfigured-db-1"]["inspect"]
    assert db["HostConfig"]["IpcMode"] == "host" and db["HostConfig"]["Memory"] == 256 * 2**20
    assert db["Config"]["Cmd"] == ["sleep", "3600"]  # from common/base.yaml through extends
    web = by_name["/misconfigured-web-1"]["inspect"]
    assert web["HostConfig"]["NetworkMode"] == "host" and web["HostConfig"]["RestartPolicy"]["Name"] == "always"
    assert snap["meta"]["source"]["subjects"] == ["container"]  # what a plan holds: the rest is out of its scope
    for section in ("host", "files", "audit", "swarm"):
        assert snap[section] is None
        assert not any(e["source"].startswith(f"/{section}") for e in snap["meta"]["errors"])  # not an error
    assert not any(e["source"].endswith("/processes") for e in snap["meta"]["errors"])


def test_interpolation_defaults_dollars_and_profiles():
    snap = plan("misconfigured", redact=False, profiles=["debug"])
    by_name = {c["inspect"]["Name"]: c["inspect"] for c in snap["containers"]}
    env = dict(e.split("=", 1) for e in by_name["/misconfigured-db-1"]["Config"]["Env"])
    assert env == {"DB_PASSWORD": "hunter2-not-for-snapshots", "PRICE_NOTE": "costs $5", "REGION": "eu-west"}
    assert by_name["/misconfigured-debug-1"]["HostConfig"]["Privileged"] is True
    assert snap["meta"]["source"]["profiles"] == ["debug"]


def test_interpolated_secrets_never_reach_the_snapshot(tmp_path):
    (tmp_path / ".env").write_text("DB_PASSWORD=s3cr3t-value-42\n")
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    image: x\n    command: sh -c 'run --password ${DB_PASSWORD}'\n"
        "    labels: {note: 'pw ${DB_PASSWORD}'}\n    environment: ['DB_PASSWORD=${DB_PASSWORD}']\n")
    snap = collect_compose(ComposeOptions(files=[str(tmp_path / "compose.yaml")], environ={}))
    assert "s3cr3t-value-42" not in dumps(snap)
    assert "s3cr3t-value-42" not in (EXAMPLES / "compose-misconfigured.json").read_text() + \
        (EXAMPLES / "compose-hardened.json").read_text()


def test_findings_point_at_the_offending_lines(evaluator):
    results, document = _results(evaluator, plan("misconfigured"))
    compose = PROJECTS / "misconfigured" / "compose.yaml"
    base = PROJECTS / "misconfigured" / "common" / "base.yaml"

    def where(policy: str) -> list[str]:
        (finding,) = [f for f in results[policy]["findings"] if f["status"] == "fail"]
        return [f"{loc['file']}:{loc['line']}" for loc in finding["locations"]]

    assert where("cis-docker-5.10") == [f"compose.yaml:{_line_of(compose, 'network_mode: host')}"]
    assert where("cis-docker-5.32") == [f"compose.yaml:{_line_of(compose, '- type: bind')}"]  # the socket entry
    assert where("cis-docker-5.17") == [f"common/base.yaml:{_line_of(base, 'ipc: host')}"]  # through extends
    assert where("cis-docker-5.14") == [f"compose.yaml:{_line_of(compose, 'WEB_PORT:?')}",
                                        f"compose.yaml:{_line_of(compose, '- target: 443')}"]
    log = json.loads(sarif.render(document))
    run = log["runs"][0]
    (alert,) = [r for r in run["results"] if r["ruleId"] == "cis-docker-5.10"]
    physical = alert["locations"][0]["physicalLocation"]
    assert physical["artifactLocation"] == {"uri": "compose.yaml", "uriBaseId": "%SRCROOT%"}
    assert physical["region"]["startLine"] == _line_of(compose, "network_mode: host")
    assert "%SRCROOT%" in run["originalUriBaseIds"]
    host_line = f"compose.yaml:{_line_of(compose, 'network_mode: host')}"
    for fmt in ("text", "markdown", "junit"):
        assert host_line in render(document, fmt), fmt
    assert '"locations"' in render(document, "html")  # the page's script shows them as file:line


def test_what_a_plan_cannot_know_is_never_pass(evaluator):
    results, document = _results(evaluator, plan("hardened"))
    not_judged = {p["id"] for p in document["not_judged"]["policies"]}
    for policy in ("cis-docker-5.7", "cis-docker-5.2", "cis-docker-5.1", "cis-docker-2.14", "cis-docker-6.2"):
        assert policy in not_judged and policy not in results, policy  # out of a plan's scope: not judged
    results, _ = _results(evaluator, plan("misconfigured"))
    for policy in ("cis-docker-4.1", "cis-docker-5.27"):  # image USER / HEALTHCHECK unknown without the image
        assert results[policy]["status"] == "error", policy
        assert "unknown" in json.dumps(results[policy]["findings"])
    for policy in ("cis-docker-5.10", "cis-docker-5.32", "cis-docker-5.17", "cis-docker-5.6", "cis-docker-5.22"):
        assert results[policy]["status"] == "fail", policy


def test_hardened_project_passes_what_a_plan_can_judge(evaluator):
    results, _ = _results(evaluator, plan("hardened"))
    section5 = [r for pid, r in results.items() if pid.startswith("cis-docker-5.") and r["automated"]]
    assert not [r["id"] for r in section5 if r["status"] == "fail"]
    assert {"cis-docker-5.10", "cis-docker-5.14", "cis-docker-5.4", "cis-docker-5.27"} <= \
        {r["id"] for r in section5 if r["status"] == "pass"}
    for policy in ("cis-docker-5.11", "cis-docker-5.12", "cis-docker-5.29", "cis-docker-5.22", "cis-docker-5.26"):
        assert results[policy]["status"] == "pass", policy  # the container's own settings: engine and daemon are the host's
    assert not [r["id"] for r in results.values() if r["status"] == "error"]
    assert results["cis-docker-4.1"]["status"] == "pass"  # user: set in the file, no image needed


BAD = {
    "yaml": ("services:\n  web:\n    image: [x\n", "compose.yaml:4: YAML error"),
    "unknown-key": ("services:\n  web:\n    image: x\n    netwrk_mode: host\n", "compose.yaml:4: unknown key 'netwrk_mode'"),
    "required": ("services:\n  web:\n    image: x\n    ports: ['${PORT:?set PORT}:80']\n",
                 "compose.yaml:4: required variable PORT is unset: set PORT"),
    "not-compose": ("apiVersion: v1\nkind: Pod\n", "compose.yaml:1: not a Compose file"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_one_line_naming_file_and_line(case, tmp_path, hullcheck_cli):
    text, expected = BAD[case]
    (tmp_path / "compose.yaml").write_text(text)
    out = hullcheck_cli("collect", "--compose", "compose.yaml", "-o", "planned.json", cwd=str(tmp_path))
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], out.stderr
    assert "Traceback" not in out.stderr and not (tmp_path / "planned.json").exists()


def test_collect_and_audit_cli(tmp_path, hullcheck_cli):
    with staged("misconfigured", tmp_path) as project:
        out = hullcheck_cli("collect", "--compose", "compose.yaml", "--compose", "compose.prod.yaml",
                            "--profile", "debug", "-o", "planned.json", cwd=str(project))
        assert out.returncode == 0, out.stderr
        snap = json.loads((project / "planned.json").read_text())
        assert snap["meta"]["source"]["profiles"] == ["debug"] and len(snap["containers"]) == 4
        out = hullcheck_cli("audit", "--compose", "compose.yaml", "--policy", "cis-docker-5.10", cwd=str(project))
        assert out.returncode == 1 and "(compose.yaml:" in out.stdout, out.stdout + out.stderr


def _ours_normalised(project) -> dict:
    out = {}
    for name, svc in project.services.items():
        out[name] = {
            "ports": sorted(tuple(sorted(p.items())) for p in svc.get("ports") or []),
            "volumes": sorted((v["type"], v.get("source"), v["target"], bool(v.get("read_only"))) for v in svc.get("volumes") or []),
            **{k: svc.get(k) for k in ("network_mode", "pid", "ipc", "privileged", "restart", "mem_limit", "image")},
            "cap_add": sorted(svc.get("cap_add") or []), "security_opt": sorted(svc.get("security_opt") or []),
            "command": list(svc.get("command") or []),
            "environment": dict(svc.get("environment") or {}),
        }
    return out


def _theirs_normalised(config: dict, base_dir: str) -> dict:
    out = {}
    for name, svc in config["services"].items():
        ports = [e for p in svc.get("ports") or [] for e in parse_port(p, None)]
        out[name] = {
            "ports": sorted(tuple(sorted(p.items())) for p in ports),
            "volumes": sorted((v["type"], v.get("source"), v["target"], bool(v.get("read_only")))
                              for v in (parse_volume(x, None, base_dir) for x in svc.get("volumes") or [])),
            **{k: svc.get(k) for k in ("network_mode", "pid", "ipc", "privileged", "restart", "mem_limit", "image")},
            "cap_add": sorted(svc.get("cap_add") or []), "security_opt": sorted(svc.get("security_opt") or []),
            "command": list(svc.get("command") or []),
            "environment": {k: str(v).replace("$$", "$") for k, v in (svc.get("environment") or {}).items()},
        }
    return out


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="docker-compose (1.29) is not installed")
@pytest.mark.parametrize("name", sorted(FILES))
def test_normalisation_agrees_with_docker_compose_config(name, tmp_path):
    with staged(name, tmp_path) as project_dir:
        args = [a for f in FILES[name] for a in ("-f", f)]
        done = subprocess.run(["docker-compose", *args, "config"], capture_output=True, text=True, cwd=project_dir,
                              env={"PATH": "/usr/bin:/bin"}, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
        theirs = _theirs_normalised(yaml.safe_load(done.stdout), str(project_dir))
        ours = _ours_normalised(load_project(ComposeOptions(files=FILES[name], environ={}, profiles=["*"], redact=False)))
    assert ours == theirs


def test_compose_error_is_a_value_with_a_position(tmp_path):
    (tmp_path / "c.yaml").write_text("services:\n  a:\n    extends: {service: missing}\n")
    with pytest.raises(ComposeError, match="missing"):
        load_project(ComposeOptions(files=[str(tmp_path / "c.yaml")], environ={}))


def test_html_report_shows_the_lines_in_a_browser(chromium, tmp_path, evaluator):  # noqa: F811 - the fixture imported above
    _, document = _results(evaluator, plan("misconfigured"))
    page = tmp_path / "report.html"
    page.write_text(render(document, "html"))
    compose = PROJECTS / "misconfigured" / "compose.yaml"
    assert f"compose.yaml:{_line_of(compose, 'network_mode: host')}" in browse(chromium, page, tmp_path)
