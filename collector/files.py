"""Owners and modes of every path the benchmark names, read with lstat (never followed blindly).

Modes are recorded as octal strings of the permission bits, so policies compare bits
(no bit outside an allowed mask), not numbers: docker-bench-security's `stat -c %a` compared as
decimal integers passes 622 against 644 and fails 700.
"""

from __future__ import annotations

import stat as statmod
from typing import Any, Iterable

from .errors import ErrorLog, pointer
from .hostfs import HostFS, file_type

FIXED_PATHS = (
    "/etc/docker",
    "/etc/docker/daemon.json",
    "/etc/docker/certs.d",
    "/etc/default/docker",
    "/etc/sysconfig/docker",
    "/var/run/docker.sock",
    "/run/docker.sock",
    "/run/containerd",
    "/run/containerd/containerd.sock",
    "/etc/containerd/config.toml",
    "/var/lib/docker",
    "/etc/audit/audit.rules",
    "/etc/audit/rules.d",
)
BINARIES = ("dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v1", "containerd-shim-runc-v2", "runc", "docker-init", "docker-proxy")
BINARY_DIRS = ("/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin", "/bin", "/sbin", "/usr/libexec/docker")


def _names(fs: HostFS, path: str) -> dict[int, str]:
    out = {}
    for line in (fs.read_text_or_none(path) or "").splitlines():
        parts = line.split(":")
        if len(parts) >= 3 and parts[2].isdigit():
            out.setdefault(int(parts[2]), parts[0])
    return out


def paths_to_stat(fs: HostFS, daemon: dict[str, Any], data_root: str | None) -> dict[str, list[str]]:
    """Every path worth a stat, with why: fixed CIS paths, unit files, TLS files, certs, binaries."""
    why: dict[str, list[str]] = {}

    def add(path: str | None, reason: str) -> None:
        if path and isinstance(path, str) and path.startswith("/"):
            why.setdefault(path, [])
            if reason not in why[path]:
                why[path].append(reason)

    for path in FIXED_PATHS:
        add(path, "named by the CIS Docker Benchmark")
    add(data_root, "Docker root directory (DockerRootDir)")
    config_file = daemon.get("config_file") or {}
    add(config_file.get("path"), "daemon config file in force")
    for unit in (daemon.get("units") or {}).values():
        add(unit.get("fragment_path"), "systemd unit")
        for dropin in unit.get("dropins") or []:
            add(dropin.get("path"), "systemd drop-in")
    options = daemon.get("options") or {}
    for key in ("tlscacert", "tlscert", "tlskey"):
        add((options.get(key) or {}).get("value"), f"daemon {key}")
    for host in (options.get("hosts") or {}).get("value") or []:
        if isinstance(host, str) and host.startswith("unix://"):
            add(host[len("unix://"):], "daemon socket (-H)")
    for path in fs.walk_files("/etc/docker/certs.d"):
        add(path, "registry certificate (certs.d)")
    process = daemon.get("process") or {}
    exe = process.get("exe")
    if exe:
        add(exe.removesuffix(" (deleted)"), "running dockerd executable")
    for name in BINARIES:
        for d in BINARY_DIRS:
            candidate = f"{d}/{name}"
            if fs.exists(candidate):
                add(candidate, f"{name} binary")
                try:
                    add(fs.realpath(candidate), f"{name} binary (resolved)")
                except OSError:
                    pass
    return why


def collect_files(fs: HostFS, errors: ErrorLog, paths: dict[str, list[str]]) -> dict[str, Any]:
    users = _names(fs, "/etc/passwd")
    groups = _names(fs, "/etc/group")
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
    except FileNotFoundError:
        return {"exists": False}
    except OSError as exc:
        errors.add(pointer("files", path), f"{path}: {exc.strerror or exc}")
        return None
    entry: dict[str, Any] = {
        "exists": True,
        "type": file_type(st.st_mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
        "owner": users.get(st.st_uid),
        "group": groups.get(st.st_gid),
        "mode": format(statmod.S_IMODE(st.st_mode), "04o"),
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


def all_paths(items: Iterable[str]) -> list[str]:
    return sorted(set(items))
