"""A Compose application read as Compose v2 reads it: each file (each YAML document of it, in
order) interpolated, its typed values converted, checked against the Compose Specification, its
`include`s loaded as projects of their own, its `extends` resolved (also from another file), and
merged onto the files before it; then profiles applied.

Relative paths in every -f file resolve against the project directory; those in a file reached
through `extends: {file: ...}` against that file's own directory, and those of an included
project against its own project directory, as the specification says. An `include` or `extends`
that comes back to where it started is refused, naming the line that closes the loop.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .envfile import project_values
from .interpolate import Interpolator
from .merge import merge, strip_tags
from .normalize import normalize_service, resolve_path
from .source import ComposeError, LDict, LList, Pos, read_file
from .validate import validate_file

SECTIONS = ("networks", "volumes", "secrets", "configs", "models")
MAX_INCLUDE_DEPTH = 32  # include chains deeper than this are refused (a loop through ever new paths)


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
    files: list[dict[str, str]]         # [{path, sha256}] in the order read (extends and include files too)
    profiles: list[str]
    secrets: dict[str, Any] = field(default_factory=dict)
    configs: dict[str, Any] = field(default_factory=dict)
    models: dict[str, Any] = field(default_factory=dict)
    environ: dict[str, str] = field(default_factory=dict)  # the project's environment (.env, then the shell)
    all_services: dict[str, LDict] = field(default_factory=dict)  # profiles' disabled services too


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
        values.update(project_values(env_file))
    values.update(environ)  # the shell's environment wins over .env, as in Compose
    return values


@dataclass
class _Model:
    services: dict[str, LDict] = field(default_factory=dict)
    sections: dict[str, dict[str, Any]] = field(default_factory=lambda: {s: {} for s in SECTIONS})
    name: str | None = None


def _merge_into(target: dict[str, Any], name: str, value: Any) -> None:
    """One resource merged onto what the files before defined (the first file's line kept)."""
    if name in target:
        first = getattr(target[name], "pos", None)
        target[name] = merge(target[name], value)
        if isinstance(target[name], LDict) and first is not None:
            target[name].pos = first
    else:
        target[name] = strip_tags(value)


class _Loader:
    """Reads each file once per environment; resolves include and extends, refusing loops."""

    def __init__(self, redact: bool) -> None:
        self.redact = redact
        self.files: list[dict[str, str]] = []
        self.seen: set[Path] = set()
        self.cache: dict[tuple[Path, int], list[LDict]] = {}

    def docs(self, path: Path, interpolator: Interpolator) -> list[LDict]:
        """The file's documents, interpolated, converted and validated (each once)."""
        key = (path.resolve(), id(interpolator))
        if key not in self.cache:
            shown = shown_path(path)
            data, raw_docs = read_file(path, shown)
            docs = []
            for raw in raw_docs or [None]:
                doc = interpolator.tree(raw, Pos(shown, 1, 1))
                validate_file(strip_tags(doc), shown)
                docs.append(doc)
            if path.resolve() not in self.seen:
                self.seen.add(path.resolve())
                self.files.append({"path": shown, "sha256": hashlib.sha256(data).hexdigest()})
            self.cache[key] = docs
        return self.cache[key]

    # ---- a project: the -f files, or one include entry ------------------------------------------

    def model(self, paths: list[Path], directory: Path, interpolator: Interpolator,
              chain: tuple[Path, ...], at: Pos | None) -> _Model:
        out = _Model()
        for path in paths:
            resolved = path.resolve()
            if resolved in chain:
                names = " -> ".join(shown_path(p) for p in (*chain, resolved))
                raise ComposeError(f"include loops back: {names}", at, file=shown_path(path))
            if len(chain) >= MAX_INCLUDE_DEPTH:
                raise ComposeError(f"includes nested deeper than {MAX_INCLUDE_DEPTH} files", at)
            for doc in self.docs(path, interpolator):
                self._add_document(out, path, doc, directory, interpolator, (*chain, resolved))
        return out

    def _add_document(self, out: _Model, path: Path, doc: LDict, directory: Path, interpolator: Interpolator,
                      chain: tuple[Path, ...]) -> None:
        included = _Model()
        includes = doc.get("include") or LList()
        for index, entry in enumerate(includes):
            entry_pos = includes.itempos[index] if isinstance(includes, LList) else doc.keypos.get("include")
            self._include(included, entry, entry_pos, directory, interpolator, chain)
        services: dict[str, LDict] = dict(included.services)
        raw = doc.get("services") or LDict()
        for name in raw:
            own = self._service(path, directory, name, (), None, interpolator, doc)
            services[name] = merge(included.services[name], own) if name in included.services else own
            services[name].pos = own.pos
        for name, service in services.items():
            if name in out.services:
                first = out.services[name].pos  # the service's line in the first file that defines it
                out.services[name] = merge(out.services[name], service)
                out.services[name].pos = first
            else:
                out.services[name] = strip_tags(service)
        for section in SECTIONS:
            declared = dict(included.sections[section])
            for k, v in (doc.get(section) or {}).items():
                value = _resolve_files(section, v or LDict(pos=doc[section].keypos.get(k)), directory)
                declared[k] = merge(declared[k], value) if k in declared else value
            for k, v in declared.items():
                _merge_into(out.sections[section], k, v)
        if doc.get("name"):
            out.name = str(doc["name"])

    def _include(self, into: _Model, entry: Any, at: Pos | None, directory: Path, interpolator: Interpolator,
                 chain: tuple[Path, ...]) -> None:
        """One `include` entry: its files loaded as a project of their own, resources copied in."""
        if isinstance(entry, str):
            entry = {"path": entry}
        paths = entry.get("path")
        paths = [paths] if isinstance(paths, str) else list(paths or [])
        if not paths:
            raise ComposeError("include entry without a path", at)
        files = [Path(resolve_path(str(p), str(directory))) for p in paths]
        for file in files:
            if not file.exists():  # anything else that is not a regular file: the reader names what it is
                raise ComposeError(f"included file {shown_path(file)} not found", at)
        project_dir = entry.get("project_directory")
        sub_dir = Path(resolve_path(str(project_dir), str(directory))) if project_dir else files[0].parent
        env_files = entry.get("env_file")
        env_files = [env_files] if isinstance(env_files, str) else list(env_files or [])
        values: dict[str, str] = {}
        if env_files:
            for env_file in env_files:
                if env_file != "/dev/null":
                    values.update(project_values(Path(resolve_path(str(env_file), str(directory)))))
        elif (sub_dir / ".env").is_file():
            values.update(project_values(sub_dir / ".env"))
        values.update(interpolator.environ)  # the including project's environment wins
        sub = self.model(files, sub_dir, Interpolator(values, self.redact), chain, at)
        for name, service in sub.services.items():
            if name in into.services:
                raise ComposeError(f"service {name!r} is included twice", at)
            into.services[name] = service
        for section in SECTIONS:
            for k, v in sub.sections[section].items():
                _merge_into(into.sections[section], k, v)

    # ---- services and extends -------------------------------------------------------------------

    def _service(self, path: Path, base_dir: Path, name: str, stack: tuple[tuple[Path, str], ...],
                 at: Pos | None, interpolator: Interpolator, only: LDict | None = None) -> LDict:
        """Service `name` of `path` (of its document `only`, else of every document of it merged),
        normalised, extends resolved; `at` is the extends line that asked for it."""
        shown = shown_path(path)
        found: LDict | None = None
        for doc in ([only] if only is not None else self.docs(path, interpolator)):
            services: LDict = doc.get("services") or LDict()
            if name in services:
                service = services[name] if services[name] is not None else LDict()
                if not isinstance(service, LDict):
                    raise ComposeError(f"service {name!r} must be a mapping", services.keypos.get(name))
                service.pos = services.keypos.get(name) or service.pos  # the service's own line: `name:`
                found = service if found is None else merge(found, service)
        if found is None:
            raise ComposeError(f"extends names service {name!r}, which {shown} does not define", at, file=shown)
        if (path.resolve(), name) in stack:
            chain = " -> ".join(f"{shown_path(p)}:{s}" for p, s in (*stack, (path.resolve(), name)))
            raise ComposeError(f"extends loops back to service {name!r} ({chain})", at or found.pos)
        normal = normalize_service(found, str(base_dir))
        extends = normal.get("extends")
        if extends is None:
            return normal
        if isinstance(extends, str):
            extends = {"service": extends}
        other = path
        other_base = base_dir
        if extends.get("file"):
            other = Path(resolve_path(str(extends["file"]), str(path.parent)))
            other_base = other.parent
            if not other.exists():
                raise ComposeError(f"extends file {extends['file']} not found", normal.keypos.get("extends"))
        if len(stack) >= MAX_INCLUDE_DEPTH:
            raise ComposeError(f"extends chained deeper than {MAX_INCLUDE_DEPTH} services", normal.keypos.get("extends"))
        base = self._service(other, other_base, str(extends["service"]), (*stack, (path.resolve(), name)),
                             normal.keypos.get("extends"), interpolator)
        own = LDict(pos=normal.pos)
        for k, v in normal.items():
            if k != "extends":
                own[k] = v
                own.keypos[k] = normal.keypos.get(k)
                if k in normal.keytag:
                    own.keytag[k] = normal.keytag[k]
        merged = merge(base, own)
        merged.pos = normal.pos
        return merged


def _resolve_files(section: str, value: Any, directory: Path) -> Any:
    """A secret's or config's `file:` made absolute against the project directory that declares it."""
    if section in ("secrets", "configs") and isinstance(value, LDict) and value.get("file"):
        out = LDict(value, pos=value.pos)
        out.keypos = dict(value.keypos)
        out.keytag = dict(value.keytag)
        out["file"] = resolve_path(str(value["file"]), str(directory))
        return out
    return value


def load_project(options: ComposeOptions) -> Project:
    """Read the application the options name into one Project, or raise ComposeError."""
    if not options.files:
        raise ComposeError("no Compose file given (--compose FILE)")
    paths = [Path(f) for f in options.files]
    directory = Path(options.project_directory or paths[0].resolve().parent).resolve()
    environ = environment(options, directory)
    loader = _Loader(options.redact)
    interpolator = Interpolator(environ, options.redact)
    for path in paths:  # the -f files first in meta.source.files, then any reached through extends or include
        if not path.exists():
            raise ComposeError("Compose file not found", file=str(path))
        loader.docs(path, interpolator)
    model = loader.model(paths, directory, interpolator, (), None)
    name = _project_name(model.name or environ.get("COMPOSE_PROJECT_NAME") or directory.name)
    if not name:
        raise ComposeError(f"no usable project name from {directory.name!r}: set name: in the file")
    active = list(options.profiles) or [p for p in environ.get("COMPOSE_PROFILES", "").split(",") if p]
    enabled = {}
    disabled = []
    for sname, service in model.services.items():
        wanted = [str(p) for p in service.get("profiles") or []]
        if not wanted or "*" in active or any(p in active for p in wanted):
            enabled[sname] = service
        else:
            disabled.append(sname)
    sections = model.sections
    return Project(name=name, directory=str(directory), services=enabled, disabled=sorted(disabled),
                   networks=sections["networks"], volumes=sections["volumes"], files=loader.files, profiles=active,
                   secrets=sections["secrets"], configs=sections["configs"],
                   models=sections["models"], environ=environ, all_services=model.services)
