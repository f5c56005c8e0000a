"""Record the example snapshots in snapshots/examples/ from live daemons of our own.

    python tests/collector_record_examples.py [hardened|defaults|many-misconfigured|podman|rootless-podman|rootless-docker ...]

Each snapshot comes from a dockerd started here for the purpose (own data-root, exec-root,
pidfile, socket and network namespace, so it shares nothing with other daemons on the host and
holds only the fixtures below), is collected with redaction on, and the daemon is stopped again.
Containers are named for what they show: they are fixtures that policy tests index by name.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path[:0] = [str(REPO), str(HERE)]

from collector_support import PrivateDockerd, build_busybox  # noqa: E402

from collector import CollectOptions, collect, dumps  # noqa: E402
from hullcheck_common.atomic import write_atomic  # noqa: E402

OUT = REPO / "snapshots" / "examples"
IMAGE = "hullcheck-fixture/busybox:1"
HARDENED_IMAGE = "hullcheck-fixture/busybox-hardened:1"
LABEL = {"hullcheck.fixture": "example"}
GOOD = dict(
    mem_limit="128m", memswap_limit="128m", nano_cpus=500_000_000, cpu_shares=512, pids_limit=100, read_only=True,
    tmpfs={"/tmp": "rw,noexec,nosuid,size=16m"}, user="1000:1000", cap_drop=["ALL"],
    security_opt=["no-new-privileges:true"], restart_policy={"Name": "on-failure", "MaximumRetryCount": 3},
    healthcheck={"test": ["CMD", "true"], "interval": 30_000_000_000, "timeout": 5_000_000_000, "retries": 3},
)


def _run(client: Any, log: list[str], name: str, command: list[str] | None = None, image: str = IMAGE,
         wait: bool = False, **kwargs: Any) -> Any:
    try:
        container = client.containers.run(image, command=command or ["sleep", "86400"], name=name, detach=True,
                                          labels={**LABEL, **kwargs.pop("labels", {})}, **kwargs)
    except Exception as exc:  # record what cannot start here and carry on
        log.append(f"SKIPPED {name}: {str(exc).splitlines()[0][:200]}")
        try:
            client.containers.get(name).remove(force=True)
        except Exception:
            pass
        return None
    if wait:
        container.wait(timeout=60)
    log.append(f"ok {name}")
    return container


def hardened(daemon_log: list[str]) -> tuple[PrivateDockerd, Callable[[Any], None]]:
    config = {"icc": False, "live-restore": True, "userland-proxy": False, "no-new-privileges": True,
              "log-level": "info", "userns-remap": "default", "log-driver": "json-file",
              "log-opts": {"max-size": "10m", "max-file": "3"},
              "default-ulimits": {"nofile": {"Name": "nofile", "Soft": 1024, "Hard": 2048}}}
    daemon = PrivateDockerd(config, own_netns=True)

    def populate(client: Any) -> None:
        build_busybox(client, IMAGE)
        build_busybox(client, HARDENED_IMAGE, b'USER 1000:1000\nHEALTHCHECK --interval=30s CMD ["true"]\n')
        net = client.networks.create("hardened-net", driver="bridge", labels=LABEL,
                                     options={"com.docker.network.bridge.enable_icc": "false"})
        client.volumes.create("hardened-data", labels=LABEL)
        _run(client, daemon_log, "web-hardened", image=HARDENED_IMAGE, network=net.name,
             ports={"8443/tcp": ("127.0.0.1", 8443)}, **GOOD)
        _run(client, daemon_log, "worker-hardened", image=HARDENED_IMAGE, network=net.name,
             volumes={"hardened-data": {"bind": "/data", "mode": "rw"}}, **GOOD)
        _run(client, daemon_log, "batch-hardened", image=HARDENED_IMAGE, command=["true"], network_mode="none",
             wait=True, **GOOD)

    return daemon, populate


def defaults(daemon_log: list[str]) -> tuple[PrivateDockerd, Callable[[Any], None]]:
    daemon = PrivateDockerd(None, own_netns=True)  # no daemon.json, no flags beyond its own paths

    def populate(client: Any) -> None:
        build_busybox(client, IMAGE)
        _run(client, daemon_log, "web", ports={"8080/tcp": 8080})
        _run(client, daemon_log, "cache")
        _run(client, daemon_log, "stopped-job", command=["true"], wait=True)

    return daemon, populate


def many_misconfigured(daemon_log: list[str]) -> tuple[PrivateDockerd, Callable[[Any], None]]:
    config = {"insecure-registries": ["registry.internal:5000"], "experimental": True, "log-level": "debug",
              "ipv6": True, "fixed-cidr-v6": "fd00:dead:beef::/64", "ip6tables": True}
    # A second, plain-TCP socket without TLS (in the daemon's own network namespace).
    daemon = PrivateDockerd(config, extra_args=("-H", "tcp://127.0.0.1:2375"), own_netns=True)
    shared_dir = Path(tempfile.mkdtemp(prefix="hc-prop-", dir="/tmp"))

    def populate(client: Any) -> None:
        build_busybox(client, IMAGE)
        run = lambda name, **kw: _run(client, daemon_log, name, **kw)  # noqa: E731
        run("hostnet-web", network_mode="host")
        run("hostpid-debug", pid_mode="host")
        run("hostipc-shm", ipc_mode="host")
        run("hostuts-clock", uts_mode="host")
        run("userns-host", userns_mode="host")
        run("cgroupns-host", cgroupns="host")
        run("cap-sys-admin", cap_add=["SYS_ADMIN"])
        run("cap-sys-ptrace", cap_add=["SYS_PTRACE"])
        run("cap-net-admin", cap_add=["NET_ADMIN"])
        run("cap-sys-module", cap_add=["SYS_MODULE"])
        run("cap-dac-read-search", cap_add=["DAC_READ_SEARCH"])
        run("mount-etc-rw", volumes={"/etc": {"bind": "/host/etc", "mode": "rw"}})
        run("mount-root-rw", volumes={"/": {"bind": "/host", "mode": "rw"}})
        run("mount-dev-rw", volumes={"/dev": {"bind": "/host/dev", "mode": "rw"}})
        run("mount-usr-ro", volumes={"/usr": {"bind": "/host/usr", "mode": "ro"}})
        run("docker-sock", volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "rw"}})
        run("ports-all-ipv4", ports={"80/tcp": ("0.0.0.0", 8081)})
        run("ports-all-ipv6", ports={"80/tcp": ("::", 8082)})
        run("ports-privileged", ports={"8443/tcp": ("0.0.0.0", 443)})
        run("ports-random-all", publish_all_ports=True, command=["sleep", "86400"],
            healthcheck={"test": ["NONE"]})
        run("restart-always", restart_policy={"Name": "always"})
        run("restart-unless-stopped", restart_policy={"Name": "unless-stopped"})
        run("restart-on-failure-10", restart_policy={"Name": "on-failure", "MaximumRetryCount": 10})
        run("seccomp-unconfined", security_opt=["seccomp=unconfined"])
        run("apparmor-unconfined", security_opt=["apparmor=unconfined"])
        subprocess.run(["mount", "--bind", str(shared_dir), str(shared_dir)], check=True)
        subprocess.run(["mount", "--make-shared", str(shared_dir)], check=True)
        run("propagation-shared", volumes={str(shared_dir): {"bind": "/mnt/shared", "mode": "rw,rshared"}})
        run("device-zero", devices=["/dev/zero:/dev/hostzero:rwm"])
        run("ulimit-nofile-override", ulimits=[{"Name": "nofile", "Soft": 16384, "Hard": 16384},
                                               {"Name": "nproc", "Soft": 65535, "Hard": 65535}])
        run("cgroup-parent-custom", cgroup_parent="/hullcheck-custom")
        run("pids-unlimited", pids_limit=-1)
        run("logging-none", log_config={"type": "none", "config": {}})
        run("env-secret", environment={"API_TOKEN": "fixture-secret-value", "DB_PASSWORD": "also-secret"})
        run("sysctl-ip-forward", sysctls={"net.ipv4.ip_forward": "1"})
        run("shm-huge", shm_size="2g")
        run("stopped-sys-admin", command=["true"], cap_add=["SYS_ADMIN"], wait=True)
        daemon_log.append("NOT RECORDED privileged, cap-add ALL: such containers cannot start on this machine")

    def cleanup() -> None:
        subprocess.run(["umount", str(shared_dir)], capture_output=True, check=False)
        subprocess.run(["rmdir", str(shared_dir)], capture_output=True, check=False)

    daemon.cleanup = cleanup  # type: ignore[attr-defined]
    return daemon, populate


RECIPES = {"hardened": hardened, "defaults": defaults, "many-misconfigured": many_misconfigured}


def record(name: str) -> list[str]:
    log: list[str] = []
    daemon, populate = RECIPES[name](log)
    with daemon:
        client = daemon.client()
        try:
            populate(client)
            snapshot = collect(CollectOptions(docker_host=daemon.url))
        finally:
            client.close()
            daemon.remove_containers()  # before the shared mount they use is undone
            getattr(daemon, "cleanup", lambda: None)()
    write_atomic(OUT / f"{name}.json", dumps(snapshot))
    log.append(f"wrote {OUT / (name + '.json')}: {len(snapshot['containers'])} containers, "
               f"{len(snapshot['meta']['errors'])} errors")
    return log


def record_engine(name: str) -> list[str]:
    """The other engines (tests/engines_support.py), each in a network namespace of its own."""
    from engines_support import NetNS, PodmanService, RootlessDockerd, RootlessPodman, image_context, podman_workload

    with NetNS() as netns:
        if name == "podman":
            engine: Any = PodmanService(netns)
            with engine:
                podman_workload(engine, engine.dir / "images")
                # Podman 4.3 reports IpcMode "shareable" for it; the recorded kernel fact says host.
                engine.podman("run", "-d", "--network", "none", "--ipc", "host", "--name", "ipc-host",
                              "localhost/hce-plain:1")
                snapshot = collect(CollectOptions(docker_host=engine.url))
        elif name == "rootless-podman":
            engine = RootlessPodman(netns, '[containers]\ndefault_ulimits = ["nofile=1024:2048"]\n')
            with engine:
                engine.build(image_context(engine.dir / "ctx", healthcheck=False), "localhost/hce-rl:1")
                engine.podman("run", "-d", "--network", "none", "--name", "limited", "--pids-limit", "100",
                              "localhost/hce-rl:1")
                snapshot = collect(CollectOptions(docker_host=engine.url))
        else:
            engine = RootlessDockerd(netns, {"bridge": "none", "iptables": False, "log-level": "info",
                                             "no-new-privileges": True})
            with engine:
                client = engine.client()
                try:
                    build_busybox(client, "hce-rootless/busybox:1")
                    client.containers.run("hce-rootless/busybox:1", ["sleep", "3600"], name="limited", detach=True,
                                          network_mode="none", mem_limit="64m", pids_limit=100, cpu_shares=512,
                                          labels=LABEL)
                    # On cgroup v1 the engine's /top fails for it: its processes come from /proc (5.7).
                    image = client.images.build(path=str(image_context(engine.dir / "sshd", healthcheck=False, sshd=True)),
                                                tag="hce-rootless/sshd:1", rm=True, forcerm=True)[0]
                    client.containers.run(image.id, ["/usr/sbin/sshd"], name="with-sshd", detach=True,
                                          network_mode="none", labels=LABEL)
                    snapshot = collect(CollectOptions(docker_host=engine.url))
                finally:
                    client.close()
    write_atomic(OUT / f"{name}.json", dumps(snapshot))
    return [f"wrote {OUT / (name + '.json')}: {len(snapshot['containers'])} containers, "
            f"{len(snapshot['meta']['errors'])} errors"]


ENGINES = ("podman", "rootless-podman", "rootless-docker")


if __name__ == "__main__":
    for which in sys.argv[1:] or [*RECIPES, *ENGINES]:
        if which in ENGINES:
            print(f"== {which}")
            print("\n".join(record_engine(which)))
            continue
        print(f"== {which}")
        print("\n".join(record(which)))
