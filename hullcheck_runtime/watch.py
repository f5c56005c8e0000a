"""`hullcheck watch`: the container policies, judged on each container as it is created, started,
updated or exec'd into, from the engine's event stream.

Events name a container, not its settings: each one is followed by an inspect of what changed
(GET /containers/{id}/json, and GET /exec/{id}/json for an exec, judged as the container the exec
process runs in: privileged and as the user the exec asked for). The daemon keeps only the last
256 events and drops a subscriber that does not take an event within 100 ms, so the stream is read
on its own thread and judged on another, repeated verdicts for one container are merged, and the
running containers are listed and judged again whenever the stream is (re)connected (at start,
after a gap, after a daemon restart) and every `resync_interval` seconds.

One JSON line per container judged: time, event, container name and id, image, each policy's
status, the failing ones with severity and message. `--metrics FILE` keeps an OpenMetrics file of
failing containers per policy and severity (metrics.py).
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from collector import apiplan
from collector.daemon_defaults import fill
from collector.live import LiveEngine, container_snapshot, snapshot_json
from hullcheck_common.vocabulary import utc_timestamp

from .facts import FactsKeeper
from .jsonlines import JsonLines
from .judge import Judge, JudgeOptions
from .metrics import ComplianceMetrics

JUDGED_ACTIONS = ("create", "start", "restart", "unpause", "update")
GONE_ACTIONS = ("die", "stop", "kill", "pause", "oom")
RESYNC = "resync"


@dataclass(frozen=True)
class WatchOptions:
    """Everything `hullcheck watch` was told."""

    docker_host: str | None = None
    tls: Any = None
    output: Path | None = None        # JSON lines; None: standard output
    metrics: Path | None = None
    judge: JudgeOptions = field(default_factory=JudgeOptions)
    resync_interval: float = 300.0
    facts_interval: float = 60.0


@dataclass
class _Pending:
    action: str
    event_time: float | None = None
    exec_id: str | None = None


class Watcher:
    def __init__(self, options: WatchOptions, warn: Callable[[str], None],
                 on_verdict: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.options = options
        self.warn = warn
        self.on_verdict = on_verdict
        self.judge = Judge(options.judge, warn)
        self.facts = FactsKeeper(options.docker_host, options.tls, options.facts_interval, warn).start()
        self.out = JsonLines(options.output)
        self.metrics = ComplianceMetrics(options.metrics, self.judge.policies)
        self._pending: dict[str, _Pending] = {}
        self._order: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._stream: Any = None
        self._engine: LiveEngine | None = None
        self._worker = threading.Thread(target=self._judge_loop, name="hullcheck-watch-judge", daemon=True)

    # -- the event stream (the calling thread) -----------------------------------------------
    def run(self) -> None:
        """Follow the engine until stopped (SIGTERM, Ctrl-C): reconnects, resyncs, never gives up."""
        self._worker.start()
        resync = threading.Thread(target=self._resync_timer, name="hullcheck-watch-resync", daemon=True)
        resync.start()
        delay = 0.5
        down_since: float | None = None
        first = True
        while not self._stop.is_set():
            try:
                engine = LiveEngine(self.options.docker_host, self.options.tls)
            except Exception as exc:  # noqa: BLE001 - the daemon is down or restarting: wait for it
                if down_since is None:
                    down_since = time.monotonic()
                    self.warn(f"hullcheck watch: the engine does not answer ({str(exc)[:200]}); waiting for it")
                self._stop.wait(delay)
                delay = min(delay * 2, 5.0)
                continue
            if down_since is not None or not first:
                self.warn("hullcheck watch: connected to the engine again: resynchronising")
                self.facts.refresh()
            down_since, delay = None, 0.5
            try:
                since = time.time()
                stream = engine.client.events(decode=True, filters={"type": "container"}, since=int(since))
                self._stream = stream
                with self._lock:
                    self._engine = engine
                count = self._resync(engine, "resync" if first else "reconnect")
                self.warn(f"hullcheck watch: following the events of {engine.endpoint} "
                          f"({count} running container(s) to judge first)")
                first = False
                for event in stream:
                    self._event(event)
            except Exception as exc:  # noqa: BLE001 - the stream broke (daemon stopped): reconnect
                if not self._stop.is_set():
                    self.warn(f"hullcheck watch: the event stream ended ({type(exc).__name__}); reconnecting")
            finally:
                self._stream = None
                try:
                    engine.close()
                except Exception:  # noqa: BLE001
                    pass
            if not self._stop.is_set() and not first:
                self._stop.wait(0.2)

    def stop(self) -> None:
        self._stop.set()
        stream = self._stream
        if stream is not None:
            try:
                stream.close()
            except Exception:  # noqa: BLE001
                pass
        self._order.put("")

    def close(self) -> None:
        self.stop()
        self.facts.stop()
        self.judge.close()
        self.out.close()

    def _resync_timer(self) -> None:
        while not self._stop.wait(max(5.0, self.options.resync_interval)):
            with self._lock:
                engine = self._engine
            if engine is not None:
                try:
                    self._resync(engine, RESYNC)
                except Exception as exc:  # noqa: BLE001 - the next connection resyncs anyway
                    self.warn(f"hullcheck watch: resync failed: {str(exc)[:200]}")

    def _resync(self, engine: LiveEngine, why: str) -> int:
        ids = engine.running_ids()
        self.metrics.keep_only(set(ids))
        for cid in ids:
            self._enqueue(cid, _Pending(why))
        return len(ids)

    def _event(self, event: dict[str, Any]) -> None:
        action = str(event.get("Action") or event.get("status") or "")
        cid = str((event.get("Actor") or {}).get("ID") or event.get("id") or "")
        if not cid:
            return
        when = (event.get("timeNano") or 0) / 1e9 or float(event.get("time") or 0) or None
        if action in JUDGED_ACTIONS:
            self._enqueue(cid, _Pending(action, when))
        elif action.startswith("exec_create"):
            attributes = (event.get("Actor") or {}).get("Attributes") or {}
            self._enqueue(cid, _Pending("exec_create", when, str(attributes.get("execID") or "") or None), merge=False)
        elif action in GONE_ACTIONS:
            self._enqueue(cid, _Pending(action, when))
        elif action == "destroy":
            self.metrics.gone(cid)

    def _enqueue(self, cid: str, pending: _Pending, merge: bool = True) -> None:
        with self._lock:
            if cid in self._pending and merge and self._pending[cid].exec_id is None:
                self._pending[cid] = pending  # the latest event of a container wins: one verdict
                return
            key = cid if merge else f"{cid}\0{pending.exec_id or time.monotonic()}"
            self._pending[key] = pending
        self._order.put(key)

    # -- judging (its own thread) ------------------------------------------------------------
    def _judge_loop(self) -> None:
        while not self._stop.is_set():
            key = self._order.get()
            if not key:
                continue
            with self._lock:
                pending = self._pending.pop(key, None)
                engine = self._engine
            if pending is None or engine is None:
                continue
            try:
                self.judge_container(engine, key.split("\0")[0], pending)
            except Exception as exc:  # noqa: BLE001 - one container's trouble must not stop the watch
                self.warn(f"hullcheck watch: container {key[:12]}: could not be judged: {type(exc).__name__}: {str(exc)[:300]}")

    def judge_container(self, engine: LiveEngine, cid: str, pending: _Pending) -> dict[str, Any] | None:
        facts = self.facts.first(timeout=10.0)  # the engine answers: never judge without its facts if they can be had
        local = not ((facts.snapshot.get("meta") or {}).get("collector") or {}).get("remote", True)
        proc_top = None
        if local and facts.kind in (None, "docker") and facts.snapshot:
            from collector.hostfs import HostFS
            from collector.proctop import ProcTop

            proc_top = ProcTop(HostFS("/"))
        item = engine.container(cid, facts.kind, proc_top)
        if item is None:
            self.metrics.gone(cid)
            return None
        inspect = item["inspect"]
        running = bool((inspect.get("State") or {}).get("Running"))
        event = pending.action
        if pending.exec_id is not None or event == "exec_create":
            process = engine.inspect_exec(pending.exec_id) if pending.exec_id else None
            config = (process or {}).get("ProcessConfig") or {}
            item = {"inspect": apiplan.plan_exec(inspect, {"Privileged": config.get("privileged") is True,
                                                           "User": config.get("user") or ""},
                                                 facts.defaults),
                    "processes": item.get("processes")}
        elif event == "create" and not running:  # judged as it will run: what the daemon sets at start added
            item = {"inspect": fill(apiplan.as_running(inspect), facts.defaults), "processes": None}
        unknown = {"/processes": item.pop("error")} if item.get("error") else {}
        held = item.get("processes") is not None or bool(unknown)
        snapshot = container_snapshot(facts, [item], "event", [unknown], processes=held)
        document = self.judge.judge(snapshot, str(inspect.get("Name") or cid), snapshot_json(facts, snapshot))
        line = self.verdict_line(document, inspect, event, pending.event_time)
        self.out.write(line)
        if event not in ("create", "exec_create"):
            self.metrics.judged(cid, running, {f["policy"] for f in line["failing"]},
                                {r["policy"] for r in line["results"] if r["status"] == "error"})
        if self.on_verdict is not None:
            self.on_verdict(line)
        return line

    @staticmethod
    def verdict_line(document: dict[str, Any], inspect: dict[str, Any], event: str,
                     event_time: float | None) -> dict[str, Any]:
        results, failing = [], []
        for result in document["results"]:
            results.append({"policy": result["id"], "status": result["status"]})
            for finding in result["findings"]:
                if finding["status"] in ("fail", "waived"):
                    failing.append({"policy": result["id"], "severity": result["severity"],
                                    "status": finding["status"], "message": finding.get("message")})
        return {"time": utc_timestamp("milliseconds"),
                "event": event,
                "event_time": (time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(event_time))
                               + f".{int((event_time % 1) * 1000):03d}Z") if event_time else None,
                "container": str(inspect.get("Name") or "").lstrip("/"),
                "id": inspect.get("Id"),
                "image": (inspect.get("Config") or {}).get("Image"),
                "results": results,
                "failing": [f for f in failing if f["status"] == "fail"],
                "waived": [f for f in failing if f["status"] == "waived"]}


def serve(options: WatchOptions, warn: Callable[[str], None]) -> None:
    """`hullcheck watch` until SIGTERM or Ctrl-C."""
    watcher = Watcher(options, warn)
    try:
        watcher.run()
    finally:
        watcher.close()
