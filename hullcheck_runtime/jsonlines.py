"""Append-only JSON Lines files (the guard's decision log, watch's verdicts): one write per line.

Each line goes out in a single write(2) on a descriptor opened with O_APPEND, so lines from
concurrent threads (and from a guard restarted while the old one still writes) never interleave,
and a process killed mid-run leaves whole lines only. A log rotated away (renamed or removed, as
logrotate does) is noticed at the next line and a new file is opened at the path.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, TextIO


class JsonLines:
    """Writes one JSON object per line to a file (mode 0600 when created), or to a stream."""

    def __init__(self, path: Path | None, stream: TextIO | None = None) -> None:
        self.path = path
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._ino: tuple[int, int] | None = None
        if path is not None:
            self._open()

    def _open(self) -> None:
        assert self.path is not None
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        st = os.fstat(fd)
        self._fd, self._ino = fd, (st.st_dev, st.st_ino)

    def _rotated(self) -> bool:
        assert self.path is not None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return True
        return (st.st_dev, st.st_ino) != self._ino

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False, sort_keys=False, separators=(",", ":"), default=str) + "\n"
        data = line.encode("utf-8", "replace")
        with self._lock:
            if self.path is None:
                self.stream.write(line)
                self.stream.flush()
                return
            if self._rotated():
                self.close()
                self._open()
            assert self._fd is not None
            written = os.write(self._fd, data)
            if written != len(data):  # a full disk: never leave half a line without its end
                os.write(self._fd, b"\n")

    def close(self) -> None:
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError:
                pass
            self._fd = None
