"""hullcheck against the other engines it meets: `podman system service` (rootful) and a rootless
dockerd (Debian's dockerd-rootless.sh with rootlesskit, as an unprivileged user), each in a
network namespace of our own while the shared dockerd keeps running beside them. Collected and
evaluated through the real CLI: the snapshot must name the engine, attach its own process and
files (never the shared dockerd's), and the verdicts must be about what that engine does.
"""

from __future__ import annotations

import json
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
