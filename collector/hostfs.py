"""Reading the host's files, directly or below a mounted root (`--host-root /host`).

Every path handed in and out is the path as the host sees it; only this module knows that a
collector in a container reads `/etc/docker` at `/host/etc/docker`.
"""

from __future__ import annotations

import errno
import os
import stat as statmod
from pathlib import Path
from typing import TYPE_CHECKING, Iterator, Optional

if TYPE_CHECKING:
    from .errors import ErrorLog


Process = tuple[int, Optional[str], str, list[str]]  # pid, exe, comm, argv (Optional: evaluated at run time, 3.9)


class HostFS:
    """The host's filesystem, at / or below a mounted root. Every host read goes through here."""

    def __init__(self, root: str = "/") -> None:
        self.root = os.path.abspath(root)
        self._processes: list[Process] | None = None

    def real(self, path: str) -> str:
        """Where a host path is on this machine's filesystem."""
        if self.root == "/":
            return path
        return os.path.join(self.root, path.lstrip("/"))

    def read_bytes(self, path: str, limit: int = 4 * 1024 * 1024, *, regular_only: bool = True) -> bytes:
        """Read a host file without ever blocking: a FIFO or device where a file is expected
        (a planted trap, or a broken host) is refused as an error instead of hanging collection.
        Files in /proc and /sys report size 0 but are regular, so they read fine."""
        fd = os.open(self.resolved(path), os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
        try:
            st = os.fstat(fd)
            if statmod.S_ISDIR(st.st_mode):
                raise IsADirectoryError(errno.EISDIR, "is a directory, not a file", path)
            if regular_only and not statmod.S_ISREG(st.st_mode):
                raise OSError(errno.EINVAL, f"is a {file_type(st.st_mode)}, not a regular file", path)
            chunks = []
            remaining = limit
            while remaining > 0:
                chunk = os.read(fd, min(remaining, 1 << 20))
                if not chunk:
                    break
                chunks.append(chunk)
                remaining -= len(chunk)
            return b"".join(chunks)
        finally:
            os.close(fd)

    def read_text(self, path: str, limit: int = 4 * 1024 * 1024) -> str:
        return self.read_bytes(path, limit).decode("utf-8", errors="replace")

    def read_text_or_none(self, path: str) -> str | None:
        try:
            return self.read_text(path)
        except OSError:
            return None

    def read_or_record(self, path: str, errors: ErrorLog, source: str) -> str | None:
        """Text of a host file; None when it does not exist (not an error: absence is a fact the
        snapshot records elsewhere); any other failure is recorded under `source` and gives None."""
        try:
            return self.read_text(path)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            errors.add(source, f"{path}: {describe_oserror(exc)}")
            return None

    def is_file(self, path: str) -> bool:
        return os.path.isfile(self.resolved(path))

    def exists(self, path: str) -> bool:
        return os.path.lexists(self.resolved(path, follow_last=False))

    def list_dir(self, path: str) -> list[str]:
        try:
            names = sorted(os.listdir(self.resolved(path)))
        except OSError:
            return []
        return [f"{path.rstrip('/')}/{name}" for name in names]

    def walk_files(self, path: str, max_files: int = 10_000, include_dirs: bool = False) -> list[str]:
        """Every file (or link, and directory when asked) below a directory, as host paths, sorted."""
        found: list[str] = []
        top = self.resolved(path)
        for dirpath, dirnames, filenames in os.walk(top):
            dirnames.sort()
            for name in sorted(filenames + (dirnames if include_dirs else [])):
                found.append(path.rstrip("/") + "/" + os.path.relpath(os.path.join(dirpath, name), top))
                if len(found) >= max_files:
                    return found
        return found

    def resolved(self, path: str, follow_last: bool = True) -> str:
        """The real location of a host path, with the host's symlinks resolved inside the root:
        below --host-root an absolute link such as /etc/alternatives/x -> /usr/bin/x must not
        escape to the collector's own filesystem. /proc is left alone (its links are magic)."""
        if self.root == "/" or path.startswith("/proc/"):
            return self.real(path)
        if follow_last:
            return self.real(self.realpath(path))
        parent, name = os.path.split(path.rstrip("/") or "/")
        return self.real(os.path.join(self.realpath(parent), name)) if name else self.real("/")

    def lstat(self, path: str) -> os.stat_result:
        return os.lstat(self.resolved(path, follow_last=False))

    def stat(self, path: str) -> os.stat_result:
        return os.stat(self.resolved(path))

    def readlink(self, path: str) -> str:
        return os.readlink(self.resolved(path, follow_last=False))

    def realpath(self, path: str) -> str:
        """Resolve symlinks the way the host would (absolute links stay inside the root)."""
        if self.root == "/":
            return os.path.realpath(path)
        current = Path("/")
        parts = [p for p in Path(path).parts if p != "/"]
        hops = 0
        while parts:
            part = parts.pop(0)
            candidate = current / part
            real = self.real(str(candidate))
            if os.path.islink(real) and hops < 40:
                hops += 1
                target = os.readlink(real)
                base = Path("/") if target.startswith("/") else current
                parts = [p for p in Path(target).parts if p != "/"] + parts
                current = base
                continue
            current = candidate
        return str(Path(os.path.normpath(str(current))))

    def processes(self) -> list[Process]:
        """(pid, exe, comm, argv) for every process visible in the host's /proc (below the root).

        Read once per HostFS (one collection): the daemon's candidates and the host's processes
        of interest are found in the same reading of the process table, not in two."""
        if self._processes is None:
            self._processes = list(self._read_processes())
        return self._processes

    def _read_processes(self) -> Iterator[Process]:
        try:
            entries = os.listdir(self.real("/proc"))
        except OSError:
            return
        for entry in entries:
            if not entry.isdigit():
                continue
            base = f"/proc/{entry}"
            try:
                comm = self.read_bytes(f"{base}/comm").decode(errors="replace").strip()
                raw = self.read_bytes(f"{base}/cmdline")
            except OSError:
                continue
            try:
                exe: str | None = self.readlink(f"{base}/exe")
            except OSError:
                exe = None
            argv = [a.decode(errors="replace") for a in raw.split(b"\0")[:-1]] if raw else []
            yield int(entry), exe, comm, argv


def describe_oserror(exc: OSError) -> str:
    """`Permission denied`, `is a fifo, not a regular file`: the reason without Python's noise."""
    return str(exc.strerror or exc)


def file_type(mode: int) -> str:
    for test, name in ((statmod.S_ISLNK, "symlink"), (statmod.S_ISREG, "file"), (statmod.S_ISDIR, "directory"),
                       (statmod.S_ISSOCK, "socket"), (statmod.S_ISFIFO, "fifo"), (statmod.S_ISBLK, "block"),
                       (statmod.S_ISCHR, "char")):
        if test(mode):
            return name
    return "other"
