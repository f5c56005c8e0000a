"""Compose merge rules (several -f files, and `extends`), on normalised services.

As the Compose specification's merge rules say: mappings merge key by key; `command`,
`entrypoint` and `healthcheck.test` are replaced; `volumes` and `devices` merge by container
path, `secrets` and `configs` by target (or source); other sequences (ports, cap_add, dns, ...)
are appended without duplicates; a scalar from the later file wins. Whatever the later file
supplies brings its own position, so a finding points at the file that really set the value.

Compose's tags decide otherwise where written: `!reset` removes the key (whatever an earlier file
or the extended service said), `!override` replaces the value instead of merging it. The result
carries no tags: `strip_tags` applies them to a value with nothing to merge onto.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .source import LDict, LList

_REPLACED = {"command", "entrypoint"}


def _device_key(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("target") or item.get("source"))
    parts = str(item).split(":")
    return parts[1] if len(parts) > 1 else parts[0]


def _ref_key(item: Any) -> str:
    if isinstance(item, dict):
        return str(item.get("target") or item.get("source"))
    return str(item)


_BY_KEY: dict[str, Callable[[Any], str]] = {
    "volumes": lambda v: str(v.get("target")) if isinstance(v, dict) else str(v),
    "devices": _device_key,
    "secrets": _ref_key,
    "configs": _ref_key,
}


def _merge_by(base: LList, override: LList, key: Callable[[Any], str]) -> LList:
    out = LList(pos=override.pos or base.pos)
    index: dict[str, int] = {}
    for item, pos in zip(base, base.itempos):
        index[key(item)] = len(out)
        out.add(item, pos)
    for item, pos in zip(override, override.itempos):
        k = key(item)
        if k in index:
            out[index[k]] = item
            out.itempos[index[k]] = pos
        else:
            index[k] = len(out)
            out.add(item, pos)
    return out


def _append_unique(base: LList, override: LList) -> LList:
    out = LList(pos=override.pos or base.pos)
    seen: list[Any] = []
    for item, pos in [*zip(base, base.itempos), *zip(override, override.itempos)]:
        if item in seen:
            continue
        seen.append(item)
        out.add(item, pos)
    return out


def strip_tags(value: Any) -> Any:
    """`value` with `!reset` keys and entries removed and `!override` taken as written (a file
    merged onto nothing, or the result of a merge)."""
    if isinstance(value, LDict):
        out = LDict(pos=value.pos)
        for k, v in value.items():
            if value.keytag.get(k) == "!reset":
                continue
            out[k] = strip_tags(v)
            out.keypos[k] = value.keypos.get(k)
        return out
    if isinstance(value, LList):
        seq = LList(pos=value.pos)
        for i, (v, p) in enumerate(zip(value, value.itempos)):
            if value.itemtag.get(i) != "!reset":
                seq.add(strip_tags(v), p)
        return seq
    return value


def merge(base: Any, override: Any, key: str | None = None, path: tuple[str, ...] = ()) -> Any:
    """Merge `override` onto `base` (values of one key `key`)."""
    if key in _REPLACED or path[-2:] == ("healthcheck", "test"):
        return strip_tags(override)
    if isinstance(base, dict) and isinstance(override, dict):
        out = LDict(pos=getattr(override, "pos", None) or getattr(base, "pos", None))
        tags = getattr(override, "keytag", {})
        for k, v in base.items():
            out[k] = v
            out.keypos[k] = getattr(base, "keypos", {}).get(k)
        for k, v in override.items():
            tag = tags.get(k)
            if tag == "!reset":
                out.pop(k, None)
                out.keypos.pop(k, None)
                continue
            out[k] = merge(base[k], v, k, (*path, k)) if k in base and tag != "!override" else strip_tags(v)
            out.keypos[k] = getattr(override, "keypos", {}).get(k) or out.keypos.get(k)
        return out
    if isinstance(base, LList) and isinstance(override, LList):
        override = strip_tags(override)
        if key in _BY_KEY and len(path) == 1:
            return _merge_by(base, override, _BY_KEY[key])
        return _append_unique(base, override)
    return strip_tags(override)
