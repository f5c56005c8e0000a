"""Facts about the host itself: OS, kernel, cgroups, mounts, LSMs, the docker group, sockets."""

from __future__ import annotations

import os
import platform
from typing import Any

from .errors import ErrorLog
from .hostfs import HostFS, describe_oserror


def collect_host(fs: HostFS, errors: ErrorLog, docker_root_dir: str | None, *, redact_secrets: bool = True,
                 data_root: str | None = None, daemon_pid: int | None = None) -> dict[str, Any]:
    """The host section. Every file is read through `fs`, so --host-root applies to /proc too.
    `daemon_pid`: the engine's process, whose network namespace is the one whose sockets count."""
    mounts = read_mounts(fs, errors)
    listening, listening_source = listening_tcp(fs, errors, daemon_pid)
    return {
        "os_release": read_os_release(fs, errors),
        "kernel": read_kernel(fs, errors),
        "cgroup_version": cgroup_version(fs),
        "mounts": mounts,
        "docker_root": docker_root(fs, docker_root_dir, mounts, errors, data_root),
        "apparmor": apparmor(fs),
        "selinux": selinux(fs),
        "docker_group": docker_group(fs, errors),
        "listening_tcp": listening,
        "listening_tcp_source": listening_source,
        "listening": listening_sockets(fs, errors),
        "environment": {"DOCKER_CONTENT_TRUST": os.environ.get("DOCKER_CONTENT_TRUST")},
        "processes": processes_of_interest(fs, errors, redact_secrets),
    }


# Host processes a policy may ask about: the engine and its helpers, and remote-access daemons.
PROCESSES_OF_INTEREST = ("dockerd", "containerd", "containerd-shim", "containerd-shim-runc-v1", "containerd-shim-runc-v2",
                         "docker-proxy", "rootlesskit", "runc", "sshd", "dockerd-rootless.sh", "docker-init", "tini")


def processes_of_interest(fs: HostFS, errors: ErrorLog, redact_secrets: bool) -> list[dict[str, Any]] | None:
    """pid, ppid, uid, comm, exe and argv of the engine's processes (dockerd, containerd, shims,
    docker-proxy for published ports, rootlesskit) and sshd, matched by executable name or comm."""
    from .redact import redact_argv

    out = []
    seen_any = False
    for pid, exe, comm, argv in fs.processes():
        seen_any = True
        name = os.path.basename(exe.removesuffix(" (deleted)")) if exe else comm
        if name not in PROCESSES_OF_INTEREST and comm not in PROCESSES_OF_INTEREST:
            continue
        ppid = uid = None
        try:
            for line in fs.read_text(f"/proc/{pid}/status").splitlines():
                if line.startswith("PPid:"):
                    ppid = int(line.split()[1])
                elif line.startswith("Uid:"):
                    uid = int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
        out.append({"pid": pid, "ppid": ppid, "uid": uid, "comm": comm, "exe": exe,
                    "argv": redact_argv(argv) if redact_secrets else argv})
    if not seen_any:
        errors.add("/host/processes", "no process visible in /proc (not mounted below the host root?)")
        return None
    return sorted(out, key=lambda p: p["pid"])


def read_os_release(fs: HostFS, errors: ErrorLog) -> dict[str, str] | None:
    failed = False
    for path in ("/etc/os-release", "/usr/lib/os-release"):
        try:
            text = fs.read_text(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        except OSError as exc:
            errors.add("/host/os_release", f"{path}: {describe_oserror(exc)}")
            failed = True
            continue
        out = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep and key.strip() and not key.startswith("#"):
                out[key.strip()] = value.strip().strip('"').strip("'")
        return out
    if not failed:
        errors.add("/host/os_release", "neither /etc/os-release nor /usr/lib/os-release exists")
    return None


def read_kernel(fs: HostFS, errors: ErrorLog) -> dict[str, Any] | None:
    """The running kernel from the host's /proc (a container shares it, so uname is the fallback
    only when the collector reads the host it runs on)."""
    release = fs.read_or_record("/proc/sys/kernel/osrelease", errors, "/host/kernel")
    version = fs.read_or_record("/proc/sys/kernel/version", errors, "/host/kernel")
    if release is None and fs.root != "/":
        errors.add("/host/kernel", "no /proc/sys/kernel/osrelease below the host root")
        return None
    return {
        "release": (release or platform.release()).strip(),
        "version": (version or platform.version()).strip(),
        "machine": platform.machine(),
    }


def cgroup_version(fs: HostFS) -> int | None:
    if fs.exists("/sys/fs/cgroup/cgroup.controllers"):
        return 2
    if fs.exists("/sys/fs/cgroup"):
        return 1
    return None


def read_mounts(fs: HostFS, errors: ErrorLog) -> list[dict[str, Any]] | None:
    """The host's mount table from mountinfo (pid 1's view), with device ids."""
    text = fs.read_or_record("/proc/1/mountinfo", errors, "/host/mounts")
    if text is None:
        errors.add("/host/mounts", "could not read /proc/1/mountinfo")
        return None
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        fields = left.split()
        tail = right.split()
        if not sep or len(fields) < 6 or len(tail) < 2:
            continue
        mounts.append({
            "mount_id": int(fields[0]),
            "parent_id": int(fields[1]),
            "device": fields[2],
            "root": _unescape(fields[3]),
            "mount_point": _unescape(fields[4]),
            "options": fields[5],
            "fstype": tail[0],
            "source": _unescape(tail[1]),
            "super_options": tail[2] if len(tail) > 2 else "",
        })
    return mounts


def _unescape(text: str) -> str:
    """mountinfo escapes space, tab, newline and backslash as octal."""
    return text.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def _dev(st: os.stat_result) -> str:
    return f"{os.major(st.st_dev)}:{os.minor(st.st_dev)}"


def docker_root(fs: HostFS, path: str | None, mounts: list[dict[str, Any]] | None, errors: ErrorLog,
                data_root: str | None = None) -> dict[str, Any] | None:
    """Is Docker's root dir on its own filesystem? Compare device ids, not mount points:
    a bind mount of the root filesystem is a mount point but no partition. With userns-remap the
    engine's root is a subdirectory (/var/lib/docker/100000.100000) of the daemon's data-root: the
    data-root is the directory that must be the partition (docker-bench-security #332, #394)."""
    if not path:
        errors.add("/host/docker_root", "DockerRootDir unknown: /info could not be read")
        return None
    out: dict[str, Any] = {"path": path, "exists": False, "device": None, "parent_device": None,
                           "separate_filesystem": None, "mount_point": None}
    try:
        st = fs.stat(path)
    except FileNotFoundError:
        return out
    except OSError as exc:
        errors.add("/host/docker_root", f"{path}: {exc.strerror or exc}")
        return None
    out["exists"] = True
    out["device"] = _dev(st)
    checked = path
    if data_root and data_root != path and path.startswith(data_root.rstrip("/") + "/"):
        try:
            if _dev(fs.stat(data_root)) == out["device"]:
                checked = data_root
        except OSError:
            pass
    out["checked_path"] = checked
    parent = os.path.dirname(checked.rstrip("/")) or "/"
    try:
        out["parent_device"] = _dev(fs.stat(parent))
    except OSError as exc:
        errors.add("/host/docker_root", f"{parent}: {exc.strerror or exc}")
        return None
    out["separate_filesystem"] = out["device"] != out["parent_device"]
    if mounts:
        candidates = [m["mount_point"] for m in mounts
                      if path == m["mount_point"] or path.startswith(m["mount_point"].rstrip("/") + "/")]
        out["mount_point"] = max(candidates, key=len) if candidates else None
    return out


def apparmor(fs: HostFS) -> dict[str, Any]:
    flag = (fs.read_text_or_none("/sys/module/apparmor/parameters/enabled") or "").strip()
    return {"enabled": flag == "Y"}


def selinux(fs: HostFS) -> dict[str, Any]:
    enforce = fs.read_text_or_none("/sys/fs/selinux/enforce")
    if enforce is None:
        return {"enabled": False, "mode": None}
    return {"enabled": True, "mode": "enforcing" if enforce.strip() == "1" else "permissive"}


def docker_group(fs: HostFS, errors: ErrorLog) -> dict[str, Any] | None:
    try:
        text = fs.read_text("/etc/group")
    except OSError as exc:
        errors.add("/host/docker_group", f"/etc/group: {describe_oserror(exc)}")
        return None
    for line in text.splitlines():
        parts = line.split(":")
        if len(parts) >= 4 and parts[0] == "docker":
            members = [m for m in parts[3].split(",") if m]
            # Users whose primary group is docker are members too.
            gid = int(parts[2]) if parts[2].isdigit() else None
            for user, ugid in _passwd_primary_groups(fs):
                if gid is not None and ugid == gid and user not in members:
                    members.append(user)
            return {"exists": True, "gid": gid, "members": sorted(members)}
    return {"exists": False, "gid": None, "members": []}


def _passwd_primary_groups(fs: HostFS) -> list[tuple[str, int]]:
    out = []
    for line in (fs.read_text_or_none("/etc/passwd") or "").splitlines():
        parts = line.split(":")
        if len(parts) >= 4 and parts[3].isdigit():
            out.append((parts[0], int(parts[3])))
    return out


def listening_tcp(fs: HostFS, errors: ErrorLog, daemon_pid: int | None = None
                  ) -> tuple[list[dict[str, Any]] | None, dict[str, Any] | None]:
    """Listening TCP sockets as the daemon sees them: from /proc/<daemon pid>/net/tcp{,6}, the
    daemon's network namespace (a hardened dockerd may run in one of its own, and swarm then
    listens there, not in the host's); /proc/1's when the daemon process is unknown. Also
    returns where they were read and whether that namespace is pid 1's."""
    pid = daemon_pid or 1
    netns, host_netns = _netns(fs, pid), _netns(fs, 1)
    source = {"pid": pid, "path": f"/proc/{pid}/net/tcp", "netns": netns,
              "host_netns": netns == host_netns if netns and host_netns else None}
    out: list[dict[str, Any]] = []
    read_any = False
    for name, family in (("tcp", "ipv4"), ("tcp6", "ipv6")):
        text = fs.read_text_or_none(f"/proc/{pid}/net/{name}")
        if text is None:
            continue
        read_any = True
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 4 or fields[3] != "0A":  # 0A = LISTEN
                continue
            addr_hex, port_hex = fields[1].split(":")
            out.append({"address": _decode_addr(addr_hex, family), "port": int(port_hex, 16), "family": family})
    if not read_any:
        errors.add("/host/listening_tcp", f"could not read /proc/{pid}/net/tcp")
        return None, source
    return sorted(out, key=lambda s: (s["family"], s["address"], s["port"])), source


def _netns(fs: HostFS, pid: int) -> str | None:
    """net:[4026531840] for a process, or None when its namespace link is unreadable."""
    try:
        return fs.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return None


def _decode_addr(hex_addr: str, family: str) -> str:
    import ipaddress

    raw = bytes.fromhex(hex_addr)
    if family == "ipv4":
        return str(ipaddress.IPv4Address(raw[::-1]))
    # /proc stores IPv6 as four little-endian 32-bit words.
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    return str(ipaddress.IPv6Address(words))


def listening_sockets(fs: HostFS, errors: ErrorLog) -> dict[str, Any] | None:
    """Every listening socket of the host's network namespace (pid 1's), TCP and UDP, with the
    processes that hold each (what `ss -lntup` shows), for the person judging CIS 1.2.1."""
    sockets: list[dict[str, Any]] = []
    read_any = False
    for name, protocol, family in (("tcp", "tcp", "ipv4"), ("tcp6", "tcp", "ipv6"), ("udp", "udp", "ipv4"),
                                   ("udp6", "udp", "ipv6")):
        text = fs.read_text_or_none(f"/proc/1/net/{name}")
        if text is None:
            continue
        read_any = True
        for line in text.splitlines()[1:]:
            fields = line.split()
            # TCP 0A = LISTEN; UDP 07 = unconnected (bound, receiving from anyone)
            if len(fields) < 10 or fields[3] != ("0A" if protocol == "tcp" else "07"):
                continue
            addr_hex, port_hex = fields[1].split(":")
            sockets.append({"protocol": protocol, "family": family, "address": _decode_addr(addr_hex, family),
                            "port": int(port_hex, 16), "inode": int(fields[9]) if fields[9].isdigit() else 0})
    if not read_any:
        errors.add("/host/listening", "could not read /proc/1/net/tcp")
        return None
    owners, complete = _socket_owners(fs, {s["inode"] for s in sockets if s["inode"]})
    for sock in sockets:
        found = owners.get(sock["inode"])
        sock["processes"] = found or ([] if complete else None)
    sockets.sort(key=lambda s: (s["protocol"], s["family"], s["address"], s["port"], s["inode"]))
    return {"netns": _netns(fs, 1), "owners_read": complete, "sockets": sockets}


def _socket_owners(fs: HostFS, inodes: set[int]) -> tuple[dict[int, list[dict[str, Any]]], bool]:
    """inode -> the processes holding it, from every process's /proc/<pid>/fd links (as ss -p
    does); False when some process's descriptors could not be read."""
    owners: dict[int, list[dict[str, Any]]] = {}
    complete = True
    if not inodes:
        return owners, complete
    for pid, exe, comm, _argv in fs.processes():
        try:
            entries = os.scandir(fs.real(f"/proc/{pid}/fd"))
        except FileNotFoundError:
            continue
        except OSError:
            complete = False
            continue
        with entries:
            for entry in entries:
                try:
                    target = os.readlink(entry.path)
                except OSError:
                    continue
                if target.startswith("socket:[") and int(target[8:-1]) in inodes:
                    holders = owners.setdefault(int(target[8:-1]), [])
                    if not any(h["pid"] == pid for h in holders):
                        holders.append({"pid": pid, "comm": comm, "exe": exe})
    return owners, complete
