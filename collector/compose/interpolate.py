"""Compose variable interpolation: $VAR, ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?msg}, ${VAR?msg},
${VAR:+r}, ${VAR+r}, and $$ for a literal dollar, as the Compose specification defines them (a `$`
followed by anything else is kept as written).

Interpolation runs over every string value of a file (never keys), before the file is validated
and merged, so a required variable left unset is reported at the line that needs it. Then, as
Compose v2 does, the values of typed keys written as strings (`read_only: 'false'`,
`retries: $RETRIES`, `enable_ipv6: 'true'`) are converted to their type (CASTS).

Redaction happens here, where a value is interpolated: with `redact`, a variable whose name says
secret (DB_PASSWORD, API_TOKEN) is written as <redacted> into free text (environment and label
values, commands, healthcheck tests, hooks, logging options, inline secret/config content). A value
that Compose parses (a port, a path, a name) keeps what the variable says, so a policy judges the
real configuration; no value is ever searched for elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from .. import redact as _redact
from .source import ComposeError, LDict, LList, Pos

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _to_bool(text: str) -> bool:
    low = text.strip().lower()
    if low in ("true", "y", "yes", "on"):  # y/yes/on/n/no/off: YAML 1.1 words Compose still takes here
        return True
    if low in ("false", "n", "no", "off"):
        return False
    raise ValueError("a boolean (true or false)")


def _to_int(text: str) -> int:
    try:
        return int(text.strip(), 10)
    except ValueError:
        raise ValueError("an integer") from None


def _to_float(text: str) -> float:
    try:
        return float(text.strip())
    except ValueError:
        raise ValueError("a number") from None


# Compose v2's typed keys (compose-go loader/interpolate.go): a string value there becomes its type.
_S = ("services", "*")
CASTS: dict[tuple[str, ...], Callable[[str], Any]] = {
    **{(*_S, k): _to_int for k in ("cpu_count", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime",
                                   "cpu_shares", "oom_score_adj", "pids_limit", "scale")},
    (*_S, "cpu_percent"): _to_float, (*_S, "cpus"): _to_float,
    **{(*_S, k): _to_bool for k in ("init", "oom_kill_disable", "privileged", "read_only", "stdin_open", "tty")},
    (*_S, "depends_on", "*", "required"): _to_bool, (*_S, "depends_on", "*", "restart"): _to_bool,
    (*_S, "deploy", "replicas"): _to_int,
    (*_S, "deploy", "update_config", "parallelism"): _to_int,
    (*_S, "deploy", "update_config", "max_failure_ratio"): _to_float,
    (*_S, "deploy", "rollback_config", "parallelism"): _to_int,
    (*_S, "deploy", "rollback_config", "max_failure_ratio"): _to_float,
    (*_S, "deploy", "restart_policy", "max_attempts"): _to_int,
    (*_S, "deploy", "placement", "max_replicas_per_node"): _to_int,
    (*_S, "healthcheck", "retries"): _to_int, (*_S, "healthcheck", "disable"): _to_bool,
    (*_S, "ports", "*", "target"): _to_int,
    (*_S, "ulimits", "*"): _to_int, (*_S, "ulimits", "*", "hard"): _to_int, (*_S, "ulimits", "*", "soft"): _to_int,
    (*_S, "volumes", "*", "read_only"): _to_bool, (*_S, "volumes", "*", "volume", "nocopy"): _to_bool,
    **{("networks", "*", k): _to_bool for k in ("external", "internal", "attachable", "enable_ipv4", "enable_ipv6")},
    ("volumes", "*", "external"): _to_bool, ("secrets", "*", "external"): _to_bool,
    ("configs", "*", "external"): _to_bool,
}
_CAST_LENGTHS = {len(k) for k in CASTS}

# Where a secret variable's value is hidden when interpolated: free text nothing parses.
_FREE_TEXT = (
    (*_S, "environment"), (*_S, "labels"), (*_S, "annotations"), (*_S, "command"), (*_S, "entrypoint"),
    (*_S, "healthcheck", "test"), (*_S, "pre_start"), (*_S, "post_start"), (*_S, "pre_stop"), (*_S, "logging", "options"),
    (*_S, "build", "args"), ("secrets", "*", "content"), ("configs", "*", "content"),
)


def _matches(pattern: tuple[str, ...], path: tuple[str, ...]) -> bool:
    return len(pattern) <= len(path) and all(p in ("*", q) for p, q in zip(pattern, path))


def _cast_for(path: tuple[str, ...]) -> Callable[[str], Any] | None:
    if len(path) not in _CAST_LENGTHS:
        return None
    for pattern, cast in CASTS.items():
        if len(pattern) == len(path) and _matches(pattern, path):
            return cast
    return None


class Interpolator:
    """Substitutes from one environment; with `redact`, hides the values of secret-named variables where asked."""

    def __init__(self, environ: Mapping[str, str], redact: bool = False) -> None:
        self.environ = environ
        self.redact = redact
        self._hide = False

    def text(self, value: str, pos: Pos | None, hide: bool = False) -> str:
        """`value` interpolated; with `hide`, secret-named variables' values become <redacted>."""
        self._hide = hide and self.redact
        try:
            out, _end = self._scan(value, 0, pos, None)
        finally:
            self._hide = False
        return out

    def _lookup(self, name: str) -> str | None:
        value = self.environ.get(name)
        if value is not None:
            if self._hide and value and _redact._is_secret_name(name):
                return _redact.MARKER
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
                else:  # `$1`, `$ `, a trailing `$`: not a variable, kept as written
                    out.append("$")
                    i += 1
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

    def tree(self, value: Any, pos: Pos | None = None, path: tuple[str, ...] = ()) -> Any:
        """Interpolate every string value below `value` (at `path` in the file), keeping LDict/LList
        positions and tags, and convert typed keys' string values as Compose does."""
        if isinstance(value, LDict):
            out = LDict(pos=value.pos)
            for key, item in value.items():
                out[key] = self.tree(item, value.keypos.get(key, pos), (*path, str(key)))
                out.keypos[key] = value.keypos.get(key) or pos
            out.keytag = dict(value.keytag)
            return out
        if isinstance(value, LList):
            seq = LList(pos=value.pos)
            for index, (item, item_pos) in enumerate(zip(value, value.itempos)):
                seq.add(self.tree(item, item_pos or pos, (*path, str(index))), item_pos)
            seq.itemtag = dict(value.itemtag)
            return seq
        if isinstance(value, str):
            hide = any(_matches(p, path) for p in _FREE_TEXT)
            text = self.text(value, pos, hide)
            cast = _cast_for(path)
            if cast is None:
                return text
            try:
                return cast(text)
            except ValueError as exc:
                raise ComposeError(f"invalid {'.'.join(path[1:] if path[:1] == ('services',) else path)}: "
                                   f"{text!r} is not {exc}", pos) from None
        return value
