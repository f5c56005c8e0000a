"""Reading a file the user named: the one reader for every option, argument or file that names one.

A name given on a command line (or written in a Compose file, a policy's test case, ...) can be
anything: a FIFO nobody writes to (reading it blocks forever), a device (/dev/zero never ends,
/dev/tty waits for a key), a socket, a directory, or a regular file far larger than anything
hullcheck reads. Here the file is opened without blocking, checked with fstat on the open
descriptor (a file swapped between the check and the read cannot slip through), and read no
further than a size limit; anything else is one line naming the file and what it is
(UserFileError, or the caller's own HullcheckError subclass).

    data = read_bytes(path, what="a waivers file", max_bytes=4 * MiB)
    text = read_text(path, what="an env file")
    check_regular(path, what="a CA certificate")   # a file another library opens by name
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Callable

from .errors import HullcheckError

MiB = 1024 * 1024
DEFAULT_MAX_BYTES = 16 * MiB  # far above any configuration file hullcheck reads; snapshots and results say their own


class UserFileError(HullcheckError):
    """A file the user named that cannot be read: `path: problem` in one line."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


ErrorFactory = Callable[[str, str], Exception]  # (shown name, problem) -> the exception to raise


def _user_file_error(shown: str, problem: str) -> Exception:
    return UserFileError(shown, problem)


def size_text(size: int) -> str:
    """A size in the units a person reads: '256 MB', '64 KB'."""
    return f"{size / 1e6:.0f} MB" if size >= 1_000_000 else f"{max(size, 1) / 1e3:.0f} KB"


def file_kind(mode: int) -> str:
    """What a file that is not a regular file is, in words."""
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return "special file"


def read_bytes(path: str | os.PathLike[str], *, what: str = "a file", max_bytes: int = DEFAULT_MAX_BYTES,
               shown: str | None = None, not_regular_hint: str = "", too_large_hint: str = "",
               error: ErrorFactory = _user_file_error) -> bytes:
    """The bytes of a regular file, at most `max_bytes` of them.

    `what` names the file in refusals ("is a directory, not a waivers file": what="a waivers file"); `shown` is the name
    messages give (default the path); the hints end the refusals of a special file and of a file
    over the limit ("save the snapshot to a file first", "(raise it with --max-snapshot-size)").
    `error(shown, problem)` makes the exception (default UserFileError)."""
    name = str(path) if shown is None else shown
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise error(name, "no such file") from None
    except IsADirectoryError:
        raise error(name, f"is a directory, not {what}") from None
    except PermissionError:
        raise error(name, "permission denied") from None
    except OSError as exc:
        raise error(name, f"cannot open: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise error(name, f"is a directory, not {what}")
        if not stat.S_ISREG(st.st_mode):
            raise error(name, f"is a {file_kind(st.st_mode)}, not a regular file" + (f": {not_regular_hint}" if not_regular_hint else ""))
        if st.st_size > max_bytes:
            raise error(name, f"{size_text(st.st_size)} is over the {size_text(max_bytes)} limit"
                              + (f" {too_large_hint}" if too_large_hint else ""))
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb", closefd=True) as fh:
            fd = -1
            data = fh.read(max_bytes + 1)
    except HullcheckError:
        raise
    except PermissionError:
        raise error(name, "permission denied") from None
    except OSError as exc:
        raise error(name, f"cannot read: {exc.strerror or exc}") from None
    finally:
        if fd >= 0:
            os.close(fd)
    if len(data) > max_bytes:  # it grew while it was read
        raise error(name, f"over the {size_text(max_bytes)} limit" + (f" {too_large_hint}" if too_large_hint else ""))
    return data


def read_text(path: str | os.PathLike[str], *, what: str = "a file", max_bytes: int = DEFAULT_MAX_BYTES,
              shown: str | None = None, error: ErrorFactory = _user_file_error) -> str:
    """The file as UTF-8 text (read_bytes, then decoded: 'not UTF-8 text' otherwise)."""
    data = read_bytes(path, what=what, max_bytes=max_bytes, shown=shown, error=error)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(str(path) if shown is None else shown, f"not UTF-8 text (byte {exc.start})") from None


def check_regular(path: str | os.PathLike[str], *, what: str = "a file", shown: str | None = None,
                  error: ErrorFactory = _user_file_error) -> Path:
    """For a file another library opens by its name (a TLS certificate handed to the ssl module):
    refuse what read_bytes would refuse, without reading it. The library opens it a moment later;
    a file swapped in between is the library's to read, as it would be without this check."""
    name = str(path) if shown is None else shown
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise error(name, "no such file") from None
    except PermissionError:
        raise error(name, "permission denied") from None
    except OSError as exc:
        raise error(name, f"cannot open: {exc.strerror or exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise error(name, f"is a directory, not {what}")
    if not stat.S_ISREG(st.st_mode):
        raise error(name, f"is a {file_kind(st.st_mode)}, not a regular file")
    return Path(path)
