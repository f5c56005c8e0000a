"""The one atomic writer: a report, a snapshot or a golden file is either whole or not there.

It writes where it is told; where a command's output goes (standard output or a file, signed or
not) is hullcheck_common/destination.py's to decide.

Why not just a temporary name and a rename: a process killed by SIGKILL cannot remove its
temporary file, so every kill mid-write would leave `.NAME.*.tmp` behind. On Linux the data goes
into an unnamed O_TMPFILE first, which the kernel discards by itself when the process dies; only
a complete file gets a name:
- no file at the target yet: the finished file is linked at the target directly (linkat), so no
  other name ever exists;
- a file at the target: the finished file is linked at a temporary name and renamed over the
  target at once; only a SIGKILL in the instant between those two system calls can leave that
  temporary name (`.NAME.<pid>.<random>.tmp`), never a partial target.
Where the filesystem has no O_TMPFILE, a named temporary file is written and renamed; it is
removed on any exception (Ctrl-C and, through the CLI, SIGTERM included) but a SIGKILL mid-write
leaves it.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import Iterable, Iterator, Union

Text = Union[str, bytes, Iterable[str]]  # a whole text, or its pieces in order (render_chunks); Union: evaluated at run time, 3.9


def write_atomic(path: str | os.PathLike[str], text: Text, mode: int | None = None) -> None:
    """Write `text` (or its pieces, each encoded as it comes) to `path` atomically with `mode`, or
    what a shell redirect gives (0666 less the umask)."""
    target = Path(path)
    if _not_a_file(target):
        _write_through(target, text)
        return
    directory = str(target.parent or ".")
    perm = _default_mode() if mode is None else mode
    fd = _unnamed_tmpfile(directory)
    if fd is None:
        _write_named(target, directory, text, perm)
        return
    try:
        os.fchmod(fd, perm)
        for block in _blocks(text):
            _write_all(fd, block)
        os.fsync(fd)
        _publish(fd, target, directory)
    finally:
        os.close(fd)


def _not_a_file(target: Path) -> bool:
    """A device, FIFO or socket (`-o /dev/null`, `-o /dev/stdout`, a named pipe) is written into, never
    replaced: renaming a file over /dev/null as root would turn it into a file for the whole machine."""
    try:
        if os.path.islink(target) and os.readlink(target).startswith("/proc/"):
            return True  # /dev/stdout, /dev/fd/N: whatever the descriptor is, the link stays
        return not stat.S_ISREG(os.stat(target).st_mode) and not stat.S_ISDIR(os.stat(target).st_mode)
    except OSError:
        return False


def _write_through(target: Path, text: Text) -> None:
    with open(target, "wb") as fh:
        for block in _blocks(text):
            fh.write(block)


def _publish(fd: int, target: Path, directory: str) -> None:
    """Give the finished unnamed file the target's name: directly when free, else link + rename."""
    try:
        _link_fd(fd, str(target))
        return
    except FileExistsError:
        pass
    tmp: str | None = os.path.join(directory, f".{target.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        _link_fd(fd, str(tmp))
        os.replace(str(tmp), target)
        tmp = None
    finally:
        if tmp is not None:
            try:
                os.unlink(tmp)
            except OSError:
                pass


def _blocks(text: Text, size: int = 1 << 20) -> Iterator[bytes]:
    """`text` as UTF-8 blocks of about `size` bytes: pieces are gathered, not written one by one."""
    if isinstance(text, bytes):
        yield text
        return
    if isinstance(text, str):
        yield text.encode("utf-8")
        return
    gathered: list[bytes] = []
    held = 0
    for piece in text:
        gathered.append(piece.encode("utf-8"))
        held += len(gathered[-1])
        if held >= size:
            yield b"".join(gathered)
            gathered, held = [], 0
    if gathered:
        yield b"".join(gathered)


def _write_named(target: Path, directory: str, text: Text, perm: int) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, perm)
        with os.fdopen(fd, "wb") as fh:
            for block in _blocks(text):
                fh.write(block)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _default_mode() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _unnamed_tmpfile(directory: str) -> int | None:
    """An O_TMPFILE descriptor in `directory`, or None where the OS or filesystem has none."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(directory, flag | os.O_WRONLY | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError:
        return None


def _link_fd(fd: int, name: str) -> None:
    """linkat(/proc/self/fd/N, name, AT_SYMLINK_FOLLOW): give an O_TMPFILE file a name.

    An explicit directory descriptor makes os.link use linkat with AT_SYMLINK_FOLLOW; plain
    link() would try to link the /proc symlink itself and fail with EXDEV.
    """
    proc = os.open("/proc/self/fd", os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.link(str(fd), name, src_dir_fd=proc, follow_symlinks=True)
    finally:
        os.close(proc)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
