"""The collector in a container: the documented `docker run` line, its own container left out.

No registry is reachable, so the image from the Dockerfile cannot be built here. The test runs
the documented line for real instead, with this machine's Python standing in for the image: a
busybox container with `/` mounted read-only at `/host` and the socket mounted read-only runs
`/host/<python> -m hullcheck.cli collect --host-root /host` through the host's dynamic loader.
Everything the collector sees (its cgroup, /.dockerenv, the host below /host) is what the
Dockerfile's image would see.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

EXAMPLES = REPO / "snapshots" / "examples"


def _offenders(document: dict[str, Any], policy_id: str) -> set[str]:
    result = next(r for r in document["results"] if r["id"] == policy_id)
    return {f["resource"]["name"] for f in result["findings"] if f["status"] == "fail"}


def _judged(document: dict[str, Any], policy_id: str) -> set[str]:
    result = next(r for r in document["results"] if r["id"] == policy_id)
    return {f["resource"]["name"] for f in result["findings"]} | {p["name"] for p in result["passed"]}


def _local_dockerd_pid() -> int:
    """The dockerd serving /var/run/docker.sock: the one that wrote the default pidfile. Not the
    lowest pid of all dockerd processes: other tests run private daemons at the same time (each
    with a pidfile of its own), and once pids wrap around one of them can have the lower pid."""
    try:
        pid = int(Path("/var/run/docker.pid").read_text().strip())
        exe = os.path.basename(os.readlink(f"/proc/{pid}/exe"))
    except (OSError, ValueError) as exc:
        raise AssertionError(f"no local dockerd named by /var/run/docker.pid: {exc}") from None
    assert exe == "dockerd", f"/var/run/docker.pid names pid {pid}, which is {exe}, not dockerd"
    return pid


def _python_through_host_loader() -> tuple[list[str], dict[str, str]]:
    """argv and environment that run this machine's Python from below /host inside a bare container."""
    python = os.path.realpath(sys.executable)
    ldd = subprocess.run(["ldd", python], capture_output=True, text=True, check=True).stdout
    loader = next((m.group(1) for m in re.finditer(r"(/\S*ld-linux\S*\.so\.\d)", ldd)), None)
    if loader is None:
        pytest.fail(f"cannot find the dynamic loader of {python}: {ldd}")
    # Order matters: this Python's own libpython first, or a system libpython (with another
    # site.py) would be picked up from the distribution's directory.
    multiarch = sysconfig.get_config_var("MULTIARCH") or "x86_64-linux-gnu"
    libdirs: list[str] = []
    for d in [os.path.join(sys.base_prefix, "lib"),
              *(os.path.dirname(os.path.realpath(m.group(1))) for m in re.finditer(r"=> (/\S+)", ldd)),
              f"/lib/{multiarch}", f"/usr/lib/{multiarch}"]:
        if d not in libdirs:
            libdirs.append(d)
    argv = ["/host" + os.path.realpath(loader), "--library-path", ":".join("/host" + d for d in libdirs),
            "/host" + python]
    env = {"PYTHONHOME": "/host" + sys.base_prefix, "PYTHONPATH": "/host" + str(REPO), "PYTHONDONTWRITEBYTECODE": "1"}
    return argv, env


def test_collector_in_a_container_leaves_its_own_container_out(docker_client: Any, run_container: Any,
                                                               session_label: str, hullcheck_cli: Any,
                                                               tmp_path: Path) -> None:
    unlimited = run_container("nolimit")  # no memory limit: CIS 5.11 must name it
    argv, env = _python_through_host_loader()
    # The documented line: -v /:/host:ro -v /var/run/docker.sock:/var/run/docker.sock:ro ... --host-root /host
    collector = run_container(
        "collector", command=(*argv, "-m", "hullcheck.cli", "collect", "--host-root", "/host",
                              "--label", f"hullcheck.test={session_label}"),
        volumes={"/": {"bind": "/host", "mode": "ro"}, "/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "ro"}},
        environment=env, network_mode="none")
    status = collector.wait(timeout=120)
    out = collector.logs(stdout=True, stderr=False).decode()
    assert status["StatusCode"] == 0, collector.logs(stdout=False, stderr=True).decode()[-2000:]
    snapshot = json.loads(out)

    me = snapshot["meta"]["collector"]
    assert me["in_container"] is True and me["container_id"] == collector.id
    assert me["host_root"] == "/host" and me["remote"] is False
    names = {c["inspect"]["Name"].lstrip("/") for c in snapshot["containers"]}
    assert {collector.name, unlimited.name} <= names, "the collector's container is in the snapshot, running"
    # Host facts came from the host below /host, not from the container's own filesystem.
    assert snapshot["daemon"]["process"]["pid"] == _local_dockerd_pid()
    assert snapshot["host"]["os_release"] == _os_release(Path("/etc/os-release"))

    path = tmp_path / "from-container.json"
    path.write_text(out)
    proc = hullcheck_cli("evaluate", str(path), "--format", "json", "--policy", "cis-docker-5.11")
    assert proc.returncode == 1, proc.stderr
    document = json.loads(proc.stdout)
    assert _offenders(document, "cis-docker-5.11") == {unlimited.name}
    assert collector.name not in _judged(document, "cis-docker-5.11"), "the collector's own container is left out"


def _os_release(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and key and not key.startswith("#"):
            out[key.strip()] = value.strip().strip('"')
    return out


def test_a_snapshot_naming_its_collector_container_leaves_it_out() -> None:
    """Recorded: set meta.collector.container_id to `web` (host network): 5.10 no longer judges it."""
    from evaluator import Evaluator, Selection, Source, load_pack
    from hullcheck_common.resources import policies_dir

    snapshot = json.loads((EXAMPLES / "misconfigured.json").read_text())
    web = snapshot["containers"][3]["inspect"]
    assert web["Name"] == "/web" and web["HostConfig"]["NetworkMode"] == "host"
    policies = Selection(include=("cis-docker-5.10", "cis-docker-5.32")).apply(load_pack([policies_dir()]))
    with Evaluator(policies) as ev:
        before = ev.evaluate(Source(name="before", data=json.dumps(snapshot).encode()))
        snapshot["meta"]["collector"].update(in_container=True, container_id=web["Id"])
        after = ev.evaluate(Source(name="after", data=json.dumps(snapshot).encode()))
    assert _offenders(before, "cis-docker-5.10") == {"web"}
    assert "web" not in _judged(after, "cis-docker-5.10")
    assert next(r for r in after["results"] if r["id"] == "cis-docker-5.10")["status"] == "pass"
    # The others are still judged exactly as before.
    assert _judged(after, "cis-docker-5.32") == _judged(before, "cis-docker-5.32") - {"web"}
    assert _offenders(after, "cis-docker-5.32") == _offenders(before, "cis-docker-5.32") == {"dashboard"}


@pytest.fixture
def host_tree(tmp_path: Path) -> Path:
    """A directory laid out like a host's root, with a dockerd that is not this machine's."""
    root = tmp_path / "hostroot"
    (root / "etc/docker").mkdir(parents=True)
    daemon_json = root / "etc/docker/daemon.json"
    daemon_json.write_text('{"icc": false, "live-restore": true, "log-level": "warn"}\n')
    daemon_json.chmod(0o640)
    (root / "etc/os-release").write_text('ID=hullcheck-tree\nNAME="Tree Linux"\nVERSION_ID="9.9"\n')
    (root / "etc/group").write_text("root:x:0:\ndocker:x:998:alice,bob\n")
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/dockerd").write_bytes(b"\x7fELF not really")
    (root / "usr/bin/dockerd").chmod(0o755)
    (root / "lib/systemd/system").mkdir(parents=True)
    (root / "lib/systemd/system/docker.service").write_text("[Service]\nExecStart=/usr/bin/dockerd -H fd:// # tree\n")
    proc = root / "proc/4242"
    proc.mkdir(parents=True)
    (proc / "comm").write_text("dockerd\n")
    (proc / "cmdline").write_bytes(b"/usr/bin/dockerd\0-H\0fd://\0--containerd=/run/containerd/containerd.sock\0")
    (proc / "exe").symlink_to("/usr/bin/dockerd")
    return root


def test_host_root_reads_the_tree_not_the_machine(docker_client: Any, hullcheck_cli: Any, host_tree: Path,
                                                  tmp_path: Path) -> None:
    out = tmp_path / "tree.json"
    proc = hullcheck_cli("collect", "--host-root", str(host_tree), "--label", "hullcheck.test=nothing-has-this-label",
                         "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    snapshot = json.loads(out.read_text())
    assert snapshot["meta"]["collector"]["host_root"] == str(host_tree)
    daemon = snapshot["daemon"]
    assert daemon["process"]["pid"] == 4242 != _local_dockerd_pid()
    assert daemon["process"]["argv"][:3] == ["/usr/bin/dockerd", "-H", "fd://"]
    assert daemon["config_file"]["exists"] is True and daemon["config_file"]["parsed"]["icc"] is False
    assert daemon["options"]["icc"] == {"value": False, "source": "config-file"}
    assert daemon["options"]["live-restore"] == {"value": True, "source": "config-file"}
    assert "# tree" in daemon["units"]["docker.service"]["contents"]
    assert daemon["units"]["docker.service"]["fragment_path"] == "/lib/systemd/system/docker.service"
    entry = snapshot["files"]["/etc/docker/daemon.json"]
    assert entry["exists"] is True and entry["mode"] == "0640"
    assert snapshot["host"]["os_release"]["ID"] == "hullcheck-tree"
    assert sorted(snapshot["host"]["docker_group"]["members"]) == ["alice", "bob"]
    # Paths are recorded as the host sees them, never with the tree's prefix.
    assert not any(str(host_tree) in key for key in snapshot["files"])
    assert snapshot["containers"] == []


def test_dockerfile_and_docs_document_the_same_deployment() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.\d+-slim", dockerfile, re.M)
    assert 'ENTRYPOINT ["hullcheck"]' in dockerfile
    page = (REPO / "docs" / "fleets.md").read_text()
    section = page[page.index("## The collector in a container"):]
    run_line = next(line for line in section.splitlines() if "docker run" in line and "hullcheck" in line)
    block = section[section.index(run_line): section.index("```", section.index(run_line))]
    for part in ("-v /:/host:ro", "-v /var/run/docker.sock:/var/run/docker.sock:ro", "--host-root /host"):
        assert part in block, part
