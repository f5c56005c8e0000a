"""The correctness rules of the CIS host, daemon and daemon-file policies (sections 1-3).

Each test evaluates the real policies of the pack over the recorded `minimal` snapshot, patched
the way the collector would record the situation, and checks the verdict. These are the places
where docker-bench-security goes wrong: daemon.json ignored, file modes compared as decimal
numbers, a bind mount taken for a partition, audit rules read from one source only or looked up
under a path that is not the real binary.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import jsonpatch
import pytest

from evaluator.patches import merge_patch
from evaluator.snapshot import validate
from evaluator.worker_pool import Evaluator, Source
from hullcheck_common.resources import snapshots_dir

HOST = "vm"  # the host and daemon resource name in the minimal snapshot


@pytest.fixture(scope="module")
def minimal() -> dict[str, Any]:
    return json.loads((snapshots_dir() / "examples" / "minimal.json").read_text())


@pytest.fixture(scope="module")
def judge(minimal: dict[str, Any], evaluator: Evaluator):
    """judge(policy_id, merge=..., patch=...) -> that policy's result over the patched snapshot."""

    def run(policy_id: str, merge: dict[str, Any] | None = None, patch: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        snapshot = copy.deepcopy(minimal)
        if merge is not None:
            snapshot = merge_patch(snapshot, merge)
        if patch is not None:
            snapshot = jsonpatch.apply_patch(snapshot, patch)
        validate(snapshot, "patched snapshot")  # fixtures must look like what the collector writes
        document = evaluator.evaluate(Source(name=policy_id, data=json.dumps(snapshot).encode()), policy_ids=(policy_id,))
        (result,) = document["results"]
        return result

    return run


def offenders(result: dict[str, Any]) -> list[str]:
    return sorted(f["resource"]["name"] for f in result["findings"] if f["status"] == "fail")


def nulled(pointer: str, remove: bool = False) -> list[dict[str, Any]]:
    """The collector could not read `pointer`: null there (or no value at all, where the schema
    allows no null) and a meta.errors entry naming it."""
    gone = {"op": "remove", "path": pointer} if remove else {"op": "replace", "path": pointer, "value": None}
    return [gone, {"op": "add", "path": "/meta/errors/-", "value": {"source": pointer, "reason": "permission denied"}}]


# --- daemon options: argv and daemon.json count the same -------------------------------------------

def _option(name: str, value: Any, source: str) -> dict[str, Any]:
    patch: dict[str, Any] = {"daemon": {"options": {name: {"value": value, "source": source}}}}
    if source == "argv":
        values = value if isinstance(value, list) else [value]
        patch["daemon"]["process"] = {"argv": ["dockerd"] + [f"--{name}={json.dumps(v) if isinstance(v, (bool, dict)) else v}" for v in values]}
    else:
        patch["daemon"]["config_file"] = {"exists": True, "raw": json.dumps({name: value}), "parsed": {name: value}}
    return patch


def _info(**fields: Any) -> dict[str, Any]:
    return {"engine": {"info": fields}}


AUTHZ = _info(Plugins={"Authorization": ["authz-broker"], "Log": ["json-file"], "Network": ["bridge"], "Volume": ["local"]})
TLS = {"tlsverify": True, "tlscacert": "/etc/docker/tls/ca.pem", "tlscert": "/etc/docker/tls/cert.pem", "tlskey": "/etc/docker/tls/key.pem"}

# policy, option, a compliant value, a non-compliant value, engine facts consistent with the compliant value
OPTION_CASES = [
    ("cis-docker-2.2", "icc", False, True, {}),
    ("cis-docker-2.3", "log-level", "info", "debug", {}),
    ("cis-docker-2.4", "iptables", True, False, {}),
    ("cis-docker-2.5", "insecure-registries", [], ["registry.local:5000"], {}),
    ("cis-docker-2.8", "default-ulimits", {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 4096}}, {}, {}),
    ("cis-docker-2.9", "userns-remap", "default", "", _info(SecurityOptions=["name=seccomp,profile=default", "name=userns"])),
    ("cis-docker-2.10", "cgroup-parent", "", "/custom", {}),
    ("cis-docker-2.11", "storage-opts", ["overlay2.size=10G"], ["dm.basesize=50G"], {}),
    ("cis-docker-2.12", "authorization-plugins", ["authz-broker"], [], AUTHZ),
    ("cis-docker-2.14", "no-new-privileges", True, False, {}),
    ("cis-docker-2.15", "live-restore", True, False, _info(LiveRestoreEnabled=True)),
    ("cis-docker-2.16", "userland-proxy", False, True, {}),
    ("cis-docker-2.17", "seccomp-profile", "/etc/docker/seccomp.json", "unconfined",
     _info(SecurityOptions=["name=seccomp,profile=/etc/docker/seccomp.json"])),
]


@pytest.mark.parametrize("source", ["argv", "config-file"])
@pytest.mark.parametrize("policy_id,name,good,bad,engine", OPTION_CASES, ids=[c[0] for c in OPTION_CASES])
def test_a_daemon_json_setting_counts_as_much_as_a_flag(judge, policy_id, name, good, bad, engine, source):
    passing = judge(policy_id, merge_patch(_option(name, good, source), engine))
    failing = judge(policy_id, _option(name, bad, source))
    assert passing["status"] == "pass", passing
    assert failing["status"] == "fail", failing
    assert offenders(failing) == [HOST]
    # The finding shows the value and where it came from.
    evidence = {e["pointer"]: e["value"] for f in failing["findings"] for e in f["evidence"]}
    assert evidence[f"/daemon/options/{name}"] == {"value": bad, "source": source}


@pytest.mark.parametrize("policy_id", sorted({c[0] for c in OPTION_CASES} | {"cis-docker-2.7"}))
def test_a_daemon_json_that_does_not_parse_makes_settings_unknown(judge, policy_id):
    broken = {"path": "/etc/docker/daemon.json", "chosen_by": "default", "exists": True, "raw": '{"icc": false,',
              "parsed": None, "parse_error": "line 1 column 15: Expecting property name"}
    result = judge(policy_id, patch=[{"op": "replace", "path": "/daemon/config_file", "value": broken}])
    assert result["status"] == "error", result


def test_tls_is_required_for_a_tcp_host_from_either_source(judge):
    tcp = ["unix:///var/run/docker.sock", "tcp://0.0.0.0:2376"]
    assert judge("cis-docker-2.7")["status"] == "not_applicable"
    for source in ("argv", "config-file"):
        bare = judge("cis-docker-2.7", _option("hosts", tcp, source))
        assert bare["status"] == "fail" and offenders(bare) == [HOST], bare
        options = {k: {"value": v, "source": source} for k, v in TLS.items()}
        secured = judge("cis-docker-2.7", merge_patch(_option("hosts", tcp, source), {"daemon": {"options": options}}))
        assert secured["status"] == "pass", secured
    # TLS without verification of clients is not enough.
    options = {k: {"value": v, "source": "config-file"} for k, v in {**TLS, "tlsverify": False, "tls": True}.items()}
    assert judge("cis-docker-2.7", merge_patch(_option("hosts", tcp, "config-file"), {"daemon": {"options": options}}))["status"] == "fail"


# --- file modes are permission bits; owners are ids ------------------------------------------------

UNIT = "/lib/systemd/system/docker.service"


@pytest.mark.parametrize("mode,status", [
    ("0644", "pass"), ("0600", "pass"), ("0444", "pass"),
    ("0622", "fail"),  # 622 < 644 as a decimal number, yet group and other may write
    ("0700", "fail"),  # 700 > 644 as a number, and owner execute is outside the mask
    ("0664", "fail"),
    ("01644", "pass"), ("04644", "pass"),  # sticky, and setuid on a file nobody may execute, grant no access
    ("04744", "fail"),  # setuid on a file its owner may execute lends the owner's rights: outside the mask
])
def test_modes_are_compared_as_permission_bits(judge, mode, status):
    result = judge("cis-docker-3.2", {"files": {UNIT: {"mode": mode}}})
    assert result["status"] == status, result
    if status == "fail":
        assert offenders(result) == [UNIT]


@pytest.mark.parametrize("mode,status", [("0660", "pass"), ("0600", "pass"), ("0606", "fail"), ("0666", "fail"),
                                         ("01660", "pass"), ("01666", "fail")])  # a rootless dockerd's is 01660
def test_socket_mode_bits(judge, mode, status):
    assert judge("cis-docker-3.16", {"files": {"/var/run/docker.sock": {"mode": mode}}})["status"] == status


def test_owners_are_judged_by_uid_and_gid_not_names(judge):
    # A name that says root means nothing when the ids are not 0.
    result = judge("cis-docker-3.1", {"files": {UNIT: {"uid": 1000, "owner": "root"}}})
    assert result["status"] == "fail" and offenders(result) == [UNIT]
    result = judge("cis-docker-3.1", {"files": {UNIT: {"gid": 1000, "group": "root"}}})
    assert result["status"] == "fail"
    assert judge("cis-docker-3.1")["status"] == "pass"


def test_docker_socket_group_is_the_docker_group_by_gid(judge, minimal):
    gid = minimal["host"]["docker_group"]["gid"]
    assert minimal["files"]["/var/run/docker.sock"]["gid"] == gid
    assert judge("cis-docker-3.15")["status"] == "pass"
    assert judge("cis-docker-3.15", {"host": {"docker_group": {"gid": gid + 1}}})["status"] == "fail"


def test_absent_file_is_not_applicable_but_unexamined_file_is_an_error(judge):
    assert judge("cis-docker-3.20", {"files": {"/etc/default/docker": {"exists": False}}})["status"] == "not_applicable"
    assert judge("cis-docker-3.20", {"files": {"/etc/default/docker": None}})["status"] == "error"
    assert judge("cis-docker-3.20", patch=nulled("/files"))["status"] == "error"


# --- a bind mount is not a partition -------------------------------------------------------------

def test_bind_mount_of_the_root_filesystem_is_not_a_partition(judge, minimal):
    root = minimal["host"]["docker_root"]
    mount = next(m for m in minimal["host"]["mounts"] if m["mount_point"] == root["path"])
    slash = next(m for m in minimal["host"]["mounts"] if m["mount_point"] == "/")
    # The recorded host has /var/lib/docker as a mount point, bound from the root filesystem.
    assert mount["device"] == slash["device"] and mount["root"] == root["path"]
    result = judge("cis-docker-1.1.1")
    assert result["status"] == "fail" and offenders(result) == [HOST]


def test_own_device_is_a_partition(judge):
    separate = {"host": {"docker_root": {"device": "254:16", "separate_filesystem": True}}}
    assert judge("cis-docker-1.1.1", separate)["status"] == "pass"


def test_docker_root_not_collected_is_an_error(judge):
    assert judge("cis-docker-1.1.1", patch=nulled("/host/docker_root"))["status"] == "error"


# --- audit rules: both sources, real binary paths --------------------------------------------------

def _rules_file(path: str, perms: str | None = None) -> dict[str, Any]:
    line = f"-w {path}" + (f" -p {perms}" if perms else "") + " -k docker"
    return {"audit": {"rules_files": [{"path": "/etc/audit/rules.d/docker.rules", "raw": line}],
                      "watches": [{"path": path, "permissions": perms, "key": "docker", "origin": "/etc/audit/rules.d/docker.rules"}]}}


def _auditctl(path: str) -> dict[str, Any]:
    return {"audit": {"auditctl": {"available": True, "raw": f"-w {path} -p rwxa -k docker", "error": None},
                      "rules_files": [],
                      "watches": [{"path": path, "permissions": "rwxa", "key": "docker", "origin": "auditctl -l"}]}}


def test_no_audit_rule_fails_on_the_real_binary(judge, minimal):
    exe = minimal["daemon"]["process"]["exe"]
    assert exe != "/usr/bin/dockerd"  # the benchmark's path is not where this host keeps dockerd
    result = judge("cis-docker-1.1.3")
    assert result["status"] == "fail" and offenders(result) == [exe]


@pytest.mark.parametrize("where", ["rules file", "auditctl"])
def test_a_watch_in_either_source_counts(judge, where):
    make = _rules_file if where == "rules file" else _auditctl
    assert judge("cis-docker-1.1.3", make("/usr/bin/dockerd"))["status"] == "pass"
    assert judge("cis-docker-1.1.6", make("/etc/docker"))["status"] == "pass"


def test_the_real_binary_path_counts(judge, minimal):
    assert judge("cis-docker-1.1.3", _rules_file(minimal["daemon"]["process"]["exe"]))["status"] == "pass"
    # /usr/bin/runc is a symlink to /usr/sbin/runc on the recorded host: a watch on the target counts.
    assert minimal["files"]["/usr/bin/runc"]["realpath"] == "/usr/sbin/runc"
    assert judge("cis-docker-1.1.18", _auditctl("/usr/sbin/runc"))["status"] == "pass"


def test_a_watch_elsewhere_or_without_write_does_not_count(judge):
    assert judge("cis-docker-1.1.3", _rules_file("/usr/bin/containerd"))["status"] == "fail"
    assert judge("cis-docker-1.1.3", _rules_file("/usr/bin/dockerd", "r"))["status"] == "fail"
    # A directory watch is recursive: /etc/docker covers daemon.json, but not the reverse.
    daemon_json = {"files": {"/etc/docker/daemon.json": {"exists": True, "type": "file", "uid": 0, "gid": 0, "mode": "0644"}}}
    assert judge("cis-docker-1.1.11", merge_patch(daemon_json, _rules_file("/etc/docker", "wa")))["status"] == "pass"
    assert judge("cis-docker-1.1.6", _rules_file("/etc/docker/daemon.json", "wa"))["status"] == "fail"


def test_audit_not_collected_or_unreadable_is_an_error(judge):
    assert judge("cis-docker-1.1.3", patch=nulled("/audit"))["status"] == "error"
    unreadable = {"audit": {"auditctl": {"available": True, "raw": None, "error": "You must be root to run this program."}}}
    assert judge("cis-docker-1.1.3", unreadable)["status"] == "error"
    # ... unless a rules file already shows the watch.
    assert judge("cis-docker-1.1.3", merge_patch(unreadable, _rules_file("/usr/bin/dockerd")))["status"] == "pass"


def test_audited_file_absent_from_the_host_is_not_applicable(judge):
    assert judge("cis-docker-1.1.13")["status"] == "not_applicable"  # no /etc/sysconfig/docker here
    gone = {"files": {"/bin/runc": None, "/usr/bin/runc": None, "/sbin/runc": None, "/usr/sbin/runc": None}}
    assert judge("cis-docker-1.1.18", gone)["status"] == "not_applicable"


# --- fail closed: missing evidence is an error, never a pass -------------------------------------

def _cis_section(policy: Any) -> str | None:
    """The CIS Docker Benchmark section ('1') a policy is numbered in, by the newest benchmark that numbers it."""
    numbers = [policy.controls[f] for f in sorted(policy.controls, reverse=True) if f.startswith("cis-docker")]
    return numbers[0].split(".")[0] if numbers else None


def _host_policies(pack: list[Any]) -> list[Any]:
    return [p for p in pack if p.automated and _cis_section(p) in ("1", "2", "3")]


def test_every_host_policy_fails_closed_when_its_required_data_is_missing(judge, pack):
    policies = _host_policies(pack)
    assert len(policies) >= 60
    for policy in policies:
        assert policy.requires, f"{policy.id} names no required data"
        for pointer in policy.requires:
            remove = pointer == "/audit/watches"  # an array in the schema, never null: absent instead
            result = judge(policy.id, patch=nulled(pointer, remove))
            assert result["status"] == "error", f"{policy.id} with {pointer} not collected gave {result['status']}"


def test_an_unrelated_collector_error_does_not_block_host_policies(judge):
    # A collector error elsewhere (or below a required pointer's sibling) must not turn a judged
    # policy into an error: only errors at or above the data it reads count.
    unrelated = [{"op": "add", "path": "/meta/errors/-", "value": {"source": "/host/listening_tcp", "reason": "could not read /proc/1/net/tcp"}}]
    assert judge("cis-docker-3.1", patch=unrelated)["status"] == "pass"
    assert judge("cis-docker-2.2", patch=unrelated)["status"] == "fail"
    below = [{"op": "add", "path": "/meta/errors/-", "value": {"source": "/files/~1etc~1docker~1certs.d", "reason": "permission denied"}}]
    assert judge("cis-docker-3.5", patch=below)["status"] == "pass"
