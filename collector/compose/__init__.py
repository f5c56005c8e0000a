"""A Compose application as a second source of snapshots: the planned containers, judged by the
same policies as a running host, before anything is deployed.

`collect_compose(options)` reads the files (project.py), plans each replica as `docker inspect`
would show it (planned.py), and returns a snapshot in the live collector's shape, marked
`meta.source.kind = compose`. What a plan cannot know is absent with a reason in `meta.errors`
(host, daemon, files, audit, engine, swarm, processes; the image's USER and HEALTHCHECK unless
`images_from_engine`), so the policies that need it say `error`, never `pass`. Each container
carries `planned.positions`: JSON Pointer -> {file, line, column} of the key that set it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from hullcheck_common import __version__

from .. import redact
from ..errors import ErrorLog, pointer
from .planned import plan_container
from .project import ComposeOptions, Project, environment, load_project
from .source import ComposeError

__all__ = ["ComposeError", "ComposeOptions", "collect_compose", "load_project"]

NOT_PLANNED = "not part of a Compose plan: judged on a running host only"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _environment_of(service: Any, project_env: dict[str, str]) -> dict[str, str]:
    """env_file values, then environment: (a name without a value takes the shell's, or is dropped)."""
    out: dict[str, str] = {}
    for env_file in service.get("env_file") or []:
        path = Path(env_file)
        if not path.is_file():
            raise ComposeError(f"env_file {env_file} not found", service.keypos.get("env_file"), file=str(env_file))
        out.update({k: v for k, v in dotenv_values(path).items() if v is not None})
    for key, value in (service.get("environment") or {}).items():
        if value is None:
            if key in project_env:
                out[key] = project_env[key]
        else:
            out[key] = str(value)
    return out


def _replicas(service: Any) -> int:
    scale = service.get("scale")
    if scale is None:
        scale = (service.get("deploy") or {}).get("replicas")
    return 1 if scale is None else max(0, int(scale))


def _images(project: Project, options: ComposeOptions, errors: ErrorLog) -> dict[str, dict[str, Any]]:
    """Image inspects from a local engine, by the reference each service names (best effort)."""
    if not options.images_from_engine:
        return {}
    from ..engine import connect

    found: dict[str, dict[str, Any]] = {}
    client = connect(options.docker_host, None)
    try:
        for name, service in project.services.items():
            ref = str(service.get("image") or f"{project.name}-{name}")
            if ref in found:
                continue
            try:
                found[ref] = client.inspect_image(ref)
            except Exception as exc:  # noqa: BLE001 - an image the engine lacks stays unknown
                errors.add(pointer("images", ref), f"image {ref} not found on the engine: {str(exc)[:200]}")
    finally:
        client.close()
    return found


def _scrub(value: Any, secrets: list[str]) -> Any:
    """Replace every interpolated secret value wherever it landed (a path, a command, a label)."""
    if isinstance(value, str):
        for secret in secrets:
            if value == secret or (len(secret) >= 4 and secret in value):
                value = value.replace(secret, redact.MARKER)
        return value
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    return value


def _networks(project: Project, containers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The networks Compose would create, and the engine's default bridge when a service uses it."""
    names: dict[str, str] = {}
    for item in containers:
        for net in (item["inspect"]["NetworkSettings"]["Networks"] or {}):
            names.setdefault(net, hashlib.sha256(f"network\0{net}".encode()).hexdigest())
    out = []
    for net, ident in sorted(names.items()):
        entry: dict[str, Any] = {"Name": net, "Id": ident, "Driver": "bridge", "Options": {},
                                 "Labels": {"com.docker.compose.project": project.name}}
        if net == "bridge":
            entry = {"Name": "bridge", "Id": ident, "Driver": "bridge",
                     "Options": {"com.docker.network.bridge.default_bridge": "true"}, "Labels": {}}
        if net == "host":
            entry = {"Name": "host", "Id": ident, "Driver": "host", "Options": {}, "Labels": {}}
        out.append(entry)
    for item in containers:
        for net, attached in (item["inspect"]["NetworkSettings"]["Networks"] or {}).items():
            attached["NetworkID"] = names[net]
    return out


def collect_compose(options: ComposeOptions, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The planned snapshot of a Compose application (raises ComposeError on bad input)."""
    from ..snapshot import SCHEMA_VERSION, validate

    say = progress or (lambda _m: None)
    started = _now()
    errors = ErrorLog()
    say(f"reading {len(options.files)} Compose file(s)")
    project = load_project(options)
    project_env = environment(options, Path(project.directory))
    images = _images(project, options, errors)
    containers: list[dict[str, Any]] = []
    config_files = [f["path"] for f in project.files]
    for name in sorted(project.services):
        service = project.services[name]
        env = _environment_of(service, project_env)
        ref = str(service.get("image") or f"{project.name}-{name}")
        for number in range(1, _replicas(service) + 1):
            inspect, positions, unknown = plan_container(
                project.name, name, service, number, images.get(ref), env, project.networks, project.volumes,
                project.directory, config_files)
            if ref in images:
                inspect["Image"] = images[ref].get("Id") or ""
            index = len(containers)
            for ptr, reason in sorted(unknown.items()):
                errors.add(f"/containers/{index}{ptr}", reason)
            errors.add(f"/containers/{index}/processes", "a planned container has no processes yet")
            if options.redact:
                redact.redact_container(inspect)
                inspect["Config"]["Labels"] = redact.redact_labels(inspect["Config"]["Labels"])
            containers.append({"inspect": inspect, "processes": None,
                               "planned": {"project": project.name, "service": name, "replica": number,
                                           "positions": positions}})
    networks = _networks(project, containers)
    if options.redact:
        secrets = sorted({v for k, v in project.used_variables.items() if v and redact._is_secret_name(k)},
                         key=len, reverse=True)
        if secrets:
            containers = _scrub(containers, secrets)
    # A plan holds its containers, and their images when an engine gave them: the host, daemon,
    # engine, files, swarm and the containers' processes are outside its scope (policies judging
    # them are listed as not judged, evaluator/scope.py), not errors. meta.errors keeps what is
    # unknown inside the scope: an image's USER or HEALTHCHECK when images are not read, ...
    from hullcheck_common.vocabulary import pointer_subject

    subjects = ["container", "image"] if images else ["container"]
    in_scope = [e for e in errors.as_list() if pointer_subject(e["source"]) != "processes"]
    snapshot: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "meta": {
            "hullcheck_version": __version__,
            "started_at": started,
            "finished_at": _now(),
            "hostname": f"compose:{project.name}",
            "engine_endpoint": "none: planned from Compose files",
            "collector": {"uid": os.getuid(), "in_container": False, "container_id": None, "rootless": None,
                          "remote": True, "host_root": None, "redacted": options.redact, "label_filter": []},
            "errors": in_scope,
            "source": {"kind": "compose", "project": project.name, "files": project.files,
                       "profiles": project.profiles, "disabled_services": project.disabled, "subjects": subjects},
        },
        "engine": {"version": None, "info": None},
        "daemon": {"process": None, "config_file": None, "options": None, "units": None},
        "containers": containers,
        "images": [{"inspect": i, "history": None} for i in images.values()] if images else None,
        "networks": networks,
        "volumes": None,
        "plugins": None,
        "swarm": None,
        "host": None,
        "files": None,
        "audit": None,
    }
    validate(snapshot)
    return snapshot
