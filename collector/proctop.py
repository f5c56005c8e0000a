"""A running container's process list read from the host's /proc, the way dockerd's /top makes it.

dockerd answers GET /containers/{id}/top by asking its runtime for the pids of the container's
cgroup (containerd's shim runs `runc ps`, which lists the cgroup's processes) and then running
the host's `ps -ef` and keeping the rows of those pids. Each answer starts two processes and costs
~22 ms of CPU: at 20 running containers, half of what an audit costs the machine. A collector on
the engine's own host can read the same facts from the same place without starting anything:
the cgroup of the container's init process (State.Pid), every process in that cgroup or below
it, and the /proc files `ps -ef` formats.

The table is only used when it is provably this engine's container: the cgroup of State.Pid, as
this collector sees it, must name the container's full id (64 hex digits, random per container).
A remote engine, another pid namespace (a rootless engine in one of its own), a container
without a cgroup of its own (rootless on cgroup v1) or a process that is gone all fail that
check, and the caller asks the engine instead. Only Docker's /top is replaced: Podman answers
/top in-process (psgo) without starting anything.
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


class ProcTop:
    """Process tables of one engine's containers from the host's /proc, for one collection.

    The host's process table is scanned once (each process's cgroup), on the first container
    that asks; each container then reads only its own processes' stat, status and cmdline."""

    def __init__(self, fs: HostFS) -> None:
        self.fs = fs
        self._lock = threading.Lock()
        self._by_cgroup: dict[str, list[int]] | None = None
        self._users: dict[int, str] | None = None
        self._clock = os.sysconf("SC_CLK_TCK")
        self._boot: float | None = None

    def table(self, container_id: str, init_pid: Any) -> dict[str, Any] | None:
        """{"Titles", "Processes"} as dockerd's /top would answer for this container, or None
        when the host's /proc cannot be shown to hold this container's processes."""
        if not isinstance(init_pid, int) or init_pid <= 0 or not _ID.fullmatch(container_id or ""):
            return None
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
        try:
            uptime = int(float(self.fs.read_text("/proc/uptime").split()[0]))
        except (OSError, ValueError, IndexError):
            uptime = 0
        rows = [row for row in (self._row(pid, uptime) for pid in pids) if row is not None]
        return {"Titles": list(TITLES), "Processes": rows} if rows else None

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
        self._users = names_by_id(self.fs, "/etc/passwd")
        try:
            for line in self.fs.read_text("/proc/stat").splitlines():
                if line.startswith("btime "):
                    self._boot = float(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass

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
