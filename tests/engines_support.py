"""Other engines for tests: `podman system service` and a rootless dockerd, each started by us
in a network namespace of our own (entered with `nsenter --net=/run/netns/NAME`: `ip netns exec`
remounts /sys and hides the cgroup mounts) and stopped by us, by pid, with everything they left:
the life every private engine has (tests/support/lifecycle.py).

Every wait has a deadline; a failure raises with the engine's log tail, never hangs.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

from support.lifecycle import PrivateEngine, docker_client

from testimage import static_busybox

NETNS_PREFIX = "hce"
ROOTLESS_USER = "hcrootless"
# Podman on this kind of host cannot raise nofile/nproc to its defaults (1048576) for containers:
# a containers.conf of ours sets limits the host allows (which 2.8 then judges).
# CONTAINERS_CONF replaces /usr/share/containers/containers.conf, so Podman's packaged default
# capability set (smaller than dockerd's) is restated here: 5.4 judges against it.
CONTAINERS_CONF = """[containers]
default_ulimits = ["nofile=1024:2048", "nproc=512:1024"]
log_driver = "k8s-file"
default_capabilities = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "SETFCAP", "SETGID",
                        "SETPCAP", "SETUID", "SYS_CHROOT"]
"""


def _run(argv: list[str], timeout: float = 120, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:6])} failed ({proc.returncode}): {(proc.stderr or proc.stdout)[-1500:]}")
    return proc


class NetNS:
    """A named network namespace with loopback up, removed on exit."""

    def __init__(self) -> None:
        self.name = f"{NETNS_PREFIX}{secrets.token_hex(3)}"

    def __enter__(self) -> NetNS:
        _run(["ip", "netns", "add", self.name], timeout=30)
        _run(["nsenter", f"--net=/run/netns/{self.name}", "ip", "link", "set", "lo", "up"], timeout=30)
        return self

    def enter(self) -> list[str]:
        return ["nsenter", f"--net=/run/netns/{self.name}", "--"]

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["ip", "netns", "delete", self.name], capture_output=True, timeout=30, check=False)


def sshd_lookalike(directory: Path) -> Path:
    """A static binary that just waits, to run as /usr/sbin/sshd in a container (5.7)."""
    source = directory / "pause.c"
    source.write_text("#include <unistd.h>\nint main(void){for(;;)pause();}\n")
    binary = directory / "sshd"
    _run(["gcc", "-static", "-Os", "-o", str(binary), str(source)], timeout=120)
    return binary


def image_context(directory: Path, *, healthcheck: bool, sshd: bool = False) -> Path:
    """A FROM-scratch build context with the static busybox (no registry, no RUN step)."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(static_busybox(), directory / "busybox")
    lines = ["FROM scratch", "COPY busybox /bin/busybox"]
    if sshd:
        shutil.copy(sshd_lookalike(directory), directory / "sshd-bin")
        lines.append("COPY sshd-bin /usr/sbin/sshd")
    if healthcheck:
        lines.append('HEALTHCHECK --interval=30s CMD ["/bin/busybox", "true"]')
    lines.append('CMD ["/bin/busybox", "sleep", "3600"]')
    (directory / "Dockerfile").write_text("\n".join(lines) + "\n")
    return directory


class PodmanService(PrivateEngine):
    """`podman system service` as root, with its own storage, CONTAINERS_CONF and socket."""

    what = "podman system service"
    environ = True  # conmon and its helpers carry CONTAINERS_CONF, which names our directory

    def __init__(self, netns: NetNS) -> None:
        super().__init__("hce-podman-")
        self.netns = netns
        self.socket = self.dir / "podman.sock"
        self.log = self.dir / "podman.log"
        self.conf = self.dir / "containers.conf"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "CONTAINERS_CONF": str(self.conf)}

    def _podman(self) -> list[str]:
        return [*self.netns.enter(), "podman", "--root", str(self.dir / "root"), "--runroot", str(self.dir / "run"),
                "--cgroup-manager", "cgroupfs"]

    def podman(self, *args: str, timeout: float = 120) -> str:
        """The podman CLI on the same storage, in the same namespace."""
        return _run([*self._podman(), *args], timeout=timeout, env=self.env).stdout.strip()

    def start(self, timeout: float = 60) -> PodmanService:
        if shutil.which("podman") is None:
            raise RuntimeError("podman is not installed (apt-get install podman; .ci/run installs it)")
        self.conf.write_text(CONTAINERS_CONF)
        self.launch([*self._podman(), "--log-level", "info", "system", "service", "--time=0", self.url], env=self.env)
        try:
            self.wait_until_answers(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def remove_containers(self) -> None:
        subprocess.run([*self._podman(), "rm", "-a", "-f", "-t", "0"], capture_output=True, timeout=60,
                       env=self.env, check=False)

    def __enter__(self) -> PodmanService:
        return self.start()


def podman_workload(service: Any, work: Path) -> None:
    """The containers the Podman tests and the recorded podman example judge: one image with a
    HEALTHCHECK (and an sshd), one without; a container running sshd, a plain one, a limited one
    with an added capability."""
    # --format docker keeps HEALTHCHECK (OCI images have none), as `docker build` would.
    service.podman("build", "--format", "docker", "-q", "-t", "localhost/hce-health:1",
                   str(image_context(work / "health", healthcheck=True, sshd=True)))
    service.podman("build", "--format", "docker", "-q", "-t", "localhost/hce-plain:1",
                   str(image_context(work / "plain", healthcheck=False)))
    run = ("run", "-d", "--network", "none")
    service.podman(*run, "--name", "with-sshd", "localhost/hce-health:1", "/usr/sbin/sshd")
    service.podman(*run, "--name", "plain", "localhost/hce-plain:1")
    service.podman(*run, "--name", "limited", "--memory", "64m", "--cpu-shares", "512", "--pids-limit", "100",
                   "--cap-add", "NET_RAW", "localhost/hce-health:1")


def ensure_rootless_user() -> pwd.struct_passwd:
    """An unprivileged user with subordinate ids, created once (kept: harmless, reused next run)."""
    try:
        user = pwd.getpwnam(ROOTLESS_USER)
    except KeyError:
        _run(["useradd", "--create-home", "--shell", "/bin/sh", ROOTLESS_USER], timeout=60)
        user = pwd.getpwnam(ROOTLESS_USER)
    for path in ("/etc/subuid", "/etc/subgid"):
        text = Path(path).read_text() if Path(path).exists() else ""
        if not any(line.split(":")[0] == ROOTLESS_USER for line in text.splitlines()):
            flag = "--add-subuids" if path.endswith("uid") else "--add-subgids"
            _run(["usermod", flag, "400000-465535", ROOTLESS_USER], timeout=60)
    return user


def _user_can_open_tun(user: pwd.struct_passwd) -> bool:
    """slirp4netns needs /dev/net/tun, which some hosts leave root-only (0600)."""
    probe = subprocess.run(["setpriv", f"--reuid={user.pw_uid}", f"--regid={user.pw_gid}", "--init-groups",
                            "sh", "-c", "test -r /dev/net/tun -a -w /dev/net/tun"], capture_output=True, timeout=30)
    return probe.returncode == 0


class RootlessDockerd(PrivateEngine):
    """dockerd-rootless.sh (rootlesskit) as an unprivileged user, with its HOME and
    XDG_RUNTIME_DIR in a temporary directory of ours: the config file it reads is
    $HOME/.config/docker/daemon.json and its data root $HOME/.local/share/docker."""

    SCRIPT = "/usr/share/docker.io/contrib/dockerd-rootless.sh"
    what = "rootless dockerd"
    environ = True  # rootlesskit's helpers know our directory only as HOME and XDG_RUNTIME_DIR

    def __init__(self, netns: NetNS, config: dict[str, Any]) -> None:
        super().__init__("hce-rootless-", mode=0o755)
        self.netns = netns
        self.user = ensure_rootless_user()
        self.home = self.dir / "home"
        self.runtime = self.dir / "run"
        self.socket = self.runtime / "docker.sock"
        self.config = config
        self.config_file = self.home / ".config/docker/daemon.json"
        self.net = "slirp4netns"

    def start(self, timeout: float = 90) -> RootlessDockerd:
        import json

        for tool in ("rootlesskit", "newuidmap", "newgidmap"):
            if shutil.which(tool) is None:
                raise RuntimeError(f"{tool} is not installed (apt-get install rootlesskit uidmap; .ci/run installs them)")
        if not Path(self.SCRIPT).exists():
            raise RuntimeError(f"{self.SCRIPT} is missing (Debian's docker.io ships it)")
        self.config_file.parent.mkdir(parents=True)
        self.config_file.write_text(json.dumps(self.config, indent=2) + "\n")
        self.runtime.mkdir(mode=0o700)
        for path in [self.home, *self.home.rglob("*"), self.runtime]:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)
        env = {"HOME": str(self.home), "XDG_RUNTIME_DIR": str(self.runtime), "USER": self.user.pw_name,
               "PATH": f"{Path(self.SCRIPT).parent}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
        # slirp4netns needs a tap device the user may open; where /dev/net/tun is root-only, or
        # slirp4netns fails, rootlesskit keeps our (private, test-only) namespace instead.
        nets = (["slirp4netns"] if _user_can_open_tun(self.user) else []) + ["host"]
        failures = []
        for net in nets:
            self.net = net
            run_env = dict(env)
            if net == "host":
                run_env.update({"DOCKERD_ROOTLESS_ROOTLESSKIT_NET": "host", "DOCKERD_ROOTLESS_ROOTLESSKIT_PORT_DRIVER": "none"})
            argv = [*self.netns.enter(), "setpriv", f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}",
                    "--init-groups", self.SCRIPT]
            self.what = f"rootless dockerd ({net} network)"
            self.launch(argv, log=self.dir / f"dockerd-{net}.log", env=run_env, cwd=self.home)
            try:
                self.wait_until_answers(timeout)
                return self
            except RuntimeError as exc:
                failures.append(str(exc))
                self.terminate()
                self.kill_leftovers()
                for stale in self.runtime.iterdir():
                    if stale.is_socket() or stale.name.endswith(".pid"):
                        stale.unlink()
            except BaseException:
                self.stop()
                raise
        self.stop()
        raise RuntimeError("rootless dockerd could not start: " + " | ".join(failures))

    def client(self) -> Any:
        return docker_client(self.url)

    def __enter__(self) -> RootlessDockerd:
        return self.start()


class RootlessPodman(PrivateEngine):
    """`podman system service` as the unprivileged test user, with HOME and XDG_RUNTIME_DIR of
    ours: it reads $HOME/.config/containers/containers.conf and stores below $HOME/.local/share."""

    what = "rootless podman system service"
    environ = True  # its pause process is re-parented to init and knows our directory only by its environment

    def __init__(self, netns: NetNS, user_conf: str) -> None:
        super().__init__("hce-rlpodman-", mode=0o755)
        self.netns = netns
        self.user = ensure_rootless_user()
        self.home = self.dir / "home"
        self.runtime = self.dir / "run"
        self.socket = self.runtime / "podman.sock"
        self.log = self.dir / "podman.log"
        self.conf = self.home / ".config/containers/containers.conf"
        self.user_conf = user_conf

    def _as_user(self) -> list[str]:
        return [*self.netns.enter(), "setpriv", f"--reuid={self.user.pw_uid}", f"--regid={self.user.pw_gid}",
                "--init-groups", "env", "-i", f"HOME={self.home}", f"XDG_RUNTIME_DIR={self.runtime}",
                f"USER={self.user.pw_name}", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]

    def podman(self, *args: str, timeout: float = 120) -> str:
        return _run([*self._as_user(), "podman", *args], timeout=timeout, cwd=str(self.home)).stdout.strip()

    def start(self, timeout: float = 60) -> RootlessPodman:
        if shutil.which("podman") is None or shutil.which("newuidmap") is None:
            raise RuntimeError("rootless podman needs podman and uidmap (apt-get install podman uidmap)")
        self.conf.parent.mkdir(parents=True)
        self.conf.write_text(self.user_conf)
        self.runtime.mkdir(mode=0o700)
        for path in [self.home, *self.home.rglob("*"), self.runtime]:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)
        self.launch([*self._as_user(), "podman", "system", "service", "--time=0", self.url], cwd=self.home)
        try:
            self.wait_until_answers(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def build(self, context: Path, tag: str) -> None:
        for path in [context, *context.rglob("*")]:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)
        self.podman("build", "--format", "docker", "-q", "-t", tag, str(context))

    def remove_containers(self) -> None:
        self.podman("rm", "-a", "-f", "-t", "0", timeout=60)

    def __enter__(self) -> RootlessPodman:
        return self.start()
