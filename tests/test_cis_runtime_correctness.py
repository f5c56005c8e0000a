"""The correctness rules of the CIS sections 4-7 pack, each proved on real recorded snapshots.

Where docker-bench-security is wrong (restart policy names, `::` binds, CAP_ prefixes, `0:0`
users, exec-based sshd detection, AppArmor on SELinux hosts, swarm checks on swarm-less hosts),
these tests pin down the right answer. The snapshots are the recorded examples
(`misconfigured`: running dashboard, db, web, worker and the stopped old-job; `swarm-manager`: a
real single-manager swarm) with small edits, evaluated by the real engine. One live test at the
end starts misconfigured containers on the shared daemon and audits them end to end.
"""

from __future__ import annotations

import copy
import json
import socket
from typing import Any

import pytest

from evaluator.worker_pool import Evaluator, Source
from hullcheck_common.resources import snapshots_dir

RUNNING = {"dashboard", "db", "web", "worker"}
WORKER_ID = "9ef4b5fab0d682027b945f267f9e767be4faa06b9255ede59d4f2f1a050e166e"


def _load(name: str) -> dict[str, Any]:
    return json.loads((snapshots_dir() / "examples" / f"{name}.json").read_text())


@pytest.fixture
def misconfigured() -> dict[str, Any]:
    return copy.deepcopy(_load("misconfigured"))


def run(evaluator: Evaluator, snapshot: dict[str, Any], *ids: str) -> dict[str, dict[str, Any]]:
    """Evaluate the snapshot with the named policies (all when none); results by policy id."""
    document = evaluator.evaluate(Source(name="test", data=json.dumps(snapshot).encode()),
                                  policy_ids=ids or None)
    return {r["id"]: r for r in document["results"] if not ids or r["id"] in ids}


def offenders(result: dict[str, Any]) -> set[str]:
    return {f["resource"]["name"] for f in result["findings"] if f["status"] == "fail"}


def judged(result: dict[str, Any]) -> set[str]:
    return {f["resource"]["name"] for f in result["findings"]} | {p["name"] for p in result["passed"]}


def container(snapshot: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in snapshot["containers"] if c["inspect"]["Name"] == f"/{name}")


def section5_container_policies(pack: list[Any]) -> list[str]:
    return [p.id for p in pack if p.automated and p.resources == "running_containers"
            and (p.controls.get("cis-docker-1.6.0", "").startswith("5.") or p.id.startswith("hullcheck-cap-"))]


def make_everything_wrong(item: dict[str, Any]) -> None:
    """Every runtime misconfiguration a container can carry, at once."""
    hc = item["inspect"]["HostConfig"]
    hc.update(Privileged=True, CapAdd=["SYS_ADMIN", "SYS_PTRACE", "SYS_MODULE", "DAC_READ_SEARCH"],
              PidMode="host", IpcMode="host", UTSMode="host", UsernsMode="host", RestartPolicy={"Name": "always", "MaximumRetryCount": 0},
              SecurityOpt=["seccomp=unconfined", "apparmor=unconfined"], Devices=[{"PathOnHost": "/dev/sda", "PathInContainer": "/dev/sda", "CgroupPermissions": "rwm"}],
              CgroupParent="/evil", PublishAllPorts=True)
    item["inspect"]["Mounts"] = [{"Type": "bind", "Source": "/", "Destination": "/host", "Mode": "", "RW": True, "Propagation": "rshared"}]
    item["inspect"]["NetworkSettings"]["Ports"] = {"22/tcp": [{"HostIp": "0.0.0.0", "HostPort": "22"}, {"HostIp": "::", "HostPort": "22"}]}
    item["processes"] = {"Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
                         "Processes": [["root", "1", "0", "0", "03:45", "?", "00:00:00", "/usr/sbin/sshd -D"]]}


# --- only running containers, never the collector's own -----------------------------------------

def test_stopped_containers_are_never_judged_in_section_5(evaluator, pack, misconfigured):
    old_job = container(misconfigured, "old-job")
    assert old_job["inspect"]["State"]["Running"] is False
    make_everything_wrong(old_job)
    ids = section5_container_policies(pack)
    assert len(ids) >= 30
    results = run(evaluator, misconfigured, *ids)
    for policy_id in ids:
        result = results[policy_id]
        if result["status"] == "not_applicable":  # AppArmor / SELinux: the host runs neither
            continue
        assert judged(result) == RUNNING, f"{policy_id} judged {judged(result)}"


def test_the_collectors_own_container_is_left_out(evaluator, pack, misconfigured):
    worker = container(misconfigured, "worker")
    assert worker["inspect"]["Id"] == WORKER_ID
    make_everything_wrong(worker)
    ids = section5_container_policies(pack)
    before = run(evaluator, misconfigured, *ids)
    assert "worker" in offenders(before["cis-docker-5.5"]) and "worker" in offenders(before["hullcheck-cap-sys-admin"])
    misconfigured["meta"]["collector"]["container_id"] = WORKER_ID
    after = run(evaluator, misconfigured, *ids)
    for policy_id in ids:
        assert "worker" not in judged(after[policy_id]), policy_id


# --- 5.15 restart policy --------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "retries", "status"), [
    ("always", 0, "fail"), ("unless-stopped", 0, "fail"), ("on-failure", 6, "fail"), ("on-failure", 100, "fail"),
    ("on-failure", 5, "pass"), ("on-failure", 0, "pass"), ("on-failure", 3, "pass"), ("no", 0, "pass"), ("", 0, "pass"),
])
def test_restart_policy(evaluator, misconfigured, name, retries, status):
    container(misconfigured, "db")["inspect"]["HostConfig"]["RestartPolicy"] = {"Name": name, "MaximumRetryCount": retries}
    result = run(evaluator, misconfigured, "cis-docker-5.15")["cis-docker-5.15"]
    assert result["status"] == status
    assert offenders(result) == ({"db"} if status == "fail" else set())


# --- 5.14 wildcard binds and 5.8 privileged ports ---------------------------------------------------

@pytest.mark.parametrize(("host_ip", "wildcard"), [
    ("0.0.0.0", True), ("::", True), ("", True), ("127.0.0.1", False), ("::1", False), ("10.1.2.3", False), ("fd00::5", False),
])
def test_wildcard_binds_include_ipv6(evaluator, misconfigured, host_ip, wildcard):
    container(misconfigured, "web")["inspect"]["NetworkSettings"]["Ports"] = {"8080/tcp": [{"HostIp": host_ip, "HostPort": "8080"}]}
    result = run(evaluator, misconfigured, "cis-docker-5.14")["cis-docker-5.14"]
    assert offenders(result) == ({"web"} if wildcard else set())


@pytest.mark.parametrize(("host_ip", "port", "privileged"), [
    ("0.0.0.0", "80", True), ("::", "443", True), ("::1", "22", True), ("127.0.0.1", "1023", True),
    ("127.0.0.1", "1024", False), ("::", "8443", False),
])
def test_privileged_ports_on_any_family(evaluator, misconfigured, host_ip, port, privileged):
    container(misconfigured, "db")["inspect"]["NetworkSettings"]["Ports"] = {"5432/tcp": [{"HostIp": host_ip, "HostPort": port}]}
    result = run(evaluator, misconfigured, "cis-docker-5.8")["cis-docker-5.8"]
    assert offenders(result) == ({"db"} if privileged else set())


# --- capabilities and users --------------------------------------------------------------------------

@pytest.mark.parametrize("spelling", ["SYS_ADMIN", "sys_admin", "CAP_SYS_ADMIN", "cap_sys_admin", "Cap_Sys_Admin", "ALL", "all"])
def test_capabilities_match_in_any_spelling(evaluator, misconfigured, spelling):
    container(misconfigured, "worker")["inspect"]["HostConfig"]["CapAdd"] = [spelling]
    results = run(evaluator, misconfigured, "cis-docker-5.4", "hullcheck-cap-sys-admin")
    assert offenders(results["cis-docker-5.4"]) == {"worker"}
    assert offenders(results["hullcheck-cap-sys-admin"]) == {"worker"}


def test_capdrop_all_counts_and_default_caps_are_not_findings(evaluator, misconfigured):
    container(misconfigured, "db")["inspect"]["HostConfig"].update(CapDrop=["ALL"], CapAdd=["cap_chown", "NET_BIND_SERVICE"])
    container(misconfigured, "web")["inspect"]["HostConfig"].update(CapAdd=["ALL"], CapDrop=["CAP_SYS_ADMIN"])
    container(misconfigured, "worker")["inspect"]["HostConfig"].update(CapDrop=["ALL"], CapAdd=["SYS_PTRACE"])
    results = run(evaluator, misconfigured, "cis-docker-5.4", "hullcheck-cap-sys-admin", "hullcheck-cap-sys-ptrace",
                  "hullcheck-cap-sys-module")
    assert offenders(results["cis-docker-5.4"]) == {"web", "worker"}
    assert offenders(results["hullcheck-cap-sys-admin"]) == set()  # ALL minus SYS_ADMIN
    assert offenders(results["hullcheck-cap-sys-ptrace"]) == {"web", "worker"}
    assert offenders(results["hullcheck-cap-sys-module"]) == {"web"}


@pytest.mark.parametrize(("user", "root"), [
    ("", True), ("0", True), ("root", True), ("0:0", True), ("root:root", True), ("root:wheel", True), ("0:1000", True),
    ("1000", False), ("app", False), ("1000:0", False), ("nobody:nogroup", False),
])
def test_root_user_spellings(evaluator, misconfigured, user, root):
    for name in RUNNING:
        container(misconfigured, name)["inspect"]["Config"]["User"] = "1000"
    container(misconfigured, "db")["inspect"]["Config"]["User"] = user
    result = run(evaluator, misconfigured, "cis-docker-4.1")["cis-docker-4.1"]
    assert offenders(result) == ({"db"} if root else set())


# --- 5.7 sshd from the process list -------------------------------------------------------------------

def test_sshd_is_found_in_the_process_list(evaluator, misconfigured):
    rows = container(misconfigured, "web")["processes"]["Processes"]
    rows.append(["root", "900", "1", "0", "03:45", "?", "00:00:00", "sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"])
    result = run(evaluator, misconfigured, "cis-docker-5.7")["cis-docker-5.7"]
    assert result["status"] == "fail" and offenders(result) == {"web"}
    assert "sshd" in result["findings"][0]["message"]


def test_a_process_list_that_was_not_collected_is_an_error_for_that_container(evaluator, misconfigured):
    index = next(i for i, c in enumerate(misconfigured["containers"]) if c["inspect"]["Name"] == "/db")
    misconfigured["containers"][index]["processes"] = None
    misconfigured["meta"]["errors"].append({"source": f"/containers/{index}/processes", "reason": "top failed"})
    result = run(evaluator, misconfigured, "cis-docker-5.7")["cis-docker-5.7"]
    assert result["status"] == "error"
    assert {(f["resource"]["name"], f["status"]) for f in result["findings"]} == {("db", "error")}
    assert {p["name"] for p in result["passed"]} == RUNNING - {"db"}


# --- AppArmor / SELinux / swarm applicability -------------------------------------------------------

@pytest.mark.parametrize(("policy_id", "module"), [("cis-docker-5.2", "apparmor"), ("cis-docker-5.3", "selinux")])
def test_mac_checks_apply_only_where_the_host_runs_the_module(evaluator, misconfigured, policy_id, module):
    assert run(evaluator, misconfigured, policy_id)[policy_id]["status"] == "not_applicable"
    misconfigured["host"][module]["enabled"] = True
    result = run(evaluator, misconfigured, policy_id)[policy_id]
    assert result["status"] == "fail" and offenders(result) == RUNNING
    misconfigured["host"] = None
    misconfigured["meta"]["errors"].append({"source": "/host", "reason": "not collected"})
    assert run(evaluator, misconfigured, policy_id)[policy_id]["status"] == "error"


def test_swarm_checks_are_not_applicable_without_swarm_and_judged_with_it(evaluator, pack, misconfigured):
    section7 = [p.id for p in pack if p.automated and p.controls.get("cis-docker-1.6.0", "").startswith("7.")]
    assert len(section7) == 5
    results = run(evaluator, misconfigured, *section7)
    assert {r["status"] for r in results.values()} == {"not_applicable"}
    swarm = run(evaluator, _load("swarm-manager"), *section7)
    assert {k: r["status"] for k, r in swarm.items()} == {
        "cis-docker-7.1": "pass", "cis-docker-7.2": "pass", "cis-docker-7.3": "fail", "cis-docker-7.5": "fail",
        "cis-docker-7.7": "pass"}
    assert offenders(swarm["cis-docker-7.3"]) == {"app-plain", "ingress"}
    manual7 = [p.id for p in pack if not p.automated and p.controls.get("cis-docker-1.6.0", "").startswith("7.")]
    assert {r["status"] for r in run(evaluator, misconfigured, *manual7).values()} == {"not_applicable"}
    assert {r["status"] for r in run(evaluator, _load("swarm-manager"), *manual7).values()} == {"manual"}
    assert run(evaluator, misconfigured, "cis-docker-5.1")["cis-docker-5.1"]["status"] == "pass"
    assert run(evaluator, _load("swarm-manager"), "cis-docker-5.1")["cis-docker-5.1"]["status"] == "fail"


# --- mounts, no-new-privileges, content trust ---------------------------------------------------------

def test_sensitive_mounts_are_judged_on_the_host_source(evaluator, misconfigured):
    container(misconfigured, "db")["inspect"]["Mounts"] = [
        {"Type": "bind", "Source": "/srv/etc", "Destination": "/etc", "Mode": "", "RW": True, "Propagation": "rprivate"}]
    container(misconfigured, "web")["inspect"]["Mounts"] = [
        {"Type": "bind", "Source": "/etc", "Destination": "/config", "Mode": "ro", "RW": False, "Propagation": "rprivate"}]
    container(misconfigured, "worker")["inspect"]["Mounts"] = [
        {"Type": "bind", "Source": "/etc/localtime", "Destination": "/etc/localtime", "Mode": "ro", "RW": False, "Propagation": "rprivate"}]
    result = run(evaluator, misconfigured, "cis-docker-5.6")["cis-docker-5.6"]
    assert offenders(result) == {"web"}


def test_no_new_privileges_from_the_container_or_the_daemon(evaluator, misconfigured):
    result = run(evaluator, misconfigured, "cis-docker-5.26")["cis-docker-5.26"]
    assert offenders(result) == RUNNING
    misconfigured["daemon"]["options"]["no-new-privileges"] = {"value": True, "source": "config-file"}
    result = run(evaluator, misconfigured, "cis-docker-5.26")["cis-docker-5.26"]
    assert result["status"] == "pass"
    container(misconfigured, "db")["inspect"]["HostConfig"]["SecurityOpt"] = ["no-new-privileges:false"]
    result = run(evaluator, misconfigured, "cis-docker-5.26")["cis-docker-5.26"]
    assert offenders(result) == {"db"}
    assert any(e["pointer"] == "/daemon/options/no-new-privileges" for e in result["findings"][0]["evidence"])


@pytest.mark.parametrize(("value", "status"), [(None, "fail"), ("0", "fail"), ("true", "fail"), ("1", "pass")])
def test_content_trust_reads_the_collected_environment(evaluator, value, status):
    snapshot = copy.deepcopy(_load("minimal"))
    snapshot["host"]["environment"]["DOCKER_CONTENT_TRUST"] = value
    assert run(evaluator, snapshot, "cis-docker-4.5")["cis-docker-4.5"]["status"] == status


# --- live, end to end ------------------------------------------------------------------------------

def _free_port(low: int, high: int) -> int:
    for port in range(low, high):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    pytest.fail(f"no free TCP port in {low}-{high}")
    raise AssertionError


def test_live_audit_reports_exactly_the_runtime_offenders(run_container, docker_client, busybox_image, session_label,
                                                          hullcheck_cli):
    """Known misconfigurations on the shared daemon, audited through the real CLI, by name."""
    low_port = _free_port(900, 1000)
    high_port = _free_port(41000, 42000)
    # A user-defined network of our own: independent of docker0, and compliant with 5.30.
    network = docker_client.networks.create(f"hc-{session_label}-net", driver="bridge",
                                            labels={"hullcheck.test": session_label})
    stopped = None
    try:
        net = {"network": network.name}
        restart = run_container("restart-always", restart_policy={"Name": "always"}, **net)
        wildcard = run_container("wildcard-port", ports={"8080/tcp": ("0.0.0.0", high_port)}, **net)
        lowport = run_container("privileged-port", ports={"80/tcp": ("127.0.0.1", low_port)}, **net)
        sysadmin = run_container("cap-sys-admin", cap_add=["SYS_ADMIN"], **net)
        pidhost = run_container("pid-host", pid_mode="host", **net)
        good = run_container(
            "compliant", user="1000:1000", mem_limit="64m", cpu_shares=512, pids_limit=64, read_only=True,
            security_opt=["no-new-privileges:true"], cap_drop=["ALL"],
            restart_policy={"Name": "on-failure", "MaximumRetryCount": 3},
            healthcheck={"test": ["CMD", "true"], "interval": 2_000_000_000}, **net)
        stopped = docker_client.containers.create(busybox_image, ["sleep", "3600"], name=f"hc-{session_label}-stopped",
                                                  labels={"hullcheck.test": session_label}, cap_add=["SYS_ADMIN"],
                                                  restart_policy={"Name": "always"}, pid_mode="host", **net)

        ids = ["cis-docker-4.1", "cis-docker-5.4", "cis-docker-5.5", "cis-docker-5.7", "cis-docker-5.8", "cis-docker-5.11",
               "cis-docker-5.12", "cis-docker-5.13", "cis-docker-5.14", "cis-docker-5.15", "cis-docker-5.16",
               "cis-docker-5.26", "cis-docker-5.27", "cis-docker-5.29", "cis-docker-5.30", "hullcheck-cap-sys-admin"]
        args = ["audit", "--format", "json", "--label", f"hullcheck.test={session_label}"]
        for policy_id in ids:
            args += ["--policy", policy_id]
        proc = hullcheck_cli(*args)
        assert proc.returncode == 1, proc.stderr
        results = {r["id"]: r for r in json.loads(proc.stdout)["results"]}

        running = {c.name for c in (restart, wildcard, lowport, sysadmin, pidhost, good)}
        misconfigured = running - {good.name}
        expected = {
            "cis-docker-5.15": {restart.name}, "cis-docker-5.14": {wildcard.name}, "cis-docker-5.8": {lowport.name},
            "cis-docker-5.4": {sysadmin.name}, "hullcheck-cap-sys-admin": {sysadmin.name}, "cis-docker-5.16": {pidhost.name},
            "cis-docker-5.5": set(), "cis-docker-5.7": set(), "cis-docker-5.30": set(),
            **{pid: misconfigured for pid in ("cis-docker-4.1", "cis-docker-5.11", "cis-docker-5.12", "cis-docker-5.13",
                                              "cis-docker-5.26", "cis-docker-5.27", "cis-docker-5.29")},
        }
        for policy_id, names in expected.items():
            result = results[policy_id]
            assert offenders(result) == names, f"{policy_id}: {result['findings']}"
            assert judged(result) == running, f"{policy_id} judged {judged(result)}"
            assert not [f for f in result["findings"] if f["status"] == "error"], policy_id
        assert stopped.name not in proc.stdout
    finally:
        if stopped is not None:
            stopped.remove(force=True)
        for item in docker_client.containers.list(all=True, filters={"network": network.id}):
            item.remove(force=True)  # ours: the network is ours alone
        network.remove()
