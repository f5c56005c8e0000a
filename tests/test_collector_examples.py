"""The recorded example snapshots (tests/collector_record_examples.py) are what they claim to be.

Policy tests index into them by container name, so their content is a contract too.
"""

from __future__ import annotations

import json

import pytest
from conftest import REPO

from collector import validate

EXAMPLES = REPO / "snapshots" / "examples"


def _load(name: str) -> dict:
    return json.loads((EXAMPLES / f"{name}.json").read_text())


def _containers(snapshot: dict) -> dict[str, dict]:
    return {c["inspect"]["Name"].lstrip("/"): c["inspect"] for c in snapshot["containers"]}


@pytest.mark.parametrize("name", ["defaults", "hardened", "many-misconfigured"])
def test_recorded_examples_validate_and_are_redacted(name):
    snapshot = _load(name)
    validate(snapshot)
    assert snapshot["meta"]["collector"]["redacted"] is True
    assert snapshot["daemon"]["process"]["chosen_by"] == "endpoint"
    text = (EXAMPLES / f"{name}.json").read_text()
    assert "fixture-secret-value" not in text and "also-secret" not in text


def test_hardened_example():
    snapshot = _load("hardened")
    options = snapshot["daemon"]["options"]
    for key, value in (("icc", False), ("live-restore", True), ("userland-proxy", False),
                       ("no-new-privileges", True), ("log-level", "info"), ("userns-remap", "default")):
        assert options[key] == {"value": value, "source": "config-file"}, key
    assert "name=userns" in snapshot["engine"]["info"]["SecurityOptions"]
    containers = _containers(snapshot)
    assert set(containers) == {"web-hardened", "worker-hardened", "batch-hardened"}
    for inspect in containers.values():
        hc = inspect["HostConfig"]
        assert hc["Memory"] and hc["NanoCpus"] and hc["PidsLimit"] == 100 and hc["ReadonlyRootfs"] is True
        assert hc["CapDrop"] == ["ALL"] and hc["SecurityOpt"] == ["no-new-privileges:true"]
        assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
        assert inspect["Config"]["User"] == "1000:1000" and inspect["Config"]["Healthcheck"]["Test"] == ["CMD", "true"]
    assert containers["web-hardened"]["HostConfig"]["PortBindings"]["8443/tcp"][0]["HostIp"] == "127.0.0.1"
    assert containers["batch-hardened"]["State"]["Running"] is False


def test_defaults_example():
    snapshot = _load("defaults")
    assert snapshot["daemon"]["config_file"] == {"path": "/etc/docker/daemon.json", "chosen_by": "default",
                                                 "exists": False, "raw": None, "parsed": None, "parse_error": None}
    assert snapshot["daemon"]["options"]["icc"] == {"value": True, "source": "default"}
    assert set(_containers(snapshot)) == {"web", "cache", "stopped-job"}


def test_many_misconfigured_example_has_each_misconfiguration():
    containers = _containers(_load("many-misconfigured"))
    assert len(containers) >= 20
    hc = {name: inspect["HostConfig"] for name, inspect in containers.items()}
    assert hc["hostnet-web"]["NetworkMode"] == "host"
    assert hc["hostpid-debug"]["PidMode"] == "host"
    assert hc["hostipc-shm"]["IpcMode"] == "host"
    assert hc["hostuts-clock"]["UTSMode"] == "host"
    assert hc["userns-host"]["UsernsMode"] == "host"
    for cap in ("SYS_ADMIN", "SYS_PTRACE", "NET_ADMIN", "SYS_MODULE", "DAC_READ_SEARCH"):
        assert hc[f"cap-{cap.lower().replace('_', '-')}"]["CapAdd"] == [cap]
    assert "/etc:/host/etc:rw" in hc["mount-etc-rw"]["Binds"]
    assert "/:/host:rw" in hc["mount-root-rw"]["Binds"]
    assert any(b.startswith("/var/run/docker.sock:") for b in hc["docker-sock"]["Binds"])
    assert hc["ports-all-ipv4"]["PortBindings"]["80/tcp"][0]["HostIp"] == "0.0.0.0"
    assert hc["ports-all-ipv6"]["PortBindings"]["80/tcp"][0]["HostIp"] == "::"
    assert hc["ports-privileged"]["PortBindings"]["8443/tcp"][0]["HostPort"] == "443"
    assert hc["restart-always"]["RestartPolicy"]["Name"] == "always"
    assert hc["restart-unless-stopped"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert hc["restart-on-failure-10"]["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 10}
    assert hc["seccomp-unconfined"]["SecurityOpt"] == ["seccomp=unconfined"]
    assert hc["apparmor-unconfined"]["SecurityOpt"] == ["apparmor=unconfined"]
    assert any(m.get("Propagation") == "rshared" for m in containers["propagation-shared"]["Mounts"])
    assert hc["device-zero"]["Devices"][0]["PathOnHost"] == "/dev/zero"
    assert hc["cgroup-parent-custom"]["CgroupParent"] == "/hullcheck-custom"
    assert containers["env-secret"]["Config"]["Env"][:2] == ["API_TOKEN=<redacted>", "DB_PASSWORD=<redacted>"]
    assert containers["stopped-sys-admin"]["State"]["Running"] is False
