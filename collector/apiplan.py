"""Planned containers from Engine API request bodies, in `docker inspect` shape.

The body of `POST /containers/create` is the container's Config with its HostConfig and
NetworkingConfig: the same shapes `docker inspect` shows, minus what the daemon adds (the image's
USER, ENV, CMD and HEALTHCHECK merged in, the mount points, the published ports, and everything
collector/daemon_defaults.py fills). `plan_create` adds those, so the policies judge the container
the request would make, running. The other requests that change what a container may do are
planned from the container as it is (its live inspect) plus the request: `plan_exec` (a process
started with `docker exec`: privileged and user as the request says), `plan_update` (resources and
restart policy), `plan_start` (the legacy start with a HostConfig body, API < 1.24); swarm
services from their spec, as the swarm executor creates each task's container (`plan_service`).

Each planner returns (inspect, unknown): `unknown` maps JSON Pointers (relative to the container
item) to why that part is unknown (the image was not available to merge its USER or HEALTHCHECK).
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from .daemon_defaults import EngineDefaults, fill

# The zero values `docker inspect` shows for a Config and a HostConfig the request left out (API 1.41).
CONFIG_FIELDS: dict[str, Any] = {
    "Hostname": "", "Domainname": "", "User": "", "AttachStdin": False, "AttachStdout": False, "AttachStderr": False,
    "Tty": False, "OpenStdin": False, "StdinOnce": False, "Env": None, "Cmd": None, "Image": "", "Volumes": None,
    "WorkingDir": "", "Entrypoint": None, "OnBuild": None, "Labels": None,
}
HOST_CONFIG_FIELDS: dict[str, Any] = {
    "Binds": None, "ContainerIDFile": "", "LogConfig": {"Type": "", "Config": {}}, "NetworkMode": "",
    "PortBindings": None, "RestartPolicy": {"Name": "", "MaximumRetryCount": 0}, "AutoRemove": False,
    "VolumeDriver": "", "VolumesFrom": None, "CapAdd": None, "CapDrop": None, "CgroupnsMode": "", "Dns": None,
    "DnsOptions": None, "DnsSearch": None, "ExtraHosts": None, "GroupAdd": None, "IpcMode": "", "Cgroup": "",
    "Links": None, "OomScoreAdj": 0, "PidMode": "", "Privileged": False, "PublishAllPorts": False,
    "ReadonlyRootfs": False, "SecurityOpt": None, "UTSMode": "", "UsernsMode": "", "ShmSize": 0,
    "ConsoleSize": [0, 0], "Isolation": "", "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "",
    "BlkioWeight": 0, "BlkioWeightDevice": None, "BlkioDeviceReadBps": None, "BlkioDeviceWriteBps": None,
    "BlkioDeviceReadIOps": None, "BlkioDeviceWriteIOps": None, "CpuPeriod": 0, "CpuQuota": 0,
    "CpuRealtimePeriod": 0, "CpuRealtimeRuntime": 0, "CpusetCpus": "", "CpusetMems": "", "Devices": None,
    "DeviceCgroupRules": None, "DeviceRequests": None, "MemoryReservation": 0, "MemorySwap": 0,
    "MemorySwappiness": None, "OomKillDisable": False, "PidsLimit": None, "Ulimits": None, "CpuCount": 0,
    "CpuPercent": 0, "IOMaximumIOps": 0, "IOMaximumBandwidth": 0, "MaskedPaths": None, "ReadonlyPaths": None,
}
# What POST /containers/{id}/update changes (moby container.UpdateContainer): a value given as
# zero (or "") leaves the setting as it is, PidsLimit when given at all, the restart policy when
# named. The CLI sends every field, zero for those not on its command line.
UPDATE_FIELDS = ("BlkioWeight", "CpuShares", "NanoCpus", "CpuPeriod", "CpuQuota", "CpusetCpus", "CpusetMems",
                 "Memory", "MemorySwap", "MemoryReservation", "KernelMemory", "CpuRealtimePeriod",
                 "CpuRealtimeRuntime")

# What a planned container is called when the request names none (the daemon picks a random name).
UNNAMED = "(unnamed)"

NO_IMAGE = "the image was not on the engine when the request was judged"
NO_IMAGE_USER = f"{NO_IMAGE}: its USER is unknown (set --user, or pull the image first)"
NO_IMAGE_HEALTH = f"{NO_IMAGE}: whether it defines a HEALTHCHECK is unknown"


def identity(*parts: Any) -> str:
    """A stable container id for a planned container: the same request plans the same id."""
    return hashlib.sha256("\0".join(json.dumps(p, sort_keys=True, default=str) for p in parts).encode()).hexdigest()


def _object(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _env_key(entry: str) -> str:
    return entry.split("=", 1)[0]


def merge_image_config(config: dict[str, Any], image_config: dict[str, Any]) -> None:
    """The image's settings under the request's, as the daemon merges them at create (moby daemon/commit.go merge)."""
    if not config.get("User"):
        config["User"] = str(image_config.get("User") or "")
    if image_config.get("ExposedPorts"):
        config["ExposedPorts"] = {**image_config["ExposedPorts"], **(config.get("ExposedPorts") or {})}
    if not config.get("Env"):
        config["Env"] = list(image_config.get("Env") or []) or config.get("Env")
    else:
        keys = {_env_key(str(e)) for e in config["Env"]}
        config["Env"] = [*config["Env"], *(e for e in image_config.get("Env") or [] if _env_key(str(e)) not in keys)]
    if image_config.get("Labels"):
        config["Labels"] = {**image_config["Labels"], **(config.get("Labels") or {})}
    if not config.get("Entrypoint"):
        if not config.get("Cmd"):
            config["Cmd"] = image_config.get("Cmd")
        if config.get("Entrypoint") is None:
            config["Entrypoint"] = image_config.get("Entrypoint")
    image_check = image_config.get("Healthcheck")
    if image_check:
        own = config.get("Healthcheck")
        if own is None:
            config["Healthcheck"] = image_check
        else:
            merged = dict(own)
            for key in ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries"):
                if not merged.get(key) and image_check.get(key):
                    merged[key] = image_check[key]
            config["Healthcheck"] = merged
    if not config.get("WorkingDir"):
        config["WorkingDir"] = str(image_config.get("WorkingDir") or "")
    if image_config.get("Volumes"):
        config["Volumes"] = {**image_config["Volumes"], **(config.get("Volumes") or {})}
    if not config.get("StopSignal") and image_config.get("StopSignal"):
        config["StopSignal"] = image_config["StopSignal"]


def has_healthcheck(config: dict[str, Any]) -> bool:
    test = (config.get("Healthcheck") or {}).get("Test") or []
    return bool(test) and test[0] != "NONE"


_PROPAGATIONS = ("shared", "rshared", "slave", "rslave", "private", "rprivate")


def bind_mount(spec: str, volume_driver: str = "") -> dict[str, Any]:
    """One `-v`/Binds entry (src:dst[:opts]) as a mount point in `docker inspect`."""
    parts = spec.split(":")
    if len(parts) == 1:
        source, target, mode = "", parts[0], ""
    elif len(parts) == 2:
        source, target, mode = parts[0], parts[1], ""
    else:
        source, target, mode = parts[0], parts[1], ":".join(parts[2:])
    options = [o for o in mode.split(",") if o]
    read_only = "ro" in options
    if source.startswith("/"):
        propagation = next((o for o in options if o in _PROPAGATIONS), "rprivate")
        return {"Type": "bind", "Source": source, "Destination": target, "Mode": mode, "RW": not read_only,
                "Propagation": propagation}
    return {"Type": "volume", "Name": source, "Source": "", "Destination": target, "Driver": volume_driver or "local",
            "Mode": mode or "z", "RW": not read_only, "Propagation": ""}


def api_mount(mount: dict[str, Any], root_dir: str | None = None) -> dict[str, Any]:
    """One HostConfig.Mounts entry (`--mount`) as a mount point in `docker inspect`. A bind around
    the daemon's root directory (its source inside it, or above it) without a propagation of its
    own gets rslave (moby daemon.validateBindDaemonRoot), else rprivate."""
    kind = str(mount.get("Type") or "volume")
    target = str(mount.get("Target") or "")
    read_only = mount.get("ReadOnly") is True
    source = str(mount.get("Source") or "")
    if kind == "bind":
        around_root = bool(root_dir) and bool(source) and (str(root_dir).startswith(source) or source.startswith(str(root_dir)))
        propagation = str(_object(mount.get("BindOptions")).get("Propagation") or ("rslave" if around_root else "rprivate"))
        return {"Type": "bind", "Source": source, "Destination": target, "Mode": "", "RW": not read_only,
                "Propagation": propagation}
    if kind == "volume":
        driver = _object(_object(mount.get("VolumeOptions")).get("DriverConfig")).get("Name") or "local"
        return {"Type": "volume", "Name": source, "Source": "", "Destination": target, "Driver": str(driver),
                "Mode": "z", "RW": not read_only, "Propagation": ""}
    return {"Type": kind, "Source": source, "Destination": target, "Mode": "", "RW": not read_only, "Propagation": ""}


def mount_points(config: dict[str, Any], host: dict[str, Any], root_dir: str | None = None) -> list[dict[str, Any]]:
    """Mounts as `docker inspect` lists them: Binds, then --mount entries, then the image's VOLUMEs
    not covered by either (anonymous volumes). --tmpfs (HostConfig.Tmpfs) is not a mount point there."""
    out = [bind_mount(str(b), str(host.get("VolumeDriver") or "")) for b in host.get("Binds") or []]
    out += [api_mount(m, root_dir) for m in host.get("Mounts") or [] if isinstance(m, dict)]
    taken = {m["Destination"] for m in out}
    for target in sorted(config.get("Volumes") or {}):
        if target not in taken:
            out.append({"Type": "volume", "Name": "", "Source": "", "Destination": target, "Driver": "local",
                        "Mode": "", "RW": True, "Propagation": ""})
    return out


def published_ports(config: dict[str, Any], host: dict[str, Any]) -> dict[str, Any]:
    """NetworkSettings.Ports of the running container: each exposed or bound port, its bindings
    with the host address the daemon binds ("" is every interface); a HostPort left "" is an
    ephemeral port the daemon picks at start (above 1023)."""
    mode = str(host.get("NetworkMode") or "")
    if mode in ("host", "none") or mode.startswith("container:"):
        return {}
    ports: dict[str, Any] = {key: None for key in config.get("ExposedPorts") or {}}
    for key, bindings in (host.get("PortBindings") or {}).items():
        key = key if "/" in key else f"{key}/tcp"
        ports[key] = [{"HostIp": str(b.get("HostIp") or "0.0.0.0"), "HostPort": str(b.get("HostPort") or "")}
                      for b in bindings or [] if isinstance(b, dict)] or None
    if host.get("PublishAllPorts") is True:
        for key, value in ports.items():
            if not value:
                ports[key] = [{"HostIp": "0.0.0.0", "HostPort": ""}]
    return ports


def _running_state(config: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = {"Status": "running", "Running": True, "Paused": False, "Restarting": False,
                             "OOMKilled": False, "Dead": False, "Pid": 0, "ExitCode": 0, "Error": ""}
    if has_healthcheck(config):
        state["Health"] = {"Status": "starting", "FailingStreak": 0, "Log": []}
    return state


def plan_create(body: dict[str, Any], name: str | None, image: dict[str, Any] | None,
                defaults: EngineDefaults) -> tuple[dict[str, Any], dict[str, str]]:
    """The container `POST /containers/create` with this body would make, running."""
    unknown: dict[str, str] = {}
    config = {**CONFIG_FIELDS, **{k: copy.deepcopy(v) for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")}}
    host = {**copy.deepcopy(HOST_CONFIG_FIELDS), **copy.deepcopy(_object(body.get("HostConfig")))}
    if image is not None:
        merge_image_config(config, _object(image.get("Config")))
    else:
        if not config.get("User"):
            unknown["/inspect/Config/User"] = NO_IMAGE_USER
        if config.get("Healthcheck") is None:
            unknown["/inspect/State"] = NO_IMAGE_HEALTH
    if config.get("Labels") is None:
        config["Labels"] = {}
    endpoints = _object(_object(body.get("NetworkingConfig")).get("EndpointsConfig"))
    networks = {("bridge" if key == "default" else key): dict(value or {}) for key, value in endpoints.items()} or None
    inspect: dict[str, Any] = {
        "Id": identity("request", name, body),
        "Name": f"/{name or UNNAMED}",
        "Image": str((image or {}).get("Id") or ""),
        "State": _running_state(config),
        "Config": config,
        "HostConfig": host,
        "Mounts": mount_points(config, host, defaults.root_dir),
        "NetworkSettings": {"Ports": published_ports(config, host), "Networks": networks},
        "AppArmorProfile": "",
        "ProcessLabel": "",
        "ExecIDs": None,
    }
    fill(inspect, defaults)
    return inspect, unknown


def as_running(current: dict[str, Any]) -> dict[str, Any]:
    """A live container's inspect as the starting point of a plan: running from here on."""
    inspect = copy.deepcopy(current)
    inspect["State"] = _running_state(_object(inspect.get("Config")))
    return inspect


def plan_exec(current: dict[str, Any], body: dict[str, Any], defaults: EngineDefaults) -> dict[str, Any]:
    """The container as a `docker exec` process with this body runs in it: privileged (every
    capability, no seccomp or AppArmor confinement) and as the user the request names."""
    inspect = as_running(current)
    if body.get("Privileged") is True:
        inspect["HostConfig"]["Privileged"] = True
        if defaults.apparmor:
            inspect["AppArmorProfile"] = "unconfined"
    if body.get("User"):
        inspect["Config"]["User"] = str(body["User"])
    fill(inspect, defaults)
    return inspect


def plan_update(current: dict[str, Any], body: dict[str, Any], defaults: EngineDefaults) -> dict[str, Any]:
    """The container after `POST /containers/{id}/update` (resources and restart policy)."""
    inspect = as_running(current)
    host = inspect.setdefault("HostConfig", {})
    for key in UPDATE_FIELDS:
        if body.get(key):
            host[key] = copy.deepcopy(body[key])
    if body.get("PidsLimit") is not None:
        host["PidsLimit"] = body["PidsLimit"]
    if (_object(body.get("RestartPolicy"))).get("Name"):
        host["RestartPolicy"] = copy.deepcopy(body["RestartPolicy"])
    fill(inspect, defaults)
    return inspect


def plan_start(current: dict[str, Any], host_config: dict[str, Any], defaults: EngineDefaults) -> dict[str, Any]:
    """The container started with a HostConfig body (API < 1.24 replaces the container's HostConfig)."""
    inspect = as_running(current)
    host = {**copy.deepcopy(HOST_CONFIG_FIELDS), **copy.deepcopy(host_config)}
    inspect["HostConfig"] = host
    config = _object(inspect.get("Config"))
    inspect["Mounts"] = mount_points(config, host, defaults.root_dir)
    inspect["NetworkSettings"] = {"Ports": published_ports(config, host), "Networks": None}
    fill(inspect, defaults)
    return inspect


def _swarm_security_opts(privileges: dict[str, Any]) -> list[str]:
    """SecurityOpt of a task's container from ContainerSpec.Privileges (moby executor container.go)."""
    out: list[str] = []
    selinux = _object(privileges.get("SELinuxContext"))
    if selinux.get("Disable"):
        out.append("label=disable")
    for key, field in (("user", "User"), ("role", "Role"), ("type", "Type"), ("level", "Level")):
        if selinux.get(field):
            out.append(f"label={key}:{selinux[field]}")
    seccomp = _object(privileges.get("Seccomp"))
    if seccomp.get("Mode") == "unconfined":
        out.append("seccomp=unconfined")
    elif seccomp.get("Mode") == "custom":
        out.append("seccomp=<custom profile>")
    if _object(privileges.get("AppArmor")).get("Mode") == "disabled":
        out.append("apparmor=unconfined")
    if privileges.get("NoNewPrivileges") is True:
        out.append("no-new-privileges=true")
    return out


def plan_service(spec: dict[str, Any], image: dict[str, Any] | None,
                 defaults: EngineDefaults) -> tuple[dict[str, Any], dict[str, str]]:
    """The container of a swarm service's first task, as the swarm executor would create it from
    the spec (moby daemon/cluster/executor/container/container.go): ContainerSpec, resources,
    host-mode published ports; the swarm restarts tasks, so the container's own policy is "no"."""
    name = str(spec.get("Name") or "service")
    task = _object(spec.get("TaskTemplate"))
    container = _object(task.get("ContainerSpec"))
    limits = _object(_object(task.get("Resources")).get("Limits"))
    reservations = _object(_object(task.get("Resources")).get("Reservations"))
    body: dict[str, Any] = {
        "Image": str(container.get("Image") or ""),
        "User": str(container.get("User") or ""),
        "Env": list(container.get("Env") or []) or None,
        "Labels": {**_object(container.get("Labels")), "com.docker.swarm.service.name": name},
        "WorkingDir": str(container.get("Dir") or ""),
        "Hostname": str(container.get("Hostname") or ""),
        "Tty": container.get("TTY") is True,
        "OpenStdin": container.get("OpenStdin") is True,
        "StopSignal": container.get("StopSignal"),
    }
    if container.get("Command"):
        body["Entrypoint"] = list(container["Command"])
        body["Cmd"] = list(container.get("Args") or []) or None
    elif container.get("Args"):
        body["Cmd"] = list(container["Args"])
    if container.get("Healthcheck"):
        body["Healthcheck"] = container["Healthcheck"]
    networks = [str(_object(n).get("Target") or "") for n in (task.get("Networks") or spec.get("Networks") or [])]
    network_mode = "host" if "host" in networks else (networks[0] if networks else "default")
    ports = [_object(p) for p in _object(spec.get("EndpointSpec")).get("Ports") or []]
    bindings: dict[str, list[dict[str, str]]] = {}
    for port in ports:
        if port.get("PublishMode") == "host":
            key = f"{port.get('TargetPort')}/{port.get('Protocol') or 'tcp'}"
            bindings.setdefault(key, []).append({"HostIp": "", "HostPort": str(port.get("PublishedPort") or "")})
    body["HostConfig"] = {
        "NetworkMode": network_mode,
        "Mounts": [_swarm_mount(_object(m)) for m in container.get("Mounts") or []] or None,
        "ReadonlyRootfs": container.get("ReadOnly") is True,
        "Init": container.get("Init"),
        "CapAdd": list(container.get("CapabilityAdd") or []) or None,
        "CapDrop": list(container.get("CapabilityDrop") or []) or None,
        "GroupAdd": list(container.get("Groups") or []) or None,
        "Sysctls": _object(container.get("Sysctls")) or None,
        "Ulimits": list(container.get("Ulimits") or []) or None,
        "SecurityOpt": _swarm_security_opts(_object(container.get("Privileges"))) or None,
        "ExtraHosts": list(container.get("Hosts") or []) or None,
        "Isolation": str(container.get("Isolation") or ""),
        "Memory": int(limits.get("MemoryBytes") or 0),
        "NanoCpus": int(limits.get("NanoCPUs") or 0),
        "PidsLimit": int(limits.get("Pids") or 0) or None,
        "MemoryReservation": int(reservations.get("MemoryBytes") or 0),
        "PortBindings": bindings or None,
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
    }
    if bindings:
        body["ExposedPorts"] = {key: {} for key in bindings}
    return plan_create(body, f"{name}.1", image, defaults)


def _swarm_mount(mount: dict[str, Any]) -> dict[str, Any]:
    """A service mount (mount.Mount, the same shape as HostConfig.Mounts)."""
    return {"Type": mount.get("Type") or "volume", "Source": mount.get("Source") or "", "Target": mount.get("Target") or "",
            "ReadOnly": mount.get("ReadOnly") is True, "BindOptions": mount.get("BindOptions"),
            "VolumeOptions": mount.get("VolumeOptions")}
