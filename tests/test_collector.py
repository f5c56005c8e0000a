"""The collector against the live shared engine: what it records, what it hides, how it fails.

Every test collects with a label filter unique to this session, so other people's containers on
the shared daemon never change an assertion.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from conftest import LABEL_KEY

from collector import CollectOptions, collect, validate


@pytest.fixture(scope="module")
def own_network(docker_client, session_label):
    """A labelled user-defined bridge of our own, so published ports never depend on docker0."""
    network = docker_client.networks.create(f"hc-{session_label}-net", driver="bridge", labels={LABEL_KEY: session_label})
    yield network.name
    network.remove()


def _by_name(snapshot: dict) -> dict[str, dict]:
    return {c["inspect"]["Name"].lstrip("/"): c for c in snapshot["containers"]}


def test_containers_appear_with_the_settings_they_were_created_with(run_container, session_label, docker_client,
                                                                   own_network):
    limited = run_container(
        "limited", network=own_network, mem_limit="64m", nano_cpus=500_000_000, pids_limit=64, read_only=True, user="1000:1000",
        cap_drop=["ALL"], cap_add=["NET_BIND_SERVICE"], security_opt=["no-new-privileges:true"],
        restart_policy={"Name": "on-failure", "MaximumRetryCount": 3}, ports={"8080/tcp": ("127.0.0.1", None)},
        healthcheck={"test": ["CMD", "true"], "interval": 30_000_000_000}, environment={"MODE": "prod"})
    hostpid = run_container("hostpid", network_mode="none", pid_mode="host", ipc_mode="host", cap_add=["SYS_PTRACE"],
                            volumes={"/etc": {"bind": "/host-etc", "mode": "rw"}})
    stopped = run_container("stopped", command=("true",), network_mode="none")
    stopped.wait(timeout=60)

    snapshot = collect(CollectOptions(label_filter=[f"{LABEL_KEY}={session_label}"]))
    containers = _by_name(snapshot)
    assert set(containers) == {limited.name, hostpid.name, stopped.name}, "the label filter keeps exactly ours"

    hc = containers[limited.name]["inspect"]["HostConfig"]
    assert hc["Memory"] == 64 * 1024 * 1024
    assert hc["NanoCpus"] == 500_000_000
    assert hc["PidsLimit"] == 64
    assert hc["ReadonlyRootfs"] is True
    assert hc["CapDrop"] == ["ALL"] and hc["CapAdd"] == ["NET_BIND_SERVICE"]
    assert hc["SecurityOpt"] == ["no-new-privileges:true"]
    assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert hc["PortBindings"]["8080/tcp"][0]["HostIp"] == "127.0.0.1"
    config = containers[limited.name]["inspect"]["Config"]
    assert config["User"] == "1000:1000"
    assert config["Healthcheck"]["Test"] == ["CMD", "true"]
    assert "MODE=<redacted>" in config["Env"]
    assert any("sleep 3600" in row[-1] for row in containers[limited.name]["processes"]["Processes"])

    hp = containers[hostpid.name]["inspect"]
    assert hp["HostConfig"]["PidMode"] == "host" and hp["HostConfig"]["IpcMode"] == "host"
    assert hp["HostConfig"]["CapAdd"] == ["SYS_PTRACE"]
    assert {(m["Source"], m["Destination"], m["RW"]) for m in hp["Mounts"]} == {("/etc", "/host-etc", True)}

    st = containers[stopped.name]
    assert st["inspect"]["State"]["Running"] is False and st["inspect"]["State"]["Status"] == "exited"
    assert st["processes"] is None  # no process list for a stopped container, and that is no error
    assert not [e for e in snapshot["meta"]["errors"] if e["source"].startswith("/containers")]

    # The rest of the engine, read once per object.
    image = next(i for i in snapshot["images"] if "hullcheck-test/busybox:1" in (i["inspect"].get("RepoTags") or []))
    assert any("busybox" in (layer.get("CreatedBy") or "") for layer in image["history"])
    bridge = next(n for n in snapshot["networks"] if n["Name"] == "bridge")
    assert "com.docker.network.bridge.enable_icc" in bridge["Options"]
    assert snapshot["engine"]["version"]["ApiVersion"] and snapshot["engine"]["info"]["ID"]
    assert snapshot["swarm"]["state"] in ("inactive", "active", "pending", "error", "locked")

    # meta, daemon and host facts of the machine the tests run on.
    meta = snapshot["meta"]
    assert meta["collector"]["label_filter"] == [f"{LABEL_KEY}={session_label}"]
    assert meta["collector"]["redacted"] is True and meta["collector"]["remote"] is False
    assert meta["started_at"] <= meta["finished_at"]
    process = snapshot["daemon"]["process"]
    # Other people's test daemons come and go on this host: any rule but the last-resort guess will do.
    assert Path(process["exe"]).name == "dockerd" and process["chosen_by"] != "oldest", process
    assert snapshot["files"]["/var/run/docker.sock"]["type"] == "socket"
    assert snapshot["host"]["docker_root"]["path"] == snapshot["engine"]["info"]["DockerRootDir"]
    assert any(p["pid"] == process["pid"] for p in snapshot["host"]["processes"])


def test_a_container_removed_between_list_and_inspect_is_recorded_and_collection_finishes(run_container, session_label):
    kept = run_container("kept", network_mode="none")
    doomed = run_container("doomed", network_mode="none")
    removed: list[str] = []

    def remove_after_listing(kind: str, ids: list[str]) -> None:
        if kind == "containers" and doomed.id in ids:
            doomed.remove(force=True)
            removed.append(doomed.id)

    snapshot = collect(CollectOptions(label_filter=[f"{LABEL_KEY}={session_label}"], after_list=remove_after_listing))
    assert removed == [doomed.id], "the hook ran after the container list"
    assert set(_by_name(snapshot)) == {kept.name}
    errors = [e for e in snapshot["meta"]["errors"] if e["source"] == "/containers/-"]
    assert len(errors) == 1 and doomed.id[:12] in errors[0]["reason"] and "removed" in errors[0]["reason"]
    validate(snapshot)


def test_an_unreachable_daemon_exits_2_with_one_clear_line(hullcheck_cli, tmp_path):
    out = tmp_path / "snap.json"
    proc = hullcheck_cli("collect", "--docker-host", f"unix://{tmp_path}/nobody-home.sock", "-o", str(out))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hullcheck: error: no Docker daemon answers at unix://"), proc.stderr
    assert "nobody-home.sock" in lines[0]
    assert "Traceback" not in proc.stderr and not out.exists()


def test_planted_secrets_never_reach_the_snapshot_unless_asked(run_container, session_label, docker_client,
                                                               busybox_image, hullcheck_cli, tmp_path):
    token = uuid.uuid4().hex
    secrets = {"env": f"env-{token}", "image_env": f"img-{token}", "flag": f"flag-{token}", "spaced": f"spc-{token}",
               "url": f"url-{token}", "build_arg": f"arg-{token}"}
    tag = f"hullcheck-test/secret-env:{session_label}"
    dockerfile = (f"FROM {busybox_image}\nARG BUILD_TOKEN\nENV IMAGE_API_KEY={secrets['image_env']}\n"
                  "RUN echo $BUILD_TOKEN >/dev/null\n").encode()
    import io

    docker_client.images.build(fileobj=io.BytesIO(dockerfile), tag=tag, rm=True, forcerm=True,
                               buildargs={"BUILD_TOKEN": secrets["build_arg"]}, labels={LABEL_KEY: session_label},
                               network_mode="none")
    try:
        container = docker_client.containers.run(
            tag, name=f"hc-{session_label}-secrets", detach=True, labels={LABEL_KEY: session_label}, network_mode="none",
            environment={"API_TOKEN": secrets["env"]},
            entrypoint=["sh", "-c", "exec sleep 3600", "sh", f"--password={secrets['flag']}", "--token",
                        secrets["spaced"], f"https://bob:{secrets['url']}@registry.example/v2"])
        try:
            redacted = tmp_path / "redacted.json"
            proc = hullcheck_cli("collect", "--label", f"{LABEL_KEY}={session_label}", "-o", str(redacted))
            assert proc.returncode == 0, proc.stderr
            text = redacted.read_text()
            leaked = {k: v for k, v in secrets.items() if v in text}
            assert not leaked, f"secrets reached the snapshot: {sorted(leaked)}"
            snapshot = json.loads(text)
            mine = _by_name(snapshot)[container.name]["inspect"]
            assert "API_TOKEN=<redacted>" in mine["Config"]["Env"]
            assert "--token" in mine["Args"] and "--password=<redacted>" in mine["Args"]

            # The same search finds them when redaction is off: the test above can fail.
            raw = tmp_path / "raw.json"
            proc = hullcheck_cli("collect", "--no-redact", "--label", f"{LABEL_KEY}={session_label}", "-o", str(raw))
            assert proc.returncode == 0, proc.stderr
            raw_text = raw.read_text()
            assert all(v in raw_text for v in secrets.values())
            assert json.loads(raw_text)["meta"]["collector"]["redacted"] is False
        finally:
            container.remove(force=True)
    finally:
        docker_client.images.remove(tag, force=True)


@pytest.mark.parametrize("label_value", ["no-such-containers"])
def test_a_label_filter_that_matches_nothing_gives_an_empty_list_not_null(label_value, session_label):
    snapshot = collect(CollectOptions(label_filter=[f"{LABEL_KEY}={session_label}-{label_value}"]))
    assert snapshot["containers"] == []
    assert snapshot["images"], "images are not filtered by label"
