"""The record of what could not be read.

Partial collection is recorded, never silent and never fatal: every source that failed adds an
entry whose `source` is the JSON Pointer where its data would have been in the snapshot, so the
evaluator can turn any policy that needs it into `error` instead of `pass`.
"""

from __future__ import annotations

import threading


def pointer(*parts: str | int) -> str:
    """Build an RFC 6901 JSON Pointer from raw path segments."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


class ErrorLog:
    """Thread-safe list of {source, reason} entries, kept in collection order."""

    def __init__(self) -> None:
        self._items: list[dict[str, str]] = []
        self._lock = threading.Lock()

    def add(self, source: str, reason: object) -> None:
        text = str(reason).strip() or type(reason).__name__
        with self._lock:
            self._items.append({"source": source, "reason": text})

    def as_list(self) -> list[dict[str, str]]:
        with self._lock:
            return sorted(self._items, key=lambda e: (e["source"], e["reason"]))
