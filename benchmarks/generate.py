#!/usr/bin/env python3
"""Synthetic, schema-valid snapshots with N containers, for the benchmarks.

Every container is a real container inspect taken from `snapshots/examples/misconfigured.json`
(recorded from a live daemon, so the shape is exactly what the collector writes), then varied:
ids and names, images, networks, mounts, published ports, environment (redacted, as the
collector writes it), labels, restart policies, capabilities, users, security options, resource
limits, healthchecks, namespaces, and a mix of running and stopped containers. Images, networks
and volumes are made to match what the containers reference. Output is deterministic for a seed.

    python benchmarks/generate.py --containers 5000 --seed 9 -o /tmp/snap-5000.json
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import random
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BASE = REPO / "snapshots" / "examples" / "misconfigured.json"

SERVICES = ["web", "api", "db", "cache", "worker", "queue", "proxy", "auth", "search", "metrics",
            "logs", "cron", "mail", "admin", "billing", "gateway", "frontend", "backend", "redis", "kafka"]
PROJECTS = ["shop", "crm", "intranet", "payments", "analytics", "cms", "monitoring", "ci"]
REPOS = ["nginx", "postgres", "redis", "python", "node", "alpine", "busybox", "grafana/grafana",
         "prom/prometheus", "registry.example.com/team/app", "traefik", "rabbitmq", "elasticsearch", "haproxy"]
TAGS = ["latest", "1.25", "15-alpine", "7.2", "3.12-slim", "20-bullseye", "3.19", "1.36", "v2.10", "stable"]
ENV_NAMES = ["PATH", "HOME", "LANG", "TZ", "APP_ENV", "LOG_LEVEL", "DATABASE_URL", "POSTGRES_PASSWORD",
             "REDIS_URL", "API_TOKEN", "AWS_SECRET_ACCESS_KEY", "JAVA_OPTS", "NODE_ENV", "PORT", "WORKERS",
             "SENTRY_DSN", "SMTP_HOST", "FEATURE_FLAGS", "GITHUB_TOKEN", "HTTP_PROXY"]
CAPS = ["NET_ADMIN", "SYS_ADMIN", "SYS_PTRACE", "NET_RAW", "CAP_SYS_MODULE", "DAC_READ_SEARCH",
        "CHOWN", "SETUID", "SETGID", "NET_BIND_SERVICE", "sys_time", "ALL"]
USERS = ["", "", "", "root", "0", "0:0", "1000", "1000:1000", "app", "nobody", "www-data:www-data", "65534"]
RESTARTS = [("no", 0), ("no", 0), ("always", 0), ("unless-stopped", 0), ("on-failure", 3),
            ("on-failure", 5), ("on-failure", 10), ("on-failure", 0)]
SECURITY_OPTS = [None, None, ["no-new-privileges:true"], ["no-new-privileges"], ["seccomp=unconfined"],
                 ["apparmor=unconfined"], ["apparmor=docker-default", "no-new-privileges:true"],
                 ["label=disable"], ["seccomp=/etc/docker/seccomp.json", "no-new-privileges=true"]]
HOST_PATHS = ["/srv/data", "/var/log", "/etc", "/", "/boot", "/dev", "/proc", "/sys", "/usr",
              "/var/run/docker.sock", "/run/docker.sock", "/home/app", "/opt/config", "/lib/modules"]
CUSTOM_NETWORKS = ["frontend", "backend", "monitoring", "shop_default", "crm_default"]


def _hex(rng: random.Random, n: int = 64) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(n))


def _base() -> dict[str, Any]:
    return json.loads(BASE.read_text(encoding="utf-8"))


def _timestamp(rng: random.Random) -> str:
    return (f"2026-{rng.randint(1, 11):02d}-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:"
            f"{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{rng.randint(0, 999999999):09d}Z")


def _images(rng: random.Random, template: dict[str, Any], count: int) -> list[dict[str, Any]]:
    out = []
    seen: set[str] = set()
    while len(out) < count:
        repo, tag = rng.choice(REPOS), rng.choice(TAGS)
        ref = f"{repo}:{tag}" if len(seen) < len(REPOS) * len(TAGS) else f"{repo}:{tag}-{len(out)}"
        if ref in seen:
            continue
        seen.add(ref)
        image = copy.deepcopy(template)
        iid = "sha256:" + _hex(rng)
        inspect = image["inspect"]
        inspect["Id"] = iid
        inspect["RepoTags"] = [ref]
        inspect["RepoDigests"] = [f"{repo}@sha256:{_hex(rng)}"] if rng.random() < 0.7 else []
        inspect["Created"] = _timestamp(rng)
        config = inspect.get("Config") or {}
        config["User"] = rng.choice(USERS)
        config["Env"] = [f"{name}=<redacted>" for name in rng.sample(ENV_NAMES, rng.randint(1, 5))]
        if rng.random() < 0.3:
            config["Healthcheck"] = {"Test": ["CMD-SHELL", "wget -q -O- http://localhost/ || exit 1"],
                                     "Interval": 30_000_000_000, "Timeout": 5_000_000_000, "Retries": 3}
        else:
            config.pop("Healthcheck", None)
        config["Labels"] = {"org.opencontainers.image.source": f"https://git.example.com/{repo}"} if rng.random() < 0.5 else None
        for layer in image.get("history") or []:
            layer["Id"] = "sha256:" + _hex(rng) if layer.get("Id", "").startswith("sha256:") else layer.get("Id")
        if image.get("history"):
            image["history"][0]["Tags"] = [ref]
            if rng.random() < 0.2:
                image["history"].append({"Comment": "", "Created": 1795923224, "Id": "<missing>", "Size": 0, "Tags": None,
                                         "CreatedBy": "/bin/sh -c #(nop) ADD https://example.com/setup.sh /tmp/"})
        out.append(image)
    return out


def _ports(rng: random.Random) -> tuple[dict[str, Any], dict[str, Any]]:
    bindings: dict[str, Any] = {}
    published: dict[str, Any] = {}
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
        port = rng.choice([22, 80, 443, 5432, 6379, 8080, 8443, 9090, 3000, 2375])
        key = f"{port}/{rng.choice(['tcp', 'tcp', 'udp'])}"
        host_ip = rng.choice(["", "", "0.0.0.0", "127.0.0.1", "::", "10.0.0.5"])
        host_port = str(rng.choice([port, port + 8000, rng.randint(1, 1023), rng.randint(1024, 65535)]))
        bindings[key] = [{"HostIp": host_ip, "HostPort": host_port}]
        published[key] = [{"HostIp": host_ip or "0.0.0.0", "HostPort": host_port}]
        if not host_ip:
            published[key].append({"HostIp": "::", "HostPort": host_port})
    return bindings, published


def _mounts(rng: random.Random, volume_names: list[str]) -> tuple[list[str], list[dict[str, Any]]]:
    binds: list[str] = []
    mounts: list[dict[str, Any]] = []
    for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 4])):
        if rng.random() < 0.5:
            source = rng.choice(HOST_PATHS)
            dest = source if source.endswith(".sock") else f"/mnt{source.rstrip('/') or '/host'}"
            rw = rng.random() < 0.6
            propagation = rng.choice(["rprivate", "rprivate", "rshared", "rslave"])
            binds.append(f"{source}:{dest}" + ("" if rw else ":ro") + (f",{propagation}" if propagation != "rprivate" else ""))
            mounts.append({"Destination": dest, "Mode": "" if rw else "ro", "Propagation": propagation,
                           "RW": rw, "Source": source, "Type": "bind"})
        else:
            name = rng.choice(volume_names)
            dest = rng.choice(["/data", "/var/lib/postgresql/data", "/cache", "/srv/uploads"])
            if any(m["Destination"] == dest for m in mounts):
                continue
            binds.append(f"{name}:{dest}")
            mounts.append({"Destination": dest, "Driver": "local", "Mode": "z", "Name": name, "Propagation": "",
                           "RW": True, "Source": f"/var/lib/docker/volumes/{name}/_data", "Type": "volume"})
    return binds, mounts


def _container(rng: random.Random, template: dict[str, Any], index: int, images: list[dict[str, Any]],
               networks: dict[str, dict[str, Any]], volume_names: list[str]) -> dict[str, Any]:
    item = copy.deepcopy(template)
    c = item["inspect"]
    cid = _hex(rng)
    project, service = rng.choice(PROJECTS), rng.choice(SERVICES)
    name = f"{project}-{service}-{index}"
    image = rng.choice(images)["inspect"]
    c["Id"] = cid
    c["Name"] = "/" + name
    c["Created"] = _timestamp(rng)
    c["Image"] = image["Id"]
    for key in ("HostnamePath", "HostsPath", "ResolvConfPath"):
        c[key] = f"/var/lib/docker/containers/{cid}/{key[:-4].lower()}"
    c["LogPath"] = f"/var/lib/docker/containers/{cid}/{cid}-json.log"
    layer = _hex(rng)
    c["GraphDriver"]["Data"] = {"LowerDir": f"/var/lib/docker/overlay2/{layer}-init/diff:/var/lib/docker/overlay2/{_hex(rng)}/diff",
                                "MergedDir": f"/var/lib/docker/overlay2/{layer}/merged",
                                "UpperDir": f"/var/lib/docker/overlay2/{layer}/diff",
                                "WorkDir": f"/var/lib/docker/overlay2/{layer}/work"}
    config, host = c["Config"], c["HostConfig"]
    config["Hostname"] = cid[:12]
    config["Image"] = (image.get("RepoTags") or [image["Id"]])[0]
    config["User"] = rng.choice(USERS)
    config["Env"] = sorted({f"{n}=<redacted>" for n in ["PATH", *rng.sample(ENV_NAMES, rng.randint(0, 8))]})
    labels = {"com.docker.compose.project": project, "com.docker.compose.service": service,
              "com.docker.compose.container-number": str(index % 5 + 1)} if rng.random() < 0.6 else {}
    if rng.random() < 0.3:
        labels["traefik.enable"] = "true"
        labels[f"traefik.http.routers.{service}.rule"] = f"Host(`{service}.example.com`)"
    if rng.random() < 0.2:
        labels["maintainer"] = "ops@example.com"
    config["Labels"] = labels
    healthy = rng.random()
    if healthy < 0.4:
        config["Healthcheck"] = {"Test": ["CMD", "wget", "-q", "--spider", "http://localhost:8080/health"],
                                 "Interval": 30_000_000_000, "Retries": 3}
    elif healthy < 0.45:
        config["Healthcheck"] = {"Test": ["NONE"]}
    else:
        config.pop("Healthcheck", None)
    running = rng.random() < 0.8
    state = c["State"]
    if running:
        state.update({"Running": True, "Status": "running", "Pid": rng.randint(1000, 4_000_000), "ExitCode": 0,
                      "StartedAt": _timestamp(rng), "FinishedAt": "0001-01-01T00:00:00Z"})
        if "Healthcheck" in config and config["Healthcheck"]["Test"] != ["NONE"]:
            status = rng.choice(["healthy", "healthy", "healthy", "unhealthy", "starting"])
            state["Health"] = {"Status": status, "FailingStreak": 0 if status == "healthy" else rng.randint(1, 9),
                               "Log": [{"Start": _timestamp(rng), "End": _timestamp(rng), "ExitCode": 0 if status == "healthy" else 1,
                                        "Output": "ok\n" if status == "healthy" else "connection refused\n"}]}
        else:
            state.pop("Health", None)
    else:
        state.update({"Running": False, "Status": rng.choice(["exited", "exited", "created"]), "Pid": 0,
                      "ExitCode": rng.choice([0, 0, 1, 137, 143]), "FinishedAt": _timestamp(rng)})
        state.pop("Health", None)
    host["Memory"] = rng.choice([0, 0, 67108864, 134217728, 536870912, 2147483648])
    host["MemorySwap"] = 0 if host["Memory"] == 0 else host["Memory"] * rng.choice([1, 2])
    host["CpuShares"] = rng.choice([0, 0, 512, 1024, 2048])
    host["NanoCpus"] = rng.choice([0, 0, 500_000_000, 1_000_000_000, 2_000_000_000])
    host["PidsLimit"] = rng.choice([None, None, 0, -1, 100, 512])
    host["ReadonlyRootfs"] = rng.random() < 0.25
    host["Privileged"] = rng.random() < 0.03
    host["CapAdd"] = rng.sample(CAPS, rng.randint(1, 3)) if rng.random() < 0.25 else None
    host["CapDrop"] = ["ALL"] if rng.random() < 0.2 else (["NET_RAW"] if rng.random() < 0.1 else None)
    host["SecurityOpt"] = copy.deepcopy(rng.choice(SECURITY_OPTS))
    name_, retries = rng.choice(RESTARTS)
    host["RestartPolicy"] = {"Name": name_, "MaximumRetryCount": retries}
    host["PidMode"] = "host" if rng.random() < 0.03 else ""
    host["IpcMode"] = rng.choice(["private"] * 20 + ["host", "shareable"])
    host["UTSMode"] = "host" if rng.random() < 0.02 else ""
    host["UsernsMode"] = "host" if rng.random() < 0.02 else ""
    host["CgroupParent"] = "/custom.slice" if rng.random() < 0.03 else ""
    host["Devices"] = [{"PathOnHost": "/dev/fuse", "PathInContainer": "/dev/fuse", "CgroupPermissions": "rwm"}] if rng.random() < 0.03 else []
    host["Ulimits"] = [{"Name": "nofile", "Soft": 65536, "Hard": 65536}] if rng.random() < 0.1 else []
    host["LogConfig"] = {"Type": rng.choice(["json-file", "json-file", "journald", "syslog", "local"]),
                         "Config": {"max-size": "10m"} if rng.random() < 0.4 else {}}
    bindings, published = _ports(rng)
    host["PortBindings"] = bindings
    host["PublishAllPorts"] = rng.random() < 0.02
    binds, mounts = _mounts(rng, volume_names)
    host["Binds"] = binds or None
    c["Mounts"] = mounts
    mode = rng.choice(["default"] * 6 + ["bridge", "host", *CUSTOM_NETWORKS])
    host["NetworkMode"] = mode
    settings = c["NetworkSettings"]
    template_endpoint = next(iter((settings.get("Networks") or {}).values()), None) or {}
    if mode == "host":
        endpoints = {"host": {**template_endpoint, "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "MacAddress": ""}}
        published = {}
    else:
        net_name = "bridge" if mode in ("default", "bridge") else mode
        ip = f"172.{17 + CUSTOM_NETWORKS.index(net_name) + 1 if net_name in CUSTOM_NETWORKS else 17}.{index // 250 % 250}.{index % 250 + 2}"
        endpoints = {net_name: {**template_endpoint, "IPAddress": ip if running else "",
                                "EndpointID": _hex(rng) if running else "",
                                "NetworkID": networks[net_name]["Id"], "MacAddress": f"02:42:ac:11:{index // 256 % 256:02x}:{index % 256:02x}"}}
        if running and net_name in networks:
            networks[net_name].setdefault("Containers", {})[cid] = {
                "EndpointID": endpoints[net_name]["EndpointID"], "IPv4Address": f"{ip}/16", "IPv6Address": "",
                "MacAddress": endpoints[net_name]["MacAddress"], "Name": name}
    settings["Networks"] = endpoints
    settings["Ports"] = published if running else {}
    settings["SandboxID"] = _hex(rng) if running else ""
    settings["SandboxKey"] = f"/var/run/docker/netns/{settings['SandboxID'][:12]}" if running else ""
    if running:
        titles = ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        commands = [" ".join(config.get("Cmd") or ["sh"])]
        if rng.random() < 0.3:
            commands.append(rng.choice(["nginx: worker process", "/usr/sbin/sshd -D", "python app.py", "sleep 3600"]))
        pid = state["Pid"]
        item["processes"] = {"Titles": titles, "Processes": [
            [rng.choice(["root", "1000", "nobody"]), str(pid + k), str(pid - 20 if k == 0 else pid), "0", "03:45", "?",
             "00:00:00", cmd] for k, cmd in enumerate(commands)]}
    else:
        item["processes"] = None
    return item


def generate(containers: int, seed: int = 9) -> dict[str, Any]:
    """A snapshot dict with `containers` containers, deterministic for a seed."""
    rng = random.Random(f"hullcheck-bench-{seed}-{containers}")
    snap = _base()
    templates = snap["containers"]
    image_template = next(i for i in snap["images"] if i["inspect"].get("RepoTags"))
    images = _images(rng, image_template, max(3, min(containers // 8, 300)))
    bridge = next(n for n in snap["networks"] if n.get("Name") == "bridge")
    networks: dict[str, dict[str, Any]] = {n["Name"]: copy.deepcopy(n) for n in snap["networks"]}
    for net in networks.values():
        net["Containers"] = {}
    for name in CUSTOM_NETWORKS:
        net = copy.deepcopy(bridge)
        net.update({"Name": name, "Id": _hex(rng), "Containers": {}, "Options": {}, "Created": _timestamp(rng),
                    "Labels": {"com.docker.compose.network": name} if name.endswith("_default") else {}})
        net["IPAM"] = {"Config": [{"Subnet": f"172.{18 + CUSTOM_NETWORKS.index(name)}.0.0/16"}], "Driver": "default", "Options": None}
        if rng.random() < 0.5:
            net["Options"]["com.docker.network.bridge.enable_icc"] = "false"
        networks[name] = net
    volume_names = [f"vol-{k}-{_hex(rng, 8)}" for k in range(max(2, containers // 20))]
    items = [_container(rng, templates[i % len(templates)], i, images, networks, volume_names) for i in range(containers)]
    items.sort(key=lambda it: (it["inspect"]["Name"], it["inspect"]["Id"]))  # the collector's order
    snap["containers"] = items
    snap["images"] = sorted([i for i in snap["images"]] + images, key=lambda i: i["inspect"]["Id"])
    snap["networks"] = sorted(networks.values(), key=lambda n: (n["Name"], n["Id"]))
    snap["volumes"] = [{"CreatedAt": "2026-11-01T10:00:00Z", "Driver": "local", "Labels": None,
                        "Mountpoint": f"/var/lib/docker/volumes/{v}/_data", "Name": v, "Options": None, "Scope": "local"}
                       for v in sorted(volume_names)]
    running = sum(1 for it in items if it["inspect"]["State"]["Running"])
    info = snap["engine"].get("info") or {}
    info.update({"Containers": containers, "ContainersRunning": running, "ContainersStopped": containers - running,
                 "ContainersPaused": 0, "Images": len(snap["images"])})
    meta = snap["meta"]
    meta["hostname"] = f"bench-{containers}"
    meta["errors"] = []
    return snap


def dumps(snapshot: dict[str, Any]) -> str:
    """Serialise exactly as the collector does (collector.snapshot.dumps)."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from collector.snapshot import dumps as collector_dumps

    return collector_dumps(snapshot)


def write(containers: int, path: str | Path, seed: int = 9) -> Path:
    """Generate and write a snapshot file; returns its path."""
    out = Path(path)
    out.write_text(dumps(generate(containers, seed)), encoding="utf-8")
    return out


def cached(containers: int, directory: str | Path, seed: int = 9) -> Path:
    """The snapshot file for (containers, seed) in `directory`, generated once and reused.

    The file name carries a digest of this generator and the base snapshot, so an edit to either
    regenerates it."""
    digest = hashlib.sha256(Path(__file__).read_bytes() + BASE.read_bytes()).hexdigest()[:10]
    path = Path(directory) / f"snapshot-{containers}-s{seed}-{digest}.json"
    if not path.exists():
        Path(directory).mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        write(containers, tmp, seed)
        tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--containers", "-n", type=int, default=500, help="number of containers (default 500)")
    parser.add_argument("--seed", type=int, default=9, help="random seed (default 9): same seed, same file")
    parser.add_argument("--output", "-o", default="-", help="file to write (default stdout)")
    args = parser.parse_args(argv)
    if args.containers < 0:
        parser.error("--containers must be >= 0")
    text = dumps(generate(args.containers, args.seed))
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
