"""What the kernel says about a running container, read from the host's /proc: its process list
(the way dockerd's /top makes it) and whether it shares the host's namespaces.

dockerd answers GET /containers/{id}/top by asking its runtime for the pids of the container's
cgroup (containerd's shim runs `runc ps`, which lists the cgroup's processes) and then running
the host's `ps -ef` and keeping the rows of those pids. Each answer starts two processes and costs
~22 ms of CPU: at 20 running containers, half of what an audit costs the machine. A collector on
the engine's own host can read the same facts from the same place without starting anything:
the cgroup of the container's init process (State.Pid), every process in that cgroup or below
it, and the /proc files `ps -ef` formats.

Nothing is read about a pid before it is shown to be this engine's container (verify()):
- "cgroup": the cgroup of State.Pid, as this collector sees it, names the container's full id
  (64 hex digits, random per container): rootful Docker and Podman, rootless on cgroup v2;
- "mounts": the container's /etc/hostname, /etc/hosts or /etc/resolv.conf, in the mount
  namespace of State.Pid, is bind-mounted from the engine's directory for this id
  (.../containers/<id>/, Podman's .../overlay-containers/<id>/userdata/): a rootless engine on
  cgroup v1 gives its containers no cgroup of their own, but every container gets these mounts.
  (A container on another's network, --network container:X, mounts X's files: it is not verified
  this way.)
A remote engine, another pid namespace (a rootless engine in one of its own), a pid that is gone
or reused fail both, and the caller asks the engine instead. The check and the namespace links
are read through one open /proc/PID directory, which stays bound to that process: if it exits
meanwhile, the reads fail rather than read a new process that got the same number.

Process lists: for a cgroup-verified container, the processes of its cgroup (what runc ps lists).
For a container verified by its mounts (rootless dockerd on cgroup v1, where the engine's /top
answers 500 because runc ps finds no cgroup), the processes in the pid namespace AND the mount
namespace of State.Pid, and their descendants. This is sound: the runtime creates that pid
namespace for the container's init (State.Pid must be pid 1 in it, so it is the container's own,
not the host's or another container's); every process the container starts is a descendant of
its init or, for `docker exec`, set by runc into the init's namespaces, the mount namespace
included; another container joined to this pid namespace (--pid container:X) has its own mount
namespace, and its processes descend from its own shim, so none of them is counted; a process
forked inside the container stays in it (it can leave neither namespace without privileges the
runtime withholds), which is why descendants are kept even after they unshare a namespace. Only
Docker's /top is replaced: Podman answers /top in-process (psgo) without starting anything.

Namespaces: /proc/<State.Pid>/ns/{ipc,pid,net,uts,user,cgroup} against the host's, which are
pid 1's as seen through the host root, or, when pid 1 cannot be read (a non-dumpable init),
kthreadd's (pid 2, a kernel thread, lives in the initial namespaces). Engines misreport: Podman 4.3
says IpcMode "shareable" for a container started with --ipc host; a container joined to another
that uses the host's network (--network container:X) is reported "container:X" and is on the
host's network all the same.
"""

from __future__ import annotations

import os
import re
import threading
import time
from typing import TYPE_CHECKING, Any

from .files import names_by_id

if TYPE_CHECKING:
    from .hostfs import HostFS

# `docker top` with no ps arguments is `ps -ef`; these are its columns.
TITLES = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]

_ID = re.compile(r"[0-9a-f]{64}")
# The namespaces compared with the host's, as /proc/PID/ns names them.
NAMESPACES = ("ipc", "pid", "net", "uts", "user", "cgroup")
# The files every runtime bind-mounts into a container from its per-container directory.
_RUNTIME_FILES = ("/etc/hostname", "/etc/hosts", "/etc/resolv.conf")


def cgroup_path(text: str) -> str | None:
    """The cgroup a process is in, as runc lists a container's pids: the hierarchy with the
    devices controller on cgroup v1 (runc ps reads that one), the unified one (0::) otherwise."""
    unified = None
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        if "devices" in parts[1].split(","):
            return parts[2]
        if parts[0] == "0" and parts[1] == "":
            unified = parts[2]
    return unified


def mounted_from_container_dir(mountinfo: str, container_id: str) -> bool:
    """Whether /etc/hostname, /etc/hosts or /etc/resolv.conf is bind-mounted from the engine's
    directory for this container id (dockerd: .../containers/<id>/<file>; Podman:
    .../overlay-containers/<id>/userdata/<file>). The mount's root is its path within the
    filesystem it comes from, which ends so wherever the engine's data lives."""
    for line in mountinfo.splitlines():
        fields = line.split(" - ", 1)[0].split()
        if len(fields) < 5 or fields[4] not in _RUNTIME_FILES:
            continue
        root = fields[3].replace("\\040", " ")
        base = root.rsplit("/", 1)[-1]
        if (root.endswith(f"/containers/{container_id}/{base}")
                or root.endswith(f"/overlay-containers/{container_id}/userdata/{base}")):
            return True
    return False


class _Proc:
    """One process's /proc directory, held open: every read goes to that process or fails."""

    def __init__(self, fs: HostFS, pid: int) -> None:
        self.fd = os.open(fs.real(f"/proc/{pid}"), os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))

    def text(self, name: str) -> str:
        fd = os.open(name, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0), dir_fd=self.fd)
        try:
            chunks: list[bytes] = []
            while True:
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    return b"".join(chunks).decode("utf-8", errors="replace")
                chunks.append(chunk)
        finally:
            os.close(fd)

    def link(self, name: str) -> str:
        return os.readlink(name, dir_fd=self.fd)

    def close(self) -> None:
        os.close(self.fd)


def _status_field(status: str, field: str) -> list[str]:
    for line in status.splitlines():
        if line.startswith(field + ":"):
            return line.split()[1:]
    return []


class ProcTop:
    """Process tables and namespaces of one engine's containers from the host's /proc, for one
    collection.

    The host's process table is scanned once (each process's cgroup), on the first container
    that asks; each container then reads only its own processes' stat, status and cmdline.
    `tables` False (Podman, --processes-from-engine): only namespaces are read."""

    def __init__(self, fs: HostFS, *, tables: bool = True) -> None:
        self.fs = fs
        self.tables = tables
        self._lock = threading.Lock()
        self._by_cgroup: dict[str, list[int]] | None = None
        self._by_ns: dict[tuple[str, str], list[int]] | None = None
        self._children: dict[int, list[int]] | None = None
        self._users: dict[int, str] | None = None
        self._host_ns: tuple[str, dict[str, str]] | str | None = None
        self._clock = os.sysconf("SC_CLK_TCK")
        self._boot: float | None = None

    # ---- is this pid this container's? --------------------------------------------------------

    def verify(self, container_id: str, init_pid: Any) -> str | None:
        """"cgroup" or "mounts" when the process State.Pid names is shown to be this
        container's (see the module's docstring), else None."""
        proc = self._open(container_id, init_pid)
        if proc is None:
            return None
        try:
            return self._verified(proc, container_id)
        finally:
            proc.close()

    def _open(self, container_id: str, init_pid: Any) -> _Proc | None:
        if not isinstance(init_pid, int) or isinstance(init_pid, bool) or init_pid <= 0 \
                or not _ID.fullmatch(container_id or ""):
            return None
        try:
            return _Proc(self.fs, init_pid)
        except OSError:
            return None

    def _verified(self, proc: _Proc, container_id: str) -> str | None:
        try:
            own = cgroup_path(proc.text("cgroup"))
        except OSError:
            return None
        if own and container_id in _ID.findall(own):
            return "cgroup"
        try:
            return "mounts" if mounted_from_container_dir(proc.text("mountinfo"), container_id) else None
        except OSError:
            return None

    # ---- namespaces ----------------------------------------------------------------------------

    def namespaces(self, container_id: str, init_pid: Any) -> dict[str, Any]:
        """{"process", "verified_by", "reference", <ns>: {"container", "host",
        "shared_with_host"}} for each namespace; verified_by null and "reason" when the kernel's
        view could not be had (policies then judge the engine's report)."""
        out: dict[str, Any] = {"process": init_pid if isinstance(init_pid, int) else None, "verified_by": None}
        host = self._host_namespaces()
        proc = self._open(container_id, init_pid)
        if proc is None:
            out["reason"] = "no process of this container is visible in the host's /proc"
            return out
        try:
            links: dict[str, str | None] = {}
            for ns in NAMESPACES:
                try:
                    links[ns] = proc.link(f"ns/{ns}")
                except OSError:
                    links[ns] = None
            verified = self._verified(proc, container_id)
        finally:
            proc.close()
        if verified is None:
            out["reason"] = f"pid {init_pid} could not be shown to be this container's (neither its cgroup nor its mounts name it)"
            return out
        if isinstance(host, str):
            out["reason"] = host
            return out
        reference, host_links = host
        out.update({"verified_by": verified, "reference": reference})
        for ns in NAMESPACES:
            mine, theirs = links.get(ns), host_links.get(ns)
            out[ns] = {"container": mine, "host": theirs,
                       "shared_with_host": None if mine is None or theirs is None else mine == theirs}
        return out

    def _host_namespaces(self) -> tuple[str, dict[str, str]] | str:
        """("pid 1" or "kthreadd", {ns: link}), or why the host's namespaces are unknown."""
        with self._lock:
            if self._host_ns is None:
                self._host_ns = self._read_host_namespaces()
            return self._host_ns

    def _read_host_namespaces(self) -> tuple[str, dict[str, str]] | str:
        why = ""
        for pid, name in ((1, "pid 1"), (2, "kthreadd")):
            try:
                proc = _Proc(self.fs, pid)
            except OSError as exc:
                why = why or f"/proc/{pid}: {exc.strerror or exc}"
                continue
            try:
                if pid == 2:
                    status = proc.text("status")
                    # A kernel thread, the kernel's own: it lives in the initial namespaces.
                    if _status_field(status, "Name") != ["kthreadd"] or _status_field(status, "PPid") != ["0"]:
                        continue
                links = {ns: proc.link(f"ns/{ns}") for ns in NAMESPACES}
                return name, links
            except OSError as exc:
                why = why or f"/proc/{pid}/ns: {exc.strerror or exc}"
            finally:
                proc.close()
        return f"the host's namespaces could not be read ({why or 'no pid 1 or kthreadd in /proc'})"

    # ---- process tables ------------------------------------------------------------------------

    def table(self, container_id: str, init_pid: Any, verified: str | None = None) -> dict[str, Any] | None:
        """{"Titles", "Processes"} as dockerd's /top would answer for this container, or None
        when the host's /proc cannot be shown to hold this container's processes."""
        if verified is None:
            verified = self.verify(container_id, init_pid)
        if verified == "cgroup":
            pids = self._cgroup_members(container_id, init_pid)
        elif verified == "mounts":
            pids = self._namespace_members(container_id, init_pid)
        else:
            return None
        if pids is None:
            return None
        try:
            uptime = int(float(self.fs.read_text("/proc/uptime").split()[0]))
        except (OSError, ValueError, IndexError):
            uptime = 0
        rows = [row for row in (self._row(pid, uptime) for pid in pids) if row is not None]
        return {"Titles": list(TITLES), "Processes": rows} if rows else None

    def _cgroup_members(self, container_id: str, init_pid: int) -> list[int] | None:
        """The processes in the cgroup of State.Pid and below it (what runc ps lists)."""
        try:
            own = cgroup_path(self.fs.read_text(f"/proc/{init_pid}/cgroup"))
        except OSError:
            return None
        if not own or container_id not in _ID.findall(own):
            return None
        with self._lock:
            if self._by_cgroup is None:
                self._scan()
        by_cgroup = self._by_cgroup or {}
        below = own.rstrip("/") + "/"
        pids = sorted(pid for path, members in by_cgroup.items() if path == own or path.startswith(below)
                      for pid in members)
        if init_pid not in pids:
            pids = sorted({*pids, init_pid})  # started after the scan: it was checked above
        return pids

    def _namespace_members(self, container_id: str, init_pid: int) -> list[int] | None:
        """The processes in the pid and mount namespaces of State.Pid, and their descendants;
        None unless State.Pid is pid 1 of its own pid namespace (see the module's docstring).
        Its mounts are checked again through the same open /proc directory its namespaces are
        read from, so a pid reused since verify() is never taken for the container's."""
        proc = self._open(container_id, init_pid)
        if proc is None:
            return None
        try:
            if not mounted_from_container_dir(proc.text("mountinfo"), container_id):
                return None
            nspid = _status_field(proc.text("status"), "NSpid")
            key = (proc.link("ns/pid"), proc.link("ns/mnt"))
        except OSError:
            return None
        finally:
            proc.close()
        if len(nspid) < 2 or nspid[-1] != "1":
            return None  # the host's pid namespace, or another container's
        with self._lock:
            if self._by_ns is None:
                self._scan_namespaces()
        by_ns, children = self._by_ns or {}, self._children or {}
        found = set(by_ns.get(key, [])) | {init_pid}
        todo = list(found)
        while todo:
            for child in children.get(todo.pop(), []):
                if child not in found:
                    found.add(child)
                    todo.append(child)
        return sorted(found)

    def _scan_namespaces(self) -> None:
        """Every process's pid and mount namespace and parent, read once per collection (only
        when a container needs them)."""
        by_ns: dict[tuple[str, str], list[int]] = {}
        children: dict[int, list[int]] = {}
        try:
            entries = os.listdir(self.fs.real("/proc"))
        except OSError:
            entries = []
        for entry in entries:
            if not entry.isdigit():
                continue
            try:
                proc = _Proc(self.fs, int(entry))
            except OSError:
                continue
            try:
                ppid = int(proc.text("stat").rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
                by_ns.setdefault((proc.link("ns/pid"), proc.link("ns/mnt")), []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass  # gone meanwhile, or namespaces we may not read (the host's init)
            finally:
                proc.close()
        self._by_ns = by_ns
        self._children = children
        self._load_users()

    def _load_users(self) -> None:
        if self._users is None:
            self._users = names_by_id(self.fs, "/etc/passwd")
        if self._boot is None:
            try:
                for line in self.fs.read_text("/proc/stat").splitlines():
                    if line.startswith("btime "):
                        self._boot = float(line.split()[1])
            except (OSError, ValueError, IndexError):
                pass

    def _scan(self) -> None:
        by_cgroup: dict[str, list[int]] = {}
        try:
            entries = os.listdir(self.fs.real("/proc"))
        except OSError:
            entries = []
        for entry in entries:
            if not entry.isdigit():
                continue
            try:
                path = cgroup_path(self.fs.read_text(f"/proc/{entry}/cgroup"))
            except OSError:
                continue  # gone meanwhile
            if path is not None:
                by_cgroup.setdefault(path, []).append(int(entry))
        self._by_cgroup = by_cgroup
        self._load_users()

    def _row(self, pid: int, uptime: int) -> list[str] | None:
        """One `ps -ef` row, as dockerd passes it on (its CMD split on whitespace and re-joined
        with single spaces); None for a process that exited meanwhile."""
        base = f"/proc/{pid}"
        try:
            stat = self.fs.read_text(f"{base}/stat")
            status = self.fs.read_text(f"{base}/status")
            cmdline = self.fs.read_bytes(f"{base}/cmdline")
        except OSError:
            return None
        head, _, rest = stat.rpartition(")")
        fields = rest.split()
        if len(fields) < 20:
            return None
        comm = head.partition("(")[2]
        uid = next((line.split()[2] for line in status.splitlines() if line.startswith("Uid:")), None)
        ticks = int(fields[11]) + int(fields[12])
        started = int(fields[19]) // self._clock  # whole seconds after boot, as ps counts them
        args = [a.decode(errors="replace") for a in cmdline.split(b"\0")]
        while args and args[-1] == "":
            args.pop()
        if fields[0] == "Z":
            command = f"[{comm}] <defunct>"
        elif not args:
            command = f"[{comm}]"
        else:
            command = " ".join(_printable(" ".join(args)).split())
        return [self._user(uid), str(pid), fields[1], str(self._pcpu(ticks, uptime - started)), self._stime(started),
                self._tty(int(fields[4])), _cputime(ticks // self._clock), command]

    def _user(self, uid: str | None) -> str:
        """The effective user as ps -f prints it: the host's name for it, cut to its 8-cell column
        with a + (messagebus is message+), or the number when the host has no name for it."""
        if uid is None or not uid.isdigit():
            return "?"
        name = (self._users or {}).get(int(uid))
        if name is None:
            return uid
        return name if len(name) <= 8 else name[:7] + "+"

    def _pcpu(self, ticks: int, elapsed: int) -> int:
        """ps's C: CPU time over the process's life, in whole percent, at most 99."""
        return min(99, (ticks * 100 // self._clock) // elapsed) if elapsed > 0 else 0

    def _tty(self, tty_nr: int) -> str:
        """The controlling terminal as the host's ps names it: a name only when that device file
        exists on the host with that device number (a container's own /dev/pts/0 is not the
        host's, so ps, and so /top, print ? for it unless the host has such a terminal too)."""
        name = _tty_name(tty_nr)
        if name == "?":
            return name
        try:
            return name if self.fs.stat(f"/dev/{name}").st_rdev == _dev_t(tty_nr) else "?"
        except OSError:
            return "?"

    def _stime(self, started: int) -> str:
        if self._boot is None:
            return "?"
        when = time.localtime(self._boot + started)
        now = time.localtime()
        if when.tm_year != now.tm_year:
            return time.strftime("%Y", when)
        if when.tm_yday != now.tm_yday:
            return time.strftime("%b%d", when)
        return time.strftime("%H:%M", when)


def _printable(text: str) -> str:
    """ps shows control characters in a command line as `?`."""
    return "".join("?" if ord(ch) < 32 or ord(ch) == 127 else ch for ch in text) if not text.isprintable() else text


def _major_minor(tty_nr: int) -> tuple[int, int]:
    return (tty_nr >> 8) & 0xFFF, (tty_nr & 0xFF) | ((tty_nr >> 12) & 0xFFF00)


def _dev_t(tty_nr: int) -> int:
    return os.makedev(*_major_minor(tty_nr))


def _tty_name(tty_nr: int) -> str:
    """The name ps guesses for a terminal device: pts/N, ttyN, ttySN, or ? for none."""
    major, minor = _major_minor(tty_nr)
    if tty_nr == 0:
        return "?"
    if 136 <= major <= 143:
        return f"pts/{(major - 136) * 256 + minor}"
    if major == 4:
        return f"tty{minor}" if minor < 64 else f"ttyS{minor - 64}"
    if major == 5 and minor == 0:
        return "tty"
    if major == 5 and minor == 1:
        return "console"
    return "?"


def _cputime(seconds: int) -> str:
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return (f"{days}-" if days else "") + f"{hours:02d}:{minutes:02d}:{secs:02d}"
