"""`--host-root DIR`: every host file, /proc included, is read below a directory laid out like a host.

The tree is built in tmp_path with files the real host does not have (users, a daemon argv, unit
overrides, audit rules), so each assertion proves the value came from the tree. Unreadable files
are made so that they fail for root too: a FIFO where a file is expected (which must also never
hang collection) and a directory where a file is expected.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import LABEL_KEY

DOCKERD_PID = 4242


def _write(root: Path, path: str, text: str, mode: int | None = None) -> Path:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    if mode is not None:
        target.chmod(mode)
    return target


def _fifo(root: Path, path: str) -> Path:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(target)
    return target


@pytest.fixture
def host_tree(tmp_path: Path) -> Path:
    root = tmp_path / "host"
    _write(root, "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\nhcadmin:x:4242:4242::/home/hcadmin:/bin/sh\n"
                               "hcbot:x:4300:999::/:/bin/false\n")
    _write(root, "/etc/group", "root:x:0:\ndocker:x:999:hcadmin,alice\nhcgroup:x:4243:\n")
    (root / "etc/os-release").mkdir(parents=True)  # a directory where a file is expected
    # dockerd, as /proc shows it: comm, cmdline, exe link, stat, status, a selected environment.
    proc = f"/proc/{DOCKERD_PID}"
    _write(root, f"{proc}/comm", "dockerd\n")
    _write(root, f"{proc}/cmdline", "\0".join(["/usr/sbin/dockerd", "-H", "fd://", "--containerd=/run/containerd/containerd.sock",
                                              "--config-file", "/etc/docker/custom.json", "--icc=false",
                                              "--tlsverify", "--tlscacert", "/etc/docker/tls/ca.pem",
                                              "--registry-password", "reg-s3cret"]) + "\0")
    (root / proc.lstrip("/") / "exe").symlink_to("/usr/sbin/dockerd")
    _write(root, f"{proc}/stat", f"{DOCKERD_PID} (dockerd) S 1 " + " ".join(["0"] * 17) + " 12345 0 0\n")
    _write(root, f"{proc}/status", "Name:\tdockerd\nPPid:\t1\nUid:\t0\t0\t0\t0\n")
    _write(root, f"{proc}/environ", "PATH=/usr/bin\0DOCKER_CERT_PATH=/etc/docker/tls\0SECRET=x\0")
    _write(root, "/proc/1/mountinfo", "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n"
                                      "99 27 254:7 / /var/lib/docker rw,relatime - xfs /dev/vdb rw\n")
    # The host's namespace listens elsewhere: the daemon's own namespace (its pid's net/tcp) counts.
    _write(root, "/proc/1/net/tcp",
           "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
           "   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n")
    _write(root, f"{proc}/net/tcp",
           "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
           "   0: 00000000:0948 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
           "   1: 0100007F:0016 0100007F:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2 1\n")
    _write(root, "/proc/sys/kernel/osrelease", "9.9.9-hullcheck-tree\n")
    _write(root, "/proc/sys/kernel/version", "#1 SMP tree\n")
    _write(root, "/etc/docker/custom.json", json.dumps({"live-restore": True, "proxies": {
        "http-proxy": "http://proxyuser:proxy-s3cret@proxy.internal:3128"}}))
    _write(root, "/etc/docker/daemon.json", json.dumps({"icc": True, "log-level": "debug"}))  # not in force
    key = _write(root, "/etc/docker/tls/ca.pem", "-----BEGIN CERTIFICATE-----\n", 0o640)
    os.chown(key, 4242, 4243)
    _write(root, "/etc/docker/certs.d/registry.example:5000/ca.crt", "x", 0o644)
    # systemd: an override in /etc hides the packaged unit; drop-ins by name, /etc winning.
    _write(root, "/lib/systemd/system/docker.service", "[Service]\nExecStart=/usr/sbin/dockerd -H fd://\n")
    _write(root, "/etc/systemd/system/docker.service", "[Service]\nExecStart=/usr/sbin/dockerd -H fd:// --icc=false\n")
    _write(root, "/lib/systemd/system/docker.service.d/10-override.conf", "[Service]\nEnvironment=FROM_LIB=1\n")
    _write(root, "/etc/systemd/system/docker.service.d/10-override.conf", "[Service]\nEnvironment=FROM_ETC=1\n")
    _fifo(root, "/lib/systemd/system/docker.service.d/20-trap.conf")
    _write(root, "/lib/systemd/system/docker.socket", "[Socket]\nListenStream=/run/docker.sock\nSocketGroup=docker\n")
    (root / "etc/systemd/system").mkdir(parents=True, exist_ok=True)
    (root / "etc/systemd/system/containerd.service").symlink_to("/dev/null")  # masked
    _write(root, "/etc/audit/rules.d/docker.rules", "-w /usr/sbin/dockerd -p rwxa -k docker\n-w /run/containerd -k containerd\n")
    _write(root, "/usr/sbin/dockerd", "#!/bin/false\n", 0o755)
    (root / "usr/bin").mkdir(parents=True)
    (root / "usr/bin/runc").symlink_to("../sbin/runc")
    _write(root, "/usr/sbin/runc", "#!/bin/false\n", 0o700)
    (root / "var/lib/docker").mkdir(parents=True)
    (root / "etc/containerd").symlink_to("containerd")  # a link loop: stat below it fails, for root too
    return root


def _collect(hullcheck_cli, root: Path, tmp_path: Path, session_label: str) -> dict:
    out = tmp_path / "snapshot.json"
    proc = hullcheck_cli("collect", "--host-root", str(root), "--label", f"{LABEL_KEY}={session_label}-none",
                         "-o", str(out), timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(out.read_text())


def _errors(snapshot: dict) -> dict[str, str]:
    return {e["source"]: e["reason"] for e in snapshot["meta"]["errors"]}


def test_every_host_fact_comes_from_the_tree(host_tree, tmp_path, hullcheck_cli, session_label):
    snapshot = _collect(hullcheck_cli, host_tree, tmp_path, session_label)
    assert snapshot["meta"]["collector"]["host_root"] == str(host_tree)

    process = snapshot["daemon"]["process"]
    assert process["pid"] == DOCKERD_PID and process["exe"] == "/usr/sbin/dockerd" and process["chosen_by"] == "only"
    assert "--registry-password" in process["argv"] and "reg-s3cret" not in json.dumps(snapshot)
    assert process["environment"] == {"DOCKER_CERT_PATH": "/etc/docker/tls"}  # only what dockerd consults
    options = snapshot["daemon"]["options"]
    assert options["icc"] == {"value": False, "source": "argv"}
    assert options["tlscacert"] == {"value": "/etc/docker/tls/ca.pem", "source": "argv"}
    assert options["tlscert"] == {"value": "/etc/docker/tls/cert.pem", "source": "default"}  # DOCKER_CERT_PATH
    assert options["hosts"]["value"] == ["fd://"]

    units = snapshot["daemon"]["units"]
    service = units["docker.service"]
    assert service["fragment_path"] == "/etc/systemd/system/docker.service" and "--icc=false" in service["contents"]
    assert [d["path"] for d in service["dropins"]] == ["/etc/systemd/system/docker.service.d/10-override.conf",
                                                       "/lib/systemd/system/docker.service.d/20-trap.conf"]
    assert "FROM_ETC" in service["dropins"][0]["contents"] and service["dropins"][1]["contents"] is None
    assert units["containerd.service"]["masked"] is True and units["containerd.service"]["found"] is False
    assert units["docker.socket"]["fragment_path"] == "/lib/systemd/system/docker.socket"

    files = snapshot["files"]
    ca = files["/etc/docker/tls/ca.pem"]
    assert (ca["uid"], ca["gid"], ca["owner"], ca["group"], ca["mode"]) == (4242, 4243, "hcadmin", "hcgroup", "0640")
    assert "daemon tlscacert" in ca["why"]
    assert files["/etc/docker/custom.json"]["type"] == "file"
    assert options["live-restore"] == {"value": True, "source": "config-file"}
    assert "proxy-s3cret" not in json.dumps(snapshot)
    assert snapshot["daemon"]["config_file"]["parsed"]["proxies"]["http-proxy"] == \
        "http://proxyuser:<redacted>@proxy.internal:3128"
    assert files["/etc/docker/certs.d/registry.example:5000/ca.crt"]["mode"] == "0644"
    assert files["/etc/docker/certs.d/registry.example:5000"]["type"] == "directory"
    assert files["/usr/bin/runc"]["type"] == "symlink" and files["/usr/bin/runc"]["target"] == "../sbin/runc"
    assert files["/usr/sbin/runc"]["mode"] == "0700"
    assert files["/run/docker.sock"] == {"exists": False, "why": files["/run/docker.sock"]["why"]}
    assert files["/lib/systemd/system/docker.socket"]["exists"] is True

    host = snapshot["host"]
    assert host["kernel"]["release"] == "9.9.9-hullcheck-tree"
    assert host["docker_group"] == {"exists": True, "gid": 999, "members": ["alice", "hcadmin", "hcbot"]}
    assert host["listening_tcp"] == [{"address": "0.0.0.0", "port": 2376, "family": "ipv4"}]
    assert host["listening_tcp_source"]["pid"] == DOCKERD_PID, "the daemon's network namespace, not pid 1's"
    assert {m["mount_point"]: m["device"] for m in host["mounts"]} == {"/": "254:0", "/var/lib/docker": "254:7"}
    assert [p["pid"] for p in host["processes"]] == [DOCKERD_PID]

    watches = snapshot["audit"]["watches"]
    assert {"path": "/usr/sbin/dockerd", "permissions": "rwxa", "key": "docker",
            "origin": "/etc/audit/rules.d/docker.rules"} in watches
    assert snapshot["audit"]["auditctl"]["raw"] is None  # never run against another root


def test_unreadable_files_are_errors_for_that_file_and_collection_finishes(host_tree, tmp_path, hullcheck_cli,
                                                                           session_label):
    # The daemon config in force becomes a FIFO: reading it must fail cleanly, not block.
    (host_tree / "etc/docker/custom.json").unlink()
    _fifo(host_tree, "/etc/docker/custom.json")
    snapshot = _collect(hullcheck_cli, host_tree, tmp_path, session_label)
    assert snapshot["files"]["/etc/docker/custom.json"]["type"] == "fifo"
    errors = _errors(snapshot)
    assert snapshot["daemon"]["config_file"] is None
    assert "fifo, not a regular file" in errors["/daemon/config_file"]
    assert snapshot["daemon"]["options"] is None and "unknown" in errors["/daemon/options"]  # fail closed
    assert "/etc/docker/custom.json" in errors["/daemon/config_file"]
    assert "fifo" in errors["/daemon/units/docker.service/dropins"]
    assert snapshot["host"]["os_release"] is None and "is a directory" in errors["/host/os_release"]
    # A file whose stat fails: an error at that file's own pointer, and no entry pretending to know.
    assert "Too many levels of symbolic links" in errors["/files/~1etc~1containerd~1config.toml"]
    assert "/etc/containerd/config.toml" not in snapshot["files"]
    assert snapshot["files"]["/etc/containerd"]["type"] == "symlink"
    # Everything else was still collected.
    assert snapshot["daemon"]["process"]["pid"] == DOCKERD_PID and snapshot["files"] and snapshot["host"]["mounts"]


def test_docker_root_on_its_own_filesystem_is_told_by_device_not_by_mount_point(host_tree, tmp_path, hullcheck_cli,
                                                                               session_label):
    """A tmpfs mounted at var/lib/docker is a separate filesystem; a bind mount of a directory of
    the same filesystem is a mount point but no partition."""
    data_root = host_tree / "var/lib/docker"
    other = host_tree / "srv/docker-elsewhere"
    other.mkdir(parents=True)
    subprocess.run(["mount", "-t", "tmpfs", "hullcheck-test", str(data_root)], check=True)
    try:
        separate = _collect(hullcheck_cli, host_tree, tmp_path, session_label)["host"]["docker_root"]
        # userns-remap: the engine's root is a subdirectory of the partition; judge the data-root.
        from collector.errors import ErrorLog
        from collector.host import docker_root
        from collector.hostfs import HostFS

        (data_root / "100000.100000").mkdir()
        remapped = docker_root(HostFS(str(host_tree)), "/var/lib/docker/100000.100000", None, ErrorLog(),
                               data_root="/var/lib/docker")
        naive = docker_root(HostFS(str(host_tree)), "/var/lib/docker/100000.100000", None, ErrorLog())
    finally:
        subprocess.run(["umount", str(data_root)], check=True)
    subprocess.run(["mount", "--bind", str(other), str(data_root)], check=True)
    try:
        bound = _collect(hullcheck_cli, host_tree, tmp_path, session_label)["host"]["docker_root"]
    finally:
        subprocess.run(["umount", str(data_root)], check=True)
    assert separate["separate_filesystem"] is True and separate["device"] != separate["parent_device"]
    assert remapped["separate_filesystem"] is True and remapped["checked_path"] == "/var/lib/docker"
    assert naive["separate_filesystem"] is False  # the subdirectory alone says nothing
    assert bound["separate_filesystem"] is False and bound["device"] == bound["parent_device"]


def _fake_dockerd(root: Path, pid: int, argv: list[str], started: int) -> None:
    proc = f"/proc/{pid}"
    _write(root, f"{proc}/comm", "dockerd\n")
    _write(root, f"{proc}/cmdline", "\0".join(argv) + "\0")
    (root / proc.lstrip("/") / "exe").symlink_to(argv[0])
    _write(root, f"{proc}/stat", f"{pid} (dockerd) S 1 " + " ".join(["0"] * 17) + f" {started} 0 0\n")


def test_the_dockerd_serving_the_endpoint_is_chosen_among_several(tmp_path):
    """Several dockerd in one /proc: by socket, then data-root, then pidfile, else the oldest
    (recorded as an error). A decoy whose command line merely mentions dockerd is never one, nor
    is a helper dockerd runs as a copy of itself."""
    from collector.daemon import choose_dockerd, find_dockerd_candidates, read_units
    from collector.errors import ErrorLog
    from collector.hostfs import HostFS

    root = tmp_path / "host"
    _fake_dockerd(root, 100, ["/usr/sbin/dockerd"], started=500)
    _fake_dockerd(root, 200, ["/usr/sbin/dockerd", "-H", "unix:///tmp/test/docker.sock", "--data-root", "/srv/test"],
                  started=900)
    _fake_dockerd(root, 300, ["/usr/bin/dockerd", "--data-root=/data/alt", "--pidfile", "/run/alt.pid"], started=700)
    _fake_dockerd(root, 400, ["/usr/bin/dockerd", "-H", "fd://", "--data-root=/data/sock"], started=800)
    _write(root, "/proc/999/comm", "vim\n")  # docker-bench's `pgrep -f -n dockerd` would take this one
    # dockerd's re-executed helpers (moby's reexec): dockerd's executable, a helper's argv[0], no options.
    _fake_dockerd(root, 150, ["docker-untar", "/", "/var/lib/docker/overlay2/abc/diff"], started=400)
    (root / "proc/150/exe").unlink()
    (root / "proc/150/exe").symlink_to("/usr/sbin/dockerd")
    _fake_dockerd(root, 160, ["libnetwork-setkey", "-exec-root=/var/run/docker", "abc", "def"], started=450)
    (root / "proc/160/exe").unlink()
    (root / "proc/160/exe").symlink_to("/usr/sbin/dockerd")
    _write(root, "/proc/170/comm", "dockerd\n")  # exited, not yet reaped: no exe, no command line
    _write(root, "/proc/170/cmdline", "")
    _write(root, "/proc/999/cmdline", "vim\0/etc/dockerd-notes\0")
    _write(root, "/lib/systemd/system/docker.socket", "[Socket]\nListenStream=/run/docker-activated.sock\n")
    (root / "var").mkdir(exist_ok=True)
    (root / "var/run").symlink_to("/run")
    (root / "run").mkdir()
    fs = HostFS(str(root))
    candidates = find_dockerd_candidates(fs)
    assert [c["pid"] for c in candidates] == [100, 300, 400, 200], "oldest first, by start time"
    units = read_units(fs, ErrorLog())

    def choose(endpoint: str, root_dir: str = "") -> tuple[int, str, list]:
        errors = ErrorLog()
        chosen = choose_dockerd(fs, candidates, endpoint, {"DockerRootDir": root_dir}, units, errors)
        return chosen["pid"], chosen["chosen_by"], errors.as_list()

    assert choose("unix:///tmp/test/docker.sock")[:2] == (200, "endpoint")
    assert choose("unix:///run/docker-activated.sock")[:2] == (400, "endpoint")  # fd:// via docker.socket
    # 100 and 300 both serve the default socket (/var/run -> /run): the data-root decides.
    assert choose("unix:///var/run/docker.sock", "/data/alt")[:2] == (300, "endpoint+data-root")
    assert choose("unix:///run/docker.sock", "/var/lib/docker/100000.100000")[:2] == (100, "endpoint+data-root")
    # Two serve the endpoint and neither data-root decides: the pidfile that names its process,
    # else the oldest, said in meta.errors.
    _write(root, "/run/alt.pid", "300\n")
    assert choose("unix:///var/run/docker.sock", "/nowhere")[:2] == (300, "pidfile")
    (root / "run/alt.pid").unlink()
    pid, how, errors = choose("unix:///var/run/docker.sock", "/nowhere")
    assert (pid, how) == (100, "oldest") and errors[0]["source"] == "/daemon/process/chosen_by"
    # None serves the endpoint: no daemon is attached at all, and meta.errors says why.
    errors = ErrorLog()
    assert choose_dockerd(fs, candidates, "tcp://10.0.0.5:2376", {}, units, errors) is None
    [error] = errors.as_list()
    assert error["source"] == "/daemon/process" and "no dockerd process serves tcp://10.0.0.5:2376" in error["reason"]
    assert "pid 200 serves /tmp/test/docker.sock" in error["reason"]
    # Not even the only one on the host.
    errors = ErrorLog()
    assert choose_dockerd(fs, [c for c in candidates if c["pid"] == 100], "unix:///tmp/test/docker.sock", {}, units,
                          errors) is None
    assert errors.as_list()[0]["source"] == "/daemon/process"
