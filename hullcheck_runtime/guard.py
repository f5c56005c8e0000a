"""`hullcheck guard`: an Engine authorization plugin that refuses what the container policies fail.

For each request that makes or widens a container (hullcheck_runtime/authz.py: create, update,
exec, legacy start, swarm service create and update) the guard plans the container it would make,
in `docker inspect` shape (collector/apiplan.py), with what the daemon fills in itself taken from
the engine's own facts (collector/daemon_defaults.py, read in the background: facts.py), judges it
with the container policies (judge.py) and decides:

- `--enforce SEVERITY`: refuse when a policy at or above SEVERITY fails (waived findings do not),
  naming each policy, its title and the offending setting; a policy that cannot be judged follows
  `--on-error` (deny by default); a request whose body dockerd did not forward (over 1 MiB, or not
  JSON) is refused with that reason;
- `--audit-only`: allow everything and log what enforcement would have done.

An update, exec, legacy start or service update is refused only for what the request makes worse:
the container as it is and as the request would leave it are judged side by side, and a policy
that already failed before is not the request's doing (watch reports it). A create whose image the
engine does not have yet is judged on its own settings: the daemon answers it with "no such image"
and creates nothing, and the client pulls and asks again, when the image's USER and HEALTHCHECK are
known; what only the image could tell does not refuse that first attempt.

Every judged request is one line in the decision log (decisions.py); every other request is
allowed at once, without touching the jq worker.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from requests.exceptions import RequestException

from collector import apiplan, engine_fixups
from collector.daemon_defaults import fill
from collector.live import EngineFacts, LiveEngine, container_snapshot, snapshot_json
from collector.redact import redact_container, redact_labels
from hullcheck_common.vocabulary import severity_rank, utc_timestamp

from . import authz
from .facts import FactsKeeper
from .jsonlines import JsonLines
from .judge import Judge, JudgeOptions, at_or_above

PLUGIN_DIR = Path("/run/docker/plugins")
ON_ERROR_CHOICES = ("deny", "allow")
NO_BODY = ("dockerd forwarded no body for this request (it forwards JSON bodies under 1 MiB only): "
           "what it would create cannot be judged")


@dataclass(frozen=True)
class GuardOptions:
    """Everything `hullcheck guard` was told."""

    name: str
    enforce: str | None = None        # a severity; None: --audit-only
    on_error: str | None = None       # deny|allow; None: deny under --enforce
    log: Path | None = None           # the decision log; None: standard output
    plugin_dir: Path = PLUGIN_DIR
    docker_host: str | None = None
    tls: Any = None
    judge: JudgeOptions = field(default_factory=JudgeOptions)
    facts_interval: float = 60.0
    decision_timeout: float = 20.0

    @property
    def socket(self) -> Path:
        return self.plugin_dir / f"{self.name}.sock"

    @property
    def deny_on_error(self) -> bool:
        return (self.on_error or "deny") == "deny"

    @property
    def mode(self) -> str:
        return f"enforce {self.enforce}" if self.enforce else "audit-only"


class Skip(Exception):
    """The request is allowed without judging: the daemon will refuse it itself (no such container)."""


class NoBody(Exception):
    """A judged request whose body dockerd did not forward."""


@dataclass
class Plan:
    """The container a request would make (and, for a change, the container as it is)."""

    name: str
    image: str
    planned: dict[str, Any]
    unknown: dict[str, str]
    before: dict[str, Any] | None = None
    image_absent: bool = False


@dataclass
class Decision:
    allow: bool
    message: str
    record: dict[str, Any]


def _name(inspect: dict[str, Any]) -> str:
    return str(inspect.get("Name") or "").lstrip("/")


class Guard:
    """Decides AuthZReq calls; `authorize` is the plugin server's callback (thread-safe)."""

    def __init__(self, options: GuardOptions, warn: Callable[[str], None],
                 on_judged: Callable[[authz.ApiRequest, dict[str, Any], Decision], None] | None = None) -> None:
        self.options = options
        self.warn = warn
        self.on_judged = on_judged
        self.log = JsonLines(options.log)
        self.judge = Judge(options.judge, warn)
        self.facts = FactsKeeper(options.docker_host, options.tls, options.facts_interval, warn).start()
        self._engine: LiveEngine | None = None
        self._engine_lock = threading.Lock()
        self._evaluations = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hullcheck-judge")

    def close(self) -> None:
        self.facts.stop()
        self._evaluations.shutdown(wait=False)
        self.judge.close()
        if self._engine is not None:
            self._engine.close()
        self.log.close()

    # -- the plugin's callback --------------------------------------------------------------
    def authorize(self, payload: dict[str, Any]) -> tuple[bool, str]:
        try:
            request = authz.parse(payload)
        except authz.BadPluginRequest as exc:
            self.write({"time": utc_timestamp("milliseconds"), "request": None, "decision": "deny",
                        "mode": self.options.mode, "reason": str(exc), "error": True})
            self.warn(f"hullcheck: refused: {exc}")
            return False, f"hullcheck: {exc}"
        if not authz.is_judged(request):
            return True, ""
        decision = self.decide(request)
        return decision.allow, decision.message

    def write(self, record: dict[str, Any]) -> None:
        """A decision log line; a log that cannot be written (full disk) never changes a decision:
        the line goes to stderr (the journal) instead, with the reason."""
        try:
            self.log.write(record)
        except OSError as exc:
            import json

            self.warn(f"hullcheck: the decision log cannot be written ({exc.strerror or exc}): "
                      + json.dumps(record, separators=(",", ":"), default=str))

    def engine(self) -> LiveEngine:
        with self._engine_lock:
            if self._engine is None:
                self._engine = LiveEngine(self.options.docker_host, self.options.tls)
            return self._engine

    def decide(self, request: authz.ApiRequest) -> Decision:
        started = time.monotonic()
        record: dict[str, Any] = {"time": utc_timestamp("milliseconds"), "user": request.user,
                                  "method": request.method, "path": request.uri, "request": request.kind,
                                  "container": None, "image": None}
        snapshot: dict[str, Any] = {}
        try:
            facts = self.facts.first(timeout=5.0)
            plan = self.plan(request, facts)
            record.update({"container": plan.name, "image": plan.image})
            snapshot = self.snapshot(plan, facts)
            record["subjects"] = snapshot["meta"]["source"]["subjects"]
            document = self.evaluate(snapshot, plan.name, snapshot_json(facts, snapshot))
            decision = self.verdict(plan, document, record)
        except Skip as why:
            decision = self._finish(True, str(why), record)
        except NoBody:
            decision = self._finish(not self.options.enforce, NO_BODY, record, would_deny=True)
        except Exception as exc:  # noqa: BLE001 - a request the guard cannot judge follows --on-error
            reason = f"the request could not be judged: {type(exc).__name__}: {str(exc)[:500]}"
            deny = bool(self.options.enforce) and self.options.deny_on_error
            decision = self._finish(not deny, reason, record, would_deny=self.options.deny_on_error, error=True)
        record["ms"] = round((time.monotonic() - started) * 1000, 1)
        self.write(record)
        if decision.record.get("error"):
            self.warn(f"hullcheck: {request.kind} {request.uri}: {decision.record['reason']} -> {record['decision']}")
        if self.on_judged is not None:
            self.on_judged(request, snapshot, decision)
        return decision

    # -- planning ---------------------------------------------------------------------------
    def plan(self, request: authz.ApiRequest, facts: EngineFacts) -> Plan:
        if request.body is None:  # including a legacy start that announced a body the daemon kept to itself
            raise NoBody()
        body = request.json_body()
        if request.kind == authz.START and body is None:
            body = {}
        if not isinstance(body, dict):
            raise ValueError("the request body is not a JSON object")
        defaults = facts.defaults
        if request.kind == authz.CREATE:
            ref = str(body.get("Image") or "")
            image = self._image(ref)
            name = request.first("name") or ""
            planned, unknown = apiplan.plan_create(body, name, image, defaults)
            return Plan(name or apiplan.UNNAMED, ref, planned, unknown, image_absent=image is None)
        if request.kind in (authz.SERVICE_CREATE, authz.SERVICE_UPDATE):
            before = None
            if request.kind == authz.SERVICE_UPDATE:
                current = self._ask("inspect_service", str(request.target))
                if current is None:
                    raise Skip("no such service: the daemon refuses the update itself")
                ref = str(((current.get("Spec") or {}).get("TaskTemplate") or {}).get("ContainerSpec", {}).get("Image") or "")
                before, _ = apiplan.plan_service(current.get("Spec") or {}, self._image(ref), defaults)
            ref = str(((body.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image") or "")
            planned, unknown = apiplan.plan_service(body, self._image(ref), defaults)
            return Plan(_name(planned), ref, planned, unknown, before=before)
        current = self._ask("inspect_container", str(request.target))
        if current is None:
            raise Skip(f"no such container {request.target}: the daemon refuses the {request.kind} itself")
        if request.kind == authz.EXEC:
            planned = apiplan.plan_exec(current, body, defaults)
        elif request.kind == authz.UPDATE:
            planned = apiplan.plan_update(current, body, defaults)
        else:
            planned = apiplan.plan_start(current, body, defaults)
        before = fill(apiplan.as_running(current), defaults)
        return Plan(_name(current), str((current.get("Config") or {}).get("Image") or ""), planned, {}, before=before)

    def _image(self, ref: str) -> dict[str, Any] | None:
        return self._ask("inspect_image", ref) if ref else None

    def _ask(self, method: str, ident: str) -> dict[str, Any] | None:
        """One read from the engine; a connection that broke (dockerd restarted) is opened again once."""
        for attempt in (1, 2):
            try:
                found: dict[str, Any] | None = getattr(self.engine(), method)(ident)
                return found
            except (OSError, ConnectionError, RequestException):
                if attempt == 2:
                    raise
                with self._engine_lock:
                    engine, self._engine = self._engine, None
                if engine is not None:
                    engine.close()
        return None

    def snapshot(self, plan: Plan, facts: EngineFacts) -> dict[str, Any]:
        """The planned container (after the container as it is, for a change) beside the facts."""
        if plan.before is not None:  # two resources of one name: told apart by id
            plan.before["Id"] = apiplan.identity("as it is", plan.before.get("Id"))
        items, unknown = [], []
        for inspect, missing in ((plan.before, {}), (plan.planned, plan.unknown)):
            if inspect is None:
                continue
            raw = engine_fixups.container(inspect)  # as the collector reads a container: CAP_ prefixes off
            redact_container(inspect)
            config = inspect.get("Config") or {}
            if "Labels" in config:
                config["Labels"] = redact_labels(config["Labels"])
            items.append({"inspect": inspect, "processes": None, **({"raw": raw} if raw else {})})
            unknown.append(missing)
        return container_snapshot(facts, items, "request", unknown)

    def evaluate(self, snapshot: dict[str, Any], name: str, data: bytes) -> dict[str, Any]:
        future = self._evaluations.submit(self.judge.judge, snapshot, name, data)
        try:
            return future.result(timeout=self.options.decision_timeout)
        except FutureTimeout:
            raise TimeoutError(f"no verdict within {self.options.decision_timeout:g}s") from None

    # -- deciding ---------------------------------------------------------------------------
    def verdict(self, plan: Plan, document: dict[str, Any], record: dict[str, Any]) -> Decision:
        planned_id = plan.planned["Id"]
        before_id = plan.before["Id"] if plan.before is not None else None
        threshold = self.options.enforce
        policies: list[dict[str, Any]] = []
        refusing: list[str] = []
        erring: list[str] = []
        for result in document["results"]:
            own = [f for f in result["findings"] if (f.get("resource") or {}).get("id") == planned_id]
            prior = {f["status"] for f in result["findings"] if (f.get("resource") or {}).get("id") == before_id}
            entry = {"policy": result["id"], "title": result["title"], "severity": result["severity"]}
            gate = threshold is None or at_or_above(result["severity"], threshold)
            if result["status"] == "error" and not result["findings"]:
                policies.append({**entry, "status": "error", "message": str(result.get("reason") or "")})
                if gate:
                    erring.append(f"{result['id']} could not be judged: {result.get('reason')}")
                continue
            for finding in own:
                status, message = finding["status"], str(finding.get("message") or "")
                if status == "fail" and prior & {"fail", "waived"}:
                    policies.append({**entry, "status": "fail", "message": message, "before": "fail"})
                    continue
                if status == "error" and "error" in prior:
                    continue
                if status not in ("fail", "error", "waived"):
                    continue
                item = {**entry, "status": status, "message": message}
                if status == "waived":
                    item["waiver"] = (finding.get("waiver") or {}).get("id")
                policies.append(item)
                if status == "fail" and gate:
                    refusing.append(f"{result['id']} ({result['severity']}) {result['title']}: {message}")
                elif status == "error" and gate and not (plan.image_absent and apiplan.NO_IMAGE in message):
                    erring.append(f"{result['id']} could not be judged: {message}")
        record["policies"] = policies
        if plan.image_absent:
            record["note"] = "the image is not on the engine: the daemon answers this create with no such image"
        if refusing and self.options.enforce:
            return self._finish(False, "refused by policy: " + "; ".join(refusing), record)
        if refusing:  # audit-only: which --enforce threshold would have refused it
            worst = min((p["severity"] for p in policies if p["status"] == "fail" and "before" not in p),
                        key=severity_rank)
            record["would_refuse_at"] = worst
            return self._finish(True, f"--enforce {worst} (or lower) would refuse: " + "; ".join(refusing), record)
        if erring:
            reason = "; ".join(erring) + (" (--on-error deny)" if self.options.deny_on_error else " (--on-error allow)")
            deny = bool(self.options.enforce) and self.options.deny_on_error
            return self._finish(not deny, reason, record, would_deny=self.options.deny_on_error, error=True)
        return self._finish(True, "", record)

    def _finish(self, allow: bool, reason: str, record: dict[str, Any], would_deny: bool = False,
                error: bool = False) -> Decision:
        record["decision"] = "allow" if allow else "deny"
        record["mode"] = self.options.mode
        if reason:
            record["reason"] = reason
        if would_deny and allow and not self.options.enforce:
            record["would_deny"] = True
        if error:
            record["error"] = True
        message = f"hullcheck: {reason}" if reason else ""
        return Decision(allow=allow, message=message[:4000], record=record)


def serve(options: GuardOptions, warn: Callable[[str], None]) -> None:
    """`hullcheck guard` until SIGTERM or Ctrl-C: the pack loaded and a jq worker warm first, then
    the socket, then READY=1 for systemd (Type=notify), so dockerd never waits on a cold guard.
    SIGHUP reads the waivers file and the engine's facts again."""
    import signal
    import sys

    from .plugin import PluginServer, notify_systemd

    # Every API request waits on two plugin calls: a call's thread must get the interpreter at
    # once, not after another thread's 5 ms slice (a judged create, the facts being read).
    sys.setswitchinterval(0.0005)
    guard = Guard(options, warn)
    server: PluginServer | None = None
    try:
        guard.judge.warm_up()
        server = PluginServer(options.socket, guard.authorize)

        def on_hangup(_signum: int, _frame: Any) -> None:
            guard.judge.reload_waivers()
            guard.facts.refresh()

        try:
            signal.signal(signal.SIGHUP, on_hangup)
        except ValueError:  # not the main thread (embedded): no reload by signal
            pass
        notify_systemd("READY=1")
        warn(f"hullcheck guard: authorization plugin {options.name} serving {options.socket} ({options.mode}, "
             f"{len(guard.judge.policies)} container policies); decisions to {options.log or 'standard output'}")
        server.serve_forever(poll_interval=0.5)
    finally:
        notify_systemd("STOPPING=1")
        if server is not None:
            server.shutdown_and_remove()
        guard.close()
