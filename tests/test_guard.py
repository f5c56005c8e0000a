"""`hullcheck guard` as dockerd's authorization plugin: real docker commands, refused and allowed.

A private dockerd (its own network namespace, data-root and socket) started with
--authorization-plugin=NAME, the real `hullcheck guard --name NAME --enforce high` serving
/run/docker/plugins/NAME.sock, and the real docker CLI. Privileged containers cannot start on these
machines, but the guard refuses them before they exist; an allowed privileged run is never tried.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
from runtime_support import GuardProcess, docker, guarded_dockerd, hullcheck_argv, plugin_name, raw_request

from testimage import IMAGE, build_busybox

SLEEP = ["sleep", "3600"]


@pytest.fixture(scope="module")
def guarded(docker_client: Any) -> Iterator[tuple[GuardProcess, Any]]:
    name = plugin_name()
    daemon = guarded_dockerd(name)
    guard = GuardProcess(name, daemon.url, "--enforce", "high")
    guard.start()  # first: dockerd refuses to start while a plugin it names does not answer
    try:
        with daemon:
            client = daemon.client()
            build_busybox(client, IMAGE)
            client.close()
            yield guard, daemon
    finally:
        guard.stop()


def _refusal(proc: subprocess.CompletedProcess[str], name: str) -> str:
    assert proc.returncode != 0, proc.stdout
    assert f"authorization denied by plugin {name}" in proc.stderr, proc.stderr
    return proc.stderr


@pytest.mark.parametrize(("flags", "policy", "setting"), [
    (["--privileged"], "cis-docker-5.5", "runs privileged (--privileged)"),
    (["--cap-add", "NET_ADMIN"], "cis-docker-5.4", "NET_ADMIN"),
    (["--cap-add", "SYS_ADMIN"], "hullcheck-cap-sys-admin", "CAP_SYS_ADMIN"),
    (["--pid", "host"], "cis-docker-5.16", "PidMode=host"),
    (["--network", "host"], "cis-docker-5.10", "host"),
    (["--userns", "host"], "cis-docker-5.31", "UsernsMode=host"),
    (["--security-opt", "seccomp=unconfined"], "cis-docker-5.22", "seccomp=unconfined"),
    (["-v", "/etc:/host-etc:ro"], "cis-docker-5.6", "/etc at /host-etc"),
    (["-v", "{socket}:/var/run/docker.sock"], "cis-docker-5.32", "docker.sock"),
])
def test_docker_run_is_refused_naming_the_policy_and_the_setting(guarded, flags, policy, setting):
    guard, daemon = guarded
    container = f"refused-{policy.replace('.', '-')}-{len(flags[-1])}"
    flags = [f.replace("{socket}", str(daemon.socket)) for f in flags]
    before = len(guard.decisions())
    said = _refusal(docker(daemon, "run", "-d", "--name", container, *flags, IMAGE, *SLEEP), guard.name)
    assert policy in said and setting in said, said
    assert docker(daemon, "inspect", container).returncode != 0, "a refused create made no container"
    entry = guard.decisions()[before]
    assert entry["decision"] == "deny" and entry["request"] == "container create" and entry["container"] == container
    assert entry["image"] == IMAGE and entry["user"] == "" and entry["mode"] == "enforce high"
    failing = {p["policy"]: p for p in entry["policies"] if p["status"] == "fail"}
    assert failing[policy]["severity"] in ("high", "critical") and setting in failing[policy]["message"]
    assert entry["path"].startswith("/v") and "/containers/create?name=" in entry["path"]


def test_a_plain_and_a_hardened_container_run_and_exec_privileged_is_refused(guarded):
    guard, daemon = guarded
    before = len(guard.decisions())
    plain = docker(daemon, "run", "-d", "--name", "plain", IMAGE, *SLEEP)
    assert plain.returncode == 0, plain.stderr
    hardened = docker(daemon, "run", "-d", "--name", "hardened", "--read-only", "--cap-drop", "ALL", "--memory", "64m",
                      "--pids-limit", "64", "--cpu-shares", "512", "--user", "1000:1000", "--network", "none",
                      "--security-opt", "no-new-privileges", "--restart", "on-failure:3",
                      "--health-cmd", "/bin/true", IMAGE, *SLEEP)
    assert hardened.returncode == 0, hardened.stderr
    said = _refusal(docker(daemon, "exec", "--privileged", "plain", "/bin/true"), guard.name)
    assert "cis-docker-5.5" in said and "privileged" in said
    allowed = docker(daemon, "exec", "plain", "/bin/true")
    assert allowed.returncode == 0, allowed.stderr
    entries = guard.decisions()[before:]
    assert [(e["request"], e["container"], e["decision"]) for e in entries] == [
        ("container create", "plain", "allow"), ("container create", "hardened", "allow"),
        ("exec create", "plain", "deny"), ("exec create", "plain", "allow")]
    hardened_failing = [p["policy"] for p in entries[1]["policies"] if p["status"] == "fail"]
    assert hardened_failing == [], hardened_failing
    plain_failing = {p["policy"]: p["severity"] for p in entries[0]["policies"] if p["status"] == "fail"}
    assert "cis-docker-4.1" in plain_failing and all(s not in ("high", "critical") for s in plain_failing.values())
    # What the exec is refused for is what it adds; what the container already fails is noted, not blamed.
    exec_policies = {p["policy"]: p for p in entries[2]["policies"]}
    assert exec_policies["cis-docker-5.5"]["status"] == "fail" and "before" not in exec_policies["cis-docker-5.5"]
    assert exec_policies["cis-docker-4.1"]["before"] == "fail"
    assert entries[0]["subjects"][0] == "container" and "engine" in entries[0]["subjects"]


def test_reads_and_builds_are_not_judged(guarded, tmp_path):
    guard, daemon = guarded
    before = len(guard.decisions())
    for args in (["ps", "-a"], ["images"], ["info"], ["version"], ["container", "ls"], ["network", "ls"]):
        done = docker(daemon, *args)
        assert done.returncode == 0, (args, done.stderr)
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "file").write_text("x\n")
    (context / "Dockerfile").write_text(f"FROM {IMAGE}\nCOPY file /file\n")
    built = docker(daemon, "build", "-q", "-t", "hctest/built:1", str(context))
    assert built.returncode == 0, built.stderr
    assert guard.decisions()[before:] == [], "reads and builds are allowed at once, without a decision"


def test_a_create_whose_body_dockerd_does_not_forward_is_refused(guarded):
    """Over 1 MiB dockerd hands the plugin no body (the CVE-2024-41110 class): refused with that reason."""
    guard, daemon = guarded
    padding = "x" * (1024 * 1024 + 10)
    body = json.dumps({"Image": IMAGE, "Cmd": SLEEP, "Labels": {"pad": padding},
                       "HostConfig": {"Privileged": True}}).encode()
    status, answer = raw_request(str(daemon.socket), "POST", "/v1.41/containers/create?name=oversized", body)
    assert status == 403, answer[:300]
    assert b"forwarded no body" in answer and b"1 MiB" in answer
    assert docker(daemon, "inspect", "oversized").returncode != 0
    entry = guard.decisions()[-1]
    assert entry["decision"] == "deny" and entry["request"] == "container create" and "forwarded no body" in entry["reason"]


@pytest.mark.parametrize("how", ["media-type parameter", "chunked"])
def test_a_raw_privileged_create_is_judged_however_its_body_is_sent(guarded, how):
    _, daemon = guarded
    body = json.dumps({"Image": IMAGE, "Cmd": SLEEP, "HostConfig": {"Privileged": True}}).encode()
    name = f"raw-{how.split()[0]}"
    if how == "chunked":
        status, answer = _chunked(str(daemon.socket), f"/v1.41/containers/create?name={name}", body)
    else:
        status, answer = raw_request(str(daemon.socket), "POST", f"/v1.41/containers/create?name={name}", body,
                                     content_type="application/json; charset=utf-8")
    assert status == 403, answer[:300]
    assert b"hullcheck" in answer
    assert docker(daemon, "inspect", name).returncode != 0


def _chunked(socket_path: str, path: str, body: bytes) -> tuple[int, bytes]:
    import http.client
    import socket

    class _Connection(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(60)
            self.sock.connect(socket_path)

    connection = _Connection("localhost")
    try:
        connection.request("POST", path, body=iter([body[:10], body[10:]]),
                           headers={"Content-Type": "application/json"}, encode_chunked=True)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_an_empty_authorization_request_is_refused(guarded):
    """What dockerd re-sends after a plugin restart mid-call (moby#39331): no method, no path."""
    import socket

    guard, _ = guarded
    for body in (b"", b"{}", b'{"RequestMethod": "POST"}'):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(30)
            sock.connect(str(guard.socket))
            sock.sendall(b"POST /AuthZPlugin.AuthZReq HTTP/1.1\r\nHost: plugin\r\nContent-Length: "
                         + str(len(body)).encode() + b"\r\n\r\n" + body)
            answer = b""
            while not answer.endswith(b"}"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        verdict = json.loads(answer.split(b"\r\n\r\n", 1)[1])
        assert verdict["Allow"] is False and "run the command again" in verdict["Msg"], (body, verdict)


def test_systemd_hears_ready_only_once_the_socket_answers(tmp_path):
    """Type=notify: READY=1 comes after the pack is compiled and the socket serves, so dockerd,
    ordered after the unit, never meets a plugin that does not answer yet."""
    import socket

    notify = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(notify))
        sock.settimeout(60)
        guard = GuardProcess(plugin_name(), "unix:///nonexistent/docker.sock", "--audit-only",
                             env={"NOTIFY_SOCKET": str(notify)})
        try:
            guard.start()
            assert sock.recv(100) == b"READY=1"
            from runtime_support import activate

            assert b"authz" in activate(guard.socket)
        finally:
            guard.stop()
        assert sock.recv(100) == b"STOPPING=1"
    assert not guard.socket.exists(), "a stopped guard removes its socket"


def test_usage_errors_are_one_line():
    for args, words in ((["guard", "--name", "x"], "--enforce SEVERITY"),
                        (["guard", "--name", "x", "--enforce", "hihg"], "--enforce must be one of"),
                        (["guard", "--name", "x", "--enforce", "high", "--audit-only"], "--enforce SEVERITY"),
                        (["guard", "--name", "a/b", "--audit-only"], "plain name"),
                        (["guard", "--name", "x", "--audit-only", "--on-error", "maybe"], "deny or allow")):
        done = subprocess.run(hullcheck_argv(*args), capture_output=True, text=True, timeout=60,
                              env={**__import__("os").environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
        assert done.returncode == 2, (args, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hullcheck: error:") and words in lines[0], (args, done.stderr)


def test_a_legacy_start_with_a_hostconfig_body_is_judged(guarded):
    """API < 1.24 starts a container with a HostConfig body that replaces its own: judged like a create."""
    guard, daemon = guarded
    created = docker(daemon, "create", "--name", "legacy", IMAGE, *SLEEP)
    assert created.returncode == 0, created.stderr
    status, answer = raw_request(str(daemon.socket), "POST", "/v1.23/containers/legacy/start",
                                 json.dumps({"Privileged": True}).encode())
    assert status == 403 and b"cis-docker-5.5" in answer, answer[:300]
    entry = guard.decisions()[-1]
    assert entry["request"] == "container start" and entry["container"] == "legacy" and entry["decision"] == "deny"
    plain = docker(daemon, "start", "legacy")  # today's start has no body: allowed, nothing to judge
    assert plain.returncode == 0, plain.stderr


def test_swarm_services_are_judged_as_their_tasks_containers(guarded):
    guard, daemon = guarded
    init = docker(daemon, "swarm", "init", "--advertise-addr", "127.0.0.1", "--listen-addr", "127.0.0.1:2377")
    assert init.returncode == 0, init.stderr
    try:
        refused = docker(daemon, "service", "create", "--name", "svc-admin", "--replicas", "0", "--cap-add", "SYS_ADMIN",
                         IMAGE, *SLEEP)
        assert refused.returncode != 0 and "hullcheck-cap-sys-admin" in refused.stderr, refused.stderr
        mounted = docker(daemon, "service", "create", "--name", "svc-sock", "--replicas", "0", "--mount",
                         f"type=bind,src={daemon.socket},dst=/var/run/docker.sock", IMAGE, *SLEEP)
        assert mounted.returncode != 0 and "cis-docker-5.32" in mounted.stderr, mounted.stderr
        plain = docker(daemon, "service", "create", "--name", "svc-plain", "--replicas", "0", IMAGE, *SLEEP)
        assert plain.returncode == 0, plain.stderr
        widened = docker(daemon, "service", "update", "--cap-add", "SYS_PTRACE", "svc-plain")
        assert widened.returncode != 0 and "hullcheck-cap-sys-ptrace" in widened.stderr, widened.stderr
        entries = [e for e in guard.decisions() if (e.get("request") or "").startswith("service")]
        assert [(e["request"], e["container"], e["decision"]) for e in entries] == [
            ("service create", "svc-admin.1", "deny"), ("service create", "svc-sock.1", "deny"),
            ("service create", "svc-plain.1", "allow"), ("service update", "svc-plain.1", "deny")]
    finally:
        docker(daemon, "swarm", "leave", "--force")


def test_an_update_is_refused_only_for_what_it_makes_worse(guarded, tmp_path):
    """Under --enforce medium: lifting a container's PIDs limit makes 5.29 fail (refused); a CPU
    change to a container that already runs as root (4.1, medium) is not the update's doing."""
    guard, daemon = guarded
    started = docker(daemon, "run", "-d", "--name", "limited", "--pids-limit", "64", "--memory", "64m", IMAGE, *SLEEP)
    assert started.returncode == 0, started.stderr
    guard.stop()
    guard.args = ("--enforce", "medium")
    guard.start()
    try:
        refused = docker(daemon, "update", "--pids-limit", "-1", "limited")
        assert refused.returncode != 0 and "cis-docker-5.29" in refused.stderr, refused.stderr
        allowed = docker(daemon, "update", "--cpu-shares", "512", "limited")
        assert allowed.returncode == 0, allowed.stderr
        entry = guard.decisions()[-1]
        assert entry["request"] == "container update" and entry["decision"] == "allow"
        assert {p["policy"]: p.get("before") for p in entry["policies"]}["cis-docker-4.1"] == "fail"
    finally:
        guard.stop()
        guard.args = ("--enforce", "high")
        guard.start()


def test_other_clients_bodies_are_judged_the_same(guarded, tmp_path):
    """The Docker SDK for Python and docker-compose (v1, its own request bodies) meet the same policies."""
    import shutil

    import docker as docker_sdk

    guard, daemon = guarded
    client = docker_sdk.DockerClient(base_url=daemon.url, timeout=120)
    try:
        with pytest.raises(docker_sdk.errors.APIError) as refused:
            client.containers.create(IMAGE, SLEEP, name="sdk-priv", privileged=True)
        assert refused.value.status_code == 403 and "cis-docker-5.5" in str(refused.value.explanation)
        allowed = client.containers.create(IMAGE, SLEEP, name="sdk-plain", cap_drop=["ALL"])
        allowed.remove()
    finally:
        client.close()
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose (v1) is not installed")
    (tmp_path / "docker-compose.yml").write_text(
        f"version: '2.4'\nservices:\n  web:\n    image: {IMAGE}\n    command: [sleep, '3600']\n"
        f"  ops:\n    image: {IMAGE}\n    command: [sleep, '3600']\n    pid: host\n")
    env = {**__import__("os").environ, "DOCKER_HOST": daemon.url}
    up = subprocess.run(["docker-compose", "-p", "hcguard", "up", "-d", "--no-color"], cwd=tmp_path, env=env,
                        capture_output=True, text=True, timeout=300)
    said = up.stdout + up.stderr
    assert up.returncode != 0 and "cis-docker-5.16" in said and "PidMode=host" in said, said
    created = {(e["container"], e["decision"]) for e in guard.decisions() if (e.get("container") or "").startswith("hcguard")}
    assert ("hcguard_web_1", "allow") in created and ("hcguard_ops_1", "deny") in created, created
    subprocess.run(["docker-compose", "-p", "hcguard", "down"], cwd=tmp_path, env=env, capture_output=True, timeout=300)


def test_the_decision_log_holds_no_secret_value(guarded):
    guard, daemon = guarded
    secret = "hc-s3cret-value-42"
    refused = docker(daemon, "run", "-d", "--name", "secretive", "--privileged", "-e", f"DB_PASSWORD={secret}",
                     "--label", f"api.token={secret}", IMAGE, "sh", "-c", f"mysql --password={secret}")
    assert refused.returncode != 0 and "cis-docker-5.5" in refused.stderr
    assert secret not in refused.stderr
    assert secret not in guard.log.read_text(), "values are redacted as in snapshots"
    assert guard.decisions()[-1]["container"] == "secretive"
