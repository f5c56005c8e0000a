"""The Podman service behind a Docker-compatible endpoint: its process, its configuration files
(containers.conf, registries.conf, storage.conf) and the settings they give, each with where
its value came from, shaped like the dockerd daemon section so the same policies read it.

There is no daemon.json: Podman reads TOML files, system-wide then the user's (rootless), or
exactly the files that CONTAINERS_CONF / CONTAINERS_REGISTRIES_CONF / CONTAINERS_STORAGE_CONF
name (containers/common pkg/config, containers/image sysregistriesv2, containers/storage).
"""

from __future__ import annotations

import os
import sys
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.9 and 3.10 (RHEL 9, Debian 11, Ubuntu 22.04): tomllib is tomli, added to the standard library in 3.11
    import tomli as tomllib

from . import redact
from .daemon import UNIT_DIRS, _socket_of, _start_time, _tcp_of, process_environment, read_units, user_unit_dirs
from .errors import ErrorLog, pointer
from .hostfs import HostFS, describe_oserror

UNITS = ("podman.service", "podman.socket")
PODMAN_ENV = ("CONTAINERS_CONF", "CONTAINERS_REGISTRIES_CONF", "CONTAINERS_STORAGE_CONF", "XDG_RUNTIME_DIR",
              "XDG_CONFIG_HOME", "XDG_DATA_HOME", "HOME", "LISTEN_FDS", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")
# Podman 4.3's defaults (containers/common v0.50 pkg/config/default.go) for what policies judge.
DEFAULT_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "NET_BIND_SERVICE", "SETFCAP",
                        "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"]


def collect_podman(fs: HostFS, errors: ErrorLog, *, redact_secrets: bool, collect_host: bool, endpoint: str,
                   info: dict[str, Any], rootless: bool | None,
                   libpod_info: dict[str, Any] | None = None) -> dict[str, Any]:
    """The daemon section for a Podman engine (kind "podman"): the same keys as dockerd's
    (process, config_file, options, units) plus `podman` with every file read."""
    section: dict[str, Any] = {"kind": "podman", "process": None, "config_file": None, "options": None,
                               "units": None, "podman": None}
    if not collect_host:
        reason = "host files not read: the engine is remote and no --host-root was given"
        for key in ("process", "config_file", "options", "units", "podman"):
            errors.add(pointer("daemon", key), reason)
        return section
    process = choose_service(fs, endpoint, errors)
    env = (process or {}).get("environment") or {}
    user_rootless = bool(rootless) or bool(process and process.get("uid"))
    section["units"] = _units(fs, errors, env if user_rootless else None)
    if process is None:
        for key in ("config_file", "options", "podman"):
            errors.add(pointer("daemon", key), "the Podman service process behind the endpoint is unknown, so "
                                               "are the files it reads")
        return section
    files = {
        "containers.conf": _read_all(fs, errors, containers_conf_paths(fs, env, user_rootless), "containers.conf"),
        "registries.conf": _read_all(fs, errors, registries_conf_paths(fs, env, user_rootless), "registries.conf"),
        "storage.conf": _read_all(fs, errors, storage_conf_paths(fs, env, user_rootless), "storage.conf"),
    }
    if redact_secrets:
        for records in files.values():
            for record in records:
                redact.redact_toml_config(record)
        process["argv"] = redact.redact_argv(process["argv"])
        process["candidates"] = [{**c, "argv": redact.redact_argv(c["argv"])} for c in process["candidates"]]
    section["process"] = process
    section["podman"] = {"rootless": user_rootless, "files": files}
    main = [r for r in files["containers.conf"] if r["exists"]]
    # The containers.conf that wins (the last that exists) is the config file CIS 1.1.11/3.17 mean.
    section["config_file"] = main[-1] if main else (files["containers.conf"][-1] if files["containers.conf"] else None)
    broken = [r for records in files.values() for r in records if r.get("parse_error") or r.get("unreadable")]
    if broken:
        bad = broken[0]
        why = bad.get("parse_error") or "could not be read"
        errors.add("/daemon/options", f"{bad['path']} {why}: the effective Podman settings are unknown")
    else:
        section["options"] = effective_settings(process, files, info, env, user_rootless, libpod_info)
    return section


# ---- the service process ------------------------------------------------------------------------

def _service_uri(argv: list[str]) -> str | None:
    """The listen URI of `podman [global flags] system service [--time N] [URI]`."""
    try:
        at = argv.index("service")
    except ValueError:
        return None
    rest = argv[at + 1:]
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg.startswith("-"):
            if "=" not in arg and arg in ("-t", "--time", "--cors"):
                i += 1
        else:
            return arg
        i += 1
    return None


def _proc_status(fs: HostFS, pid: int, field: str) -> int | None:
    """Uid: or PPid: from /proc/PID/status."""
    for line in (fs.read_text_or_none(f"/proc/{pid}/status") or "").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def _served(fs: HostFS, proc: dict[str, Any]) -> str:
    """The socket (or host:port) a podman service process listens on, as a comparable string."""
    uri = _service_uri(proc["argv"])
    if uri is None:  # the default socket (also what systemd's podman.socket passes with LISTEN_FDS)
        uri = default_socket(proc.get("environment") or {}, proc.get("uid"))
    if uri.startswith("unix:"):
        path = "/" + uri[len("unix:"):].lstrip("/")
        return _socket_of(fs, "unix://" + path) or path
    return _tcp_of(uri) or uri


def choose_service(fs: HostFS, endpoint: str, errors: ErrorLog) -> dict[str, Any] | None:
    """The `podman system service` process that listens on the endpoint; never another one."""
    candidates: list[dict[str, Any]] = []
    for pid, exe, comm, argv in fs.processes():
        name = os.path.basename(exe.removesuffix(" (deleted)")) if exe else comm
        if name == "podman" and "system" in argv and "service" in argv:
            candidates.append({"pid": pid, "exe": exe, "argv": argv, "uid": _proc_status(fs, pid, "Uid"),
                               "ppid": _proc_status(fs, pid, "PPid"),
                               "environment": process_environment(fs, pid, PODMAN_ENV), "_started": _start_time(fs, pid)})
    candidates.sort(key=lambda c: (c.pop("_started"), c["pid"]))
    want = _socket_of(fs, endpoint) if endpoint.startswith("unix://") else _tcp_of(endpoint)
    summary = [{"pid": c["pid"], "exe": c["exe"], "argv": list(c["argv"]), "serves": _served(fs, c)} for c in candidates]
    matching = [c for c, s in zip(candidates, summary) if want and s["serves"] == want]
    # Rootless podman re-executes itself inside its user namespace: the parent only waits for
    # the child that serves. Keep the innermost.
    parents = {c["ppid"] for c in matching}
    matching = [c for c in matching if c["pid"] not in parents] or matching
    if len(matching) >= 1:
        if len(matching) > 1:
            errors.add("/daemon/process/chosen_by", f"{len(matching)} podman services listen on {endpoint}; "
                                                    f"the oldest (pid {matching[0]['pid']}) was taken")
        return {**matching[0], "chosen_by": "endpoint" if len(matching) == 1 else "oldest", "candidates": summary}
    served = "; ".join(f"pid {s['pid']} serves {s['serves']}" for s in summary) or "none runs"
    errors.add("/daemon/process", f"no `podman system service` process serves {endpoint} ({served}): the service "
                                  "behind the endpoint is unknown")
    return None


# ---- which files, in which order ---------------------------------------------------------------

def _user_dirs(env: dict[str, str]) -> tuple[str, str]:
    home = env.get("HOME") or ""
    return (env.get("XDG_CONFIG_HOME") or f"{home}/.config", env.get("XDG_DATA_HOME") or f"{home}/.local/share")


def _dropins(fs: HostFS, directory: str) -> list[str]:
    return sorted(p for p in fs.list_dir(directory) if p.endswith(".conf"))


def containers_conf_paths(fs: HostFS, env: dict[str, str], rootless: bool) -> list[tuple[str, str]]:
    """(path, why) in the order Podman merges them, later keys winning; CONTAINERS_CONF alone
    replaces them all."""
    if env.get("CONTAINERS_CONF"):
        return [(env["CONTAINERS_CONF"], "CONTAINERS_CONF")]
    paths = [("/usr/share/containers/containers.conf", "default"), ("/etc/containers/containers.conf", "default")]
    paths += [(p, "drop-in") for p in _dropins(fs, "/etc/containers/containers.conf.d")]
    if rootless:
        config, _ = _user_dirs(env)
        paths.append((f"{config}/containers/containers.conf", "user"))
        paths += [(p, "user drop-in") for p in _dropins(fs, f"{config}/containers/containers.conf.d")]
    return paths


def registries_conf_paths(fs: HostFS, env: dict[str, str], rootless: bool) -> list[tuple[str, str]]:
    """The one registries.conf in force (the user's, when it exists, replaces /etc's) and its drop-ins."""
    if env.get("CONTAINERS_REGISTRIES_CONF"):
        return [(env["CONTAINERS_REGISTRIES_CONF"], "CONTAINERS_REGISTRIES_CONF")]
    main = ("/etc/containers/registries.conf", "default")
    if rootless:
        config, _ = _user_dirs(env)
        if fs.exists(f"{config}/containers/registries.conf"):
            main = (f"{config}/containers/registries.conf", "user")
    paths = [main] + [(p, "drop-in") for p in _dropins(fs, "/etc/containers/registries.conf.d")]
    if rootless:
        config, _ = _user_dirs(env)
        paths += [(p, "user drop-in") for p in _dropins(fs, f"{config}/containers/registries.conf.d")]
    return paths


def storage_conf_paths(fs: HostFS, env: dict[str, str], rootless: bool) -> list[tuple[str, str]]:
    if env.get("CONTAINERS_STORAGE_CONF"):
        return [(env["CONTAINERS_STORAGE_CONF"], "CONTAINERS_STORAGE_CONF")]
    if rootless:
        config, _ = _user_dirs(env)
        if fs.exists(f"{config}/containers/storage.conf"):
            return [(f"{config}/containers/storage.conf", "user")]
    if fs.exists("/etc/containers/storage.conf"):
        return [("/etc/containers/storage.conf", "default")]
    return [("/usr/share/containers/storage.conf", "default")]


def _read_all(fs: HostFS, errors: ErrorLog, paths: list[tuple[str, str]], what: str) -> list[dict[str, Any]]:
    out = []
    for index, (path, why) in enumerate(paths):
        record: dict[str, Any] = {"path": path, "chosen_by": why, "exists": False, "raw": None, "parsed": None,
                                  "parse_error": None}
        try:
            record["raw"] = fs.read_text(path)
            record["exists"] = True
        except (FileNotFoundError, NotADirectoryError):
            pass
        except OSError as exc:
            record["unreadable"] = True
            errors.add(pointer("daemon", "podman", "files", what, str(index)), f"{path}: {describe_oserror(exc)}")
        if record["raw"] is not None:
            try:
                record["parsed"] = tomllib.loads(record["raw"])
            except tomllib.TOMLDecodeError as exc:
                record["parse_error"] = str(exc)
        out.append(record)
    return out


# ---- effective settings -------------------------------------------------------------------------

def _merged(records: list[dict[str, Any]]) -> dict[str, tuple[Any, str]]:
    """"table.key" -> (value, path) over the files in order: later files override per key."""
    out: dict[str, tuple[Any, str]] = {}
    for record in records:
        for table, body in (record.get("parsed") or {}).items():
            if isinstance(body, dict):
                for key, value in body.items():
                    out[f"{table}.{key}"] = (value, record["path"])
            else:
                out[table] = (body, record["path"])
    return out


def _global_flag(argv: list[str], flag: str) -> str | None:
    """A podman global flag (before `system`), --flag=value or --flag value."""
    value = None
    for i, arg in enumerate(argv):
        if arg == "system":
            break
        if arg == flag and i + 1 < len(argv):
            value = argv[i + 1]
        elif arg.startswith(flag + "="):
            value = arg.split("=", 1)[1]
    return value


def _ulimits(values: list[Any]) -> dict[str, Any]:
    """containers.conf default_ulimits ["nofile=1024:2048"] in daemon.json's shape."""
    out = {}
    for item in values:
        name, _, limits = str(item).partition("=")
        soft, _, hard = limits.partition(":")
        try:
            out[name] = {"Name": name, "Soft": int(soft), "Hard": int(hard or soft)}
        except ValueError:
            out[name] = {"Name": name, "Soft": soft, "Hard": hard or soft}
    return out


def insecure_registries(records: list[dict[str, Any]]) -> list[str]:
    """Registries reached without TLS verification: v2 [[registry]] insecure = true, v1
    [registries.insecure] registries = [...]."""
    out: list[str] = []
    for record in records:
        parsed = record.get("parsed") or {}
        for reg in parsed.get("registry") or []:
            if isinstance(reg, dict) and reg.get("insecure") is True:
                out.append(str(reg.get("location") or reg.get("prefix") or ""))
            for mirror in (reg.get("mirror") or []) if isinstance(reg, dict) else []:
                if isinstance(mirror, dict) and mirror.get("insecure") is True:
                    out.append(str(mirror.get("location") or ""))
        v1 = ((parsed.get("registries") or {}).get("insecure") or {}) if isinstance(parsed.get("registries"), dict) else {}
        out += [str(r) for r in v1.get("registries") or []]
    return out


def effective_settings(process: dict[str, Any], files: dict[str, list[dict[str, Any]]], info: dict[str, Any],
                       env: dict[str, str], rootless: bool,
                       libpod_info: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Podman's settings keyed like daemon.json where the meaning is the same (log-level,
    log-driver, default-ulimits, insecure-registries, seccomp-profile, data-root, hosts,
    storage-driver), plus Podman's own (userns, default-capabilities, cgroup-manager, ...)."""
    conf = _merged(files["containers.conf"])
    storage = _merged(files["storage.conf"])
    argv = process["argv"]
    _, data_home = _user_dirs(env)
    host = (libpod_info or {}).get("host") or {}
    security = host.get("security") or {}
    # The service's own word on its defaults beats ours (libpod /info), where it gives one.
    caps = [c.strip().removeprefix("CAP_") for c in str(security.get("capabilities") or "").split(",") if c.strip()]

    def from_conf(key: str, default: Any, table: dict[str, tuple[Any, str]] = conf) -> dict[str, Any]:
        if key in table:
            return {"value": table[key][0], "source": "config-file", "file": table[key][1]}
        return {"value": default, "source": "default"}

    def flag_or(flag: str, fallback: dict[str, Any]) -> dict[str, Any]:
        value = _global_flag(argv, flag)
        return {"value": value, "source": "argv"} if value is not None else fallback

    options = {
        "log-level": flag_or("--log-level", {"value": "warn", "source": "default"}),
        "log-driver": from_conf("containers.log_driver", host.get("logDriver") or info.get("LoggingDriver") or "k8s-file"),
        "log-opts": {"value": {k: v for k, v in (("max-size", conf.get("containers.log_size_max", (None,))[0]),) if v},
                     "source": "config-file" if "containers.log_size_max" in conf else "default"},
        "default-ulimits": from_conf("containers.default_ulimits", []),
        "userns": from_conf("containers.userns", "host"),
        "default-capabilities": from_conf("containers.default_capabilities", caps or DEFAULT_CAPABILITIES),
        "seccomp-profile": from_conf("containers.seccomp_profile", security.get("seccompProfilePath") or "/usr/share/containers/seccomp.json"),
        "no-new-privileges": from_conf("containers.no_new_privileges", False),
        "pids-limit": from_conf("containers.pids_limit", 2048),
        "cgroupns": from_conf("containers.cgroupns", "private"),
        "cgroup-manager": flag_or("--cgroup-manager", from_conf("engine.cgroup_manager", host.get("cgroupManager") or info.get("CgroupDriver"))),
        "runtime": flag_or("--runtime", from_conf("engine.runtime", info.get("DefaultRuntime") or "crun")),
        "storage-driver": flag_or("--storage-driver", from_conf("storage.driver", info.get("Driver") or "", storage)),
        "data-root": flag_or("--root", from_conf("storage.graphroot", f"{data_home}/containers/storage" if rootless
                                                  else "/var/lib/containers/storage", storage)),
        "hosts": _hosts(argv, env, process.get("uid")),
        "insecure-registries": {"value": insecure_registries(files["registries.conf"]), "source": "config-file",
                                "file": ", ".join(r["path"] for r in files["registries.conf"] if r["exists"])},
        "rootless": {"value": rootless, "source": "default"},
    }
    # daemon.json's meaning under daemon.json's name: debug is log-level debug; a default user
    # namespace (containers.conf userns other than "host") is what userns-remap gives dockerd.
    options["debug"] = {**options["log-level"], "value": options["log-level"]["value"] == "debug"}
    userns = options["userns"]["value"]
    options["userns-remap"] = {**options["userns"], "value": "" if userns in ("", "host", None) else userns}
    for key in ("default-ulimits",):
        if isinstance(options[key]["value"], list):
            options[key]["value"] = _ulimits(options[key]["value"])
    return options


def default_socket(env: dict[str, str], uid: Any) -> str:
    """The socket `podman system service` listens on when given no URI: root's
    /run/podman/podman.sock, a user's $XDG_RUNTIME_DIR/podman/podman.sock."""
    if uid:
        return f"unix://{env.get('XDG_RUNTIME_DIR') or f'/run/user/{uid}'}/podman/podman.sock"
    return "unix:///run/podman/podman.sock"


def _hosts(argv: list[str], env: dict[str, str], uid: Any) -> dict[str, Any]:
    """Where the service listens: the URI on its command line, the sockets systemd passed it
    (podman.socket, fd:// as dockerd spells it), or its default socket."""
    uri = _service_uri(argv)
    if uri:
        return {"value": [uri], "source": "argv"}
    if env.get("LISTEN_FDS"):
        return {"value": ["fd://"], "source": "environment"}
    return {"value": [default_socket(env, uid)], "source": "default"}


def _units(fs: HostFS, errors: ErrorLog, user_env: dict[str, str] | None) -> dict[str, Any]:
    """podman.service and podman.socket: the system's, or the user's for a rootless service."""
    if user_env is None:
        return read_units(fs, errors, UNITS, UNIT_DIRS)
    return read_units(fs, errors, UNITS, user_unit_dirs(user_env))
