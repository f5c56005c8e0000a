"""The process jq runs in, so that an endless loop or a crash of libjq cannot take hullcheck down.

The parent sends a job (program, snapshot bytes or path); the worker validates the snapshot,
runs the combined program and streams one message per policy back. The parent times every
policy on its own and kills the worker when one runs too long; a crashed worker is just a closed
pipe. The worker starts with an empty environment and a memory limit.
"""

from __future__ import annotations

import os
import resource
import traceback
from multiprocessing.connection import Connection
from typing import Any

MAX_MESSAGE_CHARS = 2_000
MAX_EVIDENCE_CHARS = 16_000


def _limit_memory(max_bytes: int | None) -> None:
    if not max_bytes:
        return
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = max_bytes if hard == resource.RLIM_INFINITY else min(max_bytes, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ValueError, OSError):
        pass


def _release_memory() -> None:
    """Hand the parsed snapshot's memory back to the system before jq builds its own copy.

    Python objects for a snapshot cost several times the file; without this, the worker's peak
    is the Python copy plus the jq copy instead of the larger of the two."""
    import gc

    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: the memory is still reused by jq's allocations, just not returned


def _trim(raw: Any) -> Any:
    """Bound what one policy can send back: long messages and huge evidence values are cut."""
    import json

    for item in raw.get("items") or []:
        message = item.get("m")
        if isinstance(message, str) and len(message) > MAX_MESSAGE_CHARS:
            item["m"] = message[:MAX_MESSAGE_CHARS] + "... (cut)"
        elif message is not None and not isinstance(message, str):
            item["m"] = json.dumps(message)[:MAX_MESSAGE_CHARS]
        for ev in item.get("ev") or []:
            text = json.dumps(ev.get("value"))
            if len(text) > MAX_EVIDENCE_CHARS:
                ev["value"] = text[:MAX_EVIDENCE_CHARS] + "... (cut)"
                ev["truncated"] = True
        reason = item.get("reason")
        if isinstance(reason, str) and len(reason) > MAX_MESSAGE_CHARS:
            item["reason"] = reason[:MAX_MESSAGE_CHARS] + "... (cut)"
    return raw


def serve(fd: int, memory_limit: int | None) -> None:
    """Entry point of the worker process: talk to the parent over the inherited socket `fd`."""
    main(Connection(fd), memory_limit)


def main(conn: Connection, memory_limit: int | None) -> None:
    """Worker loop: one job at a time until the parent closes the pipe."""
    os.environ.clear()  # a policy that slipped past the checks still finds no secrets here
    _limit_memory(memory_limit)
    import jq

    from . import snapshot as snapshot_mod
    from .program import PARSED_MARKER

    programs: dict[str, Any] = {}
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        try:
            data = job.get("data")
            name = job.get("name", "snapshot")
            try:
                if data is None:
                    data = snapshot_mod.read_bytes(job["path"], job.get("max_bytes") or snapshot_mod.DEFAULT_MAX_BYTES)
                job["data"] = None  # `data` is the only reference left: freed once jq has its copy
                parsed, info = snapshot_mod.load(data, name)
                del parsed  # never hold the snapshot twice: jq parses its own copy below
                _release_memory()
            except snapshot_mod.SnapshotError as exc:
                conn.send(("invalid", str(exc)))
                continue
            except MemoryError:
                conn.send(("invalid", f"{name}: too large to parse within the worker's memory limit"))
                continue
            key = job["program_id"]
            if key not in programs:  # compiled before "snapshot": no policy's time limit pays for it
                programs.clear()
                programs[key] = jq.compile(job["program"])
            conn.send(("snapshot", info))
            text = data.decode("utf-8")
            del data
            outputs = programs[key].input_text(text)  # holds its own UTF-8 copy of the text
            del text
            index = job.get("start", 0)
            for raw in outputs:
                if raw == PARSED_MARKER:
                    conn.send(("parsed",))
                    continue
                conn.send(("result", index, _trim(raw) if isinstance(raw, dict) else raw))
                index += 1
            conn.send(("done", index))
        except MemoryError:
            conn.send(("crash", "out of memory (worker limit reached)"))
            return
        except Exception as exc:  # noqa: BLE001 - report, never die silently
            conn.send(("crash", f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
                       if str(exc) else traceback.format_exc(limit=1)[-500:]))
