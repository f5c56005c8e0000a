"""Running a policy pack over snapshots in worker processes, with a time limit per policy.

The parent never parses a snapshot: a worker reads, validates and evaluates it, and streams one
raw verdict per policy back. When a policy runs past its time limit, or libjq crashes, the
worker is killed, that policy becomes `error`, and a fresh worker carries on with the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from hullcheck_common.vocabulary import RawVerdict, utc_timestamp

from . import scope
from . import worker_protocol as wire
from .advisories import AdvisoryOptions
from .channel import Channel
from .pack import pack_digest
from .policy import Policy
from .program import case_program, combined_program, uses_advisories
from .results import document, policy_result
from .snapshot import DEFAULT_MAX_BYTES, SnapshotError


@dataclass(frozen=True)
class Limits:
    """What one policy, and one worker, may use before it is stopped and reported as `error`.

    The memory limit is the worker's address space: it bounds jq's parsed copy of the snapshot
    plus whatever a policy builds (`[range(1e9)]` hits it in a second or two and the worker is
    replaced). A 200 MB snapshot peaks near 0.9 GB in the worker; the parent never parses it.
    """

    policy_timeout: float = 30.0          # seconds one policy may run
    load_timeout: float = 600.0           # seconds to read, validate and parse one snapshot
    memory_bytes: int = 4 * 1024 ** 3     # address-space limit of a worker
    max_snapshot_bytes: int = DEFAULT_MAX_BYTES
    max_output_bytes: int = wire.DEFAULT_MAX_OUTPUT_BYTES  # results one policy may send back


@dataclass(frozen=True)
class Source:
    """A snapshot to evaluate: a file, or bytes already in memory (audit collects without a file)."""

    name: str
    path: str | None = None
    data: bytes | None = None
    # Set by `collected`: the snapshot was built and validated in this process, so the worker
    # neither parses nor validates it again (one audit validates its snapshot once).
    summary: dict[str, Any] | None = None
    # Set by `collected` too: what the advisory matching needs of the snapshot (advisories.match.inputs).
    advisory_inputs: dict[str, Any] | None = None

    @classmethod
    def collected(cls, name: str, snapshot: dict[str, Any], data: bytes) -> Source:
        """A snapshot the collector just built (and validated against the schema), with its bytes."""
        from .advisories.match import inputs
        from .snapshot import check_version, summary

        check_version(snapshot, name)
        return cls(name=name, data=data, summary=summary(snapshot, data), advisory_inputs=inputs(snapshot))


_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


def _worker_path() -> list[str]:
    """Where the worker finds hullcheck, jq and fastjsonschema: this package's root, then what
    `python -I` would have put on its path. The worker runs with -S and gets this list instead of
    processing site itself (30-40 ms of every start: some installs' .pth files import certifi and
    importlib.resources): this interpreter's path without what -I leaves out (the script's or
    working directory, PYTHONPATH, the user's site-packages)."""
    import site

    first = 0 if getattr(sys.flags, "safe_path", 0) or sys.flags.isolated else 1  # sys.path[0]: script dir or cwd (3.11+: -P)
    left_out = {p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p}
    left_out.add(getattr(site, "USER_SITE", None) or "")
    return [_PACKAGE_ROOT, *(p for p in sys.path[first:]
                             if p and p != _PACKAGE_ROOT and p not in left_out and os.path.isdir(p))]


class _Worker:
    """A separate Python process (not a fork of this one) with an empty environment."""

    def __init__(self, limits: Limits) -> None:
        self.memory_bytes = limits.memory_bytes
        parent, child = socket.socketpair()
        code = (f"from evaluator.worker import serve; "
                f"serve({child.fileno()}, {int(limits.memory_bytes)}, {os.getpid()})")
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", f"import sys; sys.path[:0] = {_worker_path()!r}; {code}"],
            pass_fds=(child.fileno(),), env={}, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, close_fds=True,
        )
        child.close()
        self.conn = Channel(parent)

    def send(self, job: dict[str, Any]) -> bool:
        """False when the worker is gone (killed while idle): the caller takes a fresh one."""
        try:
            self.conn.send(job)
            return True
        except (OSError, ValueError):
            return False

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
            return _signal_reason(-code, self.memory_bytes)
        return f"jq worker exited with status {code}"

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(5)
        self.conn.close()


def _signal_reason(number: int, memory_bytes: int) -> str:
    """Why a worker died, in words a user can act on."""
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    if number == signal.SIGABRT:
        return (f"jq worker aborted ({name}): libjq ran out of memory within the {memory_bytes / 2**20:.0f} MB "
                "worker limit, or crashed")
    if number == signal.SIGKILL:
        return f"jq worker was killed ({name}): by the kernel's out-of-memory killer or from outside"
    if number == signal.SIGSEGV:
        return f"jq worker crashed ({name}): too deep a recursion, or a libjq fault"
    return f"jq worker killed by {name}"


def start_worker(limits: Limits) -> _Worker:
    """A jq worker for an Evaluator made later (its `workers`): the process starts and imports jq
    while the caller is still loading the pack, instead of after it."""
    return _Worker(limits)


class Evaluator:
    """Evaluates one policy pack; reusable for many snapshots; close() when done."""

    def __init__(self, policies: list[Policy], limits: Limits | None = None, pack_version: str = "",
                 workers: Iterable[_Worker] = (), advisories: AdvisoryOptions | None = None,
                 warn: Callable[[str], None] | None = None) -> None:
        """`workers`: started ahead with start_worker() and the same limits; this evaluator owns them.
        `advisories`: the advisory data options (--advisories, --advisories-max-age); the data is
        loaded here, once, when a policy reads $advisories (AdvisoryDataError for a bad file)."""
        self.policies = policies
        self.limits = limits or Limits()
        # Policies the jq program evaluates: automated ones, and manual ones with `applies` or with
        # `resources` (the facts a person judges with, each reported as a manual finding).
        self.automated = [p for p in policies if p.automated or p.applies or p.resources]
        self.advisory_options = advisories or AdvisoryOptions()
        self.advisories = None
        if uses_advisories(self.automated):
            from .advisories.store import load

            self.advisories = load(list(self.advisory_options.files), warn=warn)
        self.pack = {"version": pack_version, "digest": pack_digest(policies), "policies": len(policies)}
        self._programs: dict[tuple[int, ...], tuple[str, str]] = {}
        self._idle: list[_Worker] = list(workers)
        self._busy: set[_Worker] = set()
        self._lock = threading.Lock()

    # -- workers ----------------------------------------------------------------------------
    def _take(self) -> _Worker:
        with self._lock:
            worker = self._idle.pop() if self._idle else None
        if worker is None:
            worker = _Worker(self.limits)
        with self._lock:
            self._busy.add(worker)
        return worker

    def _dispatch(self, job: dict[str, Any], who: str = "") -> _Worker:
        """A busy worker that has accepted `job`: an idle one, or a fresh one once when the idle one
        died since its last job (killed from outside). SnapshotError when a fresh one refuses it too;
        `who` begins that message (the snapshot's name)."""
        worker = self._take()
        if worker.send(job):
            return worker
        self._discard(worker)
        worker = _Worker(self.limits)
        with self._lock:
            self._busy.add(worker)
        if not worker.send(job):
            reason = worker.death() or "it did not accept the job"
            self._discard(worker)
            raise SnapshotError(f"{who}could not start a jq worker: {reason}")
        return worker

    def _give_back(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
            self._idle.append(worker)

    def _discard(self, worker: _Worker) -> None:
        with self._lock:
            self._busy.discard(worker)
        worker.kill()

    def close(self) -> None:
        """Stop every worker, idle or busy (a Ctrl-C mid-policy must not leave jq spinning)."""
        with self._lock:
            workers, self._idle = [*self._idle, *self._busy], []
            self._busy = set()
        for worker in workers:
            try:
                worker.kill()
            except Exception:  # closing must reach every worker
                pass

    def __enter__(self) -> Evaluator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- programs ---------------------------------------------------------------------------
    def _program(self, indices: tuple[int, ...]) -> tuple[str, str]:
        if indices not in self._programs:
            # The first output tells the worker jq has parsed the snapshot (see wire.READY_MARKER).
            text = f"{json.dumps(wire.READY_MARKER)},\n(\n" + combined_program([self.automated[i] for i in indices]) + "\n)"
            self._programs[indices] = (hashlib.sha256(text.encode()).hexdigest(), text)
        return self._programs[indices]

    def warm_up(self) -> None:
        """Start a worker and have it compile the whole pack's program now, while the caller is
        busy with something else (`audit`: the collector reading the engine); the evaluation that
        follows finds the program compiled. Costs nothing when it turns out unused."""
        program_id, program = self._program(tuple(range(len(self.automated))))
        worker = self._take()
        if worker.send({"kind": wire.JOB_COMPILE, "program_id": program_id, "program": program}):
            self._give_back(worker)
        else:
            self._discard(worker)

    def keep_warm(self, count: int = 1) -> int:
        """For long-running callers (`hullcheck guard`, `watch`): have `count` idle workers with
        the whole pack's program compiled, so the next evaluation starts at once. Idle workers
        that died (killed from outside, the out-of-memory killer) are replaced; a worker lost
        mid-evaluation is already replaced by raw_verdicts. Returns how many idle workers had died."""
        program_id, program = self._program(tuple(range(len(self.automated))))
        with self._lock:
            dead = [w for w in self._idle if w.process.poll() is not None]
            self._idle = [w for w in self._idle if w not in dead]
            missing = max(0, count - len(self._idle))
        for worker in dead:
            worker.kill()
        for _ in range(missing):
            worker = _Worker(self.limits)
            if worker.send({"kind": wire.JOB_COMPILE, "program_id": program_id, "program": program}):
                with self._lock:
                    self._idle.append(worker)
            else:
                worker.kill()
        return len(dead)

    def workers(self) -> list[int]:
        """Process ids of the jq workers alive now, idle or busy."""
        with self._lock:
            return [w.process.pid for w in [*self._idle, *self._busy] if w.process.poll() is None]

    # -- evaluation -------------------------------------------------------------------------
    def raw_verdicts(self, source: Source, policy_ids: tuple[str, ...] | None = None,
                     convert: Callable[[str, RawVerdict], Any] | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Run the automated policies (all, or those named) over one snapshot: (snapshot summary,
        raw verdict by id), or `convert(id, raw verdict)` by id: each raw verdict is converted as
        it arrives and then dropped, so the whole pack's raw verdicts are never held at once."""
        verdicts: dict[str, Any] = {}

        def keep(policy_id: str, raw: RawVerdict) -> None:
            verdicts[policy_id] = raw if convert is None else convert(policy_id, raw)
        pending = tuple(i for i, p in enumerate(self.automated) if policy_ids is None or p.id in policy_ids)
        info: dict[str, Any] | None = None
        worker: _Worker | None = None
        try:
            while True:  # runs at least once: the snapshot is always validated
                program_id, program = self._program(pending)
                job = {"kind": wire.JOB_EVALUATE, "program_id": program_id, "program": program, "name": source.name, "path": source.path,
                       "data": source.data, "summary": source.summary, "max_bytes": self.limits.max_snapshot_bytes,
                       "max_output": self.limits.max_output_bytes, **self._advisory_job(source)}
                worker = self._dispatch(job, f"{source.name}: ")
                message = worker.recv(self.limits.load_timeout)
                if message is None:
                    reason = worker.death() or f"timed out after {self.limits.load_timeout:.0f}s"
                    self._discard(worker)
                    raise SnapshotError(f"{source.name}: could not be read: {reason}")
                if message[0] == wire.INVALID:
                    self._give_back(worker)
                    raise SnapshotError(message[1])
                if message[0] == wire.CRASH:
                    self._discard(worker)
                    raise SnapshotError(f"{source.name}: could not be read: {message[1]}")
                info = message[1]
                # jq parses the snapshot before the first policy runs: that is load time, not policy time.
                message = worker.recv(self.limits.load_timeout)
                if message is None or message[0] != wire.READY:
                    reason = (message[1] if message and message[0] == wire.CRASH else None) or worker.death() \
                        or f"timed out after {self.limits.load_timeout:.0f}s"
                    self._discard(worker)
                    raise SnapshotError(f"{source.name}: jq could not load the snapshot: {reason}")
                done = 0
                failure = None
                finished = False
                while not finished:
                    message = worker.recv(self.limits.policy_timeout)
                    if message is None:
                        failure = worker.death() or f"exceeded the time limit of {self.limits.policy_timeout:g}s"
                        break
                    if message[0] == wire.RESULT:
                        if done < len(pending):
                            keep(self.automated[pending[done]].id, message[2])
                        done += 1
                    elif message[0] == wire.CRASH:
                        failure = f"evaluation failed: {message[1]}"
                        break
                    elif message[0] == wire.DONE:
                        finished = True
                if failure is None:
                    self._give_back(worker)  # it sent "done": ready for the next job
                    break
                self._discard(worker)
                if done >= len(pending):
                    break
                culprit = self.automated[pending[done]]
                keep(culprit.id, {"s": "error", "reason": failure})
                pending = pending[done + 1:]
                if not pending:
                    break
        except BaseException:  # Ctrl-C, SIGTERM or a bug: the busy worker must not outlive us
            if worker is not None:
                with self._lock:
                    busy = worker in self._busy
                if busy:
                    self._discard(worker)
            raise
        return info or {}, verdicts

    def _advisory_job(self, source: Source | None = None) -> dict[str, Any]:
        """What the worker needs to compute $advisories for a snapshot (nothing when no policy reads it)."""
        if self.advisories is None:
            return {}
        job: dict[str, Any] = {"advisories": self.advisories, "advisories_max_age": self.advisory_options.max_age_days}
        if source is not None and source.advisory_inputs is not None:
            job["advisory_inputs"] = source.advisory_inputs
        return job

    def run_cases(self, bases: dict[str, bytes], cases: list[dict[str, Any]]) -> list[tuple[str, Any]]:
        """Policy test cases in one worker (evaluator/testing.py builds them): per case ("verdict",
        raw verdict or None for a policy without jq) or ("problem", why the case cannot run).

        Each case is {"base": a key of `bases`, "policy": id, "merge_patch"/"json_patch": ...}.
        Every case has the policy time limit; a case that runs past it (or crashes the worker) is
        that case's `error`, and a fresh worker goes on with the next one.
        """
        wanted = {c["policy"] for c in cases}
        # every policy named, manual ones too: a case can expect a manual policy not_judged on a plan
        chosen = [p for p in self.policies if p.id in wanted]
        index = {p.id: i for i, p in enumerate(chosen)}
        program = case_program(chosen)
        jobs = [{**{k: v for k, v in c.items() if k != "policy"}, "program": index.get(c["policy"])} for c in cases]
        out: list[tuple[str, Any] | None] = [None] * len(cases)
        start = 0
        while start < len(jobs):
            job = {"kind": wire.JOB_CASES, "bases": bases, "program": program, "cases": jobs[start:], "start": start,
                   "max_output": self.limits.max_output_bytes, **self._advisory_job()}
            worker = self._dispatch(job)
            try:
                message = worker.recv(self.limits.load_timeout)
                failure = None
                if message is None or message[0] != wire.BASES:
                    failure = (message[1] if message and message[0] == wire.CRASH else None) or worker.death() \
                        or f"timed out after {self.limits.load_timeout:.0f}s reading the base snapshots"
                while failure is None:
                    message = worker.recv(self.limits.policy_timeout)
                    if message is None:
                        failure = worker.death() or f"exceeded the time limit of {self.limits.policy_timeout:g}s"
                    elif message[0] == wire.CASE:
                        out[message[1]] = ("verdict", message[2])
                        start = message[1] + 1
                    elif message[0] == wire.CASE_PROBLEM:
                        out[message[1]] = ("problem", message[2])
                        start = message[1] + 1
                    elif message[0] == wire.CRASH:
                        failure = f"evaluation failed: {message[1]}"
                    elif message[0] == wire.DONE:
                        break
                if failure is None:
                    self._give_back(worker)
                    break
                self._discard(worker)
                out[start] = ("verdict", {"s": "error", "reason": failure})
                start += 1
            except BaseException:
                with self._lock:
                    busy = worker in self._busy
                if busy:
                    self._discard(worker)
                raise
        return [item or ("verdict", None) for item in out]

    def evaluate(self, source: Source, evaluated_at: str | None = None,
                 policy_ids: tuple[str, ...] | None = None) -> dict[str, Any]:
        """The results document for one snapshot (all policies, or only those named)."""
        by_id = {p.id: p for p in self.policies}
        info, built = self.raw_verdicts(source, policy_ids, convert=lambda pid, raw: policy_result(by_id[pid], raw))
        when = evaluated_at or utc_timestamp()
        policies = self.policies if policy_ids is None else [p for p in self.policies if p.id in policy_ids]
        held = scope.held_of(info)
        results = [built[p.id] if p.id in built else policy_result(p, None) for p in policies if scope.judged(p, held)]
        not_judged = scope.not_judged_block([p for p in policies if not scope.judged(p, held)], held, info)
        block = None
        if self.advisories is not None and uses_advisories(p for p in policies if p.automated or p.applies or p.resources):
            from .advisories import document_block

            block = document_block(self.advisories.summary(), info.get("collected_at"), self.advisory_options.max_age_days)
        return document(results, info, self.pack, when, not_judged, block)

    def evaluate_many(self, sources: Iterable[Source], jobs: int | None = None,
                      on_done: Callable[[Source], None] | None = None,
                      prepare: Callable[[Source], Source] | None = None,
                      ) -> Iterator[tuple[Source, dict[str, Any] | SnapshotError]]:
        """Evaluate many snapshots in parallel worker processes; yields in the order given.

        `prepare` runs in the same thread just before a source is evaluated and returns the source
        to evaluate instead (the CLI verifies a signature there and hands over the verified bytes,
        so only the snapshots in flight are held in memory); a SnapshotError it raises is that
        source's result.
        """
        jobs = max(1, jobs or os.cpu_count() or 1)
        sources = list(sources)

        def one(src: Source) -> tuple[Source, dict[str, Any] | SnapshotError]:
            try:
                result: dict[str, Any] | SnapshotError = self.evaluate(prepare(src) if prepare else src)
            except SnapshotError as exc:
                result = exc
            if on_done:
                on_done(src)
            return src, result

        with ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="hullcheck-eval") as pool:
            yield from pool.map(one, sources)
