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
from typing import Any

from . import redact
from .errors import ErrorLog, pointer
from .hostfs import HostFS, describe_oserror

DEFAULT_CONFIG_FILE = "/etc/docker/daemon.json"
UNITS = ("docker.service", "docker.socket", "containerd.service")


@dataclass(frozen=True)
class Option:
    """One dockerd setting: its daemon.json key, its command-line flags, its kind and default."""

    key: str
    flags: tuple[str, ...]
    kind: str  # bool | str | list | map (KEY=VALUE pairs) | ulimits
    default: Any


# The settings the CIS benchmark and common policies judge, checked against dockerd's own flag
# table (`dockerd --help`, 20.10-27.x). Defaults are dockerd's own for a root daemon on Linux.
OPTIONS: tuple[Option, ...] = (
    Option("icc", ("--icc",), "bool", True),
    Option("iptables", ("--iptables",), "bool", True),
    Option("ip6tables", ("--ip6tables",), "bool", False),
    Option("ip-forward", ("--ip-forward",), "bool", True),
    Option("ip-masq", ("--ip-masq",), "bool", True),
    Option("ip", ("--ip",), "str", "0.0.0.0"),
    Option("ipv6", ("--ipv6",), "bool", False),
    Option("live-restore", ("--live-restore",), "bool", False),
    Option("userland-proxy", ("--userland-proxy",), "bool", True),
    Option("userland-proxy-path", ("--userland-proxy-path",), "str", None),
    Option("no-new-privileges", ("--no-new-privileges",), "bool", False),
    Option("selinux-enabled", ("--selinux-enabled",), "bool", False),
    Option("experimental", ("--experimental",), "bool", False),
    Option("debug", ("--debug", "-D"), "bool", False),
    Option("init", ("--init",), "bool", False),
    Option("rootless", ("--rootless",), "bool", False),
    Option("raw-logs", ("--raw-logs",), "bool", False),
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
    Option("pidfile", ("--pidfile", "-p"), "str", "/var/run/docker.pid"),
    Option("group", ("--group", "-G"), "str", "docker"),
    Option("storage-driver", ("--storage-driver", "-s"), "str", ""),
    Option("storage-opts", ("--storage-opt",), "list", []),
    Option("hosts", ("--host", "-H"), "list", ["unix:///var/run/docker.sock"]),
    Option("insecure-registries", ("--insecure-registry",), "list", []),
    Option("registry-mirrors", ("--registry-mirror",), "list", []),
    Option("allow-nondistributable-artifacts", ("--allow-nondistributable-artifacts",), "list", []),
    Option("authorization-plugins", ("--authorization-plugin",), "list", []),
    Option("default-ulimits", ("--default-ulimit",), "ulimits", {}),
    Option("exec-opts", ("--exec-opt",), "list", []),
    Option("default-cgroupns-mode", ("--default-cgroupns-mode",), "str", None),
    Option("default-ipc-mode", ("--default-ipc-mode",), "str", None),
    Option("default-shm-size", ("--default-shm-size",), "str", "64M"),
    Option("bridge", ("--bridge", "-b"), "str", None),
    Option("bip", ("--bip",), "str", None),
    Option("default-runtime", ("--default-runtime",), "str", "runc"),
    Option("containerd", ("--containerd",), "str", None),
    Option("max-concurrent-downloads", ("--max-concurrent-downloads",), "str", None),
    Option("config-file", ("--config-file",), "str", DEFAULT_CONFIG_FILE),
)
# Boolean flags of dockerd outside the table above: a bare one must not swallow the next argument.
_OTHER_BOOL_FLAGS = frozenset({"--validate", "--cri-containerd", "--help", "--version", "-v", "--disable-legacy-registry"})
_BY_FLAG = {flag: opt for opt in OPTIONS for flag in opt.flags}


def collect_daemon(fs: HostFS, errors: ErrorLog, *, redact_secrets: bool, collect_host: bool,
                   endpoint: str = "", info: dict[str, Any] | None = None) -> dict[str, Any]:
    """The daemon section: process, config file, effective options, systemd units."""
    if not collect_host:
        reason = "host files not read: the engine is remote and no --host-root was given"
        for key in ("process", "config_file", "options", "units"):
            errors.add(pointer("daemon", key), reason)
        return {"process": None, "config_file": None, "options": None, "units": None}
    # The system's units tell which dockerd serves the endpoint (-H fd:// is docker.socket's);
    # their read errors count only if they are the units recorded below.
    system_errors = ErrorLog()
    units = read_units(fs, system_errors)
    candidates = find_dockerd_candidates(fs)
    process = choose_dockerd(fs, candidates, endpoint, info or {}, units, errors)
    if process is not None and is_rootless_process(process.get("environment")):
        # A rootless dockerd runs as its user's docker.service (dockerd-rootless-setuptool.sh): the
        # system's docker.service, docker.socket and containerd.service are another engine's.
        units = read_units(fs, errors, UNITS[:2], user_unit_dirs(process.get("environment") or {}))
    else:
        for entry in system_errors.as_list():
            errors.add(entry["source"], entry["reason"])
    if process is None and not candidates:
        errors.add("/daemon/process", "no dockerd process found in /proc (rootless in another namespace, remote, "
                                      "not running, or the collector's container does not share the host's PID namespace)")
    argv = process["argv"] if process else []
    defaults = resolved_defaults(process.get("environment") if process else None)
    if process is None and candidates:
        config_file = None
        errors.add("/daemon/config_file", "the config file in force depends on the dockerd process, which is unknown")
    else:
        config_file = read_config_file(fs, argv, errors, defaults["config-file"])
    if redact_secrets and config_file is not None:
        redact.redact_daemon_config(config_file)
    # Options are resolved from the redacted argv: no dockerd setting a policy judges has a
    # secret-looking name, and an unknown `--registry-password x` must not leak through options.
    options = None
    if process is None:
        errors.add("/daemon/options", "effective settings need the dockerd command line, which was not found"
                   if not candidates else "effective settings are unknown: no dockerd process serves the endpoint")
    elif config_file is None or config_file.get("parse_error"):
        # Fail closed: settings from a file we cannot read are unknown, not defaults.
        why = "could not be read" if config_file is None else f"does not parse ({config_file['parse_error']})"
        errors.add("/daemon/options", f"the daemon config file in force {why}, so the effective settings are unknown")
    else:
        options = effective_options((redact.redact_argv(argv) or []) if redact_secrets else argv,
                                    config_file.get("parsed"), defaults)
    if process:
        if options is not None:
            _apply_environment(options, process["environment"] or {})
    if redact_secrets and process is not None:
        for proc in [process, *process.get("candidates", [])]:
            proc["argv"] = redact.redact_argv(proc["argv"])
    return {"process": process, "config_file": config_file, "options": options, "units": units}


# Environment variables dockerd itself consults for security-relevant behaviour. Only these are
# read from /proc/PID/environ; proxy URLs lose any embedded password.
DAEMON_ENV = ("DOCKER_TLS_VERIFY", "DOCKER_CERT_PATH", "DOCKER_CONTENT_TRUST", "DOCKER_DRIVER", "DOCKER_RAMDISK",
              "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
              "XDG_RUNTIME_DIR", "ROOTLESSKIT_STATE_DIR", "HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME")


def is_rootless_process(env: dict[str, str] | None) -> bool:
    """dockerd runs rootless when rootlesskit started it (its state dir is in the environment),
    which is how dockerd itself decides (rootless.RunningWithRootlessKit)."""
    return bool((env or {}).get("ROOTLESSKIT_STATE_DIR"))


def resolved_defaults(env: dict[str, str] | None) -> dict[str, Any]:
    """dockerd's defaults for this process: a rootless dockerd puts its config file, data root,
    exec root, pidfile and socket under the user's XDG directories (daemon/config: getDefault*
    with rootless), not under /etc and /var."""
    defaults = {opt.key: opt.default for opt in OPTIONS}
    if not is_rootless_process(env):
        return defaults
    env = env or {}
    home = env.get("HOME") or ""
    runtime = env.get("XDG_RUNTIME_DIR") or ""
    config_home = env.get("XDG_CONFIG_HOME") or (f"{home}/.config" if home else "")
    data_home = env.get("XDG_DATA_HOME") or (f"{home}/.local/share" if home else "")
    if config_home:
        defaults["config-file"] = f"{config_home}/docker/daemon.json"
    if data_home:
        defaults["data-root"] = f"{data_home}/docker"
    if runtime:
        defaults.update({"exec-root": f"{runtime}/docker", "pidfile": f"{runtime}/docker.pid",
                         "hosts": [f"unix://{runtime}/docker.sock"]})
    defaults["rootless"] = True
    return defaults


def process_environment(fs: HostFS, pid: int, names: tuple[str, ...]) -> dict[str, str] | None:
    """The variables of `names` in a daemon process's environment (values redacted), or None when
    /proc/PID/environ cannot be read. Shared by dockerd's and Podman's daemon sections."""
    try:
        raw = fs.read_bytes(f"/proc/{pid}/environ")
    except OSError:
        return None
    env: dict[str, str] = {}
    for item in raw.split(b"\0"):
        name, sep, value = item.decode(errors="replace").partition("=")
        if sep and name in names:
            env[name] = redact.redact_text(value)
    return env


def _apply_environment(options: dict[str, dict[str, Any]], env: dict[str, str]) -> None:
    """dockerd's own defaults that come from its environment: DOCKER_TLS_VERIFY turns on
    tlsverify, and with TLS on the certificate files default to DOCKER_CERT_PATH or ~/.docker."""
    if env.get("DOCKER_TLS_VERIFY") and options["tlsverify"]["source"] == "default":
        options["tlsverify"] = {"value": True, "source": "environment"}
        if options["tls"]["source"] == "default":
            options["tls"] = {"value": True, "source": "environment"}
    if options["tls"]["value"] is True or options["tlsverify"]["value"] is True:
        cert_dir = env.get("DOCKER_CERT_PATH") or "/root/.docker"
        for key, name in (("tlscacert", "ca.pem"), ("tlscert", "cert.pem"), ("tlskey", "key.pem")):
            if options[key]["source"] == "default":
                options[key] = {"value": f"{cert_dir.rstrip('/')}/{name}", "source": "default"}


def _start_time(fs: HostFS, pid: int) -> int:
    """Process start time in clock ticks since boot (field 22 of /proc/PID/stat): PIDs wrap, this does not."""
    try:
        stat = fs.read_text(f"/proc/{pid}/stat")
        return int(stat.rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return 1 << 62


def find_dockerd_candidates(fs: HostFS) -> list[dict[str, Any]]:
    """Every dockerd process, found by the name of its executable (or comm when exe is unreadable),
    never by a regex over command lines; oldest first.

    dockerd runs some of its own work as short-lived copies of itself (moby's reexec: the
    executable is dockerd, argv[0] the helper's name: docker-untar, docker-applyLayer,
    libnetwork-setkey, set-ipv6, ...). They take no daemon options, so they would seem to serve
    the default socket; they are not daemons and are left out. So is a process without a command
    line: one that has exited and not yet been reaped serves nothing."""
    found = []
    for pid, exe, comm, argv in fs.processes():
        name = os.path.basename(exe.removesuffix(" (deleted)")) if exe else comm
        if name == "dockerd" and argv and os.path.basename(argv[0]).startswith("dockerd"):
            found.append({"pid": pid, "exe": exe, "argv": argv, "_started": _start_time(fs, pid),
                          "environment": process_environment(fs, pid, DAEMON_ENV)})
    found.sort(key=lambda p: (p["_started"], p["pid"]))
    for item in found:
        item.pop("_started")
    return found


def _socket_of(fs: HostFS, url: str) -> str | None:
    """unix:///var/run/docker.sock -> the socket's resolved host path (/run/docker.sock)."""
    if not url.startswith("unix://"):
        return None
    path = url[len("unix://"):] or "/var/run/docker.sock"
    try:
        path = fs.realpath(path)
    except OSError:
        pass
    # /var/run is /run on every current distribution (a compat link, absent from some --host-root trees).
    return "/run/" + path[len("/var/run/"):] if path.startswith("/var/run/") else path


def _tcp_of(url: str) -> str | None:
    for scheme in ("tcp://", "https://", "http://"):
        if url.startswith(scheme):
            return url[len(scheme):].rstrip("/")
    return None


def _listen_streams(units: dict[str, Any]) -> list[str]:
    """Sockets systemd passes to dockerd for `-H fd://` (docker.socket's ListenStream)."""
    unit = units.get("docker.socket") or {}
    texts = [unit.get("contents") or ""] + [d.get("contents") or "" for d in unit.get("dropins") or []]
    streams: list[str] = []
    for text in texts:
        for line in text.splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and key.strip() == "ListenStream":
                if value.strip():
                    streams.append(value.strip())
                else:
                    streams.clear()  # an empty assignment resets the list, as in systemd
    return streams or ["/run/docker.sock"]


def _candidate_hosts(fs: HostFS, argv: list[str], units: dict[str, Any],
                     defaults: dict[str, Any] | None = None) -> tuple[set[str], set[str]]:
    """(unix socket paths, tcp host:port) a dockerd with this argv serves, from argv and its config file."""
    defaults = defaults or resolved_defaults(None)
    hosts = parse_argv(argv).get("hosts") or []
    config_path = (parse_argv(argv).get("config-file") or [None])[-1] or defaults["config-file"]
    if not hosts:
        try:
            parsed = json.loads(fs.read_text(config_path))
            hosts = list(parsed.get("hosts") or []) if isinstance(parsed, dict) else []
        except (OSError, ValueError, AttributeError):
            hosts = []
    if not hosts:
        hosts = list(defaults["hosts"])
    sockets: set[str] = set()
    tcp: set[str] = set()
    for host in hosts:
        host = str(host)
        if host.startswith("fd://"):
            for stream in _listen_streams(units):
                if stream.startswith("/"):
                    sockets.add(_socket_of(fs, "unix://" + stream) or stream)
                else:
                    tcp.add(stream)
        elif host.startswith("unix://"):
            sockets.add(_socket_of(fs, host) or host)
        elif _tcp_of(host):
            tcp.add(_tcp_of(host) or host)
    return sockets, tcp


def choose_dockerd(fs: HostFS, candidates: list[dict[str, Any]], endpoint: str, info: dict[str, Any],
                   units: dict[str, Any], errors: ErrorLog) -> dict[str, Any] | None:
    """The dockerd that serves the endpoint being collected, when several run (a test daemon,
    rootless): match its -H sockets (argv, config file, or systemd's socket for fd://) against the
    endpoint, then its data-root against the engine's DockerRootDir, else take the oldest.
    docker-bench-security takes the newest process whose command line mentions dockerd."""
    if not candidates:
        return None
    summary = [{"pid": c["pid"], "exe": c["exe"], "argv": list(c["argv"])} for c in candidates]

    def pick(proc: dict[str, Any], how: str) -> dict[str, Any]:
        return {**proc, "argv": list(proc["argv"]), "chosen_by": how, "candidates": summary}

    want_socket = _socket_of(fs, endpoint) if endpoint.startswith("unix://") else None
    want_tcp = _tcp_of(endpoint)
    by_endpoint = []
    served: list[str] = []
    for cand in candidates:
        sockets, tcp = _candidate_hosts(fs, cand["argv"], units, resolved_defaults(cand.get("environment")))
        served.append(f"pid {cand['pid']} serves {', '.join(sorted(sockets | tcp)) or 'nothing we can tell'}")
        if (want_socket and want_socket in sockets) or (want_tcp and (want_tcp in tcp or _tcp_port_match(want_tcp, tcp))):
            by_endpoint.append(cand)
    if (want_socket or want_tcp) and not by_endpoint:
        # Never judge a daemon that does not serve the endpoint, even the only one on the host
        # (Podman, a rootless dockerd in another user's namespace, a daemon we cannot see).
        errors.add("/daemon/process", f"no dockerd process serves {endpoint} ({'; '.join(served)}): the daemon "
                                      "behind the endpoint is unknown, so its command line and config file are too")
        return None
    if len(candidates) == 1:
        return pick(candidates[0], "only")
    if len(by_endpoint) == 1:
        return pick(by_endpoint[0], "endpoint")
    pool = by_endpoint or candidates
    root_dir = str(info.get("DockerRootDir") or "")
    if root_dir:
        by_root = []
        for cand in pool:
            data_root = (parse_argv(cand["argv"]).get("data-root") or [None])[-1] or _config_value(fs, cand, "data-root") \
                or resolved_defaults(cand.get("environment"))["data-root"]
            data_root = str(data_root).rstrip("/")
            # userns-remap puts the engine's root one level down: /var/lib/docker/100000.100000
            if root_dir == data_root or root_dir.startswith(data_root + "/"):
                by_root.append(cand)
        if len(by_root) == 1:
            return pick(by_root[0], "endpoint+data-root" if by_endpoint else "data-root")
        pool = by_root or pool
    # Two daemons configured alike (same socket, same root: one is stale or starting): the one
    # whose pidfile names it is the one that holds the socket.
    by_pidfile = [cand for cand in pool if _pidfile_names(fs, cand)]
    if len(by_pidfile) == 1:
        return pick(by_pidfile[0], "pidfile")
    pool = by_pidfile or pool
    errors.add("/daemon/process/chosen_by", f"{len(candidates)} dockerd processes run and {len(pool)} could serve "
                                            f"{endpoint or 'the endpoint'}; the oldest (pid {pool[0]['pid']}) was taken")
    return pick(pool[0], "oldest")


def _pidfile_names(fs: HostFS, cand: dict[str, Any]) -> bool:
    path = (parse_argv(cand["argv"]).get("pidfile") or [None])[-1] or _config_value(fs, cand, "pidfile") \
        or resolved_defaults(cand.get("environment"))["pidfile"]
    try:
        return fs.read_text(str(path)).strip() == str(cand["pid"])
    except OSError:
        return False


def _tcp_port_match(want: str, have: set[str]) -> bool:
    """tcp://127.0.0.1:2376 is served by a daemon listening on 0.0.0.0:2376 or :2376."""
    port = want.rpartition(":")[2]
    return any(h.rpartition(":")[2] == port and h.rpartition(":")[0] in ("", "0.0.0.0", "[::]", "::") for h in have)


def _config_value(fs: HostFS, cand: dict[str, Any], key: str) -> Any:
    argv = cand["argv"]
    config_path = (parse_argv(argv).get("config-file") or [None])[-1] or resolved_defaults(cand.get("environment"))["config-file"]
    try:
        parsed = json.loads(fs.read_text(config_path))
    except (OSError, ValueError):
        return None
    return parsed.get(key) if isinstance(parsed, dict) else None


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
        name, eq, text = arg.partition("=")
        value: str | None = text
        if not name.startswith("--") and len(name) > 2 and not eq:  # -Hunix:///x
            name, value, eq = name[:2], name[2:], "="
        opt = _BY_FLAG.get(name)
        if not eq:
            # pflag: a bare boolean means true (`--icc false` is not valid and dockerd refuses it).
            # An unknown flag followed by another flag is taken as a boolean too.
            if (opt is not None and opt.kind == "bool") or (opt is None and name in _OTHER_BOOL_FLAGS):
                value = None
            elif opt is None and (i >= len(args) or args[i].startswith("-")):
                value = None
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


def effective_options(argv: list[str], config: dict[str, Any] | None,
                      defaults: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
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
            options[opt.key] = {"value": (defaults or {}).get(opt.key, opt.default), "source": "default"}
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


def read_config_file(fs: HostFS, argv: list[str], errors: ErrorLog,
                     default_path: str = DEFAULT_CONFIG_FILE) -> dict[str, Any] | None:
    """The daemon.json actually in force: --config-file when given, else the default path
    (a rootless dockerd's is $XDG_CONFIG_HOME/docker/daemon.json)."""
    given = parse_argv(argv).get("config-file") if argv else None
    path = given[-1] if given and given[-1] else default_path
    out: dict[str, Any] = {"path": path, "chosen_by": "argv" if given else "default", "exists": False,
                           "raw": None, "parsed": None, "parse_error": None}
    try:
        raw = fs.read_text(path)
    except (FileNotFoundError, NotADirectoryError):
        return out
    except OSError as exc:
        errors.add("/daemon/config_file", f"{path}: {describe_oserror(exc)}")
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


# systemd's user unit search path (rootless engines' services), highest precedence first.
USER_UNIT_DIRS = ("{config}/systemd/user", "/etc/systemd/user", "/run/systemd/user", "/usr/local/lib/systemd/user",
                  "/usr/lib/systemd/user", "/lib/systemd/user")


def user_config_home(env: dict[str, str]) -> str:
    """$XDG_CONFIG_HOME of an engine's process, or its $HOME/.config."""
    return env.get("XDG_CONFIG_HOME") or f"{env.get('HOME') or ''}/.config"


def user_unit_dirs(env: dict[str, str]) -> tuple[str, ...]:
    """The user manager's unit search path for the user whose environment this is."""
    config = user_config_home(env)
    return tuple(d.format(config=config) for d in USER_UNIT_DIRS)


# systemd's unit search path for the system manager, highest precedence first (systemd.unit(5)).
UNIT_DIRS = ("/etc/systemd/system.control", "/run/systemd/system.control", "/run/systemd/transient",
             "/run/systemd/generator.early", "/etc/systemd/system", "/etc/systemd/system.attached",
             "/run/systemd/system", "/run/systemd/system.attached", "/run/systemd/generator",
             "/usr/local/lib/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system",
             "/run/systemd/generator.late")


def read_units(fs: HostFS, errors: ErrorLog, names: tuple[str, ...] = UNITS,
               dirs: tuple[str, ...] | None = None) -> dict[str, Any]:
    """systemd units for docker and containerd, resolved as systemd does: the fragment from the
    first directory of the search path that has it (a link to /dev/null masks the unit), and the
    drop-ins `UNIT.d/*.conf` and `TYPE.d/*.conf` from every directory, where a file name in a
    higher-precedence directory hides the same name below, applied in file-name order.
    docker-bench-security stops at /etc/systemd/system and never reads drop-ins (#554)."""
    units: dict[str, Any] = {}
    dirs = dirs or UNIT_DIRS
    for unit in names:
        source = pointer("daemon", "units", unit)
        fragment = next((f"{d}/{unit}" for d in dirs if fs.exists(f"{d}/{unit}")), None)
        masked = False
        realpath = None
        if fragment:
            try:
                realpath = fs.realpath(fragment)
            except OSError:
                realpath = fragment
            masked = realpath == "/dev/null"
        unit_type = unit.rsplit(".", 1)[1]
        dropins: dict[str, str] = {}
        for d in dirs:
            for dropin_dir in (f"{d}/{unit}.d", f"{d}/{unit_type}.d"):
                for path in fs.list_dir(dropin_dir):
                    name = path.rsplit("/", 1)[1]
                    if name.endswith(".conf") and name not in dropins:
                        dropins[name] = path
        units[unit] = {
            "found": fragment is not None and not masked,
            "masked": masked,
            "fragment_path": fragment,
            "realpath": realpath,
            "contents": fs.read_or_record(fragment, errors, pointer("daemon", "units", unit, "contents"))
            if fragment and not masked else None,
            "dropins": [{"path": path, "contents": fs.read_or_record(path, errors, source + "/dropins")}
                        for _name, path in sorted(dropins.items())],
        }
    return units
