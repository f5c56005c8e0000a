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
from collections.abc import Callable
from typing import Any

from hullcheck_common.vocabulary import utc_timestamp

from .. import redact
from ..errors import ErrorLog, pointer
from .envfile import service_values
from .planned import plan_container
from .project import ComposeOptions, Project, load_project
from .source import ComposeError

__all__ = ["ComposeError", "ComposeOptions", "collect_compose", "load_project"]


def _environment_of(service: Any, project_env: dict[str, str]) -> dict[str, str]:
    """env_file values, then environment: (a name without a value takes the shell's, or is dropped)."""
    out = service_values(service, "env_file", list(service.get("env_file") or []))
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


def _image_ref(project: Project, name: str) -> str:
    """The image a service runs: `image:`, else the one Compose builds and names project-service."""
    return str(project.services[name].get("image") or f"{project.name}-{name}")


def _builds(project: Project, options: ComposeOptions, environ: dict[str, str], errors: ErrorLog) -> dict[str, Any]:
    """The images of the services with build:, planned from their Dockerfiles (collector/dockerfile);
    a Dockerfile that is not there leaves that image unknown, with the reason in meta.errors."""
    if not any(service.get("build") for service in project.services.values()):
        return {}
    from ..dockerfile.compose import plan_builds

    return plan_builds(project.name, project.services, project.directory, environ,
                       images_from_engine=options.images_from_engine, docker_host=options.docker_host,
                       redact=options.redact, error=lambda message, pos: ComposeError(message, pos),
                       missing=lambda name, why: errors.add(pointer("images", _image_ref(project, name)), why))


def _images(project: Project, options: ComposeOptions, errors: ErrorLog, skip: frozenset[str] | set[str] = frozenset()) -> dict[str, dict[str, Any]]:
    """Image inspects from a local engine, by the reference each service names (best effort);
    services in `skip` (built from a Dockerfile, planned by _builds) are not looked up."""
    if not options.images_from_engine:
        return {}
    from ..engine_api import connect

    found: dict[str, dict[str, Any]] = {}
    client = connect(options.docker_host, None)
    try:
        for name in project.services:
            if name in skip:
                continue
            ref = _image_ref(project, name)
            if ref in found:
                continue
            try:
                found[ref] = client.inspect_image(ref)
            except Exception as exc:  # noqa: BLE001 - an image the engine lacks stays unknown
                errors.add(pointer("images", ref), f"image {ref} not found on the engine: {str(exc)[:200]}")
    finally:
        client.close()
    return found


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
    from ..output import planned_snapshot

    say = progress or (lambda _m: None)
    started = utc_timestamp("milliseconds")
    errors = ErrorLog()
    say(f"reading {len(options.files)} Compose file(s)")
    project = load_project(options)
    builds = _builds(project, options, project.environ, errors)
    images = _images(project, options, errors, skip=set(builds))
    containers: list[dict[str, Any]] = []
    config_files = [f["path"] for f in project.files]
    for name in sorted(project.services):
        service = project.services[name]
        if service.get("provider"):  # Compose hands it to a provider: no container (recorded on dependents)
            continue
        if not service.get("image") and not service.get("build"):  # Compose's consistency check refuses it too
            raise ComposeError(f"service {name} has neither an image nor a build context specified",
                               getattr(service, "pos", None))
        env = _environment_of(service, project.environ)
        ref = _image_ref(project, name)
        for number in range(1, _replicas(service) + 1):
            image = builds[name].inspect if name in builds else images.get(ref)
            inspect, positions, unknown, recorded = plan_container(
                project, name, service, number, image, env, config_files)
            if name in builds:
                from ..dockerfile.compose import apply_build

                apply_build(builds[name], service, inspect, positions, unknown)
            elif ref in images:
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
                                           "positions": positions, **({"compose": recorded} if recorded else {})}})
    networks = _networks(project, containers)
    # A plan holds its containers, and their images when an engine gave them: the host, daemon,
    # engine, files, swarm and the containers' processes are outside its scope (policies judging
    # them are listed as not judged, evaluator/scope.py), not errors. meta.errors keeps what is
    # unknown inside the scope: an image's USER or HEALTHCHECK when images are not read, ...
    from hullcheck_common.vocabulary import pointer_subject

    subjects = ["container", "image"] if images or builds else ["container"]
    image_entries = [{"inspect": i, "history": None} for i in images.values()]
    image_entries += [entry for name in sorted(builds) for entry in builds[name].entries]
    in_scope = [e for e in errors.as_list() if pointer_subject(e["source"]) != "processes"]
    return planned_snapshot(
        started=started, hostname=f"compose:{project.name}", endpoint="none: planned from Compose files",
        redacted=options.redact, errors=in_scope,
        source={"kind": "compose", "project": project.name, "files": project.files,
                "profiles": project.profiles, "disabled_services": project.disabled, "subjects": subjects},
        containers=containers, images=image_entries or None, networks=networks)
