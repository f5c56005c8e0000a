"""Each replica of each service as `docker inspect` would show it once Compose created and started
it: Name, Config (Image, Cmd, Env, User, Labels with com.docker.compose.*), HostConfig, Mounts,
NetworkSettings, State (with Health when the service defines a healthcheck).

Also the source position of every key that sets an inspect field, as JSON Pointers into the
container (`/inspect/HostConfig/NetworkMode` -> compose.yaml line 14), and of each list entry
(`/inspect/Mounts/2` -> the docker.sock volume line). What only the image knows (its USER, its
HEALTHCHECK) is returned as `unknown` (pointer -> reason) unless an image inspect is given.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from typing import TYPE_CHECKING, Any

from .. import redact
from .envfile import service_values
from .keys import DEPLOY_SHOWN, RECORDED
from .source import ComposeError, LDict, LList, Pos

if TYPE_CHECKING:
    from .project import Project

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024 ** 2, "mb": 1024 ** 2, "g": 1024 ** 3, "gb": 1024 ** 3}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_NS = {"ns": 1, "us": 1e3, "µs": 1e3, "ms": 1e6, "s": 1e9, "m": 60e9, "h": 3600e9}


def pointer(*parts: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _bytes(value: Any, pos: Pos | None) -> int:
    if isinstance(value, (int, float)):
        return int(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
    if not match or match.group(2).lower() not in _UNITS:
        raise ComposeError(f"invalid size {value!r}", pos)
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _duration(value: Any, pos: Pos | None) -> int:
    text = str(value)
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text.replace(" ", ""):
        raise ComposeError(f"invalid duration {value!r}", pos)
    return int(sum(float(n) * _NS[u] for n, u in parts))


def _command(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, list):
        return [str(v) for v in value]
    return shlex.split(str(value))


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "y", "on")
    return bool(value)


def _restart(service: LDict) -> dict[str, Any]:
    text = service.get("restart")
    if text is None:
        policy = ((service.get("deploy") or {}).get("restart_policy") or {})
        condition = policy.get("condition")
        if condition:
            name = {"none": "no", "any": "always", "on-failure": "on-failure"}.get(str(condition), str(condition))
            return {"Name": name, "MaximumRetryCount": int(policy.get("max_attempts") or 0) if name == "on-failure" else 0}
        return {"Name": "no", "MaximumRetryCount": 0}
    name, _, count = str(text).partition(":")
    return {"Name": name or "no", "MaximumRetryCount": int(count) if count.isdigit() else 0}


def _healthcheck(check: Any, pos: Pos | None) -> dict[str, Any] | None:
    if not isinstance(check, dict):
        return None
    if _bool(check.get("disable", False)):
        return {"Test": ["NONE"]}
    out: dict[str, Any] = {}
    test = check.get("test")
    if isinstance(test, str):
        out["Test"] = ["CMD-SHELL", test]
    elif isinstance(test, list):
        out["Test"] = [str(t) for t in test]
    for key, field in (("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod"),
                       ("start_interval", "StartInterval")):
        if check.get(key) is not None:
            out[field] = _duration(check[key], pos)
    if check.get("retries") is not None:
        out["Retries"] = int(check["retries"])
    return out


def _device(item: Any) -> dict[str, str]:
    if isinstance(item, dict):
        src = str(item.get("source"))
        return {"PathOnHost": src, "PathInContainer": str(item.get("target") or src),
                "CgroupPermissions": str(item.get("permissions") or "rwm")}
    parts = str(item).split(":")
    return {"PathOnHost": parts[0], "PathInContainer": parts[1] if len(parts) > 1 else parts[0],
            "CgroupPermissions": parts[2] if len(parts) > 2 else "rwm"}


class _Positions:
    """pointer -> position, first writer wins (the most specific key is recorded first)."""

    def __init__(self) -> None:
        self.map: dict[str, dict[str, Any]] = {}

    def put(self, ptr: str, pos: Pos | None) -> None:
        if pos is not None and ptr not in self.map:
            self.map[ptr] = pos.as_dict()


def _limit(service: LDict, key: str, deploy_key: str, section: str = "limits") -> tuple[Any, Pos | None]:
    """A resource setting: deploy.resources.<section>.<deploy_key> wins over the service key, as
    Compose v2 applies the deploy section last."""
    limits = _resources(service, section)
    if isinstance(limits, dict) and limits.get(deploy_key) is not None:
        pos = getattr(limits, "keypos", {}).get(deploy_key) or service.keypos.get("deploy")
        return limits[deploy_key], pos
    if service.get(key) is not None:
        return service[key], service.keypos.get(key)
    return None, None


def _resources(service: LDict, section: str) -> dict[str, Any]:
    deploy = service.get("deploy") or {}
    return ((deploy.get("resources") or {}).get(section) or {}) if isinstance(deploy, dict) else {}


def _device_requests(service: LDict) -> list[dict[str, Any]] | None:
    """gpus: and deploy.resources.reservations.devices as the engine's DeviceRequests."""
    requests: list[dict[str, Any]] = []
    gpus = service.get("gpus")
    entries: list[tuple[Any, list[str]]] = []
    if gpus == "all":
        entries.append(({"count": -1}, ["gpu"]))
    elif isinstance(gpus, list):
        entries.extend((g, ["gpu"]) for g in gpus)
    entries.extend((d, []) for d in _resources(service, "reservations").get("devices") or [])
    for item, implied in entries:
        count = item.get("count")
        caps = [str(c) for c in item.get("capabilities") or []] or implied
        requests.append({
            "Driver": str(item.get("driver") or ""),
            "Count": -1 if count == "all" else int(count) if count is not None else (0 if item.get("device_ids") else -1),
            "DeviceIDs": [str(d) for d in item.get("device_ids") or []] or None,
            "Capabilities": [caps],
            "Options": {str(k): str(v) for k, v in (item.get("options") or {}).items()} or None,
        })
    return requests or None


def _blkio(config: Any, key: str, field: str, pos: Pos | None) -> list[dict[str, Any]] | None:
    items = (config or {}).get(key) or []
    if not items:
        return None
    if field == "Weight":
        return [{"Path": str(i.get("path")), "Weight": int(i.get("weight") or 0)} for i in items]
    rate = (lambda v: _bytes(v, pos)) if key.endswith("bps") else (lambda v: int(v))
    return [{"Path": str(i.get("path")), "Rate": rate(i.get("rate") or 0)} for i in items]


def _extra_hosts(value: Any) -> list[str] | None:
    out = []
    for host, address in (value or {}).items():
        for ip in (address if isinstance(address, list) else [address]):
            out.append(f"{host}:{ip}")
    return out or None


def _recorded(service: LDict, project: Project) -> dict[str, Any]:
    """What the plan accepts but `docker inspect` cannot show, as Compose reads it."""
    out: dict[str, Any] = {}
    for key in sorted(RECORDED):
        if service.get(key) is not None:
            out[key] = _plain(service[key])
    deploy = service.get("deploy") or {}
    rest = {k: _plain(v) for k, v in deploy.items() if k not in DEPLOY_SHOWN} if isinstance(deploy, dict) else {}
    if rest:
        out["deploy"] = rest
    for hook in ("pre_start", "post_start", "pre_stop"):
        for entry in out.get(hook) or []:
            if isinstance(entry, dict) and isinstance(entry.get("environment"), dict):
                entry["environment"] = {k: (redact.MARKER if v and redact._is_secret_name(str(k)) else v)
                                        for k, v in entry["environment"].items()}
    uses = service.get("models")
    if uses:
        names = list(uses) if isinstance(uses, dict) else [str(m) for m in uses]
        out["models"] = {n: {**(_plain(uses[n]) if isinstance(uses, dict) and uses[n] else {}),
                             "model": str((project.models.get(n) or {}).get("model") or "")} for n in names}
    providers: dict[str, Any] = {}
    for dependency in service.get("depends_on") or {}:
        other = project.all_services.get(dependency)
        if other is not None and other.get("provider"):
            providers[dependency] = _plain(other["provider"])
    if providers:
        out["providers"] = providers
    for kind in ("secrets", "configs"):
        copied = [ref for ref in _references(service, kind, project) if ref["from"] != "file"]
        if copied:
            out[kind] = [{k: v for k, v in ref.items() if k not in ("file", "_pos")} for ref in copied]
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _references(service: LDict, kind: str, project: Project) -> list[dict[str, Any]]:
    """A service's secrets or configs: where each lands in the container and where it comes from."""
    declared = project.secrets if kind == "secrets" else project.configs
    refs = []
    seq = service.get(kind) or []
    for index, item in enumerate(seq):
        source = str(item.get("source") if isinstance(item, dict) else item)
        target = str(item.get("target") or "") if isinstance(item, dict) else ""
        if kind == "secrets":
            path = target if target.startswith("/") else f"/run/secrets/{target or source}"
        else:
            path = target if target.startswith("/") else f"/{target or source}"
        top = declared.get(source)
        pos = seq.itempos[index] if isinstance(seq, LList) else service.keypos.get(kind)
        if top is None:
            raise ComposeError(f"service uses {kind[:-1]} {source!r}, which the top-level {kind}: does not define", pos)
        origin = ("external" if top.get("external") else "file" if top.get("file") else
                  "environment" if top.get("environment") else "content" if top.get("content") is not None else "unknown")
        ref: dict[str, Any] = {"source": source, "target": path, "from": origin, "pos": pos}
        if origin == "file":
            ref["file"] = str(top["file"])
        if origin == "environment":
            ref["variable"] = str(top["environment"])
        for key in ("uid", "gid", "mode"):
            if isinstance(item, dict) and item.get(key) is not None:
                ref[key] = item[key]
        refs.append(ref)
    for ref in refs:
        ref_pos = ref.pop("pos")
        if ref["from"] in ("environment", "content") and _bool(service.get("read_only", False)):
            raise ComposeError(f"{kind[:-1]} {ref['source']!r} comes from {ref['from']}: Compose cannot copy it "
                               "into a read_only service (only file: works there)", ref_pos)
        ref["_pos"] = ref_pos
    return refs


def plan_container(project: Project, name: str, service: LDict, number: int, image: dict[str, Any] | None,
                   env: dict[str, str], config_files: list[str]
                   ) -> tuple[dict[str, Any], dict[str, Any], dict[str, str], dict[str, Any]]:
    """(inspect, positions, unknown, recorded) for replica `number` (1-based) of service `name`;
    recorded: what Compose does around the container that `docker inspect` cannot show."""
    networks, volumes, working_dir = project.networks, project.volumes, project.directory
    kp = service.keypos
    pos = _Positions()
    unknown: dict[str, str] = {}
    image_config = (image or {}).get("Config") or {}
    container_name = service.get("container_name") or f"{project.name}-{name}-{number}"
    labels: dict[str, Any] = service_values(service, "label_file", list(service.get("label_file") or []))
    labels.update(service.get("labels") or {})
    labels.update({
        "com.docker.compose.project": project.name,
        "com.docker.compose.service": name,
        "com.docker.compose.container-number": str(number),
        "com.docker.compose.oneoff": "False",
        "com.docker.compose.project.working_dir": working_dir,
        "com.docker.compose.project.config_files": ",".join(config_files),
    })
    image_labels = image_config.get("Labels") or {}
    merged_labels = {**image_labels, **{k: ("" if v is None else str(v)) for k, v in labels.items()}}

    # --- Config -----------------------------------------------------------------------------
    user = service.get("user")
    if user is not None:
        config_user = str(user)
        pos.put("/inspect/Config/User", kp.get("user"))
    elif image is not None:
        config_user = str(image_config.get("User") or "")
    else:
        config_user = ""
        unknown["/inspect/Config/User"] = ("planned from Compose without the image: the image's USER is unknown "
                                           "(set user: in the service, or collect with --images-from-engine)")
    healthcheck = _healthcheck(service.get("healthcheck"), kp.get("healthcheck"))
    if healthcheck is None and image is not None:
        healthcheck = image_config.get("Healthcheck")
    elif healthcheck is not None and "Test" not in healthcheck and image is not None:
        healthcheck = {**(image_config.get("Healthcheck") or {}), **healthcheck}
    has_health = bool(healthcheck and (healthcheck.get("Test") or ["NONE"])[0] != "NONE")
    if service.get("healthcheck") is None and image is None:
        unknown["/inspect/State"] = ("planned from Compose without the image: whether the image defines a HEALTHCHECK "
                                     "is unknown (define healthcheck: in the service, or collect with --images-from-engine)")
    ports = service.get("ports") or LList()
    exposed: dict[str, dict[str, Any]] = {f"{p['target']}/{p['protocol']}": {} for p in ports}
    for item in service.get("expose") or []:
        text = str(item)
        exposed.setdefault(text if "/" in text else f"{text}/tcp", {})
    config: dict[str, Any] = {
        "Hostname": str(service.get("hostname") or ""),
        "Domainname": str(service.get("domainname") or ""),
        "User": config_user,
        "Tty": _bool(service.get("tty", False)),
        "OpenStdin": _bool(service.get("stdin_open", False)),
        "Env": [f"{k}={v}" for k, v in env.items()],
        "Cmd": _command(service.get("command")) if service.get("command") is not None else image_config.get("Cmd"),
        "Entrypoint": _command(service.get("entrypoint")) if service.get("entrypoint") is not None
        else image_config.get("Entrypoint"),
        "Image": str(service.get("image") or f"{project.name}-{name}"),
        "WorkingDir": str(service.get("working_dir") or image_config.get("WorkingDir") or ""),
        "Labels": merged_labels,
        "ExposedPorts": exposed or None,
        "StopSignal": service.get("stop_signal"),
    }
    if service.get("stop_grace_period") is not None:
        config["StopTimeout"] = _duration(service["stop_grace_period"], kp.get("stop_grace_period")) // 10**9
        pos.put("/inspect/Config/StopTimeout", kp.get("stop_grace_period"))
    if service.get("mac_address") is not None:
        config["MacAddress"] = str(service["mac_address"])
        pos.put("/inspect/Config/MacAddress", kp.get("mac_address"))
    if service.get("use_api_socket") and not any(e.startswith("DOCKER_CONFIG=") for e in config["Env"]):
        config["Env"].append("DOCKER_CONFIG=/run/secrets/docker")  # where Compose copies the credentials
    if healthcheck is not None:
        config["Healthcheck"] = healthcheck
        pos.put("/inspect/Config/Healthcheck", kp.get("healthcheck"))
    for key, ptr in (("environment", "/inspect/Config/Env"), ("env_file", "/inspect/Config/Env"),
                     ("command", "/inspect/Config/Cmd"), ("entrypoint", "/inspect/Config/Entrypoint"),
                     ("image", "/inspect/Config/Image"), ("labels", "/inspect/Config/Labels")):
        pos.put(ptr, kp.get(key))

    # --- HostConfig -------------------------------------------------------------------------
    service_networks = service.get("networks") or {}
    network_mode = service.get("network_mode")
    default_net = _network_name(project.name, "default", networks)
    if network_mode is None:
        first = next(iter(service_networks), None)
        network_mode = _network_name(project.name, first, networks) if first else default_net
    else:
        network_mode = str(network_mode)
        pos.put("/inspect/HostConfig/NetworkMode", kp.get("network_mode"))
        pos.put("/inspect/NetworkSettings/Networks", kp.get("network_mode"))
    pos.put("/inspect/HostConfig/NetworkMode", kp.get("networks"))
    pos.put("/inspect/NetworkSettings/Networks", kp.get("networks"))
    mem, mem_pos = _limit(service, "mem_limit", "memory")
    cpus, cpus_pos = _limit(service, "cpus", "cpus")
    pids, pids_pos = _limit(service, "pids_limit", "pids")
    reservation, res_pos = _limit(service, "mem_reservation", "memory", "reservations")
    pos.put("/inspect/HostConfig/Memory", mem_pos)
    pos.put("/inspect/HostConfig/NanoCpus", cpus_pos)
    pos.put("/inspect/HostConfig/PidsLimit", pids_pos)
    pos.put("/inspect/HostConfig/MemoryReservation", res_pos)
    memory = _bytes(mem, mem_pos) if mem is not None else 0
    swap = service.get("memswap_limit")
    host: dict[str, Any] = {
        "NetworkMode": network_mode,
        "Privileged": _bool(service.get("privileged", False)),
        "ReadonlyRootfs": _bool(service.get("read_only", False)),
        "CapAdd": [str(c) for c in service["cap_add"]] if service.get("cap_add") else None,
        "CapDrop": [str(c) for c in service["cap_drop"]] if service.get("cap_drop") else None,
        "SecurityOpt": [str(s) for s in service["security_opt"]] if service.get("security_opt") else None,
        "PidMode": str(service.get("pid") or ""),
        "IpcMode": str(service.get("ipc") or ""),
        "UTSMode": str(service.get("uts") or ""),
        "UsernsMode": str(service.get("userns_mode") or ""),
        "CgroupParent": str(service.get("cgroup_parent") or ""),
        "Cgroup": "",
        "CgroupnsMode": str(service.get("cgroup") or ""),
        "Memory": memory,
        "MemorySwap": _bytes(swap, kp.get("memswap_limit")) if swap is not None else 0,
        "MemoryReservation": _bytes(reservation, res_pos) if reservation is not None else 0,
        "NanoCpus": int(float(cpus) * 1e9) if cpus is not None else 0,
        "CpuShares": int(service.get("cpu_shares") or 0),
        "CpuQuota": int(service.get("cpu_quota") or 0),
        "CpuPeriod": int(service.get("cpu_period") or 0),
        "CpusetCpus": str(service.get("cpuset") or ""),
        "PidsLimit": int(pids) if pids is not None else None,
        "CpuCount": int(service.get("cpu_count") or 0),
        "CpuPercent": int(float(service.get("cpu_percent") or 0)),
        "CpuRealtimePeriod": int(service.get("cpu_rt_period") or 0),
        "CpuRealtimeRuntime": int(_duration(service["cpu_rt_runtime"], kp.get("cpu_rt_runtime")) // 1000
                                  if isinstance(service.get("cpu_rt_runtime"), str) else service.get("cpu_rt_runtime") or 0),
        "MemorySwappiness": int(service["mem_swappiness"]) if service.get("mem_swappiness") is not None else None,
        "BlkioWeight": int((service.get("blkio_config") or {}).get("weight") or 0),
        "BlkioWeightDevice": _blkio(service.get("blkio_config"), "weight_device", "Weight", kp.get("blkio_config")),
        "BlkioDeviceReadBps": _blkio(service.get("blkio_config"), "device_read_bps", "Rate", kp.get("blkio_config")),
        "BlkioDeviceWriteBps": _blkio(service.get("blkio_config"), "device_write_bps", "Rate", kp.get("blkio_config")),
        "BlkioDeviceReadIOps": _blkio(service.get("blkio_config"), "device_read_iops", "Rate", kp.get("blkio_config")),
        "BlkioDeviceWriteIOps": _blkio(service.get("blkio_config"), "device_write_iops", "Rate", kp.get("blkio_config")),
        "DeviceRequests": _device_requests(service),
        "DnsOptions": [str(d) for d in service.get("dns_opt") or []],
        "StorageOpt": {str(k): str(v) for k, v in (service.get("storage_opt") or {}).items()} or None,
        "Isolation": str(service.get("isolation") or ""),
        "Links": [str(link) if ":" in str(link) else f"{link}:{link}" for link in service.get("links") or []] or None,
        "Annotations": dict(service.get("annotations") or {}) or None,
        "RestartPolicy": _restart(service),
        "Devices": [_device(d) for d in service.get("devices") or []],
        "DeviceCgroupRules": [str(r) for r in service["device_cgroup_rules"]] if service.get("device_cgroup_rules") else None,
        "Tmpfs": {str(t).split(":", 1)[0]: (str(t).split(":", 1)[1] if ":" in str(t) else "")
                  for t in service.get("tmpfs") or []} or None,
        "OomKillDisable": _bool(service.get("oom_kill_disable", False)),
        "Ulimits": [{"Name": k, "Soft": v["soft"], "Hard": v["hard"]} for k, v in (service.get("ulimits") or {}).items()],
        "Dns": [str(d) for d in service.get("dns") or []],
        "DnsSearch": [str(d) for d in service.get("dns_search") or []],
        "ExtraHosts": _extra_hosts(service.get("extra_hosts")),
        "GroupAdd": [str(g) for g in service["group_add"]] if service.get("group_add") else None,
        "Init": _bool(service["init"]) if service.get("init") is not None else None,
        "OomScoreAdj": int(service.get("oom_score_adj") or 0),
        "Sysctls": dict(service.get("sysctls") or {}) or None,
        "ShmSize": _bytes(service["shm_size"], kp.get("shm_size")) if service.get("shm_size") is not None else 67108864,
        "LogConfig": {"Type": str((service.get("logging") or {}).get("driver") or ""),
                      "Config": dict((service.get("logging") or {}).get("options") or {})},
        "PublishAllPorts": False,
        "Runtime": str(service.get("runtime") or ""),
        "VolumesFrom": [str(v) for v in service["volumes_from"]] if service.get("volumes_from") else None,
    }
    simple = {"privileged": "Privileged", "read_only": "ReadonlyRootfs", "cap_add": "CapAdd", "cap_drop": "CapDrop",
              "security_opt": "SecurityOpt", "pid": "PidMode", "ipc": "IpcMode", "uts": "UTSMode",
              "userns_mode": "UsernsMode", "cgroup_parent": "CgroupParent", "cpu_shares": "CpuShares",
              "cpu_quota": "CpuQuota", "cpu_period": "CpuPeriod", "restart": "RestartPolicy", "devices": "Devices",
              "device_cgroup_rules": "DeviceCgroupRules", "tmpfs": "Tmpfs", "ulimits": "Ulimits",
              "memswap_limit": "MemorySwap", "sysctls": "Sysctls", "logging": "LogConfig", "cgroup": "CgroupnsMode",
              "cpu_count": "CpuCount", "cpu_percent": "CpuPercent", "cpu_rt_period": "CpuRealtimePeriod",
              "cpu_rt_runtime": "CpuRealtimeRuntime", "mem_swappiness": "MemorySwappiness", "dns_opt": "DnsOptions",
              "storage_opt": "StorageOpt", "isolation": "Isolation", "links": "Links", "annotations": "Annotations",
              "gpus": "DeviceRequests", "oom_kill_disable": "OomKillDisable", "oom_score_adj": "OomScoreAdj",
              "init": "Init", "runtime": "Runtime", "shm_size": "ShmSize", "group_add": "GroupAdd",
              "extra_hosts": "ExtraHosts", "dns": "Dns", "dns_search": "DnsSearch", "volumes_from": "VolumesFrom",
              "cpuset": "CpusetCpus"}
    for key, field in simple.items():
        pos.put(f"/inspect/HostConfig/{field}", kp.get(key))
    if service.get("restart") is None:
        pos.put("/inspect/HostConfig/RestartPolicy", kp.get("deploy"))
    pos.put("/inspect/HostConfig/DeviceRequests", kp.get("deploy"))
    for field in ("BlkioWeight", "BlkioWeightDevice", "BlkioDeviceReadBps", "BlkioDeviceWriteBps",
                  "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps"):
        pos.put(f"/inspect/HostConfig/{field}", kp.get("blkio_config"))
    for key, field in (("cap_add", "CapAdd"), ("cap_drop", "CapDrop"), ("security_opt", "SecurityOpt"),
                       ("devices", "Devices"), ("device_cgroup_rules", "DeviceCgroupRules")):
        seq = service.get(key)
        if isinstance(seq, LList):
            for i, p in enumerate(seq.itempos):
                pos.put(f"/inspect/HostConfig/{field}/{i}", p)

    # --- ports ------------------------------------------------------------------------------
    bindings: dict[str, list[dict[str, str]]] = {}
    settings_ports: dict[str, list[dict[str, str]] | None] = {k: None for k in exposed}
    for entry, entry_pos in zip(ports, getattr(ports, "itempos", [None] * len(ports))):
        key = f"{entry['target']}/{entry['protocol']}"
        bindings.setdefault(key, []).append({"HostIp": entry["host_ip"], "HostPort": entry["published"]})
        live = settings_ports.get(key) or []
        live.append({"HostIp": entry["host_ip"] or "0.0.0.0", "HostPort": entry["published"]})
        settings_ports[key] = live
        pos.put(pointer("inspect", "NetworkSettings", "Ports", key, len(live) - 1), entry_pos)
        pos.put(pointer("inspect", "HostConfig", "PortBindings", key, len(bindings[key]) - 1), entry_pos)
    host["PortBindings"] = bindings
    pos.put("/inspect/NetworkSettings/Ports", kp.get("ports"))
    pos.put("/inspect/HostConfig/PortBindings", kp.get("ports"))

    # --- mounts -----------------------------------------------------------------------------
    mounts: list[dict[str, Any]] = []
    binds: list[str] = []
    vols = service.get("volumes") or LList()
    for entry, entry_pos in zip(vols, getattr(vols, "itempos", [None] * len(vols))):
        kind = entry.get("type")
        read_only = bool(entry.get("read_only"))
        target = str(entry.get("target"))
        bind_opts = entry.get("bind") or {}
        if kind == "bind":
            source = str(entry.get("source") or "")
            mode = ",".join(m for m in (("ro" if read_only else ""), str(bind_opts.get("selinux") or "")) if m)
            mounts.append({"Type": "bind", "Source": source, "Destination": target, "Mode": mode, "RW": not read_only,
                           "Propagation": str(bind_opts.get("propagation") or "rprivate")})
            binds.append(f"{source}:{target}" + (f":{mode}" if mode else ""))
        elif kind == "volume":
            source = str(entry.get("source") or "")
            declared = volumes.get(source) or {}
            vname = (declared.get("name") or (source if declared.get("external") else f"{project.name}_{source}")) if source else ""
            mounts.append({"Type": "volume", "Name": vname, "Source": "", "Destination": target,
                           "Driver": str(declared.get("driver") or "local"), "Mode": "" if not read_only else "ro",
                           "RW": not read_only, "Propagation": ""})
        elif kind == "tmpfs":
            mounts.append({"Type": "tmpfs", "Source": "", "Destination": target, "Mode": "", "RW": not read_only,
                           "Propagation": ""})
        else:
            mounts.append({"Type": str(kind), "Source": str(entry.get("source") or ""), "Destination": target,
                           "Mode": "", "RW": not read_only, "Propagation": ""})
        if kind == "volume" and (entry.get("volume") or {}).get("subpath"):
            mounts[-1]["VolumeOptions"] = {"Subpath": str(entry["volume"]["subpath"])}
        pos.put(f"/inspect/Mounts/{len(mounts) - 1}", entry_pos)
    taken = {m["Destination"] for m in mounts}
    for kind in ("secrets", "configs"):  # file-based ones are bind mounts, where Compose v2 puts them
        for ref in _references(service, kind, project):
            if ref["from"] == "file" and ref["target"] not in taken:
                taken.add(ref["target"])
                mounts.append({"Type": "bind", "Source": ref["file"], "Destination": ref["target"], "Mode": "ro",
                               "RW": False, "Propagation": "rprivate"})
                pos.put(f"/inspect/Mounts/{len(mounts) - 1}", ref["_pos"])
    if service.get("use_api_socket") and "/var/run/docker.sock" not in taken:
        mounts.append({"Type": "bind", "Source": "/var/run/docker.sock", "Destination": "/var/run/docker.sock",
                       "Mode": "", "RW": True, "Propagation": "rprivate"})
        pos.put(f"/inspect/Mounts/{len(mounts) - 1}", kp.get("use_api_socket"))
    host["Binds"] = binds or None
    pos.put("/inspect/Mounts", kp.get("volumes"))
    pos.put("/inspect/HostConfig/Binds", kp.get("volumes"))

    # --- networks ---------------------------------------------------------------------------
    attached: dict[str, Any] = {}
    if not str(network_mode).startswith(("host", "none", "container:", "service:")):
        for net in (service_networks or {"default": None}):
            full = _network_name(project.name, net, networks)
            aliases = [name]
            opts = (service_networks or {}).get(net) or {}
            attached[full] = {"Aliases": aliases + [str(a) for a in opts.get("aliases") or []], "NetworkID": "",
                              "IPAddress": str(opts.get("ipv4_address") or ""),
                              "GlobalIPv6Address": str(opts.get("ipv6_address") or ""),
                              "MacAddress": str(opts.get("mac_address") or ""),
                              "DriverOpts": {str(k): str(v) for k, v in (opts.get("driver_opts") or {}).items()} or None}
    elif str(network_mode) == "host":
        attached["host"] = {"NetworkID": ""}

    ident = hashlib.sha256(f"compose\0{project.name}\0{name}\0{number}".encode()).hexdigest()
    state: dict[str, Any] = {"Status": "running", "Running": True, "Paused": False, "Restarting": False,
                             "OOMKilled": False, "Dead": False, "Pid": 0, "ExitCode": 0}
    if has_health:
        state["Health"] = {"Status": "starting", "FailingStreak": 0, "Log": []}
        pos.put("/inspect/State/Health", kp.get("healthcheck"))
        pos.put("/inspect/State", kp.get("healthcheck"))
    inspect = {
        "Id": ident,
        "Name": f"/{container_name}",
        "Image": "",
        "State": state,
        "Config": config,
        "HostConfig": host,
        "Mounts": mounts,
        "NetworkSettings": {"Ports": settings_ports, "Networks": attached},
        "AppArmorProfile": "",
        "ProcessLabel": "",
    }
    if service.get("platform"):
        inspect["Platform"] = str(service["platform"])
        pos.put("/inspect/Platform", kp.get("platform"))
    pos.put("", service.pos)
    return inspect, pos.map, unknown, _recorded(service, project)


def _network_name(project: str, net: str, networks: dict[str, Any]) -> str:
    declared = networks.get(net) or {}
    if declared.get("name"):
        return str(declared["name"])
    if declared.get("external"):
        return net
    return f"{project}_{net}"
