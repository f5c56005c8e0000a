"""A Dockerfile as a source of snapshots: the image `docker build` would make, planned without
building it (`hullcheck collect --dockerfile`).

`collect_dockerfile(options)` reads the file the way BuildKit's frontend does (parser.py,
instructions.py, build.py), and writes the target stage as `images[0]` in the shape of
`docker image inspect` plus its history (newest first, BuildKit's CreatedBy strings), with
`planned.positions` giving the file and line behind every config field and history entry. Every
other stage the build runs follows as its own image entry (`planned.target: false`), so the
recommendations about the file itself (4.7, 4.9) see every step the build runs; the secrets
written in the file (4.10) are listed on the target by key and line. What only the base image
knows is read from a local engine with `images_from_engine`, else listed in `meta.errors` and
`planned.unknown`. Values are redacted before anything is returned.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from hullcheck_common import userfile
from hullcheck_common.errors import HullcheckError
from hullcheck_common.vocabulary import utc_timestamp

from .. import redact
from ..errors import ErrorLog
from . import secrets
from .build import HISTORY_COMMENT, BaseLookup, BuildError, Plan, StageImage, plan
from .parser import ParseError

__all__ = ["DockerfileError", "DockerfileOptions", "collect_dockerfile", "image_entries", "read_plan"]

MAX_BYTES = 4 * 1024 * 1024  # a Dockerfile larger than this is refused (BuildKit reads up to 2 MB in practice)


class DockerfileError(HullcheckError):
    """A Dockerfile BuildKit would refuse, or that cannot be read: `file:line: reason`."""


@dataclass
class DockerfileOptions:
    path: str
    target: str | None = None
    build_args: dict[str, str] = field(default_factory=dict)
    images_from_engine: bool = False
    docker_host: str | None = None
    redact: bool = True


def shown_path(path: Path) -> str:
    """Relative to the working directory when below it (repository-relative in CI), else absolute."""
    resolved = path.resolve()
    try:
        return resolved.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return resolved.as_posix()


def parse_build_args(items: list[str], environ: dict[str, str] | None = None) -> dict[str, str]:
    """`K=V` pairs; a bare `K` takes the value of the environment variable K (as `docker build`),
    and is left out when the environment has none."""
    env = dict(os.environ if environ is None else environ)
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise DockerfileError(f"--build-arg {item!r}: the name is empty (write NAME=VALUE)")
        if eq:
            out[key] = value
        elif key in env:
            out[key] = env[key]
    return out


def read_plan(path: Path, shown: str, *, target: str | None, build_args: dict[str, str],
              base: BaseLookup | None) -> tuple[Plan, str]:
    """The file's build plan and its text; DockerfileError (file:line: reason) when refused."""
    data = userfile.read_bytes(path, what="a Dockerfile", max_bytes=MAX_BYTES, shown=shown,
                               error=lambda name, problem: DockerfileError(f"{name}: {problem}"))
    if not data.strip():
        raise DockerfileError(f"{shown}: the Dockerfile cannot be empty")
    text = data.decode("utf-8", errors="surrogateescape")
    try:
        return plan(text, target=target, build_args=build_args, base=base), text
    except (ParseError, BuildError) as exc:
        where = f"{shown}:{exc.start}" if exc.start else shown
        raise DockerfileError(f"{where}: {exc.message}") from None


def _pos(file: str, text_lines: list[str], line: int | None) -> dict[str, Any] | None:
    if not line:
        return None
    column = 1
    if 0 < line <= len(text_lines):
        raw = text_lines[line - 1]
        column = len(raw) - len(raw.lstrip()) + 1
    return {"file": file, "line": line, "column": column}


def _image_id(*parts: str) -> str:
    return "sha256:" + hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


def _inspect(image: StageImage, ident: str, tags: list[str]) -> dict[str, Any]:
    cfg = image.config
    config: dict[str, Any] = {
        "Hostname": "", "Domainname": "", "User": str(cfg.get("User") or ""),
        "AttachStdin": False, "AttachStdout": False, "AttachStderr": False,
        "ExposedPorts": cfg.get("ExposedPorts") or None,
        "Tty": False, "OpenStdin": False, "StdinOnce": False,
        "Env": list(cfg.get("Env") or []) or None,
        "Cmd": cfg.get("Cmd"),
        "Image": "",
        "Volumes": cfg.get("Volumes") or None,
        "WorkingDir": str(cfg.get("WorkingDir") or ""),
        "Entrypoint": cfg.get("Entrypoint"),
        "OnBuild": cfg.get("OnBuild") or None,
        "Labels": cfg.get("Labels") or None,
    }
    health = cfg.get("Healthcheck")
    if health:
        config["Healthcheck"] = {k: v for k, v in health.items() if k == "Test" or v}
    for key in ("ArgsEscaped", "StopSignal", "Shell"):
        if cfg.get(key):
            config[key] = cfg[key]
    return {"Id": ident, "RepoTags": tags, "RepoDigests": [], "Parent": "", "Comment": HISTORY_COMMENT,
            "DockerVersion": "", "Author": image.author, "Config": config, "Architecture": image.architecture,
            "Os": image.os, "Size": 0, "RootFS": {"Type": "layers"}}


def image_entries(built: Plan, text: str, shown: str, *, tags: list[str] | None = None, name: str | None = None,
                  redact_values: bool = True) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The target image and every other stage the build runs, as snapshot image entries
    (target first), and {pointer relative to the first entry: reason} for what is unknown."""
    lines = text.splitlines()
    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
    target = built.target
    chain: set[int] = set()
    by_index = {s.index: s for s in built.stages}
    cursor: int | None = target.index
    while cursor is not None:
        chain.add(cursor)
        cursor = built.bases.get(cursor)
    order = [target.index] + [i for i in built.needed if i not in chain]
    all_instructions = [("", ins) for ins in built.meta] + [
        (s.name or str(s.index), ins) for s in built.stages for ins in s.commands]
    found_secrets = secrets.find(all_instructions, built.escape)
    entries: list[dict[str, Any]] = []
    unknown_out: dict[str, str] = {}
    display = name or shown
    for index in order:
        image = built.images[index]
        st = by_index[index]
        is_target = index == target.index
        label = st.name or str(st.index)
        ident = _image_id("dockerfile", shown, digest, str(index), repr(sorted(built.global_args.values.items())),
                          display)
        inspect = _inspect(image, ident, list(tags or []) if is_target else [])
        positions: dict[str, Any] = {}
        here = _pos(shown, lines, st.node.start)
        if here:
            positions[""] = here
        for ptr, line in image.lines.items():
            where = _pos(shown, lines, line)
            if where and _present(inspect["Config"], ptr):
                positions["/inspect/Config" + ptr] = where
        history = []
        own = 0
        for step in reversed(image.steps):
            created_by = step.created_by
            if redact_values:
                created_by = step.redacted if step.redacted is not None else (
                    redact.redact_created_by(redact.redact_env_instruction(created_by)))
            if not step.from_base:
                own += 1
            history.append({"Id": "<missing>", "Created": 0, "CreatedBy": created_by, "Tags": None, "Size": 0,
                            "Comment": "" if step.from_base else HISTORY_COMMENT})
            where = _pos(shown, lines, step.line)
            if where:
                positions[f"/history/{len(history) - 1}"] = where
        planned: dict[str, Any] = {
            "source": "dockerfile", "file": shown, "stage": label, "stage_index": index, "target": is_target,
            "name": display if is_target else f"{display} (stage {label})", "steps": own,
            "base": image.base_ref, "positions": positions,
            "unknown": {"/inspect/Config" + k: v for k, v in sorted(image.unknown.items())},
        }
        if is_target:
            planned["secrets"] = [{k: v for k, v in s.items()} for s in found_secrets]
            for i, secret in enumerate(found_secrets):
                where = _pos(shown, lines, secret["line"])
                if where:
                    positions[f"/planned/secrets/{i}"] = where
            unknown_out.update(planned["unknown"])
        if redact_values:
            redact.redact_image(inspect)
        entries.append({"inspect": inspect, "history": history, "planned": planned})
    return entries, unknown_out


def _present(config: dict[str, Any], ptr: str) -> bool:
    parts = [p.replace("~1", "/").replace("~0", "~") for p in ptr.split("/")[1:]]
    value: Any = config
    for part in parts:
        if isinstance(value, list):
            if not part.isdigit() or int(part) >= len(value):
                return False
            value = value[int(part)]
        elif isinstance(value, dict):
            if part not in value:
                return False
            value = value[part]
        else:
            return False
    return True


def engine_lookup(docker_host: str | None) -> tuple[BaseLookup, Callable[[], None]]:
    """A base-image lookup on a local engine: (lookup, close). Missing images answer None."""
    from ..engine_api import connect

    client = connect(docker_host, None)
    cache: dict[str, Any] = {}

    def lookup(ref: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        if ref not in cache:
            try:
                cache[ref] = (client.inspect_image(ref), client.history(ref))
            except Exception:  # noqa: BLE001 - an image the engine lacks stays unknown
                cache[ref] = None
        return cache[ref]

    return lookup, client.close


def collect_dockerfile(options: DockerfileOptions) -> dict[str, Any]:
    """The planned snapshot of one Dockerfile (raises DockerfileError on bad input)."""
    from ..output import planned_snapshot

    started = utc_timestamp("milliseconds")
    path = Path(options.path)
    shown = shown_path(path)
    errors = ErrorLog()
    lookup: BaseLookup | None = None
    close: Callable[[], None] = lambda: None  # noqa: E731
    missing: list[str] = []
    if options.images_from_engine:
        engine, close = engine_lookup(options.docker_host)

        def lookup(ref: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
            found = engine(ref)
            if found is None:
                missing.append(ref)
            return found
    try:
        built, text = read_plan(path, shown, target=options.target, build_args=options.build_args, base=lookup)
    finally:
        close()
    entries, unknown = image_entries(built, text, shown, redact_values=options.redact)
    for ref in sorted(set(missing)):
        errors.add("/images/0/planned/base", f"image {ref} not found on the engine")
    for ptr, reason in sorted(unknown.items()):
        errors.add("/images/0" + ptr, reason)
    digest = hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()
    source: dict[str, Any] = {"kind": "dockerfile", "files": [{"path": shown, "sha256": digest}], "subjects": ["image"],
                              "target": built.target.name or str(built.target.index),
                              "build_args": sorted(options.build_args)}
    return planned_snapshot(
        started=started, hostname=f"dockerfile:{shown}", endpoint="none: planned from a Dockerfile",
        redacted=options.redact, errors=errors.as_list(), source=source, images=entries)
