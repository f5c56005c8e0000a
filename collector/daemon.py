"""The dockerd process, its argv, the config file in force, and the effective settings.

docker-bench-security finds dockerd with `pgrep -f -n dockerd` (any newer process whose command
line mentions dockerd wins) and ignores most of daemon.json. Here the process is found by its
executable, argv is kept as an array, and every option is resolved from argv and the config file
together, each with where its value came from.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ErrorLog, pointer
from .hostfs import HostFS
from . import redact

DEFAULT_CONFIG_FILE = "/etc/docker/daemon.json"
UNITS = ("docker.service", "docker.socket", "containerd.service")
UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")


@dataclass(frozen=True)
class Option:
    """One dockerd setting: its daemon.json key, its command-line flags, its kind and default."""

    key: str
    flags: tuple[str, ...]
    kind: str  # bool | str | list | map (KEY=VALUE pairs) | ulimits
    default: Any


# The settings the CIS benchmark and common policies judge. Defaults are dockerd's own.
OPTIONS: tuple[Option, ...] = (
    Option("icc", ("--icc",), "bool", True),
    Option("iptables", ("--iptables",), "bool", True),
    Option("ip-forward", ("--ip-forward",), "bool", True),
    Option("ip-masq", ("--ip-masq",), "bool", True),
    Option("ipv6", ("--ipv6",), "bool", False),
    Option("live-restore", ("--live-restore",), "bool", False),
    Option("userland-proxy", ("--userland-proxy",), "bool", True),
    Option("no-new-privileges", ("--no-new-privileges",), "bool", False),
    Option("selinux-enabled", ("--selinux-enabled",), "bool", False),
    Option("experimental", ("--experimental",), "bool", False),
    Option("debug", ("--debug", "-D"), "bool", False),
    Option("tls", ("--tls",), "bool", False),
    Option("tlsverify", ("--tlsverify",), "bool", False),
    Option("tlscacert", ("--tlscacert",), "str", None),
    Option("tlscert", ("--tlscert",), "str", None),
    Option("tlskey", ("--tlskey",), "str", None),
    Option("log-level", ("--log-level", "-l"), "str", "info"),
    Option("log-driver", ("--log-driver",), "str", "json-file"),
    Option("log-opts", ("--log-opt",), "map", {}),
    Option("userns-remap", ("--userns-remap",), "str", ""),
    Option("cgroup-parent", ("--cgroup-parent",), "str", ""),
    Option("seccomp-profile", ("--seccomp-profile",), "str", ""),
    Option("data-root", ("--data-root", "-g", "--graph"), "str", "/var/lib/docker"),
    Option("exec-root", ("--exec-root",), "str", "/var/run/docker"),
    Option("storage-driver", ("--storage-driver", "-s"), "str", ""),
    Option("storage-opts", ("--storage-opt",), "list", []),
    Option("hosts", ("--host", "-H"), "list", []),
    Option("insecure-registries", ("--insecure-registry",), "list", []),
    Option("registry-mirrors", ("--registry-mirror",), "list", []),
    Option("authorization-plugins", ("--authorization-plugin",), "list", []),
    Option("default-ulimits", ("--default-ulimit",), "ulimits", {}),
    Option("exec-opts", ("--exec-opt",), "list", []),
    Option("default-cgroupns-mode", ("--default-cgroupns-mode",), "str", None),
    Option("default-ipc-mode", ("--default-ipc-mode",), "str", None),
    Option("bridge", ("--bridge", "-b"), "str", None),
    Option("bip", ("--bip",), "str", None),
    Option("default-runtime", ("--default-runtime",), "str", "runc"),
    Option("containerd", ("--containerd",), "str", None),
    Option("config-file", ("--config-file",), "str", DEFAULT_CONFIG_FILE),
)
_BY_FLAG = {flag: opt for opt in OPTIONS for flag in opt.flags}


def collect_daemon(fs: HostFS, errors: ErrorLog, *, redact_secrets: bool, collect_host: bool) -> dict[str, Any]:
    """The daemon section: process, config file, effective options, systemd units."""
    if not collect_host:
        reason = "host files not read: the engine is remote and no --host-root was given"
        for key in ("process", "config_file", "options", "units"):
            errors.add(pointer("daemon", key), reason)
        return {"process": None, "config_file": None, "options": None, "units": None}
    process = find_dockerd(fs)
    if process is None:
        errors.add("/daemon/process", "no dockerd process found in /proc (rootless, remote or not running here)")
    argv = process["argv"] if process else []
    config_file = read_config_file(fs, argv, errors)
    options = effective_options(argv, (config_file or {}).get("parsed")) if process else None
    if options is None:
        errors.add("/daemon/options", "effective settings need the dockerd command line, which was not found")
    if process and redact_secrets:
        process["argv"] = redact.redact_argv(process["argv"])
    return {"process": process, "config_file": config_file, "options": options, "units": read_units(fs)}


def find_dockerd(fs: HostFS) -> dict[str, Any] | None:
    """The dockerd process, found by the name of its executable (or comm), oldest first."""
    found = []
    for pid, exe, comm, argv in fs.processes():
        name = os.path.basename(exe) if exe else comm
        if exe and exe.endswith(" (deleted)"):
            name = os.path.basename(exe[: -len(" (deleted)")])
        if name == "dockerd" or (not exe and comm == "dockerd"):
            found.append({"pid": pid, "exe": exe, "argv": argv})
    # The daemon is the oldest dockerd; a second one (rootless, test) would be newer.
    return min(found, key=lambda p: p["pid"]) if found else None


def parse_argv(argv: list[str]) -> dict[str, list[str | None]]:
    """Parse dockerd's Go-style flags: --flag=value, --flag value, -H value, bare booleans."""
    parsed: dict[str, list[str | None]] = {}
    args = argv[1:]
    i = 0
    while i < len(args):
        arg = args[i]
        i += 1
        if not arg.startswith("-") or arg in ("-", "--"):
            continue
        name, eq, value = arg.partition("=")
        if not name.startswith("--") and len(name) > 2 and not eq:  # -Hunix:///x
            name, value, eq = name[:2], name[2:], "="
        opt = _BY_FLAG.get(name)
        if not eq:
            if opt is not None and opt.kind == "bool":
                value = None  # a bare boolean flag means true
            elif i < len(args):
                value = args[i]
                i += 1
            else:
                value = None
        parsed.setdefault(opt.key if opt else name.lstrip("-"), []).append(value)
    return parsed


def _bool(value: str | None) -> bool | str | None:
    if value is None:
        return True
    lowered = value.lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    return value  # keep what was given; a policy will not mistake it for a boolean


def _from_argv(opt: Option, values: list[str | None]) -> Any:
    if opt.kind == "bool":
        return _bool(values[-1])
    if opt.kind == "str":
        return values[-1]
    if opt.kind == "list":
        return [v for v in values if v is not None]
    if opt.kind == "map":
        return dict(str(v).partition("=")[::2] for v in values if v is not None)
    if opt.kind == "ulimits":
        out = {}
        for v in values:
            if not v:
                continue
            name, _, limits = v.partition("=")
            soft, _, hard = limits.partition(":")
            out[name] = {"Name": name, "Soft": _int(soft), "Hard": _int(hard or soft)}
        return out
    return values[-1]


def _int(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text


def effective_options(argv: list[str], config: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Each setting's effective value and source: argv, the config file, or dockerd's default.

    dockerd refuses to start when a setting is both a flag and a config key, so for a running
    daemon at most one applies; argv is taken first because the file may have been edited since.
    """
    parsed = parse_argv(argv)
    config = config if isinstance(config, dict) else {}
    options: dict[str, dict[str, Any]] = {}
    for opt in OPTIONS:
        if opt.key in parsed:
            options[opt.key] = {"value": _from_argv(opt, parsed[opt.key]), "source": "argv"}
        elif opt.key in config:
            options[opt.key] = {"value": config[opt.key], "source": "config-file"}
        else:
            options[opt.key] = {"value": opt.default, "source": "default"}
    # tlsverify implies tls, as in dockerd.
    if options["tlsverify"]["value"] is True and options["tls"]["value"] is not True:
        options["tls"] = {"value": True, "source": options["tlsverify"]["source"]}
    known = {opt.key for opt in OPTIONS}
    for key, value in sorted(config.items()):
        if key not in known:
            options[key] = {"value": value, "source": "config-file"}
    for key, values in sorted(parsed.items()):
        if key not in known and key not in options:
            options[key] = {"value": values[-1] if len(values) == 1 else values, "source": "argv"}
    return options


def read_config_file(fs: HostFS, argv: list[str], errors: ErrorLog) -> dict[str, Any] | None:
    """The daemon.json actually in force: --config-file when given, else the default path."""
    given = parse_argv(argv).get("config-file") if argv else None
    path = given[-1] if given and given[-1] else DEFAULT_CONFIG_FILE
    out: dict[str, Any] = {"path": path, "chosen_by": "argv" if given else "default", "exists": False,
                           "raw": None, "parsed": None, "parse_error": None}
    try:
        raw = fs.read_text(path)
    except FileNotFoundError:
        return out
    except OSError as exc:
        errors.add("/daemon/config_file", f"{path}: {exc.strerror or exc}")
        return None
    out["exists"] = True
    out["raw"] = raw
    if raw.strip():
        try:
            parsed = json.loads(raw)
            if isinstance(parsed, dict):
                out["parsed"] = parsed
            else:
                out["parse_error"] = f"top level is a JSON {type(parsed).__name__}, not an object"
        except json.JSONDecodeError as exc:
            out["parse_error"] = f"line {exc.lineno} column {exc.colno}: {exc.msg}"
    else:
        out["parsed"] = {}
    return out


def read_units(fs: HostFS) -> dict[str, Any]:
    """systemd units for docker and containerd: fragment (by systemd's precedence) and drop-ins."""
    units: dict[str, Any] = {}
    for unit in UNITS:
        fragment = next((f"{d}/{unit}" for d in UNIT_DIRS if fs.is_file(f"{d}/{unit}")), None)
        dropins = []
        for d in UNIT_DIRS:
            for path in fs.list_dir(f"{d}/{unit}.d"):
                if path.endswith(".conf"):
                    dropins.append({"path": path, "contents": fs.read_text_or_none(path)})
        units[unit] = {
            "found": fragment is not None,
            "fragment_path": fragment,
            "contents": fs.read_text_or_none(fragment) if fragment else None,
            "dropins": sorted(dropins, key=lambda d: Path(d["path"]).name),
        }
    return units
