"""BuildKit's instruction layer (frontend/dockerfile/instructions/parse.go, bflag.go), ported: the
parsed nodes become typed instructions with their flags checked, and the file becomes meta
arguments (ARG before the first FROM) and stages. Refusals carry BuildKit's own wording.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from .parser import Heredoc, Node, ParseError, chomp_heredoc, parse_heredoc

_STAGE_NAME = re.compile(r"^[a-z][a-z0-9-_.]*$")
_ONBUILD_PREFIX = re.compile(r"(?i)^\s*ONBUILD\s*")

# The flags each instruction accepts, and their kinds (bool / string / strings).
_FLAGS: dict[str, dict[str, str]] = {
    "add": {"chown": "string", "chmod": "string", "link": "bool", "keep-git-dir": "bool", "checksum": "string",
            "unpack": "bool", "exclude": "strings"},
    "copy": {"chown": "string", "from": "string", "chmod": "string", "link": "bool", "exclude": "strings",
             "parents": "bool"},
    "from": {"platform": "string"},
    "run": {"mount": "strings", "network": "string", "security": "string", "device": "strings"},
    "healthcheck": {"interval": "string", "timeout": "string", "start-period": "string", "start-interval": "string",
                    "retries": "string"},
}
KNOWN = ("add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck", "label", "maintainer",
         "onbuild", "run", "shell", "stopsignal", "user", "volume", "workdir")


@dataclass
class Instruction:
    """One instruction: `kind` (lower case), its node (lines, original text) and parsed fields."""

    kind: str
    node: Node
    flags: dict[str, Any] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)
    # key/value instructions: [(key, value, has "=")]; ARG: value None when none given
    pairs: list[tuple[str, str | None, bool]] = field(default_factory=list)
    cmdline: list[str] | None = None  # RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK CMD
    prepend_shell: bool = False
    files: list[Heredoc] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)  # ADD / COPY
    contents: list[Heredoc] = field(default_factory=list)
    dest: str = ""
    health: dict[str, Any] | None = None
    expression: str = ""  # ONBUILD

    @property
    def line(self) -> int:
        return self.node.start

    @property
    def code(self) -> str:
        return self.node.original.strip()


@dataclass
class Stage:
    index: int
    base: str
    name: str
    platform: str
    node: Node
    commands: list[Instruction] = field(default_factory=list)


def _flags(node: Node, kind: str) -> dict[str, Any]:
    """BFlags.Parse: only declared flags, once each (but repeatable lists), with their kind's values."""
    spec = _FLAGS.get(kind, {})
    out: dict[str, Any] = {}
    for arg in node.flags:
        if arg == "--":
            break
        if not arg.startswith("--"):
            raise ParseError(f"arg should start with -- : {arg}")
        name, has_value, value = arg.partition("=")
        key = name[2:]
        if key not in spec:
            raise ParseError(f"unknown flag: {name}")
        if key in out and spec[key] != "strings":
            raise ParseError(f"duplicate flag specified: {name}")
        if spec[key] == "bool":
            if has_value and value == "":
                raise ParseError(f"missing a value on flag: {name}")
            if value.lower() in ("true", ""):
                out[key] = True
            elif value.lower() == "false":
                out[key] = False
            else:
                raise ParseError(f"expecting boolean value for flag {name}, not: {value}")
        elif spec[key] == "string":
            if not has_value:
                raise ParseError(f"missing a value on flag: {name}")
            out[key] = value
        else:
            if not has_value:
                raise ParseError(f"missing a value on flag: {name}")
            out.setdefault(key, []).append(value)
    return out


def _kvps(args: list[str], name: str) -> list[tuple[str, str | None, bool]]:
    if not args:
        raise ParseError(f"{name} requires at least one argument")
    if len(args) % 3:
        raise ParseError(f"Bad input to {name}, too many arguments")
    out: list[tuple[str, str | None, bool]] = []
    for j in range(0, len(args), 3):
        if not args[j]:
            raise ParseError(f"{name} names can not be blank")
        out.append((args[j], args[j + 1], args[j + 2] != ""))
    return out


def _cmdline(node: Node, empty_as_none: bool = False) -> tuple[list[str] | None, bool]:
    """handleJSONArgs: the exec form as is, the shell form as one string."""
    args = list(node.args)
    if node.json:
        line: list[str] | None = args
    else:
        line = [" ".join(args)] if args else []
    if empty_as_none and not line:
        line = None
    return line, not node.json


_DURATION = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_NS = {"ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 10 ** 9, "m": 60 * 10 ** 9,
            "h": 3600 * 10 ** 9}


def parse_duration(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds."""
    orig = text
    if text in ("0", "+0", "-0"):
        return 0
    sign = -1 if text.startswith("-") else 1
    text = text.lstrip("+-") if text[:1] in "+-" else text
    if not text:
        raise ParseError(f'time: invalid duration "{orig}"')
    total = 0.0
    pos = 0
    while pos < len(text):
        match = _DURATION.match(text, pos)
        if not match or match.group(1) in ("", "."):
            raise ParseError(f'time: invalid duration "{orig}"' if match else f'time: missing unit in duration "{orig}"')
        total += float(match.group(1)) * _UNIT_NS[match.group(2)]
        pos = match.end()
    return sign * int(round(total))


def _interval(flags: dict[str, Any], name: str) -> int:
    value = flags.get(name, "")
    if value == "":
        return 0
    ns = parse_duration(value)
    if ns == 0:
        return 0
    if ns < 1_000_000:
        raise ParseError(f'Interval "{name}" cannot be less than 1ms')
    return ns


def parse_instruction(node: Node) -> Instruction:
    """ParseInstruction."""
    kind = node.cmd
    if kind not in KNOWN:
        raise ParseError(f"unknown instruction: {node.value}")
    ins = Instruction(kind=kind, node=node)
    args = node.args
    if kind == "healthcheck":
        if not args:
            raise ParseError("HEALTHCHECK requires at least one argument")
        typ = args[0].upper()
        if typ == "NONE":
            if len(args) > 1:
                raise ParseError("HEALTHCHECK NONE takes no arguments")
            ins.health = {"Test": ["NONE"]}
            return ins
        ins.flags = _flags(node, kind)
        if typ != "CMD":
            raise ParseError(f'Unknown type "{args[0].upper()}" in HEALTHCHECK (try CMD)')
        rest = args[1:]
        line = rest if node.json else ([" ".join(rest)] if rest else [])
        if not line:
            raise ParseError("Missing command after HEALTHCHECK CMD")
        health: dict[str, Any] = {"Test": (["CMD"] if node.json else ["CMD-SHELL"]) + line}
        for flag, key in (("interval", "Interval"), ("timeout", "Timeout"), ("start-period", "StartPeriod"),
                          ("start-interval", "StartInterval")):
            health[key] = _interval(ins.flags, flag)
        retries = ins.flags.get("retries", "")
        if retries != "":
            try:
                count = int(retries, 10)
            except ValueError:
                raise ParseError(f'strconv.ParseInt: parsing "{retries}": invalid syntax') from None
            if count < 0:
                raise ParseError(f"--retries cannot be negative ({count})")
            health["Retries"] = count
        else:
            health["Retries"] = 0
        ins.health = health
        return ins
    ins.flags = _flags(node, kind)
    if kind in ("env", "label"):
        ins.pairs = _kvps(args, kind.upper())
    elif kind == "maintainer":
        if len(args) != 1:
            raise ParseError("MAINTAINER requires exactly one argument")
        ins.args = args
    elif kind in ("add", "copy"):
        if len(args) < 2:
            raise ParseError(f"{kind.upper()} requires at least two arguments, but only one was provided. "
                             "Destination could not be determined")
        if parse_heredoc(args[-1]) is not None:
            raise ParseError(f"{kind.upper()} cannot accept a heredoc as a destination")
        docs = {d.name: d for d in node.heredocs}
        for src in args[:-1]:
            doc = parse_heredoc(src)
            if doc is not None:
                found = docs.get(doc.name, Heredoc(name=doc.name))
                content = chomp_heredoc(found.content) if doc.chomp else found.content
                ins.contents.append(Heredoc(name=doc.name, content=content, expand=doc.expand, chomp=doc.chomp))
            else:
                ins.sources.append(src)
        ins.dest = args[-1]
    elif kind == "from":
        if len(args) == 3 and args[1].lower() == "as":
            name = args[2].lower()
            if not _STAGE_NAME.match(name):
                raise ParseError(f"invalid name for build stage: \"{args[2]}\", name can't start with a number or contain symbols")
        elif len(args) != 1:
            raise ParseError("FROM requires either one or three arguments")
        ins.args = args
    elif kind == "onbuild":
        if not args:
            raise ParseError("ONBUILD requires at least one argument")
        trigger = args[0].strip().upper()
        if trigger == "ONBUILD":
            raise ParseError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("MAINTAINER", "FROM"):
            raise ParseError(f"{trigger} isn't allowed as an ONBUILD trigger")
        expression = _ONBUILD_PREFIX.sub("", node.original, count=1)
        for doc in node.heredocs:
            expression += "\n" + doc.content + doc.name
        ins.expression = expression
    elif kind == "workdir":
        if len(args) != 1:
            raise ParseError("WORKDIR requires exactly one argument")
        ins.args = args
    elif kind in ("run", "cmd", "entrypoint"):
        ins.cmdline, ins.prepend_shell = _cmdline(node, empty_as_none=(kind == "entrypoint"))
        ins.files = list(node.heredocs)
        if kind == "run":
            ins.flags["mount"] = [parse_mount(m) for m in ins.flags.get("mount", [])]
    elif kind == "expose":
        if not args:
            raise ParseError("EXPOSE requires at least one argument")
        ins.args = sorted(args)
    elif kind == "user":
        if len(args) != 1:
            raise ParseError("USER requires exactly one argument")
        ins.args = args
    elif kind == "volume":
        if not args:
            raise ParseError("VOLUME requires at least one argument")
        for v in args:
            if not v.strip():
                raise ParseError("VOLUME specified can not be an empty string")
        ins.args = [v.strip() for v in args]
    elif kind == "stopsignal":
        if len(args) != 1:
            raise ParseError("STOPSIGNAL requires exactly one argument")
        ins.args = args
    elif kind == "arg":
        if not args:
            raise ParseError("ARG requires at least one argument")
        for arg in args:
            if "=" in arg:
                key, value = arg.split("=", 1)
                if not key:
                    raise ParseError("ARG names can not be blank")
                ins.pairs.append((key, value, True))
            else:
                ins.pairs.append((arg, None, False))
    elif kind == "shell":
        shell, _ = _cmdline(node)
        if not shell:
            raise ParseError("SHELL requires at least one argument")
        if not node.json:
            raise ParseError(f"SHELL requires the arguments to be in JSON form: {node.original.strip()}")
        ins.cmdline = shell
    return ins


_MOUNT_TYPES = ("bind", "cache", "tmpfs", "secret", "ssh")


def parse_mount(spec: str) -> dict[str, str]:
    """A RUN --mount value as its fields (type, from, source, target, id, env...): the parts that
    decide which stages a build needs and which secrets a step reads. BuildKit's own checks of
    each field's value are not repeated here."""
    fields: dict[str, str] = {"type": "bind"}
    for part in _csv_fields(spec):
        key, eq, value = part.partition("=")
        key = key.strip().lower()
        if not eq:
            if key in ("readonly", "ro", "readwrite", "rw", "required"):
                fields[key] = "true"
                continue
            raise ParseError(f"invalid field '{part}' must be a key=value pair")
        if key == "type" and value.lower() not in _MOUNT_TYPES:
            raise ParseError(f'unsupported mount type "{value}"')
        if key in ("from",) and "$" in value:
            raise ParseError(f"'{key}' doesn't support variable expansion, define alias stage instead")
        fields[key] = value
    return fields


def _csv_fields(text: str) -> list[str]:
    import csv

    return next(csv.reader([text]), [])


def split_stages(instructions: list[Instruction]) -> tuple[list[Instruction], list[Stage]]:
    """instructions.Parse: ARGs before the first FROM are meta arguments; then one stage per FROM."""
    meta: list[Instruction] = []
    stages: list[Stage] = []
    for ins in instructions:
        if not stages and ins.kind == "arg":
            meta.append(ins)
            continue
        if ins.kind == "from":
            args = ins.args
            stages.append(Stage(index=len(stages), base=args[0], name=args[2].lower() if len(args) == 3 else "",
                                platform=ins.flags.get("platform", ""), node=ins.node))
            continue
        if not stages:
            raise ParseError("no build stage in current context", ins.node.start, ins.node.end)
        stages[-1].commands.append(ins)
    return meta, stages
