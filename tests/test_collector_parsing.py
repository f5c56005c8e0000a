"""The collector's pure parsers: dockerd's flags, effective settings, redaction, audit rules.

These need no engine: they take the exact strings a host gives (a dockerd argv, a daemon.json,
audit rules) and check the meaning the collector records for them.
"""

from __future__ import annotations

import pytest

from collector.auditd import parse_rules
from collector.daemon import effective_options, parse_argv
from collector.redact import MARKER, redact_argv, redact_container, redact_created_by, redact_processes


def test_flag_forms_space_equals_short_and_glued():
    argv = ["dockerd", "--log-level", "debug", "--icc=false", "-H", "unix:///a.sock", "-Htcp://0.0.0.0:2376",
            "--host=fd://", "--tlsverify", "--tlscacert", "/etc/docker/ca.pem", "--storage-opt", "a=1",
            "--storage-opt=b=2", "--live-restore", "--userland-proxy=false", "-D"]
    parsed = parse_argv(argv)
    assert parsed["log-level"] == ["debug"]
    assert parsed["icc"] == ["false"]
    assert parsed["hosts"] == ["unix:///a.sock", "tcp://0.0.0.0:2376", "fd://"]
    assert parsed["tlsverify"] == [None]  # a bare boolean
    assert parsed["tlscacert"] == ["/etc/docker/ca.pem"]  # the space form keeps its value
    assert parsed["storage-opts"] == ["a=1", "b=2"]
    assert parsed["debug"] == [None]


def test_effective_values_and_their_sources():
    argv = ["dockerd", "--icc=false", "--default-ulimit", "nofile=1024:2048", "--default-ulimit=nproc=512",
            "--authorization-plugin", "authz-broker", "-l", "warn", "--no-new-privileges", "--tlsverify"]
    config = {"live-restore": True, "userland-proxy": False, "insecure-registries": ["r.example:5000"],
              "cgroup-parent": "/hc", "seccomp-profile": "/etc/docker/seccomp.json", "userns-remap": "default",
              "custom-key": 1}
    options = effective_options(argv, config)
    assert options["icc"] == {"value": False, "source": "argv"}
    assert options["log-level"] == {"value": "warn", "source": "argv"}
    assert options["no-new-privileges"] == {"value": True, "source": "argv"}
    assert options["default-ulimits"]["value"] == {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048},
                                                   "nproc": {"Name": "nproc", "Soft": 512, "Hard": 512}}
    assert options["authorization-plugins"] == {"value": ["authz-broker"], "source": "argv"}
    assert options["live-restore"] == {"value": True, "source": "config-file"}
    assert options["userland-proxy"] == {"value": False, "source": "config-file"}
    assert options["insecure-registries"]["value"] == ["r.example:5000"]
    assert options["userns-remap"]["source"] == "config-file"
    assert options["tls"] == {"value": True, "source": "argv"}  # tlsverify implies tls
    assert options["iptables"] == {"value": True, "source": "default"}
    assert options["hosts"] == {"value": ["unix:///var/run/docker.sock"], "source": "default"}
    assert options["custom-key"] == {"value": 1, "source": "config-file"}  # unknown keys are kept


def test_unknown_bare_flag_does_not_swallow_the_next_flag():
    parsed = parse_argv(["dockerd", "--some-new-bool", "--icc=false", "--containerd", "/run/containerd/containerd.sock"])
    assert parsed["some-new-bool"] == [None]
    assert parsed["icc"] == ["false"]
    assert parsed["containerd"] == ["/run/containerd/containerd.sock"]


@pytest.mark.parametrize("secret_args, secret", [
    (["--password=hunter2"], "hunter2"),
    (["--token", "tok-123"], "tok-123"),
    (["--db-pass", "p4ss"], "p4ss"),
    (["--api-key=k-9"], "k-9"),
    (["DB_PASSWORD=zz9"], "zz9"),
    (["https://user:s3cr3t@registry.example/v2"], "s3cr3t"),
    (["sh", "-c", "mysql --password=in-shell -u root"], "in-shell"),
])
def test_secret_arguments_lose_their_value_but_keep_their_flag(secret_args, secret):
    out = redact_argv(["app", *secret_args])
    assert secret not in " ".join(out)
    assert MARKER in " ".join(out)


def test_redaction_keeps_what_policies_need():
    argv = ["dockerd", "--authorization-plugin=authz", "--tlskey", "/etc/docker/key.pem", "--seccomp-profile",
            "/p.json", "--userns-remap=default", "-H", "tcp://0.0.0.0:2376"]
    assert redact_argv(argv) == argv


def test_container_inspect_redaction():
    inspect = {"Path": "app", "Args": ["--token", "abc"], "Config": {
        "Env": ["API_TOKEN=abc", "PATH=/bin", "EMPTY"], "Cmd": ["app", "--token", "abc"],
        "Healthcheck": {"Test": ["CMD", "probe", "--password=abc"]}}}
    redact_container(inspect)
    assert inspect["Config"]["Env"] == ["API_TOKEN=<redacted>", "PATH=<redacted>", "EMPTY"]
    assert "abc" not in str(inspect)
    assert inspect["Config"]["Cmd"][:2] == ["app", "--token"]


def test_history_env_steps_and_build_args_are_redacted():
    assert redact_created_by("/bin/sh -c #(nop)  ENV A=1 B=two") == f"/bin/sh -c #(nop)  ENV A={MARKER} B={MARKER}"
    assert "s3" not in redact_created_by("|1 TOKEN=s3 /bin/sh -c make")
    assert redact_created_by("COPY busybox /bin/busybox # buildkit") == "COPY busybox /bin/busybox # buildkit"


def test_top_command_lines_are_redacted():
    top = {"Titles": ["UID", "PID", "CMD"], "Processes": [["root", "1", "app --password=abc --port 80"]]}
    assert redact_processes(top)["Processes"][0][2] == f"app --password={MARKER} --port 80"


def test_audit_rules_watches_and_syscall_rules():
    text = ("# comment\n-w /usr/bin/dockerd -p rwxa -k docker\n"
            "-a always,exit -F path=/usr/bin/containerd -F perm=x -k containerd\n-w /etc/docker\nNo rules\n")
    assert parse_rules(text, "f") == [
        {"path": "/usr/bin/dockerd", "permissions": "rwxa", "key": "docker", "origin": "f"},
        {"path": "/usr/bin/containerd", "permissions": "x", "key": "containerd", "origin": "f"},
        {"path": "/etc/docker", "permissions": None, "key": None, "origin": "f"},
    ]


def test_a_daemon_json_that_does_not_parse_is_kept_raw_and_options_fail_closed(tmp_path):
    from collector.daemon import collect_daemon
    from collector.errors import ErrorLog
    from collector.hostfs import HostFS

    root = tmp_path / "host"
    (root / "proc/77").mkdir(parents=True)
    (root / "proc/77/comm").write_text("dockerd\n")
    (root / "proc/77/cmdline").write_text("dockerd\0")
    (root / "etc/docker").mkdir(parents=True)
    (root / "etc/docker/daemon.json").write_text('{"icc": false,}\n')
    errors = ErrorLog()
    daemon = collect_daemon(HostFS(str(root)), errors, redact_secrets=True, collect_host=True,
                            endpoint="unix:///var/run/docker.sock", info={})
    config = daemon["config_file"]
    assert config["exists"] is True and config["raw"] == '{"icc": false,}\n' and config["parsed"] is None
    assert config["parse_error"].startswith("line 1 column 15")
    assert daemon["options"] is None
    assert any(e["source"] == "/daemon/options" and "does not parse" in e["reason"] for e in errors.as_list())


def test_own_container_id_comes_from_this_process_not_other_containers_mounts(tmp_path):
    """On a host, mountinfo lists every container's secrets mount (/containers/<id>/mounts/secrets):
    that is another container, not the collector's. In a container, the runtime's bind mount of
    /etc/hostname (dockerd) or /run/.containerenv (Podman) from its directory names ours."""
    from collector.snapshot import own_container_id

    other, ours = "a" * 64, "b" * 64
    proc = tmp_path / "proc"
    proc.mkdir()
    (proc / "cgroup").write_text("0::/\n")
    host_mounts = (f"30 25 0:40 / /var/lib/docker/containers/{other}/mounts/secrets rw - tmpfs tmpfs rw\n"
                   f"31 25 254:0 /var/lib/docker/containers/{other}/hostname /var/lib/docker/x rw - ext4 /dev/vda rw\n")
    (proc / "mountinfo").write_text(host_mounts)
    assert own_container_id(str(proc)) is None
    (proc / "mountinfo").write_text(host_mounts + f"32 25 254:0 /var/lib/docker/containers/{ours}/hostname /etc/hostname "
                                                  "rw - ext4 /dev/vda rw\n")
    assert own_container_id(str(proc)) == ours
    (proc / "mountinfo").write_text(f"33 25 0:50 /containers/overlay-containers/{ours}/userdata/.containerenv "
                                    "/run/.containerenv rw - tmpfs tmpfs rw\n")
    assert own_container_id(str(proc)) == ours
    (proc / "cgroup").write_text(f"0::/machine.slice/libpod-{other}.scope/container\n")
    assert own_container_id(str(proc)) == other, "the cgroup path wins"
    (proc / "cgroup").write_text(f"4:memory:/docker/{other}\n0::/\n")
    assert own_container_id(str(proc)) == other


def test_podman_api_answers_are_normalised_with_the_raw_answer_kept():
    """Shapes recorded from Podman 4.3's compat API (see tests/test_engines_podman.py for the live run)."""
    from collector import engine_fixups

    top = {"Titles": ["USER", "PID", "COMMAND"], "Processes": ["root 1 /usr/sbin/sshd -D", ["root", "7", "sleep 9"]]}
    fixed, raw = engine_fixups.processes(top)
    assert fixed["Processes"] == [["root", "1", "/usr/sbin/sshd -D"], ["root", "7", "sleep 9"]]
    assert raw["/processes"]["Processes"][0] == "root 1 /usr/sbin/sshd -D"
    inspect = {"State": {"Running": True, "Health": {"Status": "", "FailingStreak": 0, "Log": None}},
               "HostConfig": {"CapAdd": ["cap_net_admin"], "CapDrop": ["MKNOD"]}}
    raw = engine_fixups.container(inspect)
    assert "Health" not in inspect["State"] and raw["/inspect/State/Health"]["Status"] == ""
    assert inspect["HostConfig"]["CapAdd"] == ["NET_ADMIN"] and raw["/inspect/HostConfig/CapAdd"] == ["cap_net_admin"]
    assert "/inspect/HostConfig/CapDrop" not in raw, "unchanged fields are not repeated"
    healthy = {"State": {"Health": {"Status": "healthy"}}}
    assert engine_fixups.container(healthy) == {} and healthy["State"]["Health"]["Status"] == "healthy"
    image = {"Config": {"Cmd": ["x"]}}
    raw = engine_fixups.image_healthcheck(image, {"Healthcheck": {"Test": ["CMD", "true"]}})
    assert image["Config"]["Healthcheck"] == {"Test": ["CMD", "true"]} and raw == {"/inspect/Config/Healthcheck": None}
