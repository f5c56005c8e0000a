"""What `hullcheck guard` and `hullcheck watch` read from a live engine, and the snapshots they judge.

Both judge one container at a time, beside the engine's own facts: GET /version and /info, the
networks, volumes and plugins, the daemon's command line and daemon.json, the host's AppArmor,
SELinux, kernel and mounts (collected as `collect` does, without containers and images, and read
again now and then: `collect_facts`). The guard's container is planned from an API request
(collector/apiplan.py), watch's is read from the engine after an event (`read_container`).

`container_snapshot` puts one or more containers beside the facts into a snapshot, marked with
where it came from (`meta.source.kind`: request or event) and which subjects it holds
(`meta.source.subjects`: the container, and the facts that were read).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

from .daemon_defaults import EngineDefaults
from .engine_api import _container, connect
from .errors import ErrorLog, pointer
from .snapshot import CollectOptions, collect, validate

# The sections of a facts snapshot and the subject each one is (hullcheck_common.vocabulary SUBJECTS).
_FACT_SUBJECTS = (("engine", "engine"), ("daemon", "daemon"), ("host", "host"), ("files", "files"), ("swarm", "swarm"))


@dataclass(frozen=True)
class EngineFacts:
    """A facts-only snapshot of an engine and its host, and the defaults it applies to containers."""

    snapshot: dict[str, Any]
    defaults: EngineDefaults
    subjects: tuple[str, ...] = field(default=())

    @property
    def kind(self) -> str | None:
        return ((self.snapshot.get("meta") or {}).get("engine") or {}).get("kind")

    @cached_property
    def sections_json(self) -> str:
        """The facts' sections as JSON members (`"engine":{...},"host":{...}`), made once: every
        snapshot of one container repeats them (120 KB on a host with many mounts)."""
        sections = {key: self.snapshot.get(key) for key in _FACT_SECTIONS}
        if sections["engine"] is None:
            sections["engine"] = {"version": None, "info": None}
        if sections["daemon"] is None:
            sections["daemon"] = dict(_NO_DAEMON)
        return json.dumps(sections, ensure_ascii=False, separators=(",", ":"))[1:-1]


def collect_facts(docker_host: str | None = None, tls: Any = None) -> EngineFacts:
    """The engine's and its host's facts (raises collector.EngineUnreachable when no engine answers)."""
    snapshot = collect(CollectOptions(docker_host=docker_host, tls=tls, objects=False, redact=True))
    return facts_of(snapshot)


def facts_of(snapshot: dict[str, Any]) -> EngineFacts:
    """EngineFacts from a snapshot (a facts-only one, or a full live one whose objects are ignored)."""
    engine = snapshot.get("engine") or {}
    daemon = snapshot.get("daemon") or {}
    defaults = EngineDefaults.from_engine(engine.get("info"), daemon.get("options"), snapshot.get("networks"))
    subjects = []
    for section, subject in _FACT_SUBJECTS:
        value = snapshot.get(section)
        if section == "engine":
            held = isinstance(value, dict) and value.get("info") is not None
        elif section == "daemon":
            held = isinstance(value, dict) and value.get("options") is not None
        else:
            held = value is not None
        if held:
            subjects.append(subject)
    return EngineFacts(snapshot=snapshot, defaults=defaults, subjects=tuple(subjects))


def no_facts() -> EngineFacts:
    """Before the engine first answered: a container is judged on its own settings."""
    return EngineFacts(snapshot={}, defaults=EngineDefaults(), subjects=())


_FACT_SECTIONS = ("engine", "daemon", "host", "files", "audit", "swarm", "networks", "volumes", "plugins")
_NO_DAEMON = {"process": None, "config_file": None, "options": None, "units": None}


def container_snapshot(facts: EngineFacts, containers: list[dict[str, Any]], kind: str,
                       unknown: list[dict[str, str]] | None = None, processes: bool = False) -> dict[str, Any]:
    """A snapshot of `containers` (items {inspect, processes}) beside the facts, validated.

    `unknown[i]` maps pointers inside container i to why that part is unknown (meta.errors);
    `processes`: the items carry their process lists (watch), so the snapshot holds that subject.
    The facts' sections are the very objects of `facts` (not copied: never change them); they
    were validated when collected, so only the rest is validated here (snapshot_json writes it)."""
    from hullcheck_common import __version__
    from hullcheck_common.vocabulary import utc_timestamp

    from .output import SCHEMA_VERSION

    base = facts.snapshot
    meta = dict(base.get("meta") or {})
    errors = [e for e in meta.get("errors") or []
              if not str(e.get("source", "")).startswith(("/containers", "/images"))]
    for index, item in enumerate(unknown or []):
        errors += [{"source": pointer("containers", index) + ptr, "reason": reason} for ptr, reason in sorted(item.items())]
    subjects = ["container", *(["processes"] if processes else []), *facts.subjects]
    now = utc_timestamp("milliseconds")
    meta.update({
        "hullcheck_version": meta.get("hullcheck_version") or __version__,
        "started_at": meta.get("started_at") or now,
        "finished_at": now,
        "hostname": meta.get("hostname") or "unknown",
        "engine_endpoint": meta.get("engine_endpoint") or "unknown",
        "errors": sorted(errors, key=lambda e: (e["source"], e["reason"])),
        "source": {"kind": kind, "subjects": subjects},
    })
    meta.setdefault("collector", {"uid": 0, "in_container": False, "container_id": None, "rootless": None,
                                  "remote": False, "host_root": None, "redacted": True, "label_filter": []})
    own = {"schema_version": SCHEMA_VERSION, "meta": meta, "containers": containers, "images": None}
    validate({**own, **{key: None for key in _FACT_SECTIONS}, "engine": {"version": None, "info": None},
              "daemon": dict(_NO_DAEMON)})
    snapshot = {**{key: base.get(key) for key in _FACT_SECTIONS}, **own}
    if snapshot["engine"] is None:
        snapshot["engine"] = {"version": None, "info": None}
    if snapshot["daemon"] is None:
        snapshot["daemon"] = dict(_NO_DAEMON)
    return snapshot


def snapshot_json(facts: EngineFacts, snapshot: dict[str, Any]) -> bytes:
    """container_snapshot's snapshot as JSON, the facts' sections spliced in as made once."""
    own = {key: value for key, value in snapshot.items() if key not in _FACT_SECTIONS}
    text = json.dumps(own, ensure_ascii=False, separators=(",", ":"))
    return (text[:-1] + "," + facts.sections_json + "}").encode()


class LiveEngine:
    """One connection to the engine for reading single containers, images and services."""

    def __init__(self, docker_host: str | None = None, tls: Any = None, timeout: int = 30) -> None:
        from .engine_api import endpoint_url

        self.client = connect(docker_host, tls, timeout=timeout)
        self.endpoint = endpoint_url(docker_host)

    def close(self) -> None:
        self.client.close()

    def container(self, ident: str, kind: str | None = None, proc_top: Any = None) -> dict[str, Any] | None:
        """{inspect, processes[, processes_from]} of one container, redacted as in snapshots; None
        when it is gone. A process list that could not be read is in the item's `error`."""
        errors = ErrorLog()
        item = _container(self.client, ident, errors, True, kind, proc_top)
        if item is None:
            return None
        reason = item.pop("_pending_error", None)
        if reason:
            item["error"] = reason
        return item

    def inspect_container(self, ident: str) -> dict[str, Any] | None:
        """GET /containers/{id}/json as the engine answers it (None: no such container)."""
        return self._found(self.client.inspect_container, ident)

    def inspect_image(self, ref: str) -> dict[str, Any] | None:
        """GET /images/{ref}/json (None: the engine does not have it)."""
        return self._found(self.client.inspect_image, ref)

    def inspect_service(self, ident: str) -> dict[str, Any] | None:
        return self._found(self.client.inspect_service, ident)

    def inspect_exec(self, ident: str) -> dict[str, Any] | None:
        return self._found(self.client.exec_inspect, ident)

    @staticmethod
    def _found(inspect: Callable[[str], Any], ident: str) -> dict[str, Any] | None:
        """What an inspect call answers, or None when the engine says 404 (no such object)."""
        from docker.errors import NotFound

        try:
            return dict(inspect(ident))
        except NotFound:
            return None

    def running_ids(self) -> list[str]:
        return [str(c["Id"]) for c in self.client.containers(all=False)]
