"""The guard's and watch's pure parts, case by case: request paths as dockerd routes them, what a
request body plans, the daemon's defaults from its facts, the decision log's file, the metrics.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from collector.apiplan import bind_mount, plan_create, plan_service, plan_update
from collector.daemon_defaults import EngineDefaults, fill
from hullcheck_runtime import authz
from hullcheck_runtime.jsonlines import JsonLines
from hullcheck_runtime.metrics import ComplianceMetrics


def _request(method: str, uri: str, body: object = None, headers: dict[str, str] | None = None) -> authz.ApiRequest:
    payload = {"RequestMethod": method, "RequestUri": uri, "RequestHeaders": headers or {}}
    if body is not None:
        payload["RequestBody"] = base64.b64encode(json.dumps(body).encode()).decode()
    return authz.parse(payload)


@pytest.mark.parametrize(("method", "uri", "kind", "target"), [
    ("POST", "/v1.41/containers/create?name=x", authz.CREATE, None),
    ("POST", "/containers/create", authz.CREATE, None),
    ("post", "/v1.41//containers/./create", authz.CREATE, None),
    ("POST", "/v1.41/containers/%63reate", authz.CREATE, None),
    ("POST", "/v1.41/containers/abc/../create", authz.CREATE, None),
    ("POST", "/v1.41/containers/web/exec", authz.EXEC, "web"),
    ("POST", "/v1.41/containers/web/update", authz.UPDATE, "web"),
    ("POST", "/v1.41/services/create", authz.SERVICE_CREATE, None),
    ("POST", "/v1.41/services/svc/update?version=3", authz.SERVICE_UPDATE, "svc"),
    ("GET", "/v1.41/containers/json", None, None),
    ("POST", "/v1.41/containers/web/kill", None, None),
    ("POST", "/v1.41/build?t=x", None, None),
])
def test_paths_are_matched_as_the_daemon_routes_them(method, uri, kind, target):
    request = _request(method, uri)
    assert (request.kind, request.target) == (kind, target)


def test_only_a_legacy_start_with_a_body_is_judged():
    assert authz.is_judged(_request("POST", "/v1.23/containers/x/start", {"Privileged": True}))
    assert authz.is_judged(_request("POST", "/v1.23/containers/x/start", headers={"Content-Length": "40"}))
    assert not authz.is_judged(_request("POST", "/v1.23/containers/x/start", headers={"Content-Length": "0"}))
    assert not authz.is_judged(_request("POST", "/v1.41/containers/x/start", {"Privileged": True}))
    assert not authz.is_judged(_request("POST", "/containers/x/start", {"Privileged": True}))
    assert authz.is_judged(_request("POST", "/v1.41/containers/create"))  # no body: judged, and refused for it


@pytest.mark.parametrize("payload", [{}, {"RequestMethod": "POST"}, {"RequestUri": "/containers/create"}])
def test_a_request_without_method_or_path_cannot_be_read(payload):
    with pytest.raises(authz.BadPluginRequest, match="run the command again"):
        authz.parse(payload)


def test_a_body_that_is_not_base64_cannot_be_read():
    with pytest.raises(authz.BadPluginRequest, match="base64"):
        authz.parse({"RequestMethod": "POST", "RequestUri": "/containers/create", "RequestBody": "!!"})


@pytest.mark.parametrize(("spec", "expected"), [
    ("/etc:/host-etc:ro", {"Type": "bind", "Source": "/etc", "Destination": "/host-etc", "RW": False, "Propagation": "rprivate"}),
    ("/srv:/srv:rw,rshared", {"Type": "bind", "Source": "/srv", "RW": True, "Propagation": "rshared"}),
    ("data:/data", {"Type": "volume", "Name": "data", "Destination": "/data", "Mode": "z", "RW": True}),
    ("/cache", {"Type": "volume", "Name": "", "Destination": "/cache"}),
])
def test_binds_become_mount_points(spec, expected):
    mount = bind_mount(spec)
    assert {k: mount[k] for k in expected} == expected


def test_the_daemon_defaults_come_from_its_facts():
    info = {"SecurityOptions": ["name=apparmor", "name=seccomp,profile=default", "name=selinux"], "LoggingDriver": "journald",
            "DefaultRuntime": "crun", "CgroupVersion": "2", "DockerRootDir": "/var/lib/docker"}
    defaults = EngineDefaults.from_engine(info, {"default-shm-size": {"value": "128M", "source": "config-file"}},
                                          [{"Name": "bridge", "Id": "b" * 64}])
    assert (defaults.apparmor, defaults.selinux, defaults.cgroupns_mode, defaults.shm_size) == (True, True, "private", 128 * 2 ** 20)
    plain, _ = plan_create({"Image": "x", "HostConfig": {"Memory": 1024}}, "plain", None, defaults)
    assert plain["AppArmorProfile"] == "docker-default" and plain["ProcessLabel"].startswith("system_u:system_r:container_t")
    assert plain["HostConfig"]["LogConfig"]["Type"] == "journald" and plain["HostConfig"]["Runtime"] == "crun"
    assert plain["HostConfig"]["MemorySwap"] == 2048 and plain["HostConfig"]["IpcMode"] == "private"
    assert plain["NetworkSettings"]["Networks"] == {"bridge": {"NetworkID": "b" * 64}}
    privileged, _ = plan_create({"Image": "x", "HostConfig": {"Privileged": True}}, "p", None, defaults)
    assert privileged["AppArmorProfile"] == "unconfined" and privileged["ProcessLabel"] == ""
    assert "label=disable" in privileged["HostConfig"]["SecurityOpt"]
    own, _ = plan_create({"Image": "x", "HostConfig": {"SecurityOpt": ["apparmor=mine", "label=type:svirt_t"]}}, "o", None, defaults)
    assert own["AppArmorProfile"] == "mine" and ":svirt_t:" in own["ProcessLabel"]
    unknown = EngineDefaults()
    bare = fill({"HostConfig": {}}, unknown)
    assert "AppArmorProfile" not in bare and "Runtime" not in bare["HostConfig"], "unknown facts fill nothing"


def test_a_plan_without_the_image_says_what_it_does_not_know():
    planned, unknown = plan_create({"Image": "absent:1"}, "", None, EngineDefaults())
    assert planned["Name"] == "/(unnamed)" and set(unknown) == {"/inspect/Config/User", "/inspect/State"}
    image = {"Id": "sha256:" + "1" * 64, "Config": {"User": "app", "Env": ["A=image", "PATH=/bin"], "Cmd": ["run"],
                                                     "Healthcheck": {"Test": ["CMD", "true"]}, "Volumes": {"/data": {}}}}
    planned, unknown = plan_create({"Image": "present:1", "Env": ["A=mine"]}, "n", image, EngineDefaults())
    assert unknown == {} and planned["Config"]["User"] == "app" and planned["Config"]["Cmd"] == ["run"]
    assert planned["Config"]["Env"] == ["A=mine", "PATH=/bin"] and planned["State"]["Health"]["Status"] == "starting"
    assert [m["Destination"] for m in planned["Mounts"]] == ["/data"] and planned["Image"] == image["Id"]


def test_an_update_changes_only_what_it_names():
    current = {"Id": "c", "Name": "/c", "State": {"Running": True}, "Config": {},
               "HostConfig": {"Memory": 64, "PidsLimit": 10, "CpuShares": 0, "RestartPolicy": {"Name": "no"}}}
    cli_body = {"CpuShares": 512, "Memory": 0, "PidsLimit": None, "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}}
    updated = plan_update(current, cli_body, EngineDefaults())
    assert updated["HostConfig"]["CpuShares"] == 512 and updated["HostConfig"]["Memory"] == 64
    assert updated["HostConfig"]["PidsLimit"] == 10 and updated["HostConfig"]["RestartPolicy"] == {"Name": "no"}
    lifted = plan_update(current, {"PidsLimit": -1, "RestartPolicy": {"Name": "always"}}, EngineDefaults())
    assert lifted["HostConfig"]["PidsLimit"] == -1 and lifted["HostConfig"]["RestartPolicy"]["Name"] == "always"


def test_a_service_is_planned_as_its_first_tasks_container():
    spec = {"Name": "api", "TaskTemplate": {
        "ContainerSpec": {"Image": "api:2", "User": "1000", "CapabilityAdd": ["CAP_NET_ADMIN"], "ReadOnly": True,
                          "Privileges": {"Seccomp": {"Mode": "unconfined"}, "NoNewPrivileges": True},
                          "Mounts": [{"Type": "bind", "Source": "/var/run/docker.sock", "Target": "/var/run/docker.sock"}]},
        "Resources": {"Limits": {"MemoryBytes": 1 << 26, "Pids": 50}}},
        "EndpointSpec": {"Ports": [{"TargetPort": 80, "PublishedPort": 8080, "PublishMode": "host"},
                                   {"TargetPort": 443, "PublishedPort": 8443, "PublishMode": "ingress"}]}}
    planned, _ = plan_service(spec, None, EngineDefaults())
    host = planned["HostConfig"]
    assert planned["Name"] == "/api.1" and host["CapAdd"] == ["CAP_NET_ADMIN"] and host["ReadonlyRootfs"] is True
    assert host["SecurityOpt"] == ["seccomp=unconfined", "no-new-privileges=true"]
    assert host["Memory"] == 1 << 26 and host["PidsLimit"] == 50 and host["RestartPolicy"]["Name"] == "no"
    assert planned["Mounts"][0]["Source"] == "/var/run/docker.sock"
    assert planned["NetworkSettings"]["Ports"] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}


def test_the_decision_log_is_whole_lines_and_follows_rotation(tmp_path: Path):
    path = tmp_path / "decisions.jsonl"
    log = JsonLines(path)
    log.write({"n": 1})
    os.rename(path, tmp_path / "decisions.jsonl.1")  # logrotate's move
    log.write({"n": 2, "text": "caf\u00e9"})
    log.close()
    assert [json.loads(x) for x in (tmp_path / "decisions.jsonl.1").read_text().splitlines()] == [{"n": 1}]
    assert [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines()] == [{"n": 2, "text": "caf\u00e9"}]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_metrics_are_strict_openmetrics_with_a_line_per_policy(tmp_path: Path):
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    policies = [SimpleNamespace(id="cis-docker-5.5", severity="critical"), SimpleNamespace(id='odd"id\\', severity="low")]
    path = tmp_path / "hullcheck.prom"
    metrics = ComplianceMetrics(path, policies)
    metrics.judged("a", True, {"cis-docker-5.5"}, set())
    metrics.judged("b", True, {'odd"id\\'}, {"cis-docker-5.5"})
    metrics.judged("c", False, {"cis-docker-5.5"}, set())  # not running: not counted
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(path.read_text()) for s in family.samples}
    assert samples[("hullcheck_failing_containers", (("policy", "cis-docker-5.5"), ("severity", "critical")))] == 1
    assert samples[("hullcheck_failing_containers", (("policy", 'odd"id\\'), ("severity", "low")))] == 1
    assert samples[("hullcheck_error_containers", (("policy", "cis-docker-5.5"), ("severity", "critical")))] == 1
    assert samples[("hullcheck_judged_containers", ())] == 2
    metrics.gone("a")
    metrics.keep_only({"b"})
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(path.read_text()) for s in family.samples}
    assert samples[("hullcheck_failing_containers", (("policy", "cis-docker-5.5"), ("severity", "critical")))] == 0
