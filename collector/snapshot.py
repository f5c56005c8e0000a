"""Assembling one snapshot from the engine and the host and validating it (hullcheck_common.atomic writes it)."""

from __future__ import annotations

import os
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from hullcheck_common import __version__
from hullcheck_common.vocabulary import utc_timestamp

from .auditd import collect_audit
from .daemon import collect_daemon
from .engine_api import DEFAULT_CONCURRENCY, collect_engine, connect, endpoint_url, read_version
from .errors import ErrorLog
from .files import collect_files, paths_to_stat
from .host import collect_host
from .hostfs import HostFS
from .identity import PODMAN, identify
from .output import SCHEMA_VERSION, dumps, validate  # noqa: F401 - re-exported: collector.snapshot keeps its names
from .packages import collect_packages
from .podman import collect_podman
from .proctop import ProcTop


@dataclass
class CollectOptions:
    """How to collect. Defaults audit the local engine and the host the collector runs on."""

    docker_host: str | None = None          # None: DOCKER_HOST or the local socket
    tls: Any = None                         # a docker.tls.TLSConfig for tcp:// engines
    host_root: str | None = None            # read host files below this directory
    redact: bool = True
    label_filter: list[str] = field(default_factory=list)
    concurrency: int = DEFAULT_CONCURRENCY
    progress: Callable[[str], None] | None = None
    # Called between each list call and its inspects with (kind, ids); for tests of races.
    after_list: Callable[[str, list[str]], None] | None = None
    # Running containers' process lists always from the engine's /top; by default a Docker engine
    # on this host has its containers' tables read from /proc the way its /top makes them (proctop.py).
    processes_from_engine: bool = False
    # False: the engine's and the host's facts only, containers and images left out (null): what
    # the guard and watch hold beside the one container they judge (collector/live.py).
    objects: bool = True




def is_remote(endpoint: str) -> bool:
    """A unix socket or a named pipe is this host's engine. A tcp:// or ssh:// engine counts as
    remote, loopback included (it may be another namespace's, or a tunnel's, daemon): this host's
    files are then not read unless --host-root says where they are (pass --host-root / to audit a
    local engine reached over TCP). Fail closed: host policies say error, never describe the
    wrong daemon."""
    if endpoint.startswith(("ssh://", "http+docker://ssh")):
        return True
    return not endpoint.startswith(("unix://", "npipe://", "http+docker://"))


# A container id in this process's cgroup path: docker-<id>.scope, docker/<id>, libpod-<id>.scope.
_CGROUP_ID = re.compile(r"(?:docker|libpod)[-/]([0-9a-f]{64})(?:\.scope)?(?:/|$)")
# The files every runtime bind-mounts into its containers from its per-container directory.
_CONTAINER_FILES = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/run/.containerenv")


def own_container_id(proc: str = "/proc/self") -> str | None:
    """The collector's own container id, so policies can leave it out. This is about the
    collector's process, not the host, so it reads this process's /proc/self (not --host-root):
    its cgroup path (docker/<id>, docker-<id>.scope, libpod-<id>.scope) and, under cgroup v2
    where the path is just `/`, the runtime's bind mounts of ITS /etc/hostname, /etc/hosts or
    resolv.conf from .../containers/<id>/. Any other mount that names a container directory
    (the host's mountinfo shows every container's /containers/<id>/mounts/secrets) is another
    container's, not ours."""
    try:
        for line in Path(f"{proc}/cgroup").read_text(errors="replace").splitlines():
            match = _CGROUP_ID.search(line.split(":", 2)[-1])
            if match:
                return match.group(1)
    except OSError:
        pass
    try:
        mountinfo = Path(f"{proc}/mountinfo").read_text(errors="replace")
    except OSError:
        return None
    for line in mountinfo.splitlines():
        fields = line.split(" - ", 1)[0].split()
        if len(fields) < 5 or fields[4] not in _CONTAINER_FILES:
            continue
        match = re.search(r"/containers/(?:overlay-containers/)?([0-9a-f]{64})(?:/userdata)?/[^/]+$", fields[3])
        if match:
            return match.group(1)
    return None


def _rootless(engine_rootless: bool | None, daemon: dict[str, Any]) -> bool | None:
    """Rootless engines say so in /info (identity.py); without /info, the daemon's own
    --rootless flag or rootlesskit environment tells."""
    if engine_rootless is not None:
        return engine_rootless
    process = (daemon or {}).get("process")
    if process:
        return "--rootless" in process.get("argv", []) or "ROOTLESSKIT_STATE_DIR" in (process.get("environment") or {})
    return None


def _in_container() -> bool:
    """Docker's marker file, or another runtime's (podman, systemd-nspawn) in this process's view."""
    if os.path.exists("/.dockerenv") or os.path.exists("/run/.containerenv"):
        return True
    try:
        return bool(Path("/run/systemd/container").read_text().strip())
    except OSError:
        return False


def collect(options: CollectOptions) -> dict[str, Any]:
    """Read the engine (and the host, when local or given --host-root) into one snapshot dict."""
    say = options.progress or (lambda _msg: None)
    errors = ErrorLog()
    started = utc_timestamp("milliseconds")
    say("connecting to the Docker engine")
    client = connect(options.docker_host, options.tls, concurrency=options.concurrency)
    endpoint = endpoint_url(options.docker_host)
    remote = is_remote(endpoint)
    collect_host_sections = options.host_root is not None or not remote
    fs = HostFS(options.host_root or "/")

    def host_side(info: dict[str, Any] | None, libpod_info: dict[str, Any] | None) -> tuple[Any, ...]:
        """The daemon's configuration and the host's files, read while the engine answers the inspects."""
        info = info or {}
        identity = identify(version, info, headers)
        say("reading daemon configuration and host files")
        if kind == PODMAN:
            daemon = collect_podman(fs, errors, redact_secrets=options.redact, collect_host=collect_host_sections,
                                    endpoint=endpoint, info=info, rootless=identity["rootless"],
                                    libpod_info=libpod_info)
        else:
            daemon = collect_daemon(fs, errors, redact_secrets=options.redact, collect_host=collect_host_sections,
                                    endpoint=endpoint, info=info)
        if not collect_host_sections:
            reason = "host files not read: the engine is remote and no --host-root was given"
            for section in ("host", "files", "audit"):
                errors.add(f"/{section}", reason)
            return identity, daemon, None, None, None  # null in the snapshot: not read
        data_root = ((daemon.get("options") or {}).get("data-root") or {}).get("value")
        daemon_pid = (daemon.get("process") or {}).get("pid")
        host = collect_host(fs, errors, info.get("DockerRootDir"), redact_secrets=options.redact,
                            data_root=data_root if isinstance(data_root, str) else None,
                            daemon_pid=daemon_pid if isinstance(daemon_pid, int) else None)
        host["packages"] = collect_packages(fs, errors, daemon, host.get("processes"), info, libpod_info)
        files = collect_files(fs, errors, paths_to_stat(fs, daemon, info.get("DockerRootDir"), info, host.get("processes"),
                                                        libpod_info))
        audit = collect_audit(fs, errors, run_auditctl=options.host_root in (None, "/"))
        return identity, daemon, host, files, audit

    try:
        say("reading engine objects")
        version, headers = read_version(client, errors)
        kind = identify(version, None, headers)["kind"]
        # On the engine's host the kernel is asked too: namespaces for every engine, process
        # tables for Docker's (Podman's /top starts nothing) unless told to ask the engine.
        proc_top = ProcTop(fs, tables=not options.processes_from_engine and kind != PODMAN) \
            if collect_host_sections else None
        engine, (identity, daemon, host, files, audit) = collect_engine(
            client, errors, redact_secrets=options.redact, label_filter=options.label_filter,
            concurrency=options.concurrency, after_list=options.after_list, version=version, kind=kind,
            meanwhile=host_side, proc_top=proc_top, objects=options.objects)
    finally:
        client.close()
    info = engine["engine"]["info"] or {}
    container_id = own_container_id()
    in_container = container_id is not None or _in_container()
    snapshot = {
        "schema_version": SCHEMA_VERSION,
        "meta": {
            "hullcheck_version": __version__,
            "started_at": started,
            "finished_at": utc_timestamp("milliseconds"),
            "hostname": info.get("Name") or socket.gethostname(),
            "engine_endpoint": endpoint,
            "engine": identity,
            "collector": {
                "uid": os.getuid(),
                "in_container": in_container,
                "container_id": container_id,
                "rootless": _rootless(identity["rootless"], daemon),
                "remote": remote,
                "host_root": (options.host_root or "/") if collect_host_sections else None,
                "redacted": options.redact,
                "label_filter": list(options.label_filter),
            },
            "errors": errors.as_list(),
        },
        **engine,
        "daemon": daemon,
        "host": host,
        "files": files,
        "audit": audit,
    }
    validate(snapshot)
    return snapshot




