"""One canonical form per service key (long syntax), so merging and mapping to `docker inspect`
each deal with one shape. Every normalised entry keeps the position of the entry it came from.

Short and long syntax of ports and volumes become long-syntax mappings; list-or-dict keys
(environment, labels, sysctls, extra_hosts, networks) become mappings; string-or-list keys
(dns, dns_search, tmpfs, env_file) become lists. Relative bind sources resolve against
`base_dir` (the project directory, or the directory of a file reached through `extends`).
"""

from __future__ import annotations

import os
from typing import Any

from .source import ComposeError, LDict, LList, Pos

_DICT_KEYS = ("environment", "labels", "sysctls", "annotations")
_STR_OR_LIST = ("dns", "dns_search", "tmpfs", "env_file", "label_file", "dns_opt")
_PROPAGATION = {"shared", "rshared", "slave", "rslave", "private", "rprivate"}


def _entry_pos(value: Any, index: int, fallback: Pos | None) -> Pos | None:
    if isinstance(value, LList) and index < len(value.itempos):
        return value.itempos[index] or fallback
    return fallback


def _list_to_dict(value: Any, key: str, pos: Pos | None, sep: str = "=") -> LDict:
    if isinstance(value, LDict):
        out = LDict(pos=value.pos)
        for k, v in value.items():
            out[k] = None if v is None else (str(v).lower() if isinstance(v, bool) else str(v))
            out.keypos[k] = value.keypos.get(k) or pos
        return out
    out = LDict(pos=getattr(value, "pos", pos))
    for i, item in enumerate(value or []):
        text = str(item)
        name, has, val = text.partition(sep)
        if key == "extra_hosts" and not has:
            name, has, val = text.partition(":")
        out[name.strip()] = val if has else None
        out.keypos[name.strip()] = _entry_pos(value, i, pos)
    return out


def _as_list(value: Any, pos: Pos | None) -> LList:
    if isinstance(value, LList):
        return value
    seq = LList(pos=pos)
    seq.add(value, pos)
    return seq


def parse_port(value: Any, pos: Pos | None) -> list[LDict]:
    """Short or long port syntax to long-syntax entries, one per port of a range."""
    if isinstance(value, dict):
        published = _port_text(value.get("published"))
        protocol = str(value.get("protocol") or "tcp")
        host_ip = str(value.get("host_ip") or "")
        entries = _expand(_port_text(value.get("target")), published, host_ip, protocol, pos, value)
        for entry in entries:  # name, app_protocol, mode: kept as written
            entry.update({k: value[k] for k in ("name", "app_protocol", "mode") if value.get(k) is not None})
        return entries
    text = str(value)
    protocol = "tcp"
    if "/" in text:
        text, protocol = text.rsplit("/", 1)
    host_ip = ""
    if text.startswith("["):  # [::1]:8080:80
        close = text.find("]")
        host_ip, text = text[1:close], text[close + 2:]
        parts = text.split(":")
    else:
        parts = text.split(":")
        if len(parts) > 3:  # a bare IPv6 address: every part but the last two
            host_ip, parts = ":".join(parts[:-2]), parts[-2:]
        elif len(parts) == 3:
            host_ip, parts = parts[0], parts[1:]
    if len(parts) == 1:
        published, target = "", parts[0]
    else:
        published, target = parts
    return _expand(target, published, host_ip, protocol, pos, value)


def _port_text(value: Any) -> str:
    return "" if value is None else str(value)


def _range(text: str, pos: Pos | None, whole: Any) -> list[int]:
    try:
        if "-" in text:
            low, high = (int(p) for p in text.split("-", 1))
            if high < low or high - low > 65535:
                raise ValueError
            return list(range(low, high + 1))
        return [int(text)]
    except ValueError:
        raise ComposeError(f"invalid port {whole!r}", pos) from None


def _expand(target: str, published: str, host_ip: str, protocol: str, pos: Pos | None, whole: Any) -> list[LDict]:
    if not target:
        raise ComposeError(f"invalid port {whole!r}: no container port", pos)
    targets = _range(target, pos, whole)
    hosts: list[str] = [str(h) for h in _range(published, pos, whole)] if published else [""] * len(targets)
    if published and len(hosts) != len(targets):
        if len(targets) == 1:  # 8000-8010:80 -> the engine binds one free port of the range
            hosts = [published]
        else:
            raise ComposeError(f"port ranges of different lengths in {whole!r}", pos)
    out = []
    for t, h in zip(targets, hosts):
        entry = LDict(pos=pos)
        entry.update({"target": t, "published": h, "host_ip": host_ip, "protocol": protocol.lower()})
        out.append(entry)
    return out


def resolve_path(source: str, base_dir: str) -> str:
    """A path from a Compose file made absolute: `~` is the user's home, relative is below base_dir."""
    if source.startswith("~"):
        source = os.path.expanduser(source)
    if not os.path.isabs(source):
        source = os.path.join(base_dir, source)
    return os.path.normpath(source)


def parse_volume(value: Any, pos: Pos | None, base_dir: str) -> LDict:
    """Short or long volume syntax to one long-syntax mapping (bind sources made absolute)."""
    entry = LDict(pos=pos)
    if isinstance(value, dict):
        entry.update({k: value[k] for k in value})
        kind = str(value.get("type") or "volume")
        entry["type"] = kind
        if kind == "bind" and entry.get("source"):
            entry["source"] = resolve_path(str(entry["source"]), base_dir)
        entry["read_only"] = _truthy(value.get("read_only", False))
        return entry
    text = str(value)
    parts = text.split(":")
    mode = ""
    if len(parts) == 3:
        mode, parts = parts[2], parts[:2]
    elif len(parts) == 2 and not parts[1].startswith("/") and _is_mode(parts[1]):
        mode, parts = parts[1], parts[:1]
    elif len(parts) > 3:
        raise ComposeError(f"invalid volume {text!r}: too many colons", pos)
    if len(parts) == 1:
        entry.update({"type": "volume", "source": "", "target": parts[0]})
    else:
        source, target = parts
        if source.startswith(("/", ".", "~")):
            entry.update({"type": "bind", "source": resolve_path(source, base_dir), "target": target})
        else:
            entry.update({"type": "volume", "source": source, "target": target})
    flags = [m for m in mode.split(",") if m]
    entry["read_only"] = "ro" in flags
    propagation = [m for m in flags if m in _PROPAGATION]
    if propagation:
        entry["bind"] = {"propagation": propagation[0]}
    if "nocopy" in flags:
        entry["volume"] = {"nocopy": True}
    selinux = [m for m in flags if m in ("z", "Z")]
    if selinux:
        entry.setdefault("bind", {})["selinux"] = selinux[0]
    if not entry["target"].startswith("/"):
        raise ComposeError(f"invalid volume {text!r}: the container path must be absolute", pos)
    return entry


def _is_mode(text: str) -> bool:
    return all(m in {"ro", "rw", "z", "Z", "nocopy", *_PROPAGATION} for m in text.split(","))


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "y", "on")
    return bool(value)


def _env_file_entry(item: Any, base_dir: str) -> LDict:
    """An env_file entry in long form: {path (absolute), required, format}."""
    entry = LDict(pos=getattr(item, "pos", None))
    if isinstance(item, dict):
        entry.update({k: item[k] for k in item})
        entry["path"] = resolve_path(str(item.get("path")), base_dir)
        entry["required"] = _truthy(item.get("required", True))
    else:
        entry.update({"path": resolve_path(str(item), base_dir), "required": True})
    return entry


def _depends_on(value: Any, pos: Pos | None) -> LDict:
    """depends_on in long form: service -> {condition, required, restart}."""
    if isinstance(value, LDict):
        return value
    out = LDict(pos=getattr(value, "pos", pos))
    for i, name in enumerate(value or []):
        out[str(name)] = {"condition": "service_started", "required": True}
        out.keypos[str(name)] = _entry_pos(value, i, pos)
    return out


def normalize_service(service: LDict, base_dir: str) -> LDict:
    """The service with each key in its canonical form; positions and tags carried along."""
    out = LDict(pos=service.pos)
    out.keytag = dict(service.keytag)
    for key, value in service.items():
        pos = service.keypos.get(key)
        out.keypos[key] = pos
        if key in _DICT_KEYS or key == "extra_hosts":
            out[key] = _list_to_dict(value, key, pos)
        elif key in _STR_OR_LIST:
            seq = _as_list(value, pos)
            if key in ("env_file", "label_file"):
                fixed = LList(pos=seq.pos)
                for i, item in enumerate(seq):
                    entry: Any = _env_file_entry(item, base_dir) if key == "env_file" else resolve_path(str(item), base_dir)
                    fixed.add(entry, _entry_pos(seq, i, pos))
                seq = fixed
            out[key] = seq
        elif key == "ports":
            seq = LList(pos=getattr(value, "pos", pos))
            for i, item in enumerate(value or []):
                for entry in parse_port(item, _entry_pos(value, i, pos)):
                    seq.add(entry, entry.pos)
            out[key] = seq
        elif key == "volumes":
            seq = LList(pos=getattr(value, "pos", pos))
            for i, item in enumerate(value or []):
                p = _entry_pos(value, i, pos)
                seq.add(parse_volume(item, p, base_dir), p)
            out[key] = seq
        elif key == "networks" and isinstance(value, list):
            out[key] = _list_to_dict(value, key, pos)
        elif key == "depends_on":
            out[key] = _depends_on(value, pos)
        elif key == "build" and isinstance(value, str):
            out[key] = LDict({"context": resolve_path(value, base_dir)}, pos=pos)
        elif key == "ulimits":
            limits = LDict(pos=getattr(value, "pos", pos))
            for name, limit in (value or {}).items():
                if isinstance(limit, dict):
                    limits[name] = {"soft": int(limit.get("soft", 0)), "hard": int(limit.get("hard", 0))}
                else:
                    limits[name] = {"soft": int(limit), "hard": int(limit)}
                limits.keypos[name] = value.keypos.get(name) or pos
            out[key] = limits
        else:
            out[key] = value
    return out

