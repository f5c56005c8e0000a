"""Reading the host's files, directly or below a mounted root (`--host-root /host`).

Every path handed in and out is the path as the host sees it; only this module knows that a
collector in a container reads `/etc/docker` at `/host/etc/docker`.
"""

from __future__ import annotations

import os
import stat as statmod
from pathlib import Path
from typing import Iterator


class HostFS:
    def __init__(self, root: str = "/") -> None:
        self.root = os.path.abspath(root)

    def real(self, path: str) -> str:
        """Where a host path is on this machine's filesystem."""
        if self.root == "/":
            return path
        return os.path.join(self.root, path.lstrip("/"))

    def host_path(self, real: str) -> str:
        """The inverse of real(): a path on this machine back to the host's view."""
        if self.root == "/":
            return real
        rel = os.path.relpath(real, self.root)
        return "/" if rel == "." else "/" + rel

    def read_text(self, path: str, limit: int = 4 * 1024 * 1024) -> str:
        with open(self.real(path), "rb") as fh:
            data = fh.read(limit)
        return data.decode("utf-8", errors="replace")

    def read_text_or_none(self, path: str) -> str | None:
        try:
            return self.read_text(path)
        except OSError:
            return None

    def is_file(self, path: str) -> bool:
        return os.path.isfile(self.real(path))

    def exists(self, path: str) -> bool:
        return os.path.lexists(self.real(path))

    def list_dir(self, path: str) -> list[str]:
        try:
            names = sorted(os.listdir(self.real(path)))
        except OSError:
            return []
        return [f"{path.rstrip('/')}/{name}" for name in names]

    def walk_files(self, path: str, max_files: int = 10_000) -> list[str]:
        """Every regular file (or link) below a directory, as host paths, sorted."""
        found: list[str] = []
        for dirpath, dirnames, filenames in os.walk(self.real(path)):
            dirnames.sort()
            for name in sorted(filenames):
                found.append(self.host_path(os.path.join(dirpath, name)))
                if len(found) >= max_files:
                    return found
        return found

    def lstat(self, path: str) -> os.stat_result:
        return os.lstat(self.real(path))

    def stat(self, path: str) -> os.stat_result:
        return os.stat(self.real(path))

    def readlink(self, path: str) -> str:
        return os.readlink(self.real(path))

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

    def processes(self) -> Iterator[tuple[int, str | None, str, list[str]]]:
        """(pid, exe, comm, argv) for every process visible in the host's /proc."""
        proc = self.real("/proc")
        try:
            entries = os.listdir(proc)
        except OSError:
            return
        for entry in entries:
            if not entry.isdigit():
                continue
            base = os.path.join(proc, entry)
            try:
                with open(os.path.join(base, "comm"), "rb") as fh:
                    comm = fh.read().decode(errors="replace").strip()
                with open(os.path.join(base, "cmdline"), "rb") as fh:
                    raw = fh.read()
            except OSError:
                continue
            try:
                exe: str | None = os.readlink(os.path.join(base, "exe"))
            except OSError:
                exe = None
            argv = [a.decode(errors="replace") for a in raw.split(b"\0")[:-1]] if raw else []
            yield int(entry), exe, comm, argv


def file_type(mode: int) -> str:
    for test, name in ((statmod.S_ISLNK, "symlink"), (statmod.S_ISREG, "file"), (statmod.S_ISDIR, "directory"),
                       (statmod.S_ISSOCK, "socket"), (statmod.S_ISFIFO, "fifo"), (statmod.S_ISBLK, "block"),
                       (statmod.S_ISCHR, "char")):
        if test(mode):
            return name
    return "other"
