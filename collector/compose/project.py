"""A Compose application read as `docker compose config` reads it: the files merged in order, the
environment and `.env` interpolated, `extends` resolved (also from another file), profiles applied.

Relative paths in every -f file resolve against the project directory; those in a file reached
through `extends: {file: ...}` against that file's own directory, as the specification says.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from .interpolate import Interpolator
from .merge import merge
from .normalize import normalize_service
from .source import ComposeError, LDict, Pos, read_file
from .validate import validate_file


@dataclass
class ComposeOptions:
    """What to read. `environ` defaults to this process's environment (it wins over .env)."""

    files: list[str]
    project_directory: str | None = None
    env_files: list[str] = field(default_factory=list)
    profiles: list[str] = field(default_factory=list)
    environ: Mapping[str, str] | None = None
    images_from_engine: bool = False
    docker_host: str | None = None
    redact: bool = True


@dataclass
class Project:
    name: str
    directory: str
    services: dict[str, LDict]          # the enabled services, normalised, merged, extends resolved
    disabled: list[str]                 # services left out by profiles
    networks: dict[str, Any]
    volumes: dict[str, Any]
    files: list[dict[str, str]]         # [{path, sha256}] in the order read (extends files included)
    profiles: list[str]
    used_variables: dict[str, str]      # name -> value of every variable interpolated


def shown_path(path: Path) -> str:
    """The path as reports show it: relative to the working directory when below it (so SARIF
    uris are repository-relative when hullcheck runs at the repository root), else absolute."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def _project_name(raw: str) -> str:
    return re.sub(r"[^a-z0-9_-]", "", raw.lower()).lstrip("_-")


def environment(options: ComposeOptions, directory: Path) -> dict[str, str]:
    environ = dict(os.environ if options.environ is None else options.environ)
    env_files = [Path(f) for f in options.env_files] or ([directory / ".env"] if (directory / ".env").is_file() else [])
    values: dict[str, str] = {}
    for env_file in env_files:
        if not env_file.is_file():
            raise ComposeError("env file not found", file=str(env_file))
        try:
            parsed = dotenv_values(env_file, interpolate=True)
        except (OSError, UnicodeDecodeError) as exc:
            raise ComposeError(f"cannot read env file: {exc}", file=str(env_file)) from None
        values.update({k: v for k, v in parsed.items() if v is not None})
    values.update(environ)  # the shell's environment wins over .env, as in Compose
    return values


class _Reader:
    """Reads, interpolates and validates each file once; resolves extends across files."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.interpolator = Interpolator(environ)
        self.files: list[dict[str, str]] = []
        self.cache: dict[Path, dict[str, Any]] = {}

    def read(self, path: Path) -> dict[str, Any]:
        key = path.resolve()
        if key not in self.cache:
            shown = shown_path(path)
            data, doc = read_file(path, shown)
            doc = self.interpolator.tree(doc, Pos(shown, 1, 1))
            validate_file(doc, shown)
            self.files.append({"path": shown, "sha256": hashlib.sha256(data).hexdigest()})
            self.cache[key] = doc
        return self.cache[key]

    def services(self, path: Path, base_dir: Path) -> dict[str, LDict]:
        """The file's services, normalised, with extends resolved."""
        doc = self.read(path)
        raw = doc.get("services") or {}
        resolved: dict[str, LDict] = {}
        for name in raw:
            resolved[name] = self._service(path, base_dir, name, (), None)
        return resolved

    def _service(self, path: Path, base_dir: Path, name: str, stack: tuple[tuple[Path, str], ...],
                 at: Pos | None) -> LDict:
        """Service `name` of `path`, extends resolved; `at` is the extends line that asked for it."""
        doc = self.read(path)
        services: LDict = doc.get("services") or LDict()
        shown = shown_path(path)
        if name not in services:
            raise ComposeError(f"extends names service {name!r}, which {shown} does not define", at, file=shown)
        if (path.resolve(), name) in stack:
            raise ComposeError(f"extends loops back to service {name!r}", services.keypos.get(name))
        service = services[name] or LDict(pos=services.keypos.get(name))
        if not isinstance(service, LDict):
            raise ComposeError(f"service {name!r} must be a mapping", services.keypos.get(name))
        service.pos = services.keypos.get(name) or service.pos  # the service's own line: `name:`
        normal = normalize_service(service, str(base_dir))
        extends = normal.get("extends")
        if extends is None:
            return normal
        if isinstance(extends, str):
            extends = {"service": extends}
        other = path
        other_base = base_dir
        if extends.get("file"):
            other = (path.parent / str(extends["file"])).resolve()
            other_base = other.parent
        if not other.is_file():
            raise ComposeError(f"extends file {extends['file']} not found", normal.keypos.get("extends"))
        base = self._service(other, other_base, str(extends["service"]), (*stack, (path.resolve(), name)),
                             normal.keypos.get("extends"))
        own = LDict(pos=normal.pos)
        for k, v in normal.items():
            if k != "extends":
                own[k] = v
                own.keypos[k] = normal.keypos.get(k)
        merged = merge(base, own)
        merged.pos = normal.pos
        return merged


def load_project(options: ComposeOptions) -> Project:
    """Read the application the options name into one Project, or raise ComposeError."""
    if not options.files:
        raise ComposeError("no Compose file given (--compose FILE)")
    paths = [Path(f) for f in options.files]
    directory = Path(options.project_directory or paths[0].resolve().parent).resolve()
    environ = environment(options, directory)
    reader = _Reader(environ)
    services: dict[str, LDict] = {}
    top: dict[str, Any] = {"networks": {}, "volumes": {}, "name": None}
    for path in paths:  # the -f files first in meta.source.files, then any reached through extends
        reader.read(path)
    for path in paths:
        file_services = reader.services(path, directory)
        for name, service in file_services.items():
            if name in services:
                first = services[name].pos  # the service's line in the first file that defines it
                services[name] = merge(services[name], service)
                services[name].pos = first
            else:
                services[name] = service
        doc = reader.read(path)
        for section in ("networks", "volumes"):
            for k, v in (doc.get(section) or {}).items():
                top[section][k] = merge(top[section].get(k) or {}, v or {}) if k in top[section] else (v or {})
        if doc.get("name"):
            top["name"] = str(doc["name"])
    name = _project_name(top["name"] or environ.get("COMPOSE_PROJECT_NAME") or directory.name)
    if not name:
        raise ComposeError(f"no usable project name from {directory.name!r}: set name: in the file")
    active = list(options.profiles) or [p for p in environ.get("COMPOSE_PROFILES", "").split(",") if p]
    enabled = {}
    disabled = []
    for sname, service in services.items():
        wanted = [str(p) for p in service.get("profiles") or []]
        if not wanted or "*" in active or any(p in active for p in wanted):
            enabled[sname] = service
        else:
            disabled.append(sname)
    return Project(name=name, directory=str(directory), services=enabled, disabled=sorted(disabled),
                   networks=top["networks"], volumes=top["volumes"], files=reader.files, profiles=active,
                   used_variables=dict(reader.interpolator.used))
