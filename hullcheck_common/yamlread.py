"""YAML read into plain data that remembers where each key and entry was written, within limits.

    data = load(text, "compose.yaml")            # one document (None when empty)
    docs = load_all(text, "compose.yaml")        # every document of a stream
    data.keypos["services"]                      # Pos(file, line, column) of the key
    position(data, ["services", "web", "ports", 0])

Mappings become `LDict` (a dict with `pos`, `keypos` and, for local tags such as `!reset`,
`keytag`), sequences `LList` (a list with `pos`, `itempos`, `itemtag`); scalars are plain Python
values. Any code that reads dicts and lists reads the result as it is. With `spans=True` each
mapping also records where each value's source text is (`LDict.spans`: `Span`), for readers that
map a position inside a value back to a file line (the jq of a policy file).

One reader for every YAML file with positions: Compose files, policy files and waiver files.
Policy and waiver files are plain YAML: they are read with `anchors=False`, which refuses an
anchor (`&name`) or an alias (`*name`) in one line naming the file and the line.

Scalars resolve as YAML 1.2's core schema does, in the dialect of go-yaml (the parser of Compose
v2 and most Go tools): `yes`/`no`/`on`/`off` and `25:25` are strings; `true`/`True`/`TRUE`,
`null`/`~`/empty, decimal, `0x`, `0o` and `0b` integers, and YAML floats are typed. As in go-yaml,
`0644` is octal (file modes are written that way) and `1_000` is an integer; timestamps stay text.

The document is built from the parser's events (libyaml's when PyYAML has it), not by PyYAML's
composer, so every limit is checked before the work it bounds: the file's size before parsing,
the nesting depth as each collection opens, and the number of values after alias expansion as
each alias is met, before it is copied. An alias bomb is refused after reading its first few
lines, with memory proportional to the file. An alias is a copy of its anchor (positions
included), so the result is a tree: code that walks or changes it never sees shared parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .errors import HullcheckError
from .userfile import read_bytes, size_text

__all__ = ["LDict", "LList", "Limits", "Pos", "Span", "YamlError", "load", "load_all", "plain", "position", "read_file"]


@dataclass(frozen=True)
class Pos:
    """Where a key or entry was written: the file as the user named it, 1-based line and column."""

    file: str
    line: int
    column: int

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "column": self.column}


@dataclass(frozen=True)
class Span:
    """Where a mapping value's source text is: the 1-based line it starts on, the character offsets
    of its text in the document, and its scalar style ('|' or '>' for block scalars, None for a
    plain scalar or a collection; a quote character for a quoted one)."""

    line: int
    start: int
    end: int
    style: str | None


@dataclass(frozen=True)
class Limits:
    """What a document may cost. Defaults sit far above hand-written files (the largest Compose file
    of the public corpora is ~30 KB, ~3,000 values, 9 levels deep) and far below harm."""

    max_bytes: int = 4 * 1024 * 1024
    max_depth: int = 64
    max_values: int = 250_000  # scalars and collections, counted after alias expansion


DEFAULT_LIMITS = Limits()


class YamlError(HullcheckError):
    """A YAML text that cannot be read, or that exceeds a limit: one line naming file and line."""

    def __init__(self, message: str, pos: Pos | None = None, file: str | None = None) -> None:
        where = f"{pos.file}:{pos.line}: " if pos else (f"{file}: " if file else "")
        super().__init__(where + message)
        self.pos = pos
        self.file = pos.file if pos else file
        self.detail = message


class LDict(dict):
    """A mapping with the position of each key (`keypos`) and of the mapping itself (`pos`)."""

    def __init__(self, *args: Any, pos: Pos | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pos = pos
        self.keypos: dict[Any, Pos | None] = {}
        self.keytag: dict[Any, str] = {}  # key -> local tag of its value (`!reset`), when allowed
        self.spans: dict[Any, Span] = {}  # key -> where its value's text is (load(..., spans=True))


class LList(list):
    """A sequence with the position of each entry (`itempos`) and of the sequence itself (`pos`)."""

    def __init__(self, *args: Any, pos: Pos | None = None) -> None:
        super().__init__(*args)
        self.pos = pos
        self.itempos: list[Pos | None] = [None] * len(self)
        self.itemtag: dict[int, str] = {}

    def add(self, value: Any, pos: Pos | None) -> None:
        self.append(value)
        self.itempos.append(pos)


def plain(value: Any) -> Any:
    """The data without its positions: LDict and LList as plain dicts and lists (for data that is
    kept, pickled or compared long after reading)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def position(doc: Any, path: list[Any], fallback: Pos | None = None) -> Pos | None:
    """The position of the deepest key or entry along `path` that the document records."""
    pos = fallback
    node = doc
    for part in path:
        if isinstance(node, LDict) and part in node:
            pos = node.keypos.get(part) or pos
            node = node[part]
        elif isinstance(node, LList) and isinstance(part, int) and 0 <= part < len(node):
            pos = node.itempos[part] or pos
            node = node[part]
        else:
            break
    return pos


# ---- scalars: YAML 1.2 core schema, as go-yaml resolves it ---------------------------------------

_CORE = "tag:yaml.org,2002:"
_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}
_SPECIAL_FLOATS = {".nan": float("nan"), ".NaN": float("nan"), ".NAN": float("nan"),
                   ".inf": float("inf"), ".Inf": float("inf"), ".INF": float("inf"),
                   "+.inf": float("inf"), "+.Inf": float("inf"), "+.INF": float("inf"),
                   "-.inf": float("-inf"), "-.Inf": float("-inf"), "-.INF": float("-inf")}
_INT = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]*|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")


def _int(text: str) -> int | None:
    plain = text.replace("_", "")
    if not _INT.fullmatch(plain):
        return None
    sign = -1 if plain.startswith("-") else 1
    digits = plain.lstrip("+-")
    if len(digits) > 1 and digits[0] == "0" and digits[1] in "0123456789":
        return sign * int(digits, 8)  # go-yaml keeps YAML 1.1's 0644 octal
    return sign * int(digits, 0)


def _plain(text: str) -> Any:
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if text in _SPECIAL_FLOATS:
        return _SPECIAL_FLOATS[text]
    first = text[0]
    if first.isdigit() or first in "+-.":
        number = _int(text)
        if number is not None:
            return number
        plain = text.replace("_", "") if first != "." else text
        if _FLOAT.fullmatch(plain):
            return float(plain)
    return text


def _tagged(tag: str, text: str, pos: Pos) -> Any:
    """A scalar with an explicit core tag (`!!str 25`, `!!int "3"`)."""
    name = tag[len(_CORE):] if tag.startswith(_CORE) else tag
    if name == "str":
        return text
    value = _plain(text)
    if name == "null" and value is None:
        return None
    if name == "bool" and isinstance(value, bool):
        return value
    if name == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if name == "float" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise YamlError(f"cannot read {text!r} as !!{name}", pos)


# ---- the builder -----------------------------------------------------------------------------------


def _parser() -> type:
    return getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Frame:
    __slots__ = ("anchor", "container", "key", "key_pos", "merges", "size", "start", "tag")

    def __init__(self, container: LDict | LList, anchor: str | None, tag: str | None, start: Any = None) -> None:
        self.container = container
        self.anchor = anchor
        self.tag = tag
        self.start = start  # the start event's mark (for spans)
        self.key: Any = _NO_KEY
        self.key_pos: Pos | None = None
        self.merges: list[tuple[LDict, Pos]] = []
        self.size = 1


_NO_KEY = object()
_MERGE = object()


def _copy(value: Any) -> Any:
    """A deep copy of built data, positions and tags included (an alias's value)."""
    if isinstance(value, LDict):
        out = LDict(pos=value.pos)
        for k, v in value.items():
            out[k] = _copy(v)
        out.keypos = dict(value.keypos)
        out.keytag = dict(value.keytag)
        out.spans = dict(value.spans)
        return out
    if isinstance(value, LList):
        seq = LList([_copy(v) for v in value], pos=value.pos)
        seq.itempos = list(value.itempos)
        seq.itemtag = dict(value.itemtag)
        return seq
    return value


def _span(at: Pos, start: Any, end: Any, style: str | None) -> Span:
    return Span(at.line, start.index, end.index if end is not None else start.index, style or None)


def _size(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(_size(v) for v in value.values())
    if isinstance(value, list):
        return 1 + sum(_size(v) for v in value)
    return 1


class _Builder:
    def __init__(self, file: str, limits: Limits, local_tags: tuple[str, ...], anchors: bool = True,
                 spans: bool = False) -> None:
        self.file = file
        self.limits = limits
        self.local_tags = local_tags
        self.allow_anchors = anchors
        self.spans = spans
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.stack: list[_Frame] = []
        self.values = 0
        self.docs: list[Any] = []

    def pos(self, mark: Any) -> Pos:
        return Pos(self.file, mark.line + 1, mark.column + 1)

    def count(self, n: int, at: Pos) -> None:
        self.values += n
        if self.values > self.limits.max_values:
            raise YamlError(f"more than {self.limits.max_values:,} values once aliases are expanded "
                            "(an alias bomb, or a document too large to be a configuration file)", at)

    def local_tag(self, tag: str | None, at: Pos) -> str | None:
        """The tag to record on the value (a permitted local tag), None for core or no tag."""
        if tag is None or tag == "!" or tag.startswith(_CORE):
            return None
        if tag in self.local_tags:
            return tag
        raise YamlError(f"unsupported YAML tag {tag}", at)

    def event(self, event: yaml.Event) -> None:
        if isinstance(event, yaml.ScalarEvent):
            at = self.pos(event.start_mark)
            self.count(1, at)
            if event.anchor and not self.allow_anchors:
                self.no_anchors(f"anchor &{event.anchor}", at)
            tag = event.tag
            if tag is not None and tag.startswith(_CORE) and tag not in (_CORE + "str", _CORE + "int",
                                                                          _CORE + "float", _CORE + "bool",
                                                                          _CORE + "null"):
                raise YamlError(f"unsupported YAML tag {tag.replace(_CORE, '!!')}", at)
            local = self.local_tag(tag, at)
            if tag is not None and tag.startswith(_CORE):
                value = _tagged(tag, event.value, at)
            elif event.implicit[0] and tag is None:
                value = _MERGE if event.value == "<<" else _plain(event.value)
            elif local and not event.style:  # `!override 8080`: the tag says how to merge, not the type
                value = _plain(event.value)
            else:
                value = event.value  # quoted, or tagged `!` / a local tag: a string
            if event.anchor:
                self.anchors[event.anchor] = (value, 1)
            span = _span(at, event.start_mark, event.end_mark, event.style) if self.spans else None
            self.add(value, 1, at, local, span)
        elif isinstance(event, yaml.AliasEvent):
            at = self.pos(event.start_mark)
            if not self.allow_anchors:
                self.no_anchors(f"alias *{event.anchor}", at)
            if event.anchor not in self.anchors:
                if any(f.anchor == event.anchor for f in self.stack):
                    raise YamlError(f"alias *{event.anchor} refers to a collection that contains it", at)
                raise YamlError(f"alias *{event.anchor} has no anchor before it", at)
            value, size = self.anchors[event.anchor]
            self.count(size, at)  # before the copy: a bomb is refused here, not expanded
            self.add(_copy(value), size, at, None)
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            at = self.pos(event.start_mark)
            if len(self.stack) + 1 > self.limits.max_depth:
                raise YamlError(f"nesting deeper than {self.limits.max_depth} levels", at)
            self.count(1, at)
            if event.anchor and not self.allow_anchors:
                self.no_anchors(f"anchor &{event.anchor}", at)
            tag = event.tag
            kind = "map" if isinstance(event, yaml.MappingStartEvent) else "seq"
            if tag is not None and tag.startswith(_CORE) and tag != _CORE + kind:
                raise YamlError(f"unsupported YAML tag {tag.replace(_CORE, '!!')} on a {'mapping' if kind == 'map' else 'sequence'}", at)
            local = self.local_tag(tag, at)
            container: LDict | LList = LDict(pos=at) if kind == "map" else LList(pos=at)
            self.stack.append(_Frame(container, event.anchor, local, event.start_mark if self.spans else None))
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            frame = self.stack.pop()
            container = frame.container
            if isinstance(container, LDict):
                if frame.key is not _NO_KEY:  # cannot happen with a well-formed event stream
                    raise YamlError("a mapping key without a value", frame.key_pos)
                for merged, _at in frame.merges:
                    for k, v in merged.items():
                        if k not in container:  # own keys, then earlier merges, win
                            frame.size += _size(v)
                            container[k] = v
                            container.keypos[k] = merged.keypos.get(k)
                            if k in merged.keytag:
                                container.keytag[k] = merged.keytag[k]
            if frame.anchor:
                self.anchors[frame.anchor] = (container, frame.size)
            at = container.pos or Pos(self.file, 1, 1)
            span = _span(at, frame.start, event.end_mark, None) if frame.start is not None else None
            self.add(container, frame.size, at, frame.tag, span)
        elif isinstance(event, yaml.DocumentStartEvent):
            self.anchors = {}
        elif isinstance(event, yaml.DocumentEndEvent):
            pass

    def no_anchors(self, what: str, at: Pos) -> None:
        raise YamlError(f"YAML {what}: anchors and aliases are not allowed in this file (write the value out "
                        "where it is used)", at)

    def add(self, value: Any, size: int, at: Pos, tag: str | None, span: Span | None = None) -> None:
        if not self.stack:
            if value is _MERGE:
                value = "<<"
            self.docs.append(value)
            return
        frame = self.stack[-1]
        container = frame.container
        if not (isinstance(container, LDict) and frame.key is _MERGE):  # merged keys count as taken
            frame.size += size
        if isinstance(container, LList):
            if value is _MERGE:
                value = "<<"
            if tag:
                container.itemtag[len(container)] = tag
            container.add(value, at)
            return
        if frame.key is _NO_KEY:  # this value is a key
            if value is _MERGE:
                frame.key, frame.key_pos = _MERGE, at
                return
            if isinstance(value, (dict, list)):
                raise YamlError("a mapping key must be a plain value, not a mapping or a sequence", at)
            if value is None:
                raise YamlError("a mapping key must not be null", at)
            key = str(value).lower() if isinstance(value, bool) else str(value)
            if key in container:
                first = container.keypos[key]
                raise YamlError(f"duplicate key {key!r}" + (f" (first at line {first.line})" if first else ""), at)
            frame.key, frame.key_pos = key, at
            return
        key, key_pos = frame.key, frame.key_pos
        frame.key, frame.key_pos = _NO_KEY, None
        if key is _MERGE:
            sources = value if isinstance(value, list) else [value]
            for source in sources:
                if not isinstance(source, LDict):
                    raise YamlError("a merge key (<<) needs a mapping or a list of mappings", key_pos)
                frame.merges.append((source, at))
            return
        container[key] = value
        container.keypos[key] = key_pos
        if tag:
            container.keytag[key] = tag
        if span is not None:
            container.spans[key] = span


def _check_size(data: bytes | str, file: str, limits: Limits) -> None:
    if len(data) > limits.max_bytes:
        raise YamlError(f"{size_text(len(data))} is over the {size_text(limits.max_bytes)} limit", file=file)


def load_all(text: str | bytes, file: str, *, limits: Limits = DEFAULT_LIMITS, local_tags: tuple[str, ...] = (),
             anchors: bool = True, spans: bool = False) -> list[Any]:
    """Every document of the stream, built as LDict/LList/scalars. Raises YamlError (file:line).
    `anchors=False` refuses anchors and aliases; `spans=True` records LDict.spans."""
    _check_size(text, file, limits)
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise YamlError(f"not UTF-8 text (byte {exc.start})", file=file) from None
    builder = _Builder(file, limits, local_tags, anchors, spans)
    loader = _parser()(text)
    try:
        while loader.check_event():
            builder.event(loader.get_event())
    except yaml.YAMLError as exc:
        worded = _worded(text, exc)
        if isinstance(worded, yaml.MarkedYAMLError):
            mark = worded.problem_mark or worded.context_mark
            problem = worded.problem or worded.context or "invalid YAML"
            if mark is not None:
                raise YamlError(f"YAML error: {problem}", builder.pos(mark)) from None
            raise YamlError(f"YAML error: {problem}", file=file) from None
        raise YamlError(f"YAML error: {str(worded).splitlines()[0] if str(worded) else 'invalid YAML'}", file=file) from None
    finally:
        loader.dispose()
    return builder.docs


def _worded(text: str, exc: yaml.YAMLError) -> yaml.YAMLError:
    """The error as PyYAML's pure-Python parser finds it: the same wording and line whether or not
    this PyYAML has libyaml (whose messages differ: 'mapping values are not allowed in this
    context'). Only a refused text pays for the second scan."""
    if _parser() is yaml.SafeLoader:
        return exc
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_event():
            loader.get_event()
    except yaml.YAMLError as pure:
        return pure
    finally:
        loader.dispose()
    return exc


def load(text: str | bytes, file: str, *, limits: Limits = DEFAULT_LIMITS, local_tags: tuple[str, ...] = (),
         anchors: bool = True, spans: bool = False) -> Any:
    """The one document of `text` (None when empty); a stream of several is refused."""
    docs = load_all(text, file, limits=limits, local_tags=local_tags, anchors=anchors, spans=spans)
    if len(docs) > 1:
        raise YamlError(f"{len(docs)} YAML documents where one is expected", file=file)
    return docs[0] if docs else None


def read_file(path: Path, shown: str, *, limits: Limits = DEFAULT_LIMITS,
              local_tags: tuple[str, ...] = ()) -> tuple[bytes, list[Any]]:
    """The file's bytes (read no further than the size limit, by hullcheck_common.userfile: a FIFO,
    a device or a directory is refused unread) and its documents."""
    data = read_bytes(path, what="a YAML file", max_bytes=limits.max_bytes, shown=shown,
                      error=lambda name, problem: YamlError(problem, file=name))
    return data, load_all(data, shown, limits=limits, local_tags=local_tags)
