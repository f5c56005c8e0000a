"""Owners and modes of every path the benchmark names, read with lstat (never followed blindly).

Modes are recorded as octal strings of the permission bits, so policies compare bits
(no bit outside an allowed mask), not numbers: docker-bench-security's `stat -c %a` compared as
decimal integers passes 622 against 644 and fails 700.
"""

from __future__ import annotations

import os
import stat as statmod
from typing import Any

from .daemon import user_config_home
from .errors import ErrorLog, pointer
from .hostfs import HostFS, describe_oserror, file_type

FIXED_PATHS = (
    "/etc/docker",
    "/etc/docker/daemon.json",
    "/etc/docker/certs.d",
    "/etc/docker/key.json",
    "/etc/default/docker",
    "/etc/sysconfig/docker",
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd",
    "/run/containerd/containerd.sock",
    "/var/run/containerd/containerd.sock",
    "/etc/containerd",
    "/etc/containerd/config.toml",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/etc/audit/audit.rules",
    "/etc/audit/rules.d",
)
# The engine's binaries (CIS 1.1.x audit rules name them); each is recorded where it was found
# and at its resolved real path, since distributions link them differently (#424).
BINARIES = ("dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v1", "containerd-shim-runc-v2", "runc",
            "docker-init", "docker-proxy", "ctr", "docker-runc")
BINARY_DIRS = ("/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/bin", "/sbin", "/usr/libexec/docker",
               "/usr/libexec/docker/cli-plugins")


def names_by_id(fs: HostFS, path: str) -> dict[int, str]:
    """Names by numeric id from the host's /etc/passwd or /etc/group (the first name of an id wins)."""
    out: dict[int, str] = {}
    for line in (fs.read_text_or_none(path) or "").splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            out.setdefault(int(parts[2]), parts[0])
    return out


def engine_paths(daemon: dict[str, Any], libpod_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """Where this engine (not another one on the same host) keeps what the benchmark names, when
    that is not where the system's dockerd keeps it: a rootless dockerd's configuration directory
    ($XDG_CONFIG_HOME/docker), registry certificate directories, containerd sockets, and the
    binaries a Podman service runs. The policies' prelude derives the same paths (10-host.jq)."""
    kind = daemon.get("kind") or "docker"
    process = daemon.get("process") or {}
    env = process.get("environment") or {}
    options = daemon.get("options") or {}
    rootless = bool(env.get("ROOTLESSKIT_STATE_DIR")) if kind == "docker" else bool((daemon.get("podman") or {}).get("rootless"))
    out: dict[str, Any] = {"rootless": rootless, "config_dirs": [], "certs_dirs": [], "sockets": [], "binaries": [],
                           "runtime": None}
    config_home = user_config_home(env) if env.get("XDG_CONFIG_HOME") or env.get("HOME") else None
    if kind == "podman":
        out["certs_dirs"] = ["/etc/containers/certs.d", "/etc/docker/certs.d"]
        if rootless and config_home:
            out["certs_dirs"].insert(0, f"{config_home}/containers/certs.d")
            out["config_dirs"].append(f"{config_home}/containers")
        out["binaries"] = ["podman", "conmon", "crun", "runc"]
        runtime = (((libpod_info or {}).get("host") or {}).get("ociRuntime") or {}).get("path")
        out["runtime"] = runtime if isinstance(runtime, str) else None
    elif rootless:
        if config_home:
            out["config_dirs"].append(f"{config_home}/docker")
            out["certs_dirs"].append(f"{config_home}/docker/certs.d")
        runtime_dir = env.get("XDG_RUNTIME_DIR")
        if runtime_dir:
            out["sockets"].append(f"{runtime_dir}/containerd/containerd.sock")
        exec_root = (options.get("exec-root") or {}).get("value")
        if isinstance(exec_root, str):
            out["sockets"] += [f"{exec_root}/containerd", f"{exec_root}/containerd/containerd.sock"]
    return out


def paths_to_stat(fs: HostFS, daemon: dict[str, Any], data_root: str | None, info: dict[str, Any] | None = None,
                  processes: list[dict[str, Any]] | None = None,
                  libpod_info: dict[str, Any] | None = None) -> dict[str, list[str]]:
    """Every path worth a stat, with why: fixed CIS paths, unit files, TLS files, certs, binaries,
    and where this engine keeps them when it is not the system's dockerd (engine_paths)."""
    why: dict[str, list[str]] = {}

    def add(path: str | None, reason: str) -> None:
        if path and isinstance(path, str) and path.startswith("/"):
            why.setdefault(path, [])
            if reason not in why[path]:
                why[path].append(reason)

    for path in FIXED_PATHS:
        add(path, "named by the CIS Docker Benchmark")
    for path in ("/bin", "/sbin", "/lib"):
        add(path, "merged /usr (a link to /usr/...)")
    add(data_root, "Docker root directory (DockerRootDir)")
    config_file = daemon.get("config_file") or {}
    add(config_file.get("path"), "daemon config file in force")
    for unit in (daemon.get("units") or {}).values():
        add(unit.get("fragment_path"), "systemd unit")
        if unit.get("fragment_path") and unit.get("realpath") not in (None, "/dev/null") and _is_link(fs, unit["fragment_path"]):
            add(unit["realpath"], "systemd unit (resolved)")
        for dropin in unit.get("dropins") or []:
            add(dropin.get("path"), "systemd drop-in")
    options = daemon.get("options") or {}
    for key in ("tlscacert", "tlscert", "tlskey"):
        add((options.get(key) or {}).get("value"), f"daemon {key}")
    for host in (options.get("hosts") or {}).get("value") or []:
        if isinstance(host, str) and host.startswith("unix://"):
            add(host[len("unix://"):], "daemon socket (-H)")
    own = engine_paths(daemon, libpod_info)
    process_env = (daemon.get("process") or {}).get("environment") or {}
    for certs in dict.fromkeys(["/etc/docker/certs.d", *own["certs_dirs"]]):
        add(certs, "registry certificate directory")
        for path in fs.walk_files(certs, include_dirs=True):
            add(path, "registry certificate (certs.d)")
    socket_unit = "podman.socket" if daemon.get("kind") == "podman" else "docker.socket"
    runtime_dir = (process_env.get("XDG_RUNTIME_DIR") or "/run") if own["rootless"] else "/run"
    for host in (options.get("hosts") or {}).get("value") or []:
        if isinstance(host, str) and host.startswith("fd://"):
            for stream in _socket_streams(daemon, socket_unit, runtime_dir):
                add(stream, f"daemon socket (systemd {socket_unit})")
    for path in fs.walk_files("/etc/docker", include_dirs=True):
        add(path, "below /etc/docker")
    for config_dir in own["config_dirs"]:
        add(config_dir, "the engine's configuration directory")
        for path in fs.walk_files(config_dir, include_dirs=True):
            add(path, f"below {config_dir}")
    for path in own["sockets"]:
        add(path, "the engine's containerd")
    if daemon.get("kind") == "podman":
        add("/etc/containers", "Podman's configuration directory")
        for path in fs.walk_files("/etc/containers", include_dirs=True):
            add(path, "below /etc/containers")
        for name, records in ((daemon.get("podman") or {}).get("files") or {}).items():
            for record in records:
                add(record.get("path"), f"Podman {name} ({record.get('chosen_by')})")
    process = daemon.get("process") or {}
    exe = process.get("exe")
    if exe:
        add(exe.removesuffix(" (deleted)"), f"running {'podman' if daemon.get('kind') == 'podman' else 'dockerd'} executable")
    containerd_opt = (options.get("containerd") or {}).get("value")
    if isinstance(containerd_opt, str):
        add(containerd_opt.removeprefix("unix://"), "containerd socket (--containerd)")
    for proc in processes or []:
        name = os.path.basename(str(proc.get("exe") or proc.get("comm") or "")).removesuffix(" (deleted)")
        if proc.get("exe") and name in BINARIES:
            add(str(proc["exe"]).removesuffix(" (deleted)"), f"running {name} executable")
        if name == "containerd":
            argv = proc.get("argv") or []
            for flag in ("--config", "-c", "--address", "-a"):
                if flag in argv[:-1]:
                    add(argv[argv.index(flag) + 1], f"containerd {flag} (running process)")
    for runtime in ((info or {}).get("Runtimes") or {}).values():
        runtime_path = runtime.get("path") if isinstance(runtime, dict) else None
        if isinstance(runtime_path, str):
            _add_binary(fs, add, runtime_path, "runtime named by the engine (info.Runtimes)")
    if own["runtime"]:
        _add_binary(fs, add, own["runtime"], "the engine's OCI runtime (libpod info)")
    for name in dict.fromkeys([*BINARIES, *own["binaries"]]):
        for d in BINARY_DIRS:
            _add_binary(fs, add, f"{d}/{name}", f"{name} binary")
    return why


def _add_binary(fs: HostFS, add: Any, path: str, reason: str) -> None:
    """A file by its resolved real path, plus the name itself when that name is a link (with its
    directories resolved): /bin/runc on a merged-/usr system is /usr/bin/runc, not another file."""
    if not path.startswith("/"):
        for d in BINARY_DIRS:
            if fs.exists(f"{d}/{path}"):
                path = f"{d}/{path}"
                break
        else:
            return
    if not fs.exists(path):
        return
    try:
        real = fs.realpath(path)
        parent_real = fs.realpath(os.path.dirname(path))
    except OSError:
        add(path, reason)
        return
    name = os.path.join(parent_real, os.path.basename(path))
    if name != real:
        add(name, reason)  # the name itself is a link: its own entry has type symlink and target
    add(real, reason if name == real else f"{reason} (resolved)")


def _is_link(fs: HostFS, path: str) -> bool:
    try:
        return statmod.S_ISLNK(fs.lstat(path).st_mode)
    except OSError:
        return False


def _socket_streams(daemon: dict[str, Any], name: str = "docker.socket", runtime_dir: str = "/run") -> list[str]:
    """The unit's ListenStream= paths; %t (podman.socket's) is the manager's runtime directory."""
    unit = ((daemon.get("units") or {}).get(name) or {})
    streams = []
    for text in [unit.get("contents") or ""] + [d.get("contents") or "" for d in unit.get("dropins") or []]:
        for line in text.splitlines():
            key, _, value = line.strip().partition("=")
            value = value.strip()
            if value.startswith("%t/"):
                value = runtime_dir.rstrip("/") + value[2:]
            if key.strip() == "ListenStream" and value.startswith("/"):
                streams.append(value)
    return streams


def collect_files(fs: HostFS, errors: ErrorLog, paths: dict[str, list[str]]) -> dict[str, Any]:
    users = names_by_id(fs, "/etc/passwd")
    groups = names_by_id(fs, "/etc/group")
    out: dict[str, Any] = {}
    for path in sorted(paths):
        entry = stat_path(fs, path, users, groups, errors)
        if entry is not None:
            entry["why"] = paths[path]
            out[path] = entry
    return out


def stat_path(fs: HostFS, path: str, users: dict[int, str], groups: dict[int, str], errors: ErrorLog) -> dict[str, Any] | None:
    try:
        st = fs.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return {"exists": False}
    except OSError as exc:
        errors.add(pointer("files", path), f"{path}: {describe_oserror(exc)}")
        return None
    entry: dict[str, Any] = {
        "exists": True,
        "type": file_type(st.st_mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
        "owner": users.get(st.st_uid),
        "group": groups.get(st.st_gid),
        "mode": "0" + format(statmod.S_IMODE(st.st_mode), "03o"),  # 0644, 01777, 04755
        "target": None,
        "realpath": None,
    }
    if entry["type"] == "symlink":
        try:
            entry["target"] = fs.readlink(path)
            entry["realpath"] = fs.realpath(path)
        except OSError as exc:
            errors.add(pointer("files", path, "target"), f"{path}: {exc.strerror or exc}")
    return entry
