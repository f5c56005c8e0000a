"""Real hosts for the fleet tests: network namespaces with their own sshd and dockerd.

A `FleetLab` makes a controller namespace and N host namespaces (`hcf-<rand>-c`, `hcf-<rand>-<i>`,
made with `ip netns add`, always entered with `nsenter --net=...`), joined by veth pairs to a
bridge inside the controller's namespace, with addresses from 10.217.0.0/16 only; nothing is added
to the machine's own namespace. Each host has:

- a dockerd of its own (tests/collector_support.PrivateDockerd) in the host's netns and in a UTS
  namespace of its own, so the engine's name (the snapshot's host name) differs per host;
- an sshd of its own (generated host key, root login by a generated key only, its own config,
  listening only on the host's address), whose sessions get DOCKER_HOST pointing at that dockerd
  (so `docker system dial-stdio`, what an ssh:// engine runs, reaches the host's own engine).

The hosts share this machine's file system, so each host gets its own hullcheck directories
(`hullcheck_remote_dir`, `hullcheck_state_dir` in the inventory). Everything is stopped by pid and
removed in `close()`, which runs also when setting up fails halfway.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collector_support import PrivateDockerd, build_busybox
from support.lifecycle import descendants, terminate

PREFIX = "hcf"
IMAGE = "hullcheck-test/fleet-busybox:1"
REPO = Path(__file__).resolve().parents[1]
PLAYBOOK = REPO / "deploy" / "ansible" / "audit.yml"


def _run(argv: list[str], timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=check)


def base_python() -> str:
    """The interpreter behind this (virtual) environment: the hosts' venvs are made from it unless a
    host's `hullcheck_python` says otherwise (the wheelhouse carries wheels for every supported Python)."""
    return os.path.realpath(getattr(sys, "_base_executable", sys.executable))


def ansible_playbook() -> list[str]:
    return [sys.executable, "-m", "ansible.cli.playbook"]


@dataclass
class Host:
    name: str
    netns: str
    address: str
    dir: Path
    dockerd: PrivateDockerd | None = None
    sshd: subprocess.Popen[bytes] | None = None
    host_key_pub: str = ""
    extra_vars: dict[str, str] = field(default_factory=dict)

    @property
    def nsenter(self) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.netns}"]

    def stop_sshd(self) -> None:
        """Stop this host's sshd and every session it serves, by pid."""
        if self.sshd is None:
            return
        pids = [*sorted(descendants([self.sshd.pid])), self.sshd.pid]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        terminate(self.sshd, timeout=10)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        self.sshd = None


class FleetLab:
    """N hosts and a controller, each in its own network namespace; see the module docstring."""

    def __init__(self, hosts: int, containers: dict[int, list[dict[str, Any]]] | None = None) -> None:
        self.tag = secrets.token_hex(3)
        self.subnet = secrets.randbelow(250) + 1  # 10.217.<subnet>.0/24; each lab's namespaces are its own
        self.dir = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-lab-", dir="/tmp"))
        self.dir.chmod(0o755)
        self.controller_ns = f"{PREFIX}-{self.tag}-c"
        self.namespaces: list[str] = []
        self.hosts = [Host(name=f"host{i + 1}", netns=f"{PREFIX}-{self.tag}-{i + 1}",
                           address=f"10.217.{self.subnet}.{i + 2}", dir=self.dir / f"host{i + 1}")
                      for i in range(hosts)]
        self.containers = containers or {}
        self.client_key = self.dir / "client_key"
        self.known_hosts = self.dir / "known_hosts"

    # ---- set up ----------------------------------------------------------------------------------
    def start(self) -> FleetLab:
        try:
            self._network()
            _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hullcheck-fleet-test", "-f", str(self.client_key)])
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation directory
            for index, host in enumerate(self.hosts):
                host.dir.mkdir()
                self._dockerd(host, index)
                self._sshd(host)
            self.known_hosts.write_text("".join(f"{h.address} {h.host_key_pub}\n" for h in self.hosts))
            for host in self.hosts:
                self._wait_for_ssh(host)
        except BaseException:
            self.close()
            raise
        return self

    def _ns(self, netns: str, *argv: str) -> None:
        _run(["nsenter", f"--net=/run/netns/{netns}", *argv])

    def _network(self) -> None:
        bridge = f"{PREFIX}{self.tag}b"
        for netns in (self.controller_ns, *(h.netns for h in self.hosts)):
            _run(["ip", "netns", "add", netns])
            self.namespaces.append(netns)
            self._ns(netns, "ip", "link", "set", "lo", "up")
        c = self.controller_ns
        self._ns(c, "ip", "link", "add", bridge, "type", "bridge")
        self._ns(c, "ip", "addr", "add", f"10.217.{self.subnet}.1/24", "dev", bridge)
        self._ns(c, "ip", "link", "set", bridge, "up")
        for i, host in enumerate(self.hosts, 1):
            veth = f"{PREFIX}{self.tag}v{i}"
            # Made inside the controller's namespace, its peer goes straight into the host's.
            self._ns(c, "ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", host.netns)
            self._ns(c, "ip", "link", "set", veth, "master", bridge)
            self._ns(c, "ip", "link", "set", veth, "up")
            self._ns(host.netns, "ip", "addr", "add", f"{host.address}/24", "dev", "eth0")
            self._ns(host.netns, "ip", "link", "set", "eth0", "up")

    def _dockerd(self, host: Host, index: int) -> None:
        hostname = f"{PREFIX}-{self.tag}-{host.name}"
        host.dockerd = PrivateDockerd(prefix=(*host.nsenter, "unshare", "--uts", "--", "sh", "-c",
                                              'hostname "$0" && exec "$@"', hostname))
        host.dockerd.start()
        wanted = self.containers.get(index, [])
        if wanted:
            client = host.dockerd.client()
            try:
                build_busybox(client, IMAGE)
                for n, spec in enumerate(wanted):
                    client.containers.run(IMAGE, command=["sleep", "3600"], name=f"fleet-{host.name}-{n}", detach=True,
                                          network_mode="none", labels={"hullcheck-test": "fleet"}, **spec)
            finally:
                client.close()

    def _sshd(self, host: Host) -> None:
        key = host.dir / "ssh_host_ed25519_key"
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)])
        host.host_key_pub = " ".join(Path(f"{key}.pub").read_text().split()[:2])
        authorized = host.dir / "authorized_keys"
        shutil.copy(f"{self.client_key}.pub", authorized)
        assert host.dockerd is not None
        config = host.dir / "sshd_config"
        config.write_text("\n".join([
            f"ListenAddress {host.address}:22",
            f"HostKey {key}",
            f"AuthorizedKeysFile {authorized}",
            f"PidFile {host.dir / 'sshd.pid'}",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "StrictModes no",  # the keys live in a temporary directory
            "MaxStartups 100",
            "MaxSessions 100",
            f"SetEnv DOCKER_HOST={host.dockerd.url}",
            "Subsystem sftp /usr/lib/openssh/sftp-server",
            "",
        ]))
        log = open(host.dir / "sshd.log", "wb")  # noqa: SIM115 - kept open for the daemon's life
        host.sshd = subprocess.Popen([*host.nsenter, shutil.which("sshd") or "/usr/sbin/sshd", "-D", "-e", "-f", str(config)],
                                     stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def _wait_for_ssh(self, host: Host, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if host.sshd is not None and host.sshd.poll() is not None:
                raise RuntimeError(f"sshd of {host.name} exited: {(host.dir / 'sshd.log').read_text()[-2000:]}")
            done = self.in_controller(["ssh", *self.ssh_options(), f"root@{host.address}", "true"], timeout=15, check=False)
            if done.returncode == 0:
                return
            time.sleep(0.3)
        raise RuntimeError(f"no ssh to {host.name} within {timeout}s: {done.stderr[-500:]}")

    # ---- use ---------------------------------------------------------------------------------------
    def ssh_options(self) -> list[str]:
        return ["-F", "/dev/null", "-i", str(self.client_key), "-o", f"UserKnownHostsFile={self.known_hosts}",
                "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-o", "ConnectTimeout=20"]

    def in_controller(self, argv: list[str], timeout: float = 300, check: bool = True,
                      env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["nsenter", f"--net=/run/netns/{self.controller_ns}", *argv], capture_output=True,
                              text=True, timeout=timeout, check=check, env=env)

    def inventory(self, path: Path, hosts: list[Host] | None = None) -> Path:
        python = base_python()
        lines = ["[fleet]"]
        for host in hosts or self.hosts:
            assert host.dockerd is not None
            values = {
                "ansible_host": host.address, "ansible_user": "root",
                "ansible_ssh_private_key_file": str(self.client_key), "ansible_python_interpreter": python,
                "hullcheck_python": python, "hullcheck_become": "false",
                "hullcheck_remote_dir": str(host.dir / "opt"), "hullcheck_state_dir": str(host.dir / "state"),
                "hullcheck_docker_host": host.dockerd.url, **host.extra_vars,
            }
            lines.append(host.name + "".join(f" {k}={v}" for k, v in values.items()))
        ssh_args = " ".join(self.ssh_options())
        lines += ["", "[fleet:vars]", f"ansible_ssh_common_args='{ssh_args}'", ""]
        path.write_text("\n".join(lines))
        return path

    def ansible_env(self) -> dict[str, str]:
        """An environment for ansible-playbook that keeps its state in the lab (not ~/.ansible) and
        opens no lingering ssh control masters."""
        home = self.dir / "ansible-home"
        home.mkdir(exist_ok=True)
        return {**os.environ, "ANSIBLE_HOME": str(home), "ANSIBLE_LOCAL_TEMP": str(home / "tmp"),
                "ANSIBLE_REMOTE_TMP": str(self.dir / "remote-tmp"), "ANSIBLE_SSH_ARGS": "-o ControlMaster=no",
                "ANSIBLE_PIPELINING": "True", "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0",
                "ANSIBLE_CONFIG": str(self.dir / "no-ansible.cfg"), "ANSIBLE_RETRY_FILES_ENABLED": "False"}

    def play(self, inventory: Path, fleet_dir: Path, *args: str, timeout: float = 600,
             forks: int | None = None) -> subprocess.CompletedProcess[str]:
        argv = [*ansible_playbook(), "-i", str(inventory), str(PLAYBOOK), "-e", f"hullcheck_fleet_dir={fleet_dir}", *args]
        if forks is not None:
            argv += ["--forks", str(forks)]
        return self.in_controller(argv, timeout=timeout, check=False, env=self.ansible_env())

    # ---- tear down ---------------------------------------------------------------------------------
    def close(self) -> None:
        for host in self.hosts:
            try:
                host.stop_sshd()
            except Exception:  # noqa: BLE001 - the rest must be cleaned up regardless
                pass
            if host.dockerd is not None:
                host.dockerd.stop()
                host.dockerd = None
        for netns in reversed(self.namespaces):
            _run(["ip", "netns", "delete", netns], check=False)
        self.namespaces = []
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> FleetLab:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


def build_wheelhouse(fleet_dir: Path, timeout: float = 600) -> Path:
    """Run the play's build step (its `build` tag) here, where the package index is reachable, as an
    operator's controller does: the wheel of this checkout and the wheelhouse of its dependencies."""
    fleet_dir.parent.mkdir(parents=True, exist_ok=True)
    inventory = fleet_dir.parent / "build-inventory.ini"
    inventory.write_text("controller-only ansible_host=192.0.2.1\n")  # never contacted: build tasks run locally
    env = {**os.environ, "ANSIBLE_HOME": str(fleet_dir.parent / "ansible-home"), "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_CONFIG": str(fleet_dir.parent / "no-ansible.cfg")}
    done = subprocess.run([*ansible_playbook(), "-i", str(inventory), str(PLAYBOOK), "--tags", "build",
                           "-e", f"hullcheck_fleet_dir={fleet_dir}"], capture_output=True, text=True,
                          timeout=timeout, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"the play's build step failed:\n{done.stdout[-3000:]}\n{done.stderr[-2000:]}")
    return fleet_dir / ".build" / "wheelhouse"
