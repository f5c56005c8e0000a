"""Compose YAML read by the shared position-keeping reader (hullcheck_common.yamlread), so every
key and list entry keeps its source position, and hostile files (alias bombs, deep nesting,
oversized files) are refused before they cost anything.

A mapping is an `LDict` (a dict that also records where each key was written) and a sequence an
`LList` (a list that records where each entry was written). Scalars are plain Python values read
as YAML 1.2 (Compose v2's parser): `25:25` and `yes` are strings. Positions survive merges and
`extends` because the merge code copies them along with the values (see merge.py). Compose's own
tags `!reset` and `!override` are kept as `keytag` / `itemtag` for merge.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hullcheck_common.errors import HullcheckError
from hullcheck_common.yamlread import LDict, Limits, LList, Pos, YamlError
from hullcheck_common.yamlread import read_file as _read_yaml

__all__ = ["ComposeError", "LDict", "LList", "Pos", "read_file"]

COMPOSE_TAGS = ("!reset", "!override")
LIMITS = Limits()


class ComposeError(HullcheckError):
    """Bad Compose input, said in one line that names the file and the line."""

    def __init__(self, message: str, pos: Pos | None = None, file: str | None = None) -> None:
        where = f"{pos.file}:{pos.line}: " if pos else (f"{file}: " if file else "")
        super().__init__(where + message)
        self.pos = pos


def read_file(path: Path, shown: str) -> tuple[bytes, list[Any]]:
    """The file's bytes (for its sha256) and its YAML documents (Compose merges them in order)."""
    try:
        return _read_yaml(path, shown, limits=LIMITS, local_tags=COMPOSE_TAGS)
    except YamlError as exc:
        raise ComposeError(exc.detail, exc.pos, file=exc.file) from None
