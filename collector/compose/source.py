"""Compose YAML read with PyYAML's node API, so every key and list entry keeps its source position.

A mapping becomes an `LDict` (a dict that also records where each key was written) and a
sequence an `LList` (a list that records where each entry was written). Scalars are plain Python
values: their position is their parent's record for them. Positions survive merges and `extends`
because the merge code copies them along with the values (see merge.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hullcheck_common.errors import HullcheckError


@dataclass(frozen=True)
class Pos:
    """Where a key or entry was written: the file as the user named it, 1-based line and column."""

    file: str
    line: int
    column: int

    def as_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "column": self.column}


class ComposeError(HullcheckError):
    """Bad Compose input, said in one line that names the file and the line."""

    def __init__(self, message: str, pos: Pos | None = None, file: str | None = None) -> None:
        where = f"{pos.file}:{pos.line}: " if pos else (f"{file}: " if file else "")
        super().__init__(where + message)
        self.pos = pos


class LDict(dict):
    """A mapping with the position of each key (`keypos`) and of the mapping itself (`pos`)."""

    def __init__(self, *args: Any, pos: Pos | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pos = pos
        self.keypos: dict[Any, Pos | None] = {}


class LList(list):
    """A sequence with the position of each entry (`itempos`) and of the sequence itself (`pos`)."""

    def __init__(self, *args: Any, pos: Pos | None = None) -> None:
        super().__init__(*args)
        self.pos = pos
        self.itempos: list[Pos | None] = [None] * len(self)

    def add(self, value: Any, pos: Pos | None) -> None:
        self.append(value)
        self.itempos.append(pos)


def _mark(mark: yaml.Mark, file: str) -> Pos:
    return Pos(file, mark.line + 1, mark.column + 1)


class _Loader(yaml.SafeLoader):
    """SafeLoader: no Python object tags. Scalars resolve as PyYAML's safe loader resolves them."""


def _convert(node: yaml.Node, loader: _Loader, file: str, depth: int = 0) -> Any:
    if depth > 200:
        raise ComposeError("nesting deeper than 200 levels", _mark(node.start_mark, file))
    if isinstance(node, yaml.MappingNode):
        out = LDict(pos=_mark(node.start_mark, file))
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) or key is None:
                raise ComposeError("a mapping key must be a plain value", _mark(key_node.start_mark, file))
            if isinstance(key, bool) or not isinstance(key, str):
                key = str(key).lower() if isinstance(key, bool) else str(key)
            if key in out:  # a merged key never overrides one the mapping itself (or an earlier merge) wrote
                continue
            out[key] = _convert(value_node, loader, file, depth + 1)
            out.keypos[key] = _mark(key_node.start_mark, file)
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = LList(pos=_mark(node.start_mark, file))
        for item in node.value:
            seq.add(_convert(item, loader, file, depth + 1), _mark(item.start_mark, file))
        return seq
    return loader.construct_object(node, deep=True)


def load_yaml(text: str, file: str) -> Any:
    """Parse one YAML document into LDict/LList values. Errors name the file and line."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        # flatten_mapping places merged keys before the mapping's own keys; walking them in that
        # order with "first wins" would let the anchor win, so own keys are moved to the front.
        _own_keys_first(node, set())
        return _convert(node, loader, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if mark is not None:
            raise ComposeError(f"YAML error: {problem}", _mark(mark, file)) from None
        raise ComposeError(f"YAML error: {problem}", file=file) from None
    except yaml.YAMLError as exc:
        raise ComposeError(f"YAML error: {exc}", file=file) from None
    finally:
        loader.dispose()


def _own_keys_first(node: yaml.Node, seen: set[int]) -> None:
    """Resolve merge keys in every mapping, then order the pairs so a mapping's own keys come
    before merged ones (YAML merge semantics: explicit keys override merged keys)."""
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        own = [(k, v) for k, v in node.value if k.tag != "tag:yaml.org,2002:merge"]
        names: set[str] = set()
        for k, _v in own:
            if isinstance(k, yaml.ScalarNode):
                if k.value in names:
                    raise yaml.constructor.ConstructorError("while constructing a mapping", node.start_mark,
                                                            f"duplicate key {k.value!r}", k.start_mark)
                names.add(k.value)
        merges = [(k, v) for k, v in node.value if k.tag == "tag:yaml.org,2002:merge"]
        for _k, v in merges:
            for sub in (v.value if isinstance(v, yaml.SequenceNode) else [v]):
                _own_keys_first(sub, seen)
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        for _k, v in merges:
            for sub in (v.value if isinstance(v, yaml.SequenceNode) else [v]):
                if not isinstance(sub, yaml.MappingNode):
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"a merge key (<<) needs a mapping, found {sub.id}", sub.start_mark)
                merged.extend(sub.value)
        node.value = own + merged
        for _key, v in own:
            _own_keys_first(v, seen)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _own_keys_first(item, seen)


def read_file(path: Path, shown: str) -> tuple[bytes, Any]:
    """The file's bytes (for its sha256) and its parsed content."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ComposeError(f"cannot read: {exc.strerror or exc}", file=shown) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ComposeError(f"not UTF-8 text (byte {exc.start})", file=shown) from None
    return data, load_yaml(text, shown)
