"""What `docker build` makes of a Dockerfile: the image config and history BuildKit's Dockerfile
frontend computes (frontend/dockerfile/dockerfile2llb/convert.go), without running any step.

Mirrors the frontend's dispatch: meta ARGs expanded against the platform defaults and
--build-arg values; each stage's base name expanded; `FROM <stage>` takes that stage's config
(ONBUILD triggers of the base run first, its own OnBuild list is not inherited); COPY --from and
RUN --mount from= make other stages needed; the target (default: the last stage) and every stage
it needs are dispatched in file order. Each instruction expands its words against the stage's
environment (image ENV plus ARG values) exactly where BuildKit expands them, and writes the config
field and the history entry BuildKit writes (`RUN |1 A=b /bin/sh -c ... # buildkit`,
`ENV A=b`, `HEALTHCHECK {Test:[...] Interval:30s ...}`...). Every field and history entry keeps
the line of the instruction that decided it; what only the base image knows is taken from a
`base` lookup (a local engine) or marked unknown.
"""

from __future__ import annotations

import copy
import posixpath
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from ..redact import MARKER, redact_env_instruction, redact_text
from ..redact import _is_secret_name as is_secret_name
from .instructions import Instruction, Stage, parse_instruction, split_stages
from .parser import ParseError, chomp_heredoc, parse, parse_heredoc
from .shell import Env, Lex, ShellError, go_quote

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HISTORY_COMMENT = "buildkit.dockerfile.v0"
_SIGNALS = {
    "ABRT": 6, "ALRM": 14, "BUS": 7, "CHLD": 17, "CLD": 17, "CONT": 18, "FPE": 8, "HUP": 1, "ILL": 4, "INT": 2,
    "IO": 29, "IOT": 6, "KILL": 9, "PIPE": 13, "POLL": 29, "PROF": 27, "PWR": 30, "QUIT": 3, "SEGV": 11,
    "STKFLT": 16, "STOP": 19, "SYS": 31, "TERM": 15, "TRAP": 5, "TSTP": 20, "TTIN": 21, "TTOU": 22, "URG": 23,
    "USR1": 10, "USR2": 12, "VTALRM": 26, "WINCH": 28, "XCPU": 24, "XFSZ": 25,
    **{f"RTMIN+{i}": 34 + i for i in range(1, 16)}, **{f"RTMAX-{i}": 64 - i for i in range(1, 15)},
    "RTMIN": 34, "RTMAX": 64,
}


class BuildError(ValueError):
    """BuildKit would refuse the file: the message and the lines it names."""

    def __init__(self, message: str, start: int = 0, end: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end or start


BaseLookup = Callable[[str], "tuple[dict[str, Any], list[dict[str, Any]]] | None"]


@dataclass
class Step:
    """One history entry as BuildKit writes it, oldest first, with the line that made it."""

    created_by: str
    empty_layer: bool
    line: int | None  # None: the base image's own history
    from_base: bool = False
    redacted: str | None = None  # created_by with every value the redactor hides hidden (None: redact the text)


@dataclass
class StageImage:
    """A dispatched stage: the image config it produces and where each part came from."""

    stage: Stage
    config: dict[str, Any]
    steps: list[Step]
    author: str = ""
    os: str = "linux"
    architecture: str = "amd64"
    lines: dict[str, int] = field(default_factory=dict)  # config pointer ("/User", "/Env/0") -> line
    unknown: dict[str, str] = field(default_factory=dict)  # config pointer -> why it is not known
    base_ref: str = ""  # the external image at the root of this stage's FROM chain ("" for scratch)
    base_unread: bool = False  # that image's config was not read: its ENV is unknown
    state_env: Env = field(default_factory=Env)
    build_args: list[tuple[str, str | None]] = field(default_factory=list)
    cmd_set: bool = False
    onbuild_lines: list[int] = field(default_factory=list)


@dataclass
class Plan:
    """The whole build: every stage (dispatched or not), the target, and the dispatched images."""

    text: str
    escape: str
    directives: dict[str, str]
    meta: list[Instruction]
    stages: list[Stage]
    target: Stage
    images: dict[int, StageImage]  # stage index -> its image (dispatched stages only)
    needed: list[int]  # the stages the target needs, in file order
    bases: dict[int, int | None]  # stage index -> the stage it is built FROM (None: an image or scratch)
    global_args: Env
    warnings: list[str]


def default_platform_args(target: str, os_name: str = "linux", arch: str = "amd64", variant: str = "") -> dict[str, str]:
    platform = f"{os_name}/{arch}" + (f"/{variant}" if variant else "")
    return {
        "BUILDPLATFORM": platform, "BUILDOS": os_name, "BUILDOSVERSION": "", "BUILDARCH": arch, "BUILDVARIANT": variant,
        "TARGETPLATFORM": platform, "TARGETOS": os_name, "TARGETOSVERSION": "", "TARGETARCH": arch,
        "TARGETVARIANT": variant, "TARGETSTAGE": target or "default",
    }


def plan(text: str, *, target: str | None = None, build_args: dict[str, str] | None = None,
         base: BaseLookup | None = None, arch: str = "amd64") -> Plan:
    """The build of `text` (raises ParseError / BuildError as BuildKit refuses)."""
    build_args = dict(build_args or {})
    result = parse(text)
    instructions: list[Instruction] = []
    for node in result.nodes:
        try:
            instructions.append(parse_instruction(node))
        except ParseError as exc:
            raise BuildError(exc.message, node.start, node.end) from None
    try:
        meta, stages = split_stages(instructions)
    except ParseError as exc:
        raise BuildError(exc.message, exc.start, exc.end) from None
    if not stages:
        raise BuildError("dockerfile contains no stages to build", result.nodes[-1].end)
    lex = Lex(result.escape)
    target_name = target or stages[-1].name
    global_args = Env(default_platform_args(target_name, arch=arch))
    for key, value in build_args.items():
        if key in global_args.values:
            global_args.set(key, value)
    for ins in meta:
        for key, default, _ in ins.pairs:
            if key in build_args:
                global_args.set(key, build_args[key])
            elif default is not None:
                try:
                    global_args.set(key, lex.process_word(default, global_args))
                except ShellError as exc:
                    raise BuildError(str(exc), ins.node.start, ins.node.end) from None
    # Base names and platforms, expanded with the global args only.
    by_name: dict[str, Stage] = {}
    bases: dict[int, Stage | None] = {}
    for stage in stages:
        try:
            name = lex.process_word(stage.base, global_args)
        except ShellError as exc:
            raise BuildError(str(exc), stage.node.start, stage.node.end) from None
        if name == "":
            raise BuildError(f"base name ({stage.base}) should not be blank", stage.node.start, stage.node.end)
        stage.base = name
        if stage.platform:
            try:
                stage.platform = lex.process_word(stage.platform, global_args)
            except ShellError as exc:
                raise BuildError(f"failed to process arguments for platform: {exc}", stage.node.start) from None
            if stage.platform == "":
                raise BuildError("empty platform value from expression", stage.node.start)
        bases[stage.index] = by_name.get(stage.base)
        if stage.name:
            by_name[stage.name] = stage
    if target:
        chosen = by_name.get(target.lower())
        if chosen is None:
            names = ", ".join(s.name for s in stages if s.name) or "none"
            raise BuildError(f'target stage "{target}" could not be found (stages: {names})')
    else:
        chosen = stages[-1]
    # Dependencies: FROM <stage>, COPY --from=<stage|index>, RUN --mount from=<stage>.
    deps: dict[int, set[int]] = {s.index: set() for s in stages}
    for stage in stages:
        base_stage = bases[stage.index]
        if base_stage is not None:
            deps[stage.index].add(base_stage.index)
        for ins in stage.commands:
            for src in _sources(ins, stages, by_name, lex):
                deps[stage.index].add(src)
    _check_cycles(stages, deps)
    needed: set[int] = set()
    todo = [chosen.index]
    while todo:
        i = todo.pop()
        if i in needed:
            continue
        needed.add(i)
        todo.extend(deps[i])
    # ONBUILD triggers of a base stage can name more stages (COPY --from in a trigger).
    images: dict[int, StageImage] = {}
    for stage in stages:
        if stage.index not in needed:
            continue
        images[stage.index] = _dispatch(stage, bases[stage.index], images, stages, by_name, lex, global_args,
                                        build_args, base, arch)
    return Plan(text=text, escape=result.escape, directives=result.directives, meta=meta, stages=stages,
                target=chosen, images=images, needed=sorted(needed),
                bases={i: (b.index if b is not None else None) for i, b in bases.items()}, global_args=global_args,
                warnings=result.warnings)


def _sources(ins: Instruction, stages: list[Stage], by_name: dict[str, Stage], lex: Lex) -> list[int]:
    out = []
    if ins.kind == "copy" and ins.flags.get("from"):
        ref = ins.flags["from"]
        if lex.process_word(ref, Env()) != ref:
            raise BuildError("variable expansion is not supported for --from, define a new stage with FROM "
                             "using ARG from global scope as a workaround", ins.node.start, ins.node.end)
        if ref.isdigit() or (ref.startswith("-") and ref[1:].isdigit()):
            index = int(ref)
            if index < 0 or index >= len(stages):
                raise BuildError(f"invalid stage index {index}", ins.node.start, ins.node.end)
            out.append(index)
        elif ref.lower() in by_name:
            out.append(by_name[ref.lower()].index)
    if ins.kind == "run":
        for mount in ins.flags.get("mount", []):
            ref = mount.get("from", "")
            if ref and ref.lower() in by_name:
                out.append(by_name[ref.lower()].index)
    return out


def _check_cycles(stages: list[Stage], deps: dict[int, set[int]]) -> None:
    state: dict[int, int] = {}

    def visit(i: int) -> None:
        if state.get(i) == 2:
            return
        if state.get(i) == 1:
            stage = stages[i]
            raise BuildError(f"circular dependency detected on stage: {stage.name or i}", stage.node.start)
        state[i] = 1
        for j in deps[i]:
            visit(j)
        state[i] = 2

    for stage in stages:
        visit(stage.index)


def _empty_config() -> dict[str, Any]:
    return {"Env": [f"PATH={DEFAULT_PATH}"], "WorkingDir": "/"}


def _dispatch(stage: Stage, base_stage: Stage | None, images: dict[int, StageImage], stages: list[Stage],
              by_name: dict[str, Stage], lex: Lex, global_args: Env, build_args: dict[str, str],
              base: BaseLookup | None, arch: str) -> StageImage:
    from_line = stage.node.start
    triggers: list[tuple[str, int]] = []
    if base_stage is not None:
        parent = images[base_stage.index]
        img = StageImage(stage=stage, config=copy.deepcopy(parent.config), steps=list(parent.steps),
                         author=parent.author, lines=dict(parent.lines), unknown=dict(parent.unknown),
                         base_ref=parent.base_ref, base_unread=parent.base_unread, state_env=parent.state_env.copy(),
                         build_args=list(parent.build_args), architecture=parent.architecture)
        img.config.pop("OnBuild", None)
        for key in [k for k in img.lines if k.startswith("/OnBuild")]:
            del img.lines[key]
        triggers = [(ins.expression, from_line) for ins in base_stage.commands if ins.kind == "onbuild"]
    elif stage.base.lower() == "scratch":
        img = StageImage(stage=stage, config=_empty_config(), steps=[], architecture=arch)
        img.lines["/Env/0"] = from_line
        img.lines["/WorkingDir"] = from_line
    else:
        found = base(stage.base) if base is not None else None
        img = StageImage(stage=stage, config={}, steps=[], base_ref=stage.base, architecture=arch)
        if found is not None:
            inspect, history = found
            img.config = copy.deepcopy(inspect.get("Config") or {})
            img.author = str(inspect.get("Author") or "")
            img.architecture = str(inspect.get("Architecture") or arch)
            for entry in reversed(history or []):
                img.steps.append(Step(created_by=str(entry.get("CreatedBy") or ""),
                                      empty_layer=int(entry.get("Size") or 0) == 0, line=from_line, from_base=True))
            triggers = [(str(t), from_line) for t in img.config.get("OnBuild") or []]
            img.config.pop("OnBuild", None)
        else:
            img.base_unread = True
            why = (f"FROM {stage.base}: the base image is not read (collect with --images-from-engine to read it "
                   "from a local engine)")
            for key in ("/User", "/Healthcheck", "/Cmd", "/Entrypoint", "/ExposedPorts", "/Labels", "/Volumes",
                        "/StopSignal", "/Shell", "/OnBuild"):
                img.unknown[key] = why
        for key in _config_pointers(img.config):
            img.lines[key] = from_line
    # BuildKit: make sure that PATH is always set, then the image's env is the build's env.
    if not any(str(e).split("=", 1)[0] == "PATH" for e in img.config.get("Env") or []):
        img.config.setdefault("Env", [])
        img.config["Env"] = list(img.config["Env"]) + [f"PATH={DEFAULT_PATH}"]
        img.lines[f"/Env/{len(img.config['Env']) - 1}"] = from_line
    for item in img.config.get("Env") or []:
        key, _, value = str(item).partition("=")
        img.state_env.set(key, value)
    commands: list[tuple[Instruction, bool]] = []
    for expression, line in triggers:
        try:
            result = parse(expression)
            if len(result.nodes) != 1:
                raise ParseError("onbuild trigger should be a single expression")
            node = result.nodes[0]
            node.start = node.end = line
            trigger = parse_instruction(node)
        except ParseError as exc:
            raise BuildError(f"ONBUILD trigger of {stage.base}: {exc.message}", line) from None
        commands.append((trigger, True))
        img.onbuild_lines.append(line)
    commands += [(ins, False) for ins in stage.commands]
    for ins, _from_trigger in commands:
        try:
            _apply(img, ins, lex, global_args, build_args, images, stages, by_name)
        except (ParseError, ShellError) as exc:
            raise BuildError(getattr(exc, "message", str(exc)), ins.node.start, ins.node.end) from None
    return img


def _config_pointers(config: dict[str, Any]) -> list[str]:
    out = []
    for key, value in config.items():
        if value in (None, "", [], {}):
            continue
        if key == "Env" and isinstance(value, list):
            out += [f"/Env/{i}" for i in range(len(value))]
        elif key in ("Labels", "ExposedPorts", "Volumes") and isinstance(value, dict):
            out += [f"/{key}/" + _escape(k) for k in value]
        else:
            out.append(f"/{key}")
    return out


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _with_shell(config: dict[str, Any], args: list[str]) -> list[str]:
    shell = list(config.get("Shell") or []) or ["/bin/sh", "-c"]
    return shell + [" ".join(args)]


def _add_env(img: StageImage, key: str, value: str, line: int) -> None:
    env = list(img.config.get("Env") or [])
    for i, item in enumerate(env):
        if str(item).split("=", 1)[0] == key:
            env[i] = f"{key}={value}"
            img.lines[f"/Env/{i}"] = line
            break
    else:
        env.append(f"{key}={value}")
        img.lines[f"/Env/{len(env) - 1}"] = line
    img.config["Env"] = env


def _commit(img: StageImage, message: str, line: int, layer: bool = False, buildkit_suffix: bool = False,
            redacted: str | None = None) -> None:
    suffix = " # buildkit" if buildkit_suffix else ""
    img.steps.append(Step(created_by=message + suffix, empty_layer=not layer, line=line,
                          redacted=None if redacted is None else redacted + suffix))


def go_duration(ns: int) -> str:
    """Go's time.Duration.String()."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    u = abs(ns)
    if u < 1_000_000_000:
        for limit, unit, div in ((1_000, "ns", 1), (1_000_000, "µs", 1_000), (1_000_000_000, "ms", 1_000_000)):
            if u < limit:
                whole, frac = divmod(u, div)
                text = str(whole) + (("." + str(frac).rjust(len(str(div)) - 1, "0").rstrip("0")) if frac else "")
                return sign + text + unit
    seconds, frac = divmod(u, 1_000_000_000)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    sec_text = str(secs) + (("." + str(frac).rjust(9, "0").rstrip("0")) if frac else "")
    if hours:
        return f"{sign}{hours}h{minutes}m{sec_text}s"
    if minutes:
        return f"{sign}{minutes}m{sec_text}s"
    return f"{sign}{sec_text}s"


def _go_list(values: list[str]) -> str:
    return "[" + " ".join(values) + "]"


def _go_qlist(values: list[str] | None) -> str:
    return "[" + " ".join(go_quote(v) for v in values or []) + "]"


def _go_join(*parts: str) -> str:
    """Go's path.Join: the non-empty parts joined with "/", then cleaned."""
    joined = "/".join(p for p in parts if p)
    if not joined:
        return ""
    clean = posixpath.normpath(joined)
    return clean[1:] if clean.startswith("//") else clean


def _normalize_workdir(current: str, path: str) -> str:
    """system.NormalizeWorkdir on Linux: a relative path joins the current one (cleaned); an
    absolute one is kept as written (`WORKDIR /app/` stays `/app/`)."""
    parent = current or "/"
    if not parent.startswith("/"):
        parent = _go_join("/", parent)
    if path == "":
        path = parent
    if not path.startswith("/"):
        path = _go_join(parent, path)
    return path


def parse_ports(raw: str) -> list[str]:
    """convert_expose.go parsePort: `[ip:][host:]port[-end][/proto]` -> ["port/proto", ...]."""
    parts = raw.split(":")
    if len(parts) == 1:
        host_port, container = "", parts[0]
    elif len(parts) == 2:
        host_port, container = parts[0], parts[1]
    else:
        host_port, container = parts[-2], parts[-1]
    port, _, proto = container.partition("/")
    if port == "":
        raise ParseError(f'invalid port: "{raw}": no port specified')
    if proto.lower() not in ("", "tcp", "udp", "sctp"):
        raise ParseError(f'invalid port: "{raw}": invalid proto: {proto}')
    proto = proto or "tcp"
    start, end = _port_range(port)
    if host_port:
        _port_range(host_port)
    return [f"{p}/{proto.lower()}" for p in range(start, end + 1)]


def _port_range(text: str) -> tuple[int, int]:
    if text == "":
        raise ParseError("empty string specified for ports")
    start_text, dash, end_text = text.partition("-")
    start = _port_number(start_text, text)
    if not dash or start_text == end_text:
        return start, start
    end = _port_number(end_text, text)
    if end < start:
        raise ParseError("invalid port range: " + text)
    return start, end


def _port_number(text: str, whole: str) -> int:
    if not re.fullmatch(r"[+-]?\d+", text):
        raise ParseError(f"invalid containerPort: {whole}")
    value = int(text)
    if value < 0 or value > 65535:
        raise ParseError(f"invalid containerPort: {whole}")
    return value


def _check_signal(sig: str) -> None:
    if re.fullmatch(r"[+-]?\d+", sig):
        if int(sig) == 0:
            raise ParseError(f"invalid signal: {sig}")
        return
    name = sig.upper()
    if name.startswith("SIG"):
        name = name[3:]
    if name not in _SIGNALS:
        raise ParseError(f"invalid signal: {sig}")


def _run_command_string(args: list[str], img: StageImage, hide: bool = False) -> str:
    """runCommandString: `|N K=V ...` for the build args in scope, then the command (`hide`: every
    build-arg value, and the secret parts of the command, redacted)."""
    seen: dict[str, int] = {}
    pairs: list[str] = []
    for key, value in img.build_args:
        current, found = img.state_env.get(key)
        shown = current if found else (value or "")
        if hide:
            shown = MARKER
        if key in seen:
            pairs[seen[key]] = f"{key}={shown}"
        else:
            seen[key] = len(pairs)
            pairs.append(f"{key}={shown}")
    if pairs:
        pairs.insert(0, f"|{len(pairs)}")
    if hide:
        args = [redact_text(redact_env_instruction(a)) for a in args]
    return " ".join(pairs + args)


def _apply(img: StageImage, ins: Instruction, lex: Lex, global_args: Env, build_args: dict[str, str],
           images: dict[int, StageImage], stages: list[Stage], by_name: dict[str, Stage]) -> None:
    """dispatch(): one instruction's expansion, then its effect on the config and the history."""
    config = img.config
    line = ins.line

    def word(text: str) -> str:
        return lex.process_word(text, img.state_env)

    def decided(field_name: str, text: str) -> str:
        """A config field's expanded value; unknown when it names a variable only an unread base
        image could set (`USER ${NB_UID}` FROM an image that defines NB_UID)."""
        value, _found, missing = lex.process_word_matches(text, img.state_env)
        if missing and img.base_unread:
            img.unknown[field_name] = (f"{kind.upper()} {text.strip()}: {', '.join(sorted(missing))} may come from the "
                                       f"base image {img.base_ref}, which is not read (collect with --images-from-engine)")
        else:
            img.unknown.pop(field_name, None)
        return value

    kind = ins.kind
    if kind == "env":
        parts = []
        for key, value, _ in ins.pairs:
            k, v = word(key), word(value or "")
            img.state_env.set(k, v)
            _add_env(img, k, v, line)
            parts.append(f"{k}={v}")
        _commit(img, "ENV " + " ".join(parts), line,
                redacted="ENV " + " ".join(p.split("=", 1)[0] + "=" + MARKER for p in parts))
    elif kind == "label":
        labels = dict(config.get("Labels") or {})
        parts = []
        for key, value, _ in ins.pairs:
            k, v = word(key), word(value or "")
            labels[k] = v
            img.lines["/Labels/" + _escape(k)] = line
            parts.append(f"{k}={v}")
        config["Labels"] = labels
        _commit(img, "LABEL " + " ".join(parts), line, redacted="LABEL " + " ".join(
            f"{p.split('=', 1)[0]}={MARKER}" if is_secret_name(p.split("=", 1)[0]) else p for p in parts))
    elif kind == "maintainer":
        img.author = ins.args[0]
        _commit(img, f"MAINTAINER {ins.args[0]}", line)
    elif kind == "workdir":
        path = decided("/WorkingDir", ins.args[0])
        wd = _normalize_workdir(str(config.get("WorkingDir") or ""), path)
        config["WorkingDir"] = wd
        img.lines["/WorkingDir"] = line
        _commit(img, f"WORKDIR {wd}", line, layer=wd != "/")
    elif kind in ("add", "copy"):
        chown = word(ins.flags.get("chown", ""))
        chmod = word(ins.flags.get("chmod", ""))
        if kind == "add":
            word(ins.flags.get("checksum", ""))
        sources = [word(s) for s in ins.sources]
        dest = word(ins.dest)
        if kind == "copy" and ins.flags.get("from"):
            ref = ins.flags["from"]
            if ref.lower() in by_name and by_name[ref.lower()].index not in images:
                raise ParseError(f'cannot copy from stage "{ref}", it needs to be defined before current stage '
                                 f'"{img.stage.name or img.stage.index}"')
        message = kind.upper()
        if ins.flags.get("parents"):
            message += " --parents"
        if chown:
            message += f" --chown={chown}"
        if chmod:
            message += f" --chmod={chmod}"
        for src in sources:
            message += " " + src
        for content in ins.contents:
            message += " <<" + content.name
        message += " " + dest
        _commit(img, message, line, layer=True, buildkit_suffix=True)
    elif kind == "run":
        args = list(ins.cmdline or [])
        if ins.files:
            if len(args) != 1 or not ins.prepend_shell:
                raise ParseError(f"parsing produced an invalid run command: {_go_list(args)}")
            if parse_heredoc(args[0]) is not None:
                data = ins.files[0].content
                if ins.files[0].chomp:
                    data = chomp_heredoc(data)
                if data.startswith("#!"):
                    args = [posixpath.join("/dev/pipes/", ins.files[0].name)]
                else:
                    args = [data]
            else:
                text = args[0]
                for doc in ins.files:
                    text += "\n" + doc.content + doc.name
                args = [text]
        if ins.prepend_shell:
            args = _with_shell(config, args)
        _commit(img, "RUN " + _run_command_string(args, img), line, layer=True, buildkit_suffix=True,
                redacted="RUN " + _run_command_string(args, img, hide=True))
    elif kind == "cmd":
        args = list(ins.cmdline or [])
        if ins.prepend_shell:
            args = _with_shell(config, args)
        config["Cmd"] = args
        config["ArgsEscaped"] = True
        img.lines["/Cmd"] = line
        img.unknown.pop("/Cmd", None)
        img.cmd_set = True
        _commit(img, f"CMD {_go_qlist(args)}", line)
    elif kind == "entrypoint":
        args_or_none = ins.cmdline
        if ins.prepend_shell and args_or_none is not None:
            args_or_none = _with_shell(config, args_or_none)
        config["Entrypoint"] = args_or_none
        img.lines["/Entrypoint"] = line
        img.unknown.pop("/Entrypoint", None)
        if not img.cmd_set:
            config["Cmd"] = None
            img.lines["/Cmd"] = line
            img.unknown.pop("/Cmd", None)
        _commit(img, f"ENTRYPOINT {_go_qlist(args_or_none)}", line)
    elif kind == "healthcheck":
        health = dict(ins.health or {})
        config["Healthcheck"] = health
        img.lines["/Healthcheck"] = line
        img.unknown.pop("/Healthcheck", None)
        shown = ("{Test:" + _go_list(list(health.get("Test") or [])) + " Interval:" + go_duration(health.get("Interval", 0))
                 + " Timeout:" + go_duration(health.get("Timeout", 0)) + " StartPeriod:"
                 + go_duration(health.get("StartPeriod", 0)) + " StartInterval:" + go_duration(health.get("StartInterval", 0))
                 + " Retries:" + str(health.get("Retries", 0)) + "}")
        _commit(img, f"HEALTHCHECK {shown}", line)
    elif kind == "expose":
        ports: list[str] = []
        for raw in ins.args:
            ports += lex.process_words(raw, img.state_env)
        specs: list[str] = []
        for raw in ports:
            specs += parse_ports(raw)
        exposed = dict(config.get("ExposedPorts") or {})
        for spec in specs:
            exposed[spec] = {}
            img.lines["/ExposedPorts/" + _escape(spec)] = line
        config["ExposedPorts"] = exposed
        _commit(img, f"EXPOSE {_go_list(specs)}", line)
    elif kind == "user":
        user = decided("/User", ins.args[0])
        config["User"] = user
        img.lines["/User"] = line
        _commit(img, f"USER {user}", line)
    elif kind == "volume":
        volumes = dict(config.get("Volumes") or {})
        added = [word(v) for v in ins.args]
        for v in added:
            if v == "":
                raise ParseError("VOLUME specified can not be an empty string")
            volumes[v] = {}
            img.lines["/Volumes/" + _escape(v)] = line
        config["Volumes"] = volumes
        _commit(img, f"VOLUME {_go_list(added)}", line)
    elif kind == "stopsignal":
        sig = decided("/StopSignal", ins.args[0])
        if "/StopSignal" not in img.unknown:
            _check_signal(sig)
        config["StopSignal"] = sig
        img.lines["/StopSignal"] = line
        _commit(img, f"STOPSIGNAL {sig}", line)
    elif kind == "shell":
        config["Shell"] = list(ins.cmdline or [])
        img.lines["/Shell"] = line
        img.unknown.pop("/Shell", None)
        _commit(img, f"SHELL {_go_list(config['Shell'])}", line)
    elif kind == "onbuild":
        onbuild = list(config.get("OnBuild") or [])
        onbuild.append(ins.expression)
        img.lines[f"/OnBuild/{len(onbuild) - 1}"] = line
        config["OnBuild"] = onbuild
    elif kind == "arg":
        shown_args: list[str] = []
        for key, value, _ in ins.pairs:
            has_value = key in build_args
            has_default = value is not None
            final = value
            if not has_default and not has_value:
                inherited, found = global_args.get(key)
                if found:
                    final = inherited
            if has_value:
                final = build_args[key]
            elif has_default:
                final = lex.process_word(value or "", img.state_env)
            if final is not None:
                img.state_env.set(key, final)
            img.build_args.append((key, final))
            shown_args.append(key + ("=" + final if final is not None else ""))
        _commit(img, "ARG " + " ".join(shown_args), line, redacted="ARG " + " ".join(
            f"{p.split('=', 1)[0]}={MARKER}" if "=" in p and is_secret_name(p.split("=", 1)[0]) else p for p in shown_args))
