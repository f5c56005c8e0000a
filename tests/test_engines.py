"""hullcheck against the other engines it meets: `podman system service` (rootful) and a rootless
dockerd (Debian's dockerd-rootless.sh with rootlesskit, as an unprivileged user), each in a
network namespace of our own while the shared dockerd keeps running beside them. Collected and
evaluated through the real CLI: the snapshot must name the engine, attach its own process and
files (never the shared dockerd's), and the verdicts must be about what that engine does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from engines_support import NetNS, PodmanService, RootlessDockerd, image_context, podman_workload


def _collect_and_evaluate(hullcheck_cli: Any, url: str, tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    snapshot_path, results_path = tmp_path / "snapshot.json", tmp_path / "results.json"
    proc = hullcheck_cli("collect", "--docker-host", url, "-o", str(snapshot_path), timeout=240)
    assert proc.returncode == 0, proc.stderr
    proc = hullcheck_cli("evaluate", str(snapshot_path), "--format", "json", "-o", str(results_path), timeout=240)
    assert proc.returncode in (0, 1), proc.stderr
    text = hullcheck_cli("evaluate", str(snapshot_path), "--policy", "cis-docker-2.1", timeout=240).stdout
    snapshot, results = json.loads(snapshot_path.read_text()), json.loads(results_path.read_text())
    results["_text_header"] = text.splitlines()[0] if text else ""
    return snapshot, {**results, "by_id": {r["id"]: r for r in results["results"]}}


def _offenders(results: dict[str, Any], policy: str) -> set[str]:
    return {f["resource"]["name"] for f in results["by_id"][policy]["findings"] if f["status"] == "fail"}


def _errors(snapshot: dict[str, Any]) -> dict[str, str]:
    return {e["source"]: e["reason"] for e in snapshot["meta"]["errors"]}


# ---- Podman ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PodmanService]:
    with NetNS() as netns, PodmanService(netns) as service:
        podman_workload(service, tmp_path_factory.mktemp("podman-images"))
        yield service


_COLLECTED: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}


@pytest.fixture
def podman_collected(podman: PodmanService, hullcheck_cli: Any, tmp_path_factory: pytest.TempPathFactory
                     ) -> tuple[dict[str, Any], dict[str, Any]]:
    """One collection and evaluation of the Podman engine, shared by the tests below."""
    if podman.url not in _COLLECTED:
        _COLLECTED[podman.url] = _collect_and_evaluate(hullcheck_cli, podman.url, tmp_path_factory.mktemp("podman"))
    return _COLLECTED[podman.url]


def test_podman_is_named_and_its_own_service_and_files_are_read(podman, podman_collected):
    snapshot, results = podman_collected
    engine = snapshot["meta"]["engine"]
    assert engine["kind"] == "podman" and engine["identified_by"] == "version-components"
    assert engine["version"] == podman.podman("version", "--format", "{{.Server.Version}}") and engine["rootless"] is False
    assert results["snapshot"]["engine"] == {"kind": "podman", "version": engine["version"], "rootless": False}
    assert f"podman {engine['version']}" in results["_text_header"]

    daemon = snapshot["daemon"]
    assert daemon["kind"] == "podman"
    assert daemon["process"]["pid"] == podman.proc.pid and daemon["process"]["chosen_by"] == "endpoint"
    assert daemon["config_file"]["path"] == str(podman.conf) and daemon["config_file"]["chosen_by"] == "CONTAINERS_CONF"
    options = daemon["options"]
    assert options["default-ulimits"]["value"]["nofile"] == {"Name": "nofile", "Soft": 1024, "Hard": 2048}
    assert options["default-ulimits"]["file"] == str(podman.conf)
    assert options["log-level"] == {"value": "info", "source": "argv"}
    assert options["data-root"] == {"value": str(podman.dir / "root"), "source": "argv"}
    assert options["hosts"]["value"] == [podman.url]
    assert options["default-capabilities"]["source"] == "config-file" and "NET_RAW" not in options["default-capabilities"]["value"]
    assert "dockerd" not in json.dumps(daemon["process"]), "the shared dockerd is never attached"
    assert snapshot["host"]["listening_tcp_source"]["pid"] == podman.proc.pid
    assert snapshot["plugins"] == [] and "/plugins" not in _errors(snapshot)
    assert str(podman.conf) in snapshot["files"]


def test_podman_api_answers_are_normalised(podman_collected):
    snapshot, _ = podman_collected
    containers = {c["inspect"]["Name"].lstrip("/"): c for c in snapshot["containers"]}
    sshd = containers["with-sshd"]
    assert any("/usr/sbin/sshd" in str(row[-1]) for row in sshd["processes"]["Processes"])
    assert "/processes" in sshd["raw"], "Podman's compat /top answer is kept beside the libpod rows"
    plain = containers["plain"]
    assert "Health" not in plain["inspect"]["State"] and plain["raw"]["/inspect/State/Health"]["Status"] == ""
    assert containers["with-sshd"]["inspect"]["State"]["Health"]["Status"] in ("starting", "healthy")
    images = {(i["inspect"].get("RepoTags") or [""])[0]: i for i in snapshot["images"]}
    health = images["localhost/hce-health:1"]
    assert health["inspect"]["Config"]["Healthcheck"]["Test"][-1] == "true"
    assert "/inspect/Config/Healthcheck" in health["raw"], "the compat inspect dropped it"
    assert "Healthcheck" not in images["localhost/hce-plain:1"]["inspect"]["Config"]


def test_podman_verdicts_are_about_podman(podman_collected):
    _, results = podman_collected
    by_id = results["by_id"]
    for policy in ("cis-docker-2.2", "cis-docker-2.4", "cis-docker-2.12", "cis-docker-2.14", "cis-docker-2.15",
                   "cis-docker-2.16", "cis-docker-2.18", "cis-docker-1.1.12", "cis-docker-3.23"):
        assert by_id[policy]["status"] == "not_applicable", (policy, by_id[policy])
    assert by_id["cis-docker-2.8"]["status"] == "pass", "default_ulimits from our containers.conf"
    assert by_id["cis-docker-2.3"]["status"] == "pass", "the service runs with --log-level info"
    assert by_id["cis-docker-2.13"]["status"] == "fail"
    assert "k8s-file" in by_id["cis-docker-2.13"]["findings"][0]["message"]
    assert _offenders(results, "cis-docker-2.1") and by_id["cis-docker-2.9"]["status"] == "fail"
    assert _offenders(results, "cis-docker-4.6") == {"localhost/hce-plain:1"}
    assert _offenders(results, "cis-docker-5.27") == {"plain"}
    assert _offenders(results, "cis-docker-5.7") == {"with-sshd"}
    assert _offenders(results, "cis-docker-5.4") == {"limited"}, "NET_RAW is beyond Podman's own default set"
    assert "limited" not in _offenders(results, "cis-docker-5.11") | _offenders(results, "cis-docker-5.12")
    assert by_id["cis-docker-5.29"]["status"] == "pass", "Podman's default pids_limit (2048) is in force"
    assert by_id["cis-docker-1.1.6"]["findings"][0]["resource"]["name"] == "/etc/containers"


# ---- two engines on one host: each audit judges its own files -----------------------------------

REPO = Path(__file__).resolve().parent.parent
# What belongs to the system's dockerd and Podman on this host: paths, units and binaries. Podman
# also reads /etc/docker/certs.d (containers/image), which is why that one is allowed to it.
DOCKERD_OWN = re.compile(r"/etc/docker(?!/certs\.d)|/var/lib/docker|/run/containerd|/etc/containerd|/etc/default/docker"
                         r"|/etc/sysconfig/docker|docker\.service|docker\.socket|docker\.sock|dockerd|containerd")
PODMAN_OWN = re.compile(r"/etc/containers|/var/lib/containers|podman|conmon|crun")


def _judged_text(results: dict[str, Any]) -> dict[str, str]:
    """For each host, daemon and file policy (CIS sections 1-3): every resource it judged, every
    message and every piece of evidence, as text. 1.2.2 is left out: it judges the engine's
    components from their versions and names the ones its data covers in words (the test below
    checks its resources are the audited engine's own)."""
    out = {}
    for result in results["results"]:
        if re.match(r"cis-docker-[123]\.", result["id"]) and result["id"] != "cis-docker-1.2.2":
            out[result["id"]] = json.dumps([[f["resource"]["name"], f.get("message"), f.get("evidence")]
                                            for f in result.get("findings") or []]
                                           + [r["name"] for r in result.get("passed") or []])
    return out


def _collect_with_daemon_json(url: str, tmp_path: Path, name: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Collect and evaluate in a mount namespace of our own whose /etc/docker is a copy of the
    host's with a daemon.json added (the host's own files stay as they are): a host where the
    system dockerd is configured by /etc/docker/daemon.json and another engine runs beside it."""
    etc = tmp_path / f"etc-docker-{name}"
    shutil.copytree("/etc/docker", etc, symlinks=True)
    (etc / "daemon.json").write_text('{"log-level": "info"}\n')
    snapshot_path, results_path = tmp_path / f"{name}.json", tmp_path / f"{name}.results.json"
    env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)}
    cli = [sys.executable, "-m", "hullcheck.cli"]
    script = 'mount --bind "$1" /etc/docker && shift && "$@" collect --docker-host "$URL" -o "$SNAP" ' \
             '&& { "$@" evaluate "$SNAP" --format json -o "$RES"; test $? -le 1; }'
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", str(etc), *cli],
                          env={**env, "URL": url, "SNAP": str(snapshot_path), "RES": str(results_path)},
                          capture_output=True, text=True, timeout=300, cwd="/", check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(snapshot_path.read_text()), json.loads(results_path.read_text())


def test_each_engine_on_a_host_with_both_judges_only_its_own_files(podman, tmp_path):
    """The shared dockerd and our Podman service on one host, /etc/docker/daemon.json present:
    Podman's audit never judges dockerd's files, units or settings, nor dockerd's Podman's."""
    assert Path("/etc/docker").is_dir(), "the shared dockerd's /etc/docker is where this test adds daemon.json"
    docker_snapshot, docker_results = _collect_with_daemon_json("unix:///var/run/docker.sock", tmp_path, "docker")
    podman_snapshot, podman_results = _collect_with_daemon_json(podman.url, tmp_path, "podman")
    assert docker_snapshot["meta"]["engine"]["kind"] == "docker" and podman_snapshot["meta"]["engine"]["kind"] == "podman"
    assert docker_snapshot["daemon"]["config_file"]["parsed"] == {"log-level": "info"}, "our daemon.json was read"
    assert podman_snapshot["files"]["/etc/docker/daemon.json"]["exists"] is True, "and is there for Podman's audit too"

    podman_judged = _judged_text(podman_results)
    leaks = {pid: DOCKERD_OWN.findall(text) for pid, text in podman_judged.items() if DOCKERD_OWN.search(text)}
    assert leaks == {}, f"Podman's audit judged dockerd's files: {leaks}"
    docker_judged = _judged_text(docker_results)
    leaks = {pid: PODMAN_OWN.findall(text) for pid, text in docker_judged.items() if PODMAN_OWN.search(text)}
    assert leaks == {}, f"dockerd's audit judged Podman's files: {leaks}"

    def names(results: dict[str, Any], policy: str) -> set[str]:
        found = next(r for r in results["results"] if r["id"] == policy)
        return {f["resource"]["name"] for f in found["findings"]} | {r["name"] for r in found.get("passed") or []}

    # 1.2.2 judges each engine's own components: Podman's are not dockerd's containerd.
    podman_components = {f["resource"]["id"] for r in podman_results["results"] if r["id"] == "cis-docker-1.2.2"
                         for f in r["findings"]} | {p["id"] for r in podman_results["results"]
                                                    if r["id"] == "cis-docker-1.2.2" for p in r.get("passed") or []}
    reported = {c["Name"] for c in podman_snapshot["engine"]["version"]["Components"]}
    assert podman_components and podman_components <= reported, (podman_components, reported)

    # The case: each engine's configuration file, and only that, for 1.1.11 (3.17, 3.18).
    for policy in ("cis-docker-1.1.11", "cis-docker-3.17", "cis-docker-3.18"):
        assert names(podman_results, policy) == {str(podman.conf)}, policy
        assert names(docker_results, policy) == {"/etc/docker/daemon.json"}, policy
    assert names(podman_results, "cis-docker-1.1.5") == {str(podman.dir / "root")}
    assert names(podman_results, "cis-docker-1.1.6") == {"/etc/containers"}
    assert names(docker_results, "cis-docker-1.1.6") == {"/etc/docker"}
    assert names(podman_results, "cis-docker-3.16") == {str(podman.socket)}
    assert names(docker_results, "cis-docker-3.16") <= {"/var/run/docker.sock", "/run/docker.sock"}


# ---- namespaces from the kernel: Podman ----------------------------------------------------------

def test_podman_namespaces_come_from_the_kernel(hullcheck_cli, tmp_path):
    """Podman 4.3 reports IpcMode "shareable" for --ipc host (the kernel: the host's IPC
    namespace), and "host" for --network host of a service in a network namespace of its own (the
    kernel: not the host's network)."""
    with NetNS() as netns, PodmanService(netns) as service:
        service.podman("build", "--format", "docker", "-q", "-t", "localhost/hce-ns:1",
                       str(image_context(tmp_path / "ctx", healthcheck=False)))
        run = ("run", "-d", "localhost/hce-ns:1")
        service.podman(*run[:2], "--name", "ipchost", "--network", "none", "--ipc", "host", *run[2:])
        service.podman(*run[:2], "--name", "hostns", "--network", "host", "--pid", "host", "--uts", "host", *run[2:])
        service.podman(*run[:2], "--name", "plain", "--network", "none", *run[2:])
        snapshot, results = _collect_and_evaluate(hullcheck_cli, service.url, tmp_path)
    containers = {c["inspect"]["Name"].lstrip("/"): c for c in snapshot["containers"]}
    for item in containers.values():
        assert item["namespaces"]["verified_by"] == "cgroup", item["namespaces"]
    ipchost, hostns = containers["ipchost"], containers["hostns"]
    assert ipchost["inspect"]["HostConfig"]["IpcMode"] != "host", "Podman reports --ipc host otherwise"
    assert ipchost["namespaces"]["ipc"]["shared_with_host"] is True
    assert hostns["inspect"]["HostConfig"]["NetworkMode"] == "host"
    assert hostns["namespaces"]["net"]["shared_with_host"] is False, "the service's network namespace is ours"
    assert hostns["namespaces"]["pid"]["shared_with_host"] is True and hostns["namespaces"]["uts"]["shared_with_host"] is True
    assert not any(containers["plain"]["namespaces"][k]["shared_with_host"] for k in ("ipc", "pid", "net", "uts"))
    assert _offenders(results, "cis-docker-5.17") == {"ipchost"}
    assert "IpcMode=\"shareable\"" in results["by_id"]["cis-docker-5.17"]["findings"][0]["message"]
    assert _offenders(results, "cis-docker-5.10") == set(), "not the host's network, whatever NetworkMode says"
    assert _offenders(results, "cis-docker-5.16") == {"hostns"} and _offenders(results, "cis-docker-5.21") == {"hostns"}


# ---- rootless dockerd --------------------------------------------------------------------------

ROOTLESS_CONFIG = {"bridge": "none", "iptables": False, "log-level": "info", "no-new-privileges": True}


@pytest.fixture(scope="module")
def rootless() -> Iterator[RootlessDockerd]:
    with NetNS() as netns, RootlessDockerd(netns, ROOTLESS_CONFIG) as daemon:
        from testimage import build_busybox

        client = daemon.client()
        try:
            build_busybox(client, "hce-rootless/busybox:1")
            client.containers.run("hce-rootless/busybox:1", ["sleep", "3600"], name="limited", detach=True,
                                  network_mode="none", mem_limit="64m", pids_limit=100, cpu_shares=512)
        finally:
            client.close()
        yield daemon


def test_rootless_dockerd_reads_the_users_config_and_judges_unenforced_limits(rootless, hullcheck_cli, tmp_path):
    snapshot, results = _collect_and_evaluate(hullcheck_cli, rootless.url, tmp_path)
    engine = snapshot["meta"]["engine"]
    assert engine["kind"] == "docker" and engine["rootless"] is True and engine["rootless_by"] == "info.SecurityOptions"
    assert snapshot["meta"]["collector"]["rootless"] is True
    assert "(rootless)" in results["_text_header"]

    process = snapshot["daemon"]["process"]
    assert process["chosen_by"] == "endpoint" and process["environment"]["ROOTLESSKIT_STATE_DIR"]
    assert process["environment"]["HOME"] == str(rootless.home)
    assert len(process["candidates"]) >= 2, "the shared dockerd runs too, and is not the one taken"
    config_file = snapshot["daemon"]["config_file"]
    assert config_file["path"] == str(rootless.config_file) and config_file["chosen_by"] == "default"
    assert config_file["parsed"] == ROOTLESS_CONFIG
    options = snapshot["daemon"]["options"]
    assert options["data-root"] == {"value": str(rootless.home / ".local/share/docker"), "source": "default"}
    assert options["hosts"] == {"value": [rootless.url], "source": "default"}
    assert options["no-new-privileges"] == {"value": True, "source": "config-file"}
    assert snapshot["host"]["docker_root"]["path"] == str(rootless.home / ".local/share/docker")

    by_id = results["by_id"]
    assert by_id["cis-docker-2.1"]["status"] == "pass" and by_id["cis-docker-2.9"]["status"] == "pass"
    assert by_id["cis-docker-2.14"]["status"] == "pass", "no-new-privileges from the user's daemon.json"
    assert by_id["cis-docker-2.3"]["status"] == "pass"
    info = snapshot["engine"]["info"]
    if info.get("CgroupDriver") == "none":  # cgroup v1, or v2 without delegation: limits are recorded only
        for policy in ("cis-docker-5.11", "cis-docker-5.12", "cis-docker-5.29"):
            assert _offenders(results, policy) == {"limited"}, policy
            assert "cannot enforce" in by_id[policy]["findings"][0]["message"]
    else:
        for policy in ("cis-docker-5.11", "cis-docker-5.12", "cis-docker-5.29"):
            assert "limited" not in _offenders(results, policy), policy


def test_rootless_dockerd_socket_and_processes_on_its_own_terms(rootless, hullcheck_cli, tmp_path):
    """3.16 judges the permission bits of the socket dockerd makes in XDG_RUNTIME_DIR (01660: the
    sticky bit keeps systemd from cleaning it up). 5.7 reads each container's processes from /proc
    where the engine's /top fails (rootless on cgroup v1: runc ps finds no cgroup), `docker exec`ed
    ones included. Its host, daemon and file policies judge the user's files, not the shared
    dockerd's /etc/docker, /var/lib/docker or system units."""
    client = rootless.client()
    try:
        sshd = client.containers.run(client.images.build(path=str(image_context(rootless.dir / "sshd", healthcheck=False,
                                                                                sshd=True)), tag="hce-rootless/sshd:1", rm=True, forcerm=True)[0].id,
                                     ["/usr/sbin/sshd"], name="with-sshd", detach=True, network_mode="none")
        exec_id = client.api.exec_create(client.containers.get("limited").id, ["sleep", "3601"])["Id"]
        client.api.exec_start(exec_id, detach=True)
        deadline = time.monotonic() + 30
        while not client.api.exec_inspect(exec_id).get("Pid"):  # running, not just asked for
            assert time.monotonic() < deadline, "the exec'ed process never started"
            time.sleep(0.1)
        snapshot, results = _collect_and_evaluate(hullcheck_cli, rootless.url, tmp_path)
        top_fails = None
        try:
            client.api.top(sshd.id)
        except Exception as exc:  # noqa: BLE001 - what the engine answers is the point
            top_fails = str(exc)
    finally:
        for name in ("with-sshd",):
            try:
                client.containers.get(name).remove(force=True)
            except Exception:  # noqa: BLE001
                pass
        client.close()
    socket = snapshot["files"][str(rootless.socket)]
    assert socket["type"] == "socket" and socket["uid"] == rootless.user.pw_uid
    assert socket["mode"] == "01660", "dockerd's rootless socket: permission bits 0660 and the sticky bit"
    by_id = results["by_id"]
    assert by_id["cis-docker-3.16"]["status"] == "pass" and by_id["cis-docker-3.15"]["status"] == "pass"

    containers = {c["inspect"]["Name"].lstrip("/"): c for c in snapshot["containers"] if c["inspect"]["State"]["Running"]}
    assert set(containers) == {"limited", "with-sshd"}
    cgroup_v1 = snapshot["engine"]["info"].get("CgroupVersion") == "1"
    for name, item in containers.items():
        assert item.get("processes_from") == "proc", (name, _errors(snapshot), item.get("namespaces"))
        assert item["namespaces"]["verified_by"] == ("mounts" if cgroup_v1 else item["namespaces"]["verified_by"])
        assert item["namespaces"]["user"]["shared_with_host"] is False, "a rootless engine's own user namespace"
    if cgroup_v1:
        assert top_fails and "500" in top_fails, "the engine's own /top, which 5.7 no longer depends on"
    commands = {name: [row[-1] for row in item["processes"]["Processes"]] for name, item in containers.items()}
    assert commands["with-sshd"] == ["/usr/sbin/sshd"]
    assert sorted(commands["limited"]) == ["sleep 3600", "sleep 3601"], "the exec'ed process is the container's too"
    assert by_id["cis-docker-5.7"]["status"] == "fail" and _offenders(results, "cis-docker-5.7") == {"with-sshd"}
    assert by_id["cis-docker-5.31"]["status"] == "pass"

    judged = _judged_text(results)
    system_dockerd = re.compile(r"/etc/docker|/var/lib/docker|/run/containerd|/etc/containerd|/etc/default/docker"
                                r"|/lib/systemd/system/docker")
    leaks = {pid: system_dockerd.findall(text) for pid, text in judged.items() if system_dockerd.search(text)}
    assert leaks == {}, f"the rootless dockerd's audit judged the system dockerd's files: {leaks}"


def test_no_daemon_is_attached_when_none_serves_the_endpoint(podman, hullcheck_cli, tmp_path):
    """Through a symlink nobody's -H names, the shared dockerd's sockets do not match: unknown,
    never `only`, and the daemon policies say error with that reason."""
    link = tmp_path / "elsewhere.sock"
    link.symlink_to("/var/run/docker.sock")
    # A unix path that resolves to the shared socket IS the shared daemon's: it is matched.
    snapshot, _ = _collect_and_evaluate(hullcheck_cli, f"unix://{link}", tmp_path)
    assert snapshot["daemon"]["process"] is not None and snapshot["meta"]["engine"]["kind"] == "docker"
    # The Podman socket reached while pretending the service is gone: its process is hidden
    # by a --host-root tree without it, so nothing serves the endpoint.
    tree = tmp_path / "host"
    (tree / "proc").mkdir(parents=True)
    (tree / "etc").mkdir()
    snapshot_path, results_path = tmp_path / "s2.json", tmp_path / "r2.json"
    proc = hullcheck_cli("collect", "--docker-host", podman.url, "--host-root", str(tree), "-o", str(snapshot_path),
                         timeout=240)
    assert proc.returncode == 0, proc.stderr
    snapshot = json.loads(snapshot_path.read_text())
    assert snapshot["daemon"]["process"] is None
    assert "no `podman system service` process serves" in _errors(snapshot)["/daemon/process"]
    proc = hullcheck_cli("evaluate", str(snapshot_path), "--format", "json", "-o", str(results_path), timeout=240)
    by_id = {r["id"]: r for r in json.loads(results_path.read_text())["results"]}
    assert by_id["cis-docker-2.8"]["status"] == "error"
    assert "Podman service process behind the endpoint is unknown" in json.dumps(by_id["cis-docker-2.8"])


# ---- rootless Podman ---------------------------------------------------------------------------

ROOTLESS_PODMAN_CONF = '[containers]\ndefault_ulimits = ["nofile=1024:2048"]\n'


def test_rootless_podman_reads_the_users_files_and_passes_rootless_checks(hullcheck_cli, tmp_path):
    from engines_support import RootlessPodman

    with NetNS() as netns, RootlessPodman(netns, ROOTLESS_PODMAN_CONF) as service:
        context = image_context(service.dir / "ctx", healthcheck=False)  # the user must read it
        service.build(context, "localhost/hce-rl:1")
        service.podman("run", "-d", "--network", "none", "--name", "limited", "--pids-limit", "100", "localhost/hce-rl:1")
        snapshot, results = _collect_and_evaluate(hullcheck_cli, service.url, tmp_path)
        pid = service.proc.pid
    engine = snapshot["meta"]["engine"]
    assert engine["kind"] == "podman" and engine["rootless"] is True and engine["rootless_by"] == "info.Rootless"
    assert snapshot["meta"]["collector"]["rootless"] is True
    daemon = snapshot["daemon"]
    # The service re-executes itself in its user namespace: the child serves, its parent waits.
    assert pid in (daemon["process"]["pid"], daemon["process"]["ppid"]) and daemon["process"]["chosen_by"] == "endpoint"
    assert daemon["process"]["uid"] == service.user.pw_uid
    assert daemon["podman"]["rootless"] is True
    conf_paths = [(r["path"], r["chosen_by"]) for r in daemon["podman"]["files"]["containers.conf"]]
    assert (str(service.conf), "user") == conf_paths[-1] and conf_paths[0][0] == "/usr/share/containers/containers.conf"
    assert daemon["config_file"]["path"] == str(service.conf)
    assert daemon["options"]["default-ulimits"]["file"] == str(service.conf)
    assert daemon["options"]["data-root"]["value"] == str(service.home / ".local/share/containers/storage")
    container = snapshot["containers"][0]
    assert container["processes"]["Processes"], "the empty compat /top body was replaced by libpod's rows"
    by_id = results["by_id"]
    assert by_id["cis-docker-2.1"]["status"] == "pass" and by_id["cis-docker-2.9"]["status"] == "pass"
    assert by_id["cis-docker-2.8"]["status"] == "pass"
    if not (snapshot["engine"]["libpod_info"]["host"].get("cgroupControllers") or []):
        assert _offenders(results, "cis-docker-5.29") == {"limited"}
        assert "cannot enforce pids limits" in by_id["cis-docker-5.29"]["findings"][0]["message"]
