"""The process jq runs in, so that an endless loop or a crash of libjq cannot take hullcheck down.

The parent sends a job (program, snapshot bytes or path); the worker validates the snapshot,
runs the combined program and streams one message per policy back. The parent times every
policy on its own and kills the worker when one runs too long; a crashed worker is just a closed
pipe. The worker starts with an empty environment and a memory limit.
"""

from __future__ import annotations

import os
import resource
import signal
import traceback
from typing import Any

from . import worker_protocol as wire
from .channel import Channel

MAX_MESSAGE_CHARS = 2_000
MAX_EVIDENCE_CHARS = 16_000
MAX_NAME_CHARS = 1_000


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


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "... (cut)"


def _as_text(value: Any, limit: int) -> str | None:
    """A resource's type, name or id as a short string (policies may emit anything there)."""
    import json

    if value is None or isinstance(value, str):
        return value if value is None else _cut(value, limit)
    try:
        return _cut(json.dumps(value), limit)
    except (TypeError, ValueError, RecursionError):
        return _cut(repr(type(value)), limit)


def _trim(raw: Any, max_output: int = wire.DEFAULT_MAX_OUTPUT_BYTES) -> Any:
    """Bound what one policy can send back: long messages, names and huge evidence values are cut,
    and a verdict still over `max_output` bytes (too many findings) becomes `error`."""
    import json

    if not isinstance(raw, dict):
        return {"s": "error", "reason": f"policy gave a {type(raw).__name__}, not a verdict object"}
    reason = raw.get("reason")
    if reason is not None:
        raw["reason"] = _cut(reason if isinstance(reason, str) else _as_text(reason, MAX_MESSAGE_CHARS) or "",
                             MAX_MESSAGE_CHARS)
    items = raw.get("items")
    if items is not None and not isinstance(items, list):
        return {"s": "error", "reason": "policy gave a malformed verdict (items is not a list)"}
    for item in items or []:
        if not isinstance(item, dict):
            return {"s": "error", "reason": "policy gave a malformed verdict (an item is not an object)"}
        ref = item.get("r")
        if isinstance(ref, dict):
            item["r"] = {key: _as_text(ref.get(key), MAX_NAME_CHARS) for key in ("type", "name", "id", "key", "image")
                         if key in ref or key in ("type", "name", "id")}
        message = item.get("m")
        if isinstance(message, str) and len(message) > MAX_MESSAGE_CHARS:
            item["m"] = message[:MAX_MESSAGE_CHARS] + "... (cut)"
        elif message is not None and not isinstance(message, str):
            item["m"] = _as_text(message, MAX_MESSAGE_CHARS)
        for ev in item.get("ev") or []:
            try:
                text = json.dumps(ev.get("value"))
            except (TypeError, ValueError, RecursionError):
                text = '"(unprintable)"'
                ev["value"] = text
            if len(text) > MAX_EVIDENCE_CHARS:
                ev["value"] = text[:MAX_EVIDENCE_CHARS] + "... (cut)"
                ev["truncated"] = True
        if "loc" in item:
            item["loc"] = _locations(item["loc"])
        reason = item.get("reason")
        if reason is not None:
            item["reason"] = _cut(reason if isinstance(reason, str) else _as_text(reason, MAX_MESSAGE_CHARS) or "",
                                  MAX_MESSAGE_CHARS)
    try:
        size = len(json.dumps(raw, ensure_ascii=False).encode("utf-8", "replace"))
    except (TypeError, ValueError, RecursionError):
        return {"s": "error", "reason": "policy gave a verdict that cannot be written as JSON"}
    if size > max_output:
        return {"s": "error", "reason": f"policy produced {size / 2**20:.0f} MB of results for "
                                        f"{len(items or [])} resources, over the {max_output / 2**20:.0f} MB output limit"}
    return raw


MAX_LOCATIONS = 20


def _locations(loc: Any) -> list[dict[str, Any]]:
    """Source locations of a planned resource, bounded: files and pointers as short text, lines as integers."""
    out = []
    for entry in (loc if isinstance(loc, list) else [])[:MAX_LOCATIONS]:
        if isinstance(entry, dict) and isinstance(entry.get("line"), int) and isinstance(entry.get("file"), str):
            out.append({"file": _as_text(entry["file"], MAX_NAME_CHARS), "line": entry["line"],
                        "column": entry["column"] if isinstance(entry.get("column"), int) else 1,
                        "pointer": _as_text(entry.get("pointer") or "", MAX_NAME_CHARS)})
    return out


def _die_with_parent(parent_pid: int | None) -> None:
    """Ask Linux to SIGKILL this worker when its parent dies (even by SIGKILL), so an endless
    policy never outlives the hullcheck that started it."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
    if parent_pid is not None and os.getppid() != parent_pid:  # the parent died before prctl
        os._exit(1)


def serve(fd: int, memory_limit: int | None, parent_pid: int | None = None) -> None:
    """Entry point of the worker process: talk to the parent over the inherited socket `fd`."""
    _die_with_parent(parent_pid)
    main(Channel.from_fd(fd), memory_limit)


def main(conn: Channel, memory_limit: int | None) -> None:
    """Worker loop: one job at a time until the parent closes the pipe."""
    os.environ.clear()  # a policy that slipped past the checks still finds no secrets here
    _limit_memory(memory_limit)
    import jq

    from . import snapshot as snapshot_mod

    programs: dict[str, Any] = {}
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job.get("kind") == wire.JOB_CASES:
            _run_cases(conn, job, jq)
            continue
        if job.get("kind") == wire.JOB_COMPILE:  # ahead of the job that will run it (Evaluator.warm_up)
            programs.clear()
            try:
                programs[job["program_id"]] = jq.compile(job["program"])
            except Exception:  # noqa: BLE001 - the job that runs it compiles again and reports the error
                programs.clear()
            continue
        try:
            data = job.pop("data", None)  # the job must not keep a second reference to the bytes
            name = job.get("name", "snapshot")
            try:
                if data is None:
                    data = snapshot_mod.read_bytes(job["path"], job.get("max_bytes") or snapshot_mod.DEFAULT_MAX_BYTES)
                job["data"] = None  # `data` is the only reference left: freed once jq has its copy
                info = job.get("summary")
                advisory_inputs = job.get("advisory_inputs")
                if info is None:  # a file or bytes from elsewhere: parsed and validated here, once
                    parsed, info = snapshot_mod.load(data, name)
                    if job.get("advisories") is not None and advisory_inputs is None:
                        advisory_inputs = _advisory_inputs(parsed)
                    del parsed  # never hold the snapshot twice: jq parses its own copy below
                    _release_memory()
            except snapshot_mod.SnapshotError as exc:
                conn.send((wire.INVALID, str(exc)))
                continue
            except MemoryError:
                conn.send((wire.INVALID, f"{name}: too large to parse within the worker's memory limit"))
                continue
            key = job["program_id"]
            if key not in programs:  # compiled before "snapshot": no policy's time limit pays for it
                programs.clear()
                programs[key] = jq.compile(job["program"])
            conn.send((wire.SNAPSHOT, info))
            # The binding keeps its own UTF-8 copy of the text: neither our bytes nor the text may
            # stay alive beside it while jq parses and runs (38 MB each at 5,000 containers).
            facts = _advisory_facts(job, advisory_inputs)
            # The program's input is {"a": $advisories, "s": snapshot} (program._INPUT).
            outputs = programs[key].input_text('{"a":' + facts + ',"s":' + data.decode("utf-8") + "}")
            del data
            max_output = int(job.get("max_output") or wire.DEFAULT_MAX_OUTPUT_BYTES)
            index = job.get("start", 0)
            ready = False
            for raw in outputs:
                if not ready and raw == wire.READY_MARKER:
                    ready = True
                    conn.send((wire.READY,))
                    continue
                conn.send((wire.RESULT, index, _trim(raw, max_output)))
                index += 1
            conn.send((wire.DONE, index))
        except MemoryError:
            conn.send((wire.CRASH, "out of memory (worker limit reached)"))
            return
        except Exception as exc:  # report, never die silently
            conn.send((wire.CRASH, f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
                       if str(exc) else traceback.format_exc(limit=1)[-500:]))


def _advisory_inputs(snapshot: dict[str, Any]) -> dict[str, Any] | str:
    from .advisories.match import inputs

    try:
        return inputs(snapshot)
    except Exception as exc:  # noqa: BLE001 - the policy reports it as its error, never the run's
        return f"{type(exc).__name__}: {exc}"


def _advisory_facts(job: dict[str, Any], inputs: dict[str, Any] | str | None) -> str:
    """$advisories as JSON text: null when no policy reads it, {"error": ...} when it cannot be computed."""
    import json

    data = job.get("advisories")
    if data is None:
        return "null"
    if isinstance(inputs, str) or inputs is None:
        return json.dumps({"error": f"the snapshot's components could not be read: {inputs}"})
    from .advisories.match import facts

    try:
        return json.dumps(facts(inputs, data, int(job.get("advisories_max_age") or 30)))
    except Exception as exc:  # noqa: BLE001 - see above
        return json.dumps({"error": f"advisory matching failed: {type(exc).__name__}: {exc}"})


def _run_cases(conn: Channel, job: dict[str, Any], jq: Any) -> None:
    """Policy test cases, all in this worker: each base snapshot parsed and validated once, each
    the cases' one program compiled once, each case's patches applied copy-on-write to the parsed base
    (only the objects on a patched path are copied), the result validated and run.

    Sends ("bases",) once the bases are parsed, then ("case", index, raw verdict or None) or
    ("case_problem", index, why the case cannot run) per case, then ("done", count)."""
    import json

    from . import snapshot as snapshot_mod
    from .patches import apply_patches

    try:
        bases: dict[str, Any] = {}
        for name, data in job["bases"].items():
            try:
                snapshot_mod.validate(parsed := snapshot_mod.parse(data, f"base snapshot {name}"),
                                      f"base snapshot {name}", many=True)
                bases[name] = parsed
            except snapshot_mod.SnapshotError as exc:
                bases[name] = exc
        conn.send((wire.BASES,))
        program = None
        max_output = int(job.get("max_output") or wire.DEFAULT_MAX_OUTPUT_BYTES)
        index = int(job.get("start", 0))
        for case in job["cases"]:
            base = bases[case["base"]]
            try:
                if isinstance(base, Exception):
                    raise ValueError(str(base))
                snapshot = apply_patches(base, case)
                snapshot_mod.validate(snapshot, "patched snapshot", many=True)
            except (ValueError, snapshot_mod.SnapshotError) as exc:
                conn.send((wire.CASE_PROBLEM, index, str(exc)))
                index += 1
                continue
            raw = None
            if case["program"] is not None:
                if program is None:  # compiled at the first case that needs it: within a case's time limit
                    program = jq.compile(job["program"])
                facts = _advisory_facts(job, _advisory_inputs(snapshot)) if job.get("advisories") is not None else "null"
                text = f'{{"p":{int(case["program"])},"a":{facts},"s":{json.dumps(snapshot)}}}'
                outputs = program.input_text(text).all()
                raw = _trim(outputs[0], max_output) if outputs else {"s": "error", "reason": "the policy gave no verdict"}
            conn.send((wire.CASE, index, raw))
            index += 1
        conn.send((wire.DONE, index))
    except MemoryError:
        conn.send((wire.CRASH, "out of memory (worker limit reached)"))
    except Exception as exc:  # noqa: BLE001 - report, never die silently
        conn.send((wire.CRASH, f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
                   if str(exc) else traceback.format_exc(limit=1)[-500:]))
