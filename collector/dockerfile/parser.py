"""BuildKit's Dockerfile parser (moby/buildkit frontend/dockerfile/parser), ported.

Turns the text into instruction nodes exactly as `parser.Parse` does: parser directives
(`# syntax=`, `# escape=`, `# check=`) at the top only, comments, line continuations (with the
escape token, comment lines inside a continuation skipped, empty continuation lines tolerated),
heredocs (`RUN <<EOT`, `<<-EOT` with tab chomping, quoted terminators that disable expansion,
several per line), builder flags (`--from=x`), and the per-instruction argument parsers (JSON
exec form, whitespace lists, key=value pairs and the legacy `ENV key value`). Each node keeps its
first and last line. The functions carry the names of their Go counterparts.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .shell import Env, Lex, ShellError, go_quote

MAX_LINE = 65535  # bufio.MaxScanTokenSize - 1: Go's scanner refuses longer lines
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_HEREDOC = re.compile(r"^(\d*)<<(-?)\s*([^<]*)$")
_LEADING_TABS = re.compile(r"(?m)^\t+")
_DIRECTIVE = re.compile(r"^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_VALID_DIRECTIVES = ("syntax", "escape", "check")
_HEREDOC_INSTRUCTIONS = ("add", "copy", "run")


class ParseError(ValueError):
    """What BuildKit refuses, with the lines it names (1-based; 0 when it names none)."""

    def __init__(self, message: str, start: int = 0, end: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.start = start
        self.end = end or start


@dataclass
class Heredoc:
    name: str
    file_descriptor: int = 0
    expand: bool = True
    chomp: bool = False
    content: str = ""


@dataclass
class Node:
    """One instruction: `value` is the instruction word as written; `args` what nodeArgs() gives."""

    value: str
    original: str
    flags: list[str]
    args: list[str]
    json: bool = False
    heredocs: list[Heredoc] = field(default_factory=list)
    start: int = 0
    end: int = 0
    sub: Node | None = None  # ONBUILD's trigger

    @property
    def cmd(self) -> str:
        return self.value.lower()


@dataclass
class Result:
    nodes: list[Node]
    escape: str
    directives: dict[str, str]
    warnings: list[str]


class _Directives:
    """directives + DirectiveParser: the escape token, and `# name=value` lines at the top."""

    def __init__(self) -> None:
        self.line = 0
        self.done = False
        self.seen: dict[str, str] = {}
        self.escape = "\\"
        self.continuation = self._continuation("\\")

    @staticmethod
    def _continuation(token: str) -> re.Pattern[str]:
        t = re.escape(token)
        return re.compile(r"([^" + t + r"])" + t + r"[ \t]*\Z|^" + t + r"[ \t]*\Z")

    def set_escape(self, value: str) -> None:
        if value not in ("`", "\\"):
            raise ParseError(f"invalid escape token '{value}' does not match ` or \\")
        self.escape = value
        self.continuation = self._continuation(value)

    def parse_line(self, line: str) -> bool:
        """possibleParserDirective: True when the line was a directive."""
        self.line += 1
        if self.done:
            return False
        if not line.startswith("#"):
            self.done = True
            return False
        match = _DIRECTIVE.match(line[1:].lstrip())
        if not match or match.group(1).lower() not in _VALID_DIRECTIVES:
            self.done = True
            return False
        name = match.group(1).lower()
        if name in self.seen:
            raise ParseError(f"only one {name} parser directive can be used")
        self.seen[name] = match.group(2)
        if name == "escape":
            self.set_escape(match.group(2))
        return True


def _split_lf(text: str) -> list[str]:
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _is_comment(line: str) -> bool:
    stripped = line.lstrip()
    return stripped.startswith("#")


def parse(text: str) -> Result:
    """parser.Parse."""
    d = _Directives()
    lines = _split_lf(text)
    nodes: list[Node] = []
    warnings: list[str] = []
    current = 0
    i = 0

    def scan() -> str | None:
        nonlocal i
        if i >= len(lines):
            return None
        line = lines[i]
        i += 1
        if len(line.rstrip("\n")) > MAX_LINE:
            raise ParseError(f"dockerfile line greater than max allowed size of {MAX_LINE}", current + 1)
        return line

    def process(token: str, strip_left: bool) -> str:
        token = _trim_newline(token)
        if strip_left:
            token = token.lstrip()
        try:
            d.parse_line(token)
        except ParseError as exc:
            raise ParseError(exc.message, current) from None
        return "" if _is_comment(token) else token

    def trim_continuation(line: str) -> tuple[str, bool]:
        if d.continuation.search(line):
            return d.continuation.sub(lambda m: m.group(1) or "", line), False
        return line, True

    while True:
        raw = scan()
        if raw is None:
            break
        if current == 0 and raw.startswith("\ufeff"):
            raw = raw[1:]
        line = process(raw, True)
        current += 1
        start = current
        line, end_of_line = trim_continuation(line)
        if end_of_line and line == "":
            continue
        buf = [line]
        empty_continuation = False
        while not end_of_line:
            raw = scan()
            if raw is None:
                break
            part = process(raw, False)
            current += 1
            if _is_comment(raw):
                continue
            if not part.lstrip():
                empty_continuation = True
                continue
            part, end_of_line = trim_continuation(part)
            buf.append(part)
        full = "".join(buf)
        if empty_continuation:
            warnings.append(f"line {current}: empty continuation line")
        try:
            node = _node_from_line(full, d)
        except ParseError as exc:
            raise ParseError(exc.message, start, current) from None
        target = node.sub if node.cmd == "onbuild" and node.sub is not None else node
        if target.cmd in _HEREDOC_INSTRUCTIONS and not target.json and "<<" in full:
            try:
                docs = _heredocs_from_line(full)
            except ShellError as exc:
                raise ParseError(str(exc), start, current) from None
            for doc in docs:
                content = [doc.content]
                terminated = False
                while True:
                    raw = scan()
                    if raw is None:
                        break
                    current += 1
                    candidate = _trim_newline(raw)
                    if doc.chomp:
                        candidate = candidate.lstrip("\t")
                    if candidate == doc.name:
                        terminated = True
                        break
                    content.append(raw)
                if not terminated:
                    raise ParseError("unterminated heredoc", start, current)
                doc.content = "".join(content)
                node.heredocs.append(doc)
        node.start, node.end = start, current
        if node.sub is not None:
            node.sub.start, node.sub.end = start, current
            node.sub.heredocs = node.heredocs
        nodes.append(node)
    if not nodes:
        raise ParseError("file with no instructions", current)
    return Result(nodes=nodes, escape=d.escape, directives=dict(d.seen), warnings=warnings)


def _node_from_line(line: str, d: _Directives) -> Node:
    """newNodeFromLine: split off the instruction and its flags, then the instruction's parser."""
    cmd, flags, rest = _split_command(line, d)
    lower = cmd.lower()
    parsed_json = False
    sub: Node | None = None
    if lower == "onbuild":
        if rest == "":
            args: list[str] = []
        else:
            sub = _node_from_line(rest, d)
            args = [sub.value, *sub.args]
    elif lower in ("add", "copy", "volume"):
        args, parsed_json = _maybe_json_to_list(rest)
    elif lower in ("cmd", "entrypoint", "run", "shell"):
        args, parsed_json = _maybe_json(rest)
    elif lower == "arg":
        args = _parse_words(rest, d.escape)
    elif lower in ("env", "label"):
        args = _parse_name_val(rest, "ENV" if lower == "env" else "LABEL", d.escape)
    elif lower in ("expose", "from"):
        args = _whitespace_list(rest)
    elif lower == "healthcheck":
        args, parsed_json = _health_config(rest)
    elif lower in ("maintainer", "stopsignal", "user", "workdir"):
        args = [rest] if rest else []
    else:
        args = [""]  # parseIgnore (an empty node): an unknown instruction is refused by instruction parsing
    return Node(value=cmd, original=line, flags=flags, args=args, json=parsed_json, sub=sub)


def _split_command(line: str, d: _Directives) -> tuple[str, list[str], str]:
    parts = _WHITESPACE.split(line.strip(), maxsplit=1)
    flags: list[str] = []
    rest = ""
    if len(parts) == 2:
        rest, flags = _extract_builder_flags(parts[1], d.escape)
    return parts[0], flags, rest.strip()


def _extract_builder_flags(line: str, escape: str) -> tuple[str, list[str]]:
    """extractBuilderFlags: leading `--name=value` words, quotes and escapes removed."""
    words: list[str] = []
    phase = "spaces"
    buf: list[str] = []
    quote = ""
    blank_ok = False
    pos = 0
    n = len(line)
    while pos <= n:
        ch = line[pos] if pos < n else ""
        if phase == "spaces":
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            if ch != "-" or pos + 1 == n or line[pos + 1] != "-":
                return line[pos:], words
            phase = "word"
        if phase in ("word", "quote") and pos == n:
            word = "".join(buf)
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if phase == "word":
            if ch.isspace():
                word = "".join(buf)
                phase = "spaces"
                if word == "--":
                    return line[pos:], words
                if blank_ok or word:
                    words.append(word)
                buf = []
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = "quote"
                pos += 1
                continue
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
            buf.append(ch)
            pos += 1
            continue
        # phase == "quote"
        if ch == quote:
            phase = "word"
            pos += 1
            continue
        if ch == escape:
            if pos + 1 == n:
                phase = "word"
                pos += 1
                continue
            pos += 1
            ch = line[pos]
        buf.append(ch)
        pos += 1
    return "", words


def _parse_words(rest: str, escape: str) -> list[str]:
    """parseWords: words split at unquoted whitespace; quotes and escapes are kept."""
    words: list[str] = []
    phase = "spaces"
    quote = ""
    blank_ok = False
    buf: list[str] = []
    pos = 0
    n = len(rest)
    while pos <= n:
        ch = rest[pos] if pos < n else ""
        if phase == "spaces":
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            phase = "word"
        if phase in ("word", "quote") and pos == n:
            if blank_ok or buf:
                words.append("".join(buf))
            break
        if phase == "word":
            if ch.isspace():
                phase = "spaces"
                if blank_ok or buf:
                    words.append("".join(buf))
                buf = []
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = "quote"
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                buf.append(ch)
                pos += 1
                ch = rest[pos]
            buf.append(ch)
            pos += 1
            continue
        # phase == "quote"
        if ch == quote:
            phase = "word"
        if ch == escape and quote != "'":
            if pos + 1 == n:
                phase = "word"
                pos += 1
                continue
            pos += 1
            buf.append(ch)
            ch = rest[pos]
        buf.append(ch)
        pos += 1
    return words


def _parse_name_val(rest: str, key: str, escape: str) -> list[str]:
    """parseNameVal: [name, value, "=" or ""] triples (`ENV a=1 b=2`, or legacy `ENV a 1`)."""
    words = _parse_words(rest, escape)
    if not words:
        return []
    if "=" not in words[0]:
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise ParseError(f"{key} must have two arguments")
        return [parts[0], parts[1], ""]
    out: list[str] = []
    for word in words:
        if "=" not in word:
            raise ParseError(f"Syntax error - can't find = in {go_quote(word)}. Must be of the form: name=value")
        name, value = word.split("=", 1)
        out += [name, value, "="]
    return out


def _whitespace_list(rest: str) -> list[str]:
    if rest == "":
        return []
    return _WHITESPACE.split(rest)


class _NotStringArray(ParseError):
    pass


def _parse_json(rest: str) -> list[str] | None:
    """parseJSON: a JSON array of strings, or None when the text is not one."""
    rest = rest.lstrip()
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(value, list):
        return None
    if any(not isinstance(v, str) for v in value):
        raise _NotStringArray("when using JSON array syntax, arrays must be comprised of strings only")
    return value


def _no_constant(name: str) -> None:
    raise ValueError(name)  # NaN / Infinity are not JSON to Go


def _maybe_json(rest: str) -> tuple[list[str], bool]:
    if rest == "":
        return [], False
    parsed = _parse_json(rest)
    if parsed is not None:
        return parsed, True
    return [rest], False


def _maybe_json_to_list(rest: str) -> tuple[list[str], bool]:
    parsed = _parse_json(rest)
    if parsed is not None:
        return parsed, True
    return _whitespace_list(rest), False


def _health_config(rest: str) -> tuple[list[str], bool]:
    sep = 0
    while sep < len(rest) and not rest[sep].isspace():
        sep += 1
    nxt = sep
    while nxt < len(rest) and rest[nxt].isspace():
        nxt += 1
    if sep == 0:
        return [], False
    cmd, is_json = _maybe_json(rest[nxt:])
    return [rest[:sep], *cmd], is_json


def parse_heredoc(src: str) -> Heredoc | None:
    """ParseHeredoc: the heredoc a word like `<<EOT`, `<<-"EOT"` or `3<<EOT` opens, if any."""
    match = _HEREDOC.match(src)
    if not match:
        return None
    rest = match.group(3)
    if not rest:
        return None
    lex = Lex("\\", skip_unset_env=True)
    words = lex.process_words(rest, Env())
    if len(words) != 1:
        return None
    raw = Lex("\\", skip_unset_env=True, raw_quotes=True).process_words(rest, Env())
    if len(raw) != len(words):
        raise ShellError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    word = words[0]
    expand = (word.count("'") + word.count('"')) == (raw[0].count("'") + raw[0].count('"'))
    return Heredoc(name=word, file_descriptor=int(match.group(1) or 0), expand=expand, chomp=match.group(2) == "-")


def _heredocs_from_line(line: str) -> list[Heredoc]:
    lex = Lex("\\", raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    try:
        words = lex.process_words(line, Env())
    except ShellError:
        words = []
    docs = []
    for word in words:
        doc = parse_heredoc(word)
        if doc is not None:
            docs.append(doc)
    return docs


def chomp_heredoc(content: str) -> str:
    return _LEADING_TABS.sub("", content)
