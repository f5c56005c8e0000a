"""Running a policy pack over snapshots in worker processes, with a time limit per policy.

The parent never parses a snapshot: a worker reads, validates and evaluates it, and streams one
raw verdict per policy back. When a policy runs past its time limit, or libjq crashes, the
worker is killed, that policy becomes `error`, and a fresh worker carries on with the rest.
"""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from pathlib import Path
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable, Iterator

from .policy import Policy, pack_digest
from .program import combined_program
from .results import build_document
from .snapshot import DEFAULT_MAX_BYTES, SnapshotError


@dataclass(frozen=True)
class Limits:
    policy_timeout: float = 30.0          # seconds one policy may run
    load_timeout: float = 600.0           # seconds to read and validate one snapshot
    memory_bytes: int = 6 * 1024 ** 3     # address-space limit of a worker
    max_snapshot_bytes: int = DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class Source:
    """A snapshot to evaluate: a file, or bytes already in memory (audit collects without a file)."""

    name: str
    path: str | None = None
    data: bytes | None = None


_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


class _Worker:
    """A separate Python process (not a fork of this one) with an empty environment."""

    def __init__(self, limits: Limits) -> None:
        parent, child = socket.socketpair()
        code = f"from evaluator.worker import serve; serve({child.fileno()}, {int(limits.memory_bytes)})"
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {_PACKAGE_ROOT!r}); {code}"],
            pass_fds=(child.fileno(),), env={}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, close_fds=True,
        )
        child.close()
        self.conn = Connection(parent.detach())

    def send(self, job: dict[str, Any]) -> None:
        self.conn.send(job)

    def recv(self, timeout: float) -> tuple | None:
        """The next message, or None when the worker timed out or died."""
        try:
            if not self.conn.poll(timeout):
                return None
            return self.conn.recv()
        except (EOFError, OSError):
            return None

    def death(self) -> str:
        try:
            code = self.process.wait(0.5)
        except subprocess.TimeoutExpired:
            code = None
        if code is None:
            return ""
        if code < 0:
            return f"jq worker killed by signal {-code}"
        return f"jq worker exited with status {code}"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(5)
        self.conn.close()


class Evaluator:
    """Evaluates one policy pack; reusable for many snapshots; close() when done."""

    def __init__(self, policies: list[Policy], limits: Limits | None = None, pack_version: str = "") -> None:
        self.policies = policies
        self.limits = limits or Limits()
        self.automated = [p for p in policies if p.automated]
        self.pack = {"version": pack_version, "digest": pack_digest(policies), "policies": len(policies)}
        self._programs: dict[tuple[int, ...], tuple[str, str]] = {}
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()

    # -- workers ----------------------------------------------------------------------------
    def _take(self) -> _Worker:
        with self._lock:
            if self._idle:
                return self._idle.pop()
        return _Worker(self.limits)

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            self._idle.append(worker)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()

    def __enter__(self) -> "Evaluator":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- programs ---------------------------------------------------------------------------
    def _program(self, indices: tuple[int, ...]) -> tuple[str, str]:
        if indices not in self._programs:
            text = combined_program([self.automated[i] for i in indices], marker=True)
            self._programs[indices] = (hashlib.sha256(text.encode()).hexdigest(), text)
        return self._programs[indices]

    # -- evaluation -------------------------------------------------------------------------
    def raw_verdicts(self, source: Source, policy_ids: tuple[str, ...] | None = None
                     ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Run the automated policies (all, or those named) over one snapshot: (snapshot summary, raw verdict by id)."""
        verdicts: dict[str, dict[str, Any]] = {}
        pending = tuple(i for i, p in enumerate(self.automated) if policy_ids is None or p.id in policy_ids)
        info: dict[str, Any] | None = None
        while True:  # runs at least once: the snapshot is always validated
            program_id, program = self._program(pending)
            worker = self._take()
            worker.send({"program_id": program_id, "program": program, "name": source.name,
                         "path": source.path, "data": source.data, "max_bytes": self.limits.max_snapshot_bytes})
            message = worker.recv(self.limits.load_timeout)
            if message is None:
                reason = worker.death() or f"timed out after {self.limits.load_timeout:.0f}s"
                worker.kill()
                raise SnapshotError(f"{source.name}: could not be read: {reason}")
            if message[0] == "invalid":
                self._give_back(worker)
                raise SnapshotError(message[1])
            if message[0] == "crash":
                worker.kill()
                raise SnapshotError(f"{source.name}: could not be read: {message[1]}")
            info = message[1]
            done = 0
            failure = None
            finished = False
            parsed = False  # until jq has parsed the snapshot, the load time limit applies, not a policy's
            while not finished:
                limit = self.limits.policy_timeout if parsed else self.limits.load_timeout
                message = worker.recv(limit)
                if message is not None and message[0] == "parsed":
                    parsed = True
                    continue
                parsed = True
                if message is None:
                    failure = worker.death() or f"exceeded the time limit of {limit:g}s"
                    break
                if message[0] == "result":
                    verdicts[self.automated[pending[done]].id] = message[2]
                    done += 1
                elif message[0] == "crash":
                    failure = f"evaluation failed: {message[1]}"
                    break
                elif message[0] == "done":
                    finished = True
            if failure is None:
                self._give_back(worker)  # it sent "done": ready for the next job
                break
            worker.kill()
            culprit = self.automated[pending[done]]
            verdicts[culprit.id] = {"s": "error", "reason": failure}
            pending = pending[done + 1:]
            if not pending:
                break
        return info or {}, verdicts

    def evaluate(self, source: Source, evaluated_at: str | None = None,
                 policy_ids: tuple[str, ...] | None = None) -> dict[str, Any]:
        """The results document for one snapshot (all policies, or only those named)."""
        info, verdicts = self.raw_verdicts(source, policy_ids)
        when = evaluated_at or datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
        policies = self.policies if policy_ids is None else [p for p in self.policies if p.id in policy_ids]
        return build_document(policies, verdicts, info, self.pack, when)

    def evaluate_many(self, sources: Iterable[Source], jobs: int | None = None,
                      on_done: Callable[[Source], None] | None = None) -> Iterator[tuple[Source, dict[str, Any] | SnapshotError]]:
        """Evaluate many snapshots in parallel worker processes; yields in the order given."""
        jobs = max(1, jobs or os.cpu_count() or 1)
        sources = list(sources)

        def one(src: Source) -> tuple[Source, dict[str, Any] | SnapshotError]:
            try:
                result: dict[str, Any] | SnapshotError = self.evaluate(src)
            except SnapshotError as exc:
                result = exc
            if on_done:
                on_done(src)
            return src, result

        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="hullcheck-eval") as pool:
            yield from pool.map(one, sources)
