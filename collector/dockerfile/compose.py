"""Compose services with `build:`: each one's image planned from its Dockerfile, for the Compose
collector (collector/compose) to run its containers from.

`plan_builds` reads every service's build section as Compose resolves it (context relative to the
project directory, `dockerfile` relative to the context, `dockerfile_inline`, `target`, `args` as a
mapping or `K=V` / `K` list, already interpolated by the project loader) and plans the image with
the same reader as `collect --dockerfile`. `apply_build` then finishes a planned container: the
image's USER, HEALTHCHECK, CMD and ENTRYPOINT count where the service does not set them (a
Compose key wins, as in Compose), and the position of each such field is the Dockerfile line
that decided it, or the Compose key that overrode it. What the Dockerfile cannot tell (an unread
base image's USER) stays unknown for the container too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from hullcheck_common.errors import HullcheckError

from . import DockerfileError, engine_lookup, image_entries, read_plan, shown_path
from .build import BaseLookup, BuildError, plan
from .parser import ParseError


@dataclass
class ServiceBuild:
    """One service's planned image: its entries for `images`, the target's config (unredacted)
    and, per container config field, where the Dockerfile set it or why it is unknown."""

    ref: str
    entries: list[dict[str, Any]]
    inspect: dict[str, Any]
    positions: dict[str, dict[str, Any]] = field(default_factory=dict)  # /inspect/Config/User -> position
    unknown: dict[str, str] = field(default_factory=dict)


def _args(raw: Any, environ: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(raw, dict):
        for key, value in raw.items():
            if value is None:
                if key in environ:
                    out[str(key)] = environ[key]
            else:
                out[str(key)] = str(value)
    elif isinstance(raw, list):
        for item in raw:
            key, eq, value = str(item).partition("=")
            if eq:
                out[key] = value
            elif key in environ:
                out[key] = environ[key]
    return out


def plan_builds(project_name: str, services: Mapping[str, Any], directory: str, environ: Mapping[str, str], *,
                images_from_engine: bool = False, docker_host: str | None = None, redact: bool = True,
                error: Callable[[str, Any], HullcheckError] | None = None,
                missing: Callable[[str, str], None] | None = None) -> dict[str, ServiceBuild]:
    """service name -> its planned image, for every service with a build section whose Dockerfile
    is there.

    A Dockerfile that is not there (a context not checked out, a file generated at build time) is
    not a bad Compose file: `docker compose config` accepts it. That service's image stays
    unknown, as an image not read from an engine, and `missing(service, why)` is told.

    `error(message, position)` makes the exception a bad build section raises (the Compose
    collector's, naming the Compose line); a Dockerfile BuildKit would refuse raises
    DockerfileError naming the Dockerfile's line."""
    lookup: BaseLookup | None = None
    close: Callable[[], None] = lambda: None  # noqa: E731
    out: dict[str, ServiceBuild] = {}
    try:
        for name in sorted(services):
            service = services[name]
            build = service.get("build")
            if not build:
                continue
            if images_from_engine and lookup is None:
                lookup, close = engine_lookup(docker_host)
            planned = _plan_one(project_name, name, service, build, directory, environ, lookup, redact, error,
                                missing)
            if planned is not None:
                out[name] = planned
    finally:
        close()
    return out


def _plan_one(project_name: str, name: str, service: Any, build: Any, directory: str, environ: Mapping[str, str],
              lookup: BaseLookup | None, redact: bool, error: Callable[[str, Any], HullcheckError] | None,
              missing: Callable[[str, str], None] | None = None) -> ServiceBuild | None:
    keypos = getattr(service, "keypos", {})
    where = keypos.get("build")
    if isinstance(build, str):
        build = {"context": build}
    if not isinstance(build, dict):
        raise (error or (lambda m, _p: DockerfileError(m)))(f"service {name}: build must be a path or a mapping", where)
    context = Path(str(build.get("context") or "."))
    if not context.is_absolute():
        context = Path(directory) / context
    if "://" in str(build.get("context") or "") or str(build.get("context") or "").startswith("git@"):
        raise (error or (lambda m, _p: DockerfileError(m)))(
            f"service {name}: a remote build context ({build.get('context')}) cannot be planned: build it, then "
            "collect with --images-from-engine", where)
    ref = str(service.get("image") or f"{project_name}-{name}")
    args = _args(build.get("args"), environ)
    target = build.get("target")
    inline = build.get("dockerfile_inline") is not None
    if inline:
        shown = f"dockerfile_inline of service {name}"
        text = str(build["dockerfile_inline"])
        try:
            built = plan(text, target=str(target) if target else None, build_args=args, base=lookup)
        except (ParseError, BuildError) as exc:
            raise DockerfileError(f"{shown}, line {exc.start}: {exc.message}" if exc.start else f"{shown}: {exc.message}") from None
    else:
        dockerfile = Path(str(build.get("dockerfile") or "Dockerfile"))
        path = dockerfile if dockerfile.is_absolute() else context / dockerfile
        shown = shown_path(path)
        if not path.exists() and not path.is_symlink():
            if missing is not None:
                missing(name, f"{shown} is not there: the image of service {name} cannot be planned")
            return None
        built, text = read_plan(path, shown, target=str(target) if target else None, build_args=args, base=lookup)
    tag = ref if ":" in ref.rsplit("/", 1)[-1] else f"{ref}:latest"
    plain, _ = image_entries(built, text, shown, tags=[tag], name=tag, redact_values=False)
    entries, unknown = image_entries(built, text, shown, tags=[tag], name=tag, redact_values=redact)
    for entry in entries + plain:
        entry["planned"]["service"] = name
        if inline:  # an inline Dockerfile's lines are the Compose file's build key
            entry["planned"]["positions"] = ({p: where.as_dict() for p in entry["planned"]["positions"]}
                                             if where is not None else {})
    target_entry = plain[0]
    positions = {p: v for p, v in target_entry["planned"]["positions"].items() if p.startswith("/inspect/Config/")}
    return ServiceBuild(ref=ref, entries=entries, inspect=target_entry["inspect"], positions=positions,
                        unknown=unknown)


def apply_build(build: ServiceBuild, service: Any, inspect: dict[str, Any], positions: dict[str, Any],
                unknown: dict[str, str]) -> None:
    """Finish a container planned from `build.inspect`: the Dockerfile's lines for what the service
    leaves to the image, the image's unknowns where the service does not decide, the image id."""
    inspect["Image"] = build.inspect["Id"]
    sets = set(getattr(service, "keypos", {}) or {}) | set(service or {})
    decided = {
        "/inspect/Config/User": "user",
        "/inspect/Config/Healthcheck": "healthcheck",
        "/inspect/Config/Cmd": "command",
        "/inspect/Config/Entrypoint": "entrypoint",
        "/inspect/Config/WorkingDir": "working_dir",
    }
    for ptr, key in decided.items():
        if key in sets:
            continue
        if ptr in build.positions:
            positions[ptr] = build.positions[ptr]
        if ptr in build.unknown:
            unknown[ptr] = build.unknown[ptr]
    if "healthcheck" in sets:  # the service's healthcheck: decides, also when it disables the image's
        where = getattr(service, "keypos", {}).get("healthcheck")
        if where is not None:
            positions.setdefault("/inspect/State", where.as_dict())
    else:
        health = build.positions.get("/inspect/Config/Healthcheck")
        if health is not None:
            positions.setdefault("/inspect/State", health)
            if "Health" in (inspect.get("State") or {}):
                positions.setdefault("/inspect/State/Health", health)
        if "/inspect/Config/Healthcheck" in build.unknown:
            unknown["/inspect/State"] = build.unknown["/inspect/Config/Healthcheck"]
        else:
            unknown.pop("/inspect/State", None)
    if "user" not in sets and "/inspect/Config/User" not in build.unknown:
        unknown.pop("/inspect/Config/User", None)

