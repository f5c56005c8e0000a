"""Compose variable interpolation: $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?msg}, ${VAR?msg},
${VAR:+r}, ${VAR+r}, and $$ for a literal dollar, as the Compose specification defines them.

Interpolation runs over every string value of a file (never keys), before the file is validated
and merged, so a required variable left unset is reported at the line that needs it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from .source import ComposeError, LDict, LList, Pos

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class Interpolator:
    """Substitutes from one environment and remembers which variables it used (for redaction)."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.used: dict[str, str] = {}

    def text(self, value: str, pos: Pos | None) -> str:
        out, _end = self._scan(value, 0, pos, None)
        return out

    def _lookup(self, name: str) -> str | None:
        value = self.environ.get(name)
        if value is not None:
            self.used[name] = value
        return value

    def _scan(self, s: str, i: int, pos: Pos | None, stop: str | None) -> tuple[str, int]:
        """Expand s from i up to an unnested `stop` character (or the end); return text, index."""
        out: list[str] = []
        depth = 0
        while i < len(s):
            ch = s[i]
            if stop is not None and ch == "}" and depth == 0:
                return "".join(out), i
            if ch != "$":
                out.append(ch)
                i += 1
                continue
            nxt = s[i + 1] if i + 1 < len(s) else ""
            if nxt == "$":
                out.append("$")
                i += 2
            elif nxt == "{":
                text, i = self._braced(s, i + 2, pos)
                out.append(text)
            else:
                match = _NAME.match(s, i + 1)
                if match:
                    out.append(self._lookup(match.group(0)) or "")
                    i = match.end()
                else:
                    raise ComposeError(f"invalid interpolation format in {s!r}: a lone $ (write $$ for a dollar)", pos)
        if stop is not None:
            raise ComposeError(f"invalid interpolation format in {s!r}: missing }}", pos)
        return "".join(out), i

    def _braced(self, s: str, i: int, pos: Pos | None) -> tuple[str, int]:
        match = _NAME.match(s, i)
        if not match:
            raise ComposeError(f"invalid interpolation format in {s!r}: expected a variable name after ${{", pos)
        name = match.group(0)
        i = match.end()
        if i < len(s) and s[i] == "}":
            return self._lookup(name) or "", i + 1
        for op in (":-", ":?", ":+", "-", "?", "+"):
            if s.startswith(op, i):
                break
        else:
            raise ComposeError(f"invalid interpolation format in {s!r}: unexpected {s[i:i + 1]!r} after ${{{name}", pos)
        arg, end = self._scan(s, i + len(op), pos, "}")
        value = self._lookup(name)
        empty = value is None or (op.startswith(":") and value == "")
        if op.endswith("-"):
            result = arg if empty else value
        elif op.endswith("?"):
            if empty:
                raise ComposeError(f"required variable {name} is {'unset' if value is None else 'empty'}"
                                   + (f": {arg}" if arg else ""), pos)
            result = value
        else:  # +
            result = "" if empty else arg
        return result or "", end + 1

    def tree(self, value: Any, pos: Pos | None = None) -> Any:
        """Interpolate every string value below `value`, keeping LDict/LList positions."""
        if isinstance(value, LDict):
            out = LDict(pos=value.pos)
            for key, item in value.items():
                out[key] = self.tree(item, value.keypos.get(key, pos))
                out.keypos[key] = value.keypos.get(key) or pos
            return out
        if isinstance(value, LList):
            seq = LList(pos=value.pos)
            for item, item_pos in zip(value, value.itempos):
                seq.add(self.tree(item, item_pos or pos), item_pos)
            return seq
        if isinstance(value, str):
            return self.text(value, pos)
        return value
