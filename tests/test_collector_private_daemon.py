"""The collector against a dockerd of our own, beside the shared one.

Our dockerd has its own daemon.json (icc off, live-restore, ...), socket, data-root and network
namespace, so two dockerd processes run at once (the case where docker-bench-security reads the
wrong one), and its event stream carries only what we and the collector do.
"""

from __future__ import annotations

import json
import time
from typing import Any, Iterator

import pytest
from collector_support import PrivateDockerd, build_busybox

from collector import CollectOptions, collect

ARGV_SECRET = "dd-label-s3cret"
IMAGE = "hullcheck-test/busybox:private"


@pytest.fixture(scope="module")
def private_dockerd(docker_client: Any) -> Iterator[PrivateDockerd]:
    config = {"icc": False, "live-restore": True, "userland-proxy": False, "no-new-privileges": True,
              "log-level": "info", "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}}}
    with PrivateDockerd(config, extra_args=("--label", f"hc.api_token={ARGV_SECRET}"), own_netns=True) as daemon:
        client = daemon.client()
        build_busybox(client, IMAGE)
        client.containers.run(IMAGE, ["sleep", "3600"], name="running-one", detach=True, mem_limit="32m")
        stopped = client.containers.run(IMAGE, ["true"], name="stopped-one", detach=True)
        stopped.wait(timeout=60)
        client.volumes.create("data-one")
        client.networks.create("net-one", driver="bridge")
        client.close()
        yield daemon


def test_the_dockerd_serving_the_endpoint_is_chosen_when_several_run(private_dockerd):
    snapshot = collect(CollectOptions(docker_host=private_dockerd.url))
    process = snapshot["daemon"]["process"]
    assert process["pid"] == private_dockerd.proc.pid
    assert process["chosen_by"] == "endpoint"
    assert len(process["candidates"]) >= 2, "the shared dockerd runs too"
    assert process["argv"][process["argv"].index("--label") + 1] == "hc.api_token=<redacted>"
    assert ARGV_SECRET not in json.dumps(snapshot)

    config_file = snapshot["daemon"]["config_file"]
    assert config_file["path"] == str(private_dockerd.config_file) and config_file["chosen_by"] == "argv"
    assert config_file["parsed"] == private_dockerd.config and config_file["parse_error"] is None
    options = snapshot["daemon"]["options"]
    for key, value in (("icc", False), ("live-restore", True), ("userland-proxy", False), ("no-new-privileges", True),
                       ("log-level", "info")):
        assert options[key] == {"value": value, "source": "config-file"}, key
    assert options["default-ulimits"]["value"]["nofile"]["Hard"] == 2048
    assert options["data-root"] == {"value": str(private_dockerd.dir / "data"), "source": "argv"}
    assert options["hosts"] == {"value": [private_dockerd.url], "source": "argv"}
    assert snapshot["engine"]["info"]["LiveRestoreEnabled"] is True
    assert snapshot["meta"]["engine_endpoint"] == private_dockerd.url
    assert snapshot["files"][str(private_dockerd.config_file)]["why"] == ["daemon config file in force"]
    names = {c["inspect"]["Name"] for c in snapshot["containers"]}
    assert names == {"/running-one", "/stopped-one"}
    assert "data-one" in {v["Name"] for v in snapshot["volumes"]}
    assert "net-one" in {n["Name"] for n in snapshot["networks"]}

    # Collecting the shared engine picks the other dockerd, by the same rule.
    shared = collect(CollectOptions(label_filter=["hullcheck.test=none-at-all"]))
    assert shared["daemon"]["process"]["pid"] != private_dockerd.proc.pid
    assert shared["daemon"]["process"]["chosen_by"] in ("endpoint", "endpoint+data-root")


def _events(client: Any, since: float, until: float) -> list[dict[str, Any]]:
    return list(client.api.events(since=since, until=until, decode=True))


def test_docker_events_during_collection_show_no_state_changing_action(private_dockerd, hullcheck_cli, tmp_path):
    """Two collections, each in its own window of the engine's event stream: one asking /top
    (--processes-from-engine), whose `top` events prove the window is watched, and one as by
    default (this engine is local: processes from /proc). Neither changes anything."""
    client = private_dockerd.client()
    windows = []
    try:
        started = time.time()
        sentinel = client.containers.run(IMAGE, ["sleep", "3600"], name="sentinel", detach=True)
        for flags in (["--processes-from-engine"], []):
            time.sleep(1.1)  # events have second resolution in `since`; keep the windows apart
            collecting = time.time()
            proc = hullcheck_cli("collect", "--docker-host", private_dockerd.url, *flags, "-o", str(tmp_path / "s.json"))
            assert proc.returncode == 0, proc.stderr
            windows.append((collecting, time.time()))
        time.sleep(1.1)
        events = _events(client, started - 1, windows[-1][1] + 1)
        sentinel.remove(force=True)
    finally:
        client.close()

    before = [e for e in events if e["timeNano"] < windows[0][0] * 1e9]
    # The stream is really being watched: our own setup shows up as state changes.
    assert {"create", "start"} <= {e.get("Action") for e in before if e.get("Type") == "container"}
    for (collecting, finished), asked_top in zip(windows, (True, False)):
        during = [e for e in events if collecting * 1e9 <= e["timeNano"] <= finished * 1e9]
        tops = [e for e in during if e.get("Action") == "top"]
        if asked_top:
            # `top` is the one read the engine reports as an event.
            assert tops, "the collector's reads of running containers (top) appear in the stream"
        else:
            assert not tops, "a local engine's process lists are read from /proc, not asked of /top"
        changes = [(e.get("Type"), e.get("Action"), (e.get("Actor") or {}).get("Attributes", {}).get("name"))
                   for e in during if e.get("Action") != "top"]
        assert not changes, f"state-changing events while collecting: {changes}"


def test_swarm_manager_metadata_without_secret_data(docker_client):
    """A swarm manager of our own: nodes, services, secret and config metadata, never their data."""
    with PrivateDockerd({}, own_netns=True) as daemon:
        client = daemon.client()
        try:
            build_busybox(client, IMAGE)
            client.swarm.init(advertise_addr="127.0.0.1", listen_addr="127.0.0.1:2377")
            client.secrets.create(name="db-password", data=b"swarm-secret-data-1")
            client.configs.create(name="app-config", data=b"swarm-config-data-2")
            from docker.types import ServiceMode

            client.services.create(IMAGE, command=["sleep", "3600"], name="svc-one", mode=ServiceMode("replicated", 0),
                                   env=["SERVICE_TOKEN=swarm-env-secret-3"])  # no tasks: nothing to stop
        finally:
            client.close()
        snapshot = collect(CollectOptions(docker_host=daemon.url))
        daemon_pid = daemon.proc.pid
    swarm = snapshot["swarm"]
    assert swarm["state"] == "active" and swarm["is_manager"] is True
    # The daemon's network namespace is its own: its listening sockets are read there (7.2).
    source = snapshot["host"]["listening_tcp_source"]
    assert source["pid"] == snapshot["daemon"]["process"]["pid"] == daemon_pid
    assert {"address": "127.0.0.1", "port": 2377, "family": "ipv4"} in snapshot["host"]["listening_tcp"]
    assert swarm["inspect"]["ID"] and swarm["unlock_key_set"] is False
    assert len(swarm["nodes"]) == 1
    assert [s["Spec"]["Name"] for s in swarm["services"]] == ["svc-one"]
    assert swarm["services"][0]["Spec"]["TaskTemplate"]["ContainerSpec"]["Env"] == ["SERVICE_TOKEN=<redacted>"]
    assert [s["Spec"]["Name"] for s in swarm["secrets"]] == ["db-password"]
    assert [c["Spec"]["Name"] for c in swarm["configs"]] == ["app-config"]
    text = json.dumps(snapshot)
    import base64

    for secret in (b"swarm-secret-data-1", b"swarm-config-data-2", b"swarm-env-secret-3"):
        assert secret.decode() not in text and base64.b64encode(secret).decode() not in text
