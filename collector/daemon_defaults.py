"""What dockerd fills in itself when it creates and starts a container, from the engine's own facts.

`docker inspect` shows settings nobody asked for: the daemon's log driver and runtime, its IPC
and cgroup-namespace modes, the 64 MiB /dev/shm, swap at twice the memory limit, the
`docker-default` AppArmor profile on an AppArmor host, an SELinux process label, `label=disable`
beside host namespaces, the default bridge network. A *planned* container (a Compose plan, an
Engine API request the guard judges) has only what its author wrote; `fill` adds what the daemon
would, so the policies judge the container it will become. Where a fact is unknown (a plan made
without an engine), the field is left as written and the policies read it as such.

Defaults come from GET /info (SecurityOptions, LoggingDriver, DefaultRuntime, CgroupVersion) and
the daemon's effective options (collector/daemon.py: default-ipc-mode, default-cgroupns-mode,
default-shm-size), as moby 20.10-27 apply them (daemon/create.go, daemon_unix.go
adaptContainerSettings, oci_linux.go WithApparmor/WithSelinux).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DEFAULT_SHM_SIZE = 64 * 1024 * 1024
DEFAULT_APPARMOR_PROFILE = "docker-default"
# The SELinux type dockerd's containers run as; the MCS pair is chosen per container at create.
DEFAULT_PROCESS_LABEL = "system_u:system_r:container_t:s0"
# moby oci/defaults.go: what /proc and /sys paths a non-privileged container sees masked or read-only.
DEFAULT_MASKED_PATHS = ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                        "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware"]
DEFAULT_READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


@dataclass(frozen=True)
class EngineDefaults:
    """The facts `fill` applies; None where the engine did not say (then nothing is filled)."""

    apparmor: bool | None = None          # the daemon confines containers with AppArmor
    selinux: bool | None = None           # the daemon labels containers (--selinux-enabled)
    log_driver: str | None = None
    runtime: str | None = None
    ipc_mode: str | None = None
    cgroupns_mode: str | None = None
    shm_size: int | None = None
    networks: tuple[tuple[str, str], ...] = ()  # (name, id) of the engine's networks
    root_dir: str | None = None           # DockerRootDir: binds around it get rslave propagation

    @classmethod
    def from_engine(cls, info: dict[str, Any] | None, options: dict[str, Any] | None = None,
                    networks: list[dict[str, Any]] | None = None) -> EngineDefaults:
        """From GET /info, the daemon's effective options ({name: {value, source}}) and the network inspects."""
        info = info or {}
        options = options or {}

        def option(name: str) -> Any:
            entry = options.get(name)
            return entry.get("value") if isinstance(entry, dict) else None

        security = [str(s) for s in info.get("SecurityOptions") or []]
        names = {part[5:] for s in security for part in s.split(",") if part.startswith("name=")}
        cgroup_version = str(info.get("CgroupVersion") or "")
        cgroupns = option("default-cgroupns-mode")
        if not isinstance(cgroupns, str) or not cgroupns:
            cgroupns = {"2": "private", "1": "host"}.get(cgroup_version)
        ipc = option("default-ipc-mode")
        shm = option("default-shm-size")
        return cls(
            apparmor=("apparmor" in names) if info else None,
            selinux=("selinux" in names) if info else None,
            log_driver=str(info["LoggingDriver"]) if info.get("LoggingDriver") else None,
            runtime=str(info["DefaultRuntime"]) if info.get("DefaultRuntime") else None,
            ipc_mode=ipc if isinstance(ipc, str) and ipc else ("private" if info else None),
            cgroupns_mode=cgroupns,
            shm_size=_size(shm) if shm is not None else (DEFAULT_SHM_SIZE if info else None),
            networks=tuple((str(n.get("Name")), str(n.get("Id"))) for n in networks or [] if n.get("Name")),
            root_dir=str(info["DockerRootDir"]) if info.get("DockerRootDir") else None,
        )

    def network_id(self, name: str) -> str:
        for net_name, net_id in self.networks:
            if net_name == name or net_id == name or (len(name) >= 12 and net_id.startswith(name)):
                return net_id
        return ""


_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024 ** 2, "mb": 1024 ** 2, "g": 1024 ** 3, "gb": 1024 ** 3}


def _size(value: Any) -> int | None:
    """default-shm-size as daemon.json or argv give it: bytes, or "64M"."""
    if isinstance(value, (int, float)):
        return int(value)
    text = str(value).strip().lower()
    number = text.rstrip("bkmg")
    unit = text[len(number):]
    try:
        return int(float(number) * _UNITS[unit])
    except (ValueError, KeyError):
        return None


def security_opt(options: list[str] | None, key: str) -> str | None:
    """The value of `key=value` / `key:value` in a SecurityOpt list ("" without a value, None when absent)."""
    found = None
    for opt in options or []:
        text = str(opt)
        if text == key:
            found = ""
        elif text.startswith((key + "=", key + ":")):
            found = text[len(key) + 1:]
    return found


def _host(mode: Any) -> bool:
    return str(mode or "").lower() == "host"


def fill(inspect: dict[str, Any], defaults: EngineDefaults, running: bool = True) -> dict[str, Any]:
    """Add to an inspect-shaped container what the daemon sets at create (and at start, when
    `running`); in place, and returned. Values the container states itself are kept."""
    host = inspect.setdefault("HostConfig", {})
    if not host.get("NetworkMode"):
        host["NetworkMode"] = "default"
    if defaults.log_driver is not None:
        log = host.get("LogConfig") or {}
        if not log.get("Type"):
            host["LogConfig"] = {"Type": defaults.log_driver, "Config": log.get("Config") or {}}
    if defaults.runtime is not None and not host.get("Runtime"):
        host["Runtime"] = defaults.runtime
    if defaults.ipc_mode is not None and not host.get("IpcMode"):
        host["IpcMode"] = defaults.ipc_mode
    if defaults.cgroupns_mode is not None and not host.get("CgroupnsMode"):
        host["CgroupnsMode"] = defaults.cgroupns_mode
    if defaults.shm_size is not None and not host.get("ShmSize"):
        host["ShmSize"] = defaults.shm_size
    memory = host.get("Memory") or 0
    if isinstance(memory, int) and memory > 0 and not host.get("MemorySwap"):
        host["MemorySwap"] = memory * 2
    if host.get("PidsLimit") in (0, -0):
        host["PidsLimit"] = None
    if host.get("MemorySwappiness") == -1:
        host["MemorySwappiness"] = None
    privileged = host.get("Privileged") is True
    if not privileged:
        if host.get("MaskedPaths") is None:
            host["MaskedPaths"] = list(DEFAULT_MASKED_PATHS)
        if host.get("ReadonlyPaths") is None:
            host["ReadonlyPaths"] = list(DEFAULT_READONLY_PATHS)
    # moby create.go: host IPC or PID namespaces (or privileged) cannot be labelled.
    opts = [str(o) for o in host.get("SecurityOpt") or []]
    if (privileged or _host(host.get("IpcMode")) or _host(host.get("PidMode"))) \
            and security_opt(opts, "label") is None:
        host["SecurityOpt"] = [*opts, "label=disable"]
    opts = [str(o) for o in host.get("SecurityOpt") or []]
    if defaults.selinux is not None:
        label = [o[len("label="):] for o in opts if o.startswith(("label=", "label:"))]  # "disable", "type:svirt_t"
        if not defaults.selinux or privileged or "disable" in label:
            inspect.setdefault("ProcessLabel", "")
        elif not inspect.get("ProcessLabel"):
            kind = next((part[5:] for part in label if part.startswith("type:")), None)
            inspect["ProcessLabel"] = DEFAULT_PROCESS_LABEL.replace("container_t", kind) if kind else DEFAULT_PROCESS_LABEL
    if defaults.apparmor is not None and running:
        own = security_opt(opts, "apparmor")
        if not defaults.apparmor:
            inspect["AppArmorProfile"] = inspect.get("AppArmorProfile") or ""
        elif own:
            inspect["AppArmorProfile"] = own
        elif privileged:
            inspect["AppArmorProfile"] = "unconfined"
        elif not inspect.get("AppArmorProfile"):
            inspect["AppArmorProfile"] = DEFAULT_APPARMOR_PROFILE
    _networks(inspect, defaults)
    return inspect


def _networks(inspect: dict[str, Any], defaults: EngineDefaults) -> None:
    """NetworkSettings.Networks as the daemon connects the container: "default" is the bridge."""
    host = inspect["HostConfig"]
    settings = inspect.setdefault("NetworkSettings", {})
    networks = settings.get("Networks")
    if networks is None:
        mode = str(host.get("NetworkMode") or "default")
        if mode.startswith("container:"):
            networks = {}
        else:
            networks = {("bridge" if mode == "default" else mode): {}}
        settings["Networks"] = networks
    for name, endpoint in list(networks.items()):
        endpoint = dict(endpoint or {})
        if not endpoint.get("NetworkID"):
            endpoint["NetworkID"] = defaults.network_id(name)
        networks[name] = endpoint
