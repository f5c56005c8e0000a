"""The guard judges the container a request will become: the planned container equals the started one.

For each set of `docker run` flags, the guard (in this process, audit-only, on a private dockerd)
plans the container from the CLI's real create request; the container is then started and
collected as `hullcheck collect` does. The planned inspect must match the real one in every field
a container policy reads, and every container policy must give the planned and the real
container the same verdict (the policies about running processes are not judged on a plan).
"""

from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest
from runtime_support import PLUGIN_DIR, docker, guarded_dockerd, plugin_name, wait_for

from collector import CollectOptions, collect
from collector.live import facts_of
from evaluator.worker_pool import Evaluator, Source
from hullcheck_runtime.guard import Guard, GuardOptions
from hullcheck_runtime.judge import JudgeOptions, container_policies
from hullcheck_runtime.plugin import PluginServer
from testimage import IMAGE, build_busybox

VARIANTS: dict[str, list[str]] = {
    "plain": [],
    "hardened": ["--read-only", "--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE", "--memory", "64m",
                 "--pids-limit", "64", "--cpus", "0.5", "--user", "1000:1000", "--security-opt", "no-new-privileges",
                 "--restart", "on-failure:3", "--health-cmd", "/bin/true", "--network", "none", "--init"],
    "published": ["-p", "127.0.0.1:8080:80", "-p", "443", "--expose", "9000", "--cpu-shares", "512"],
    "mounts": ["-v", "/etc:/host-etc:ro", "-v", "hc-data:/data", "--tmpfs", "/run", "--mount", "type=tmpfs,dst=/scratch",
               "--mount", "type=bind,src=/tmp,dst=/host-tmp,readonly"],
    "widened": ["--cap-add", "NET_ADMIN", "--cap-add", "SYS_PTRACE", "--pid", "host", "--ipc", "host", "--uts", "host",
                "--security-opt", "seccomp=unconfined", "--device", "/dev/null:/dev/hc-null", "--restart", "always",
                "--memory", "32m", "--memory-swap", "64m", "--log-driver", "none"],
    "userns": ["--userns", "host", "--publish-all", "--expose", "8443", "-e", "API_TOKEN=hc-secret-value"],
}
# Fields the container policies read, as JSON Pointers into the container item.
FIELDS = [
    "/inspect/HostConfig/Privileged", "/inspect/HostConfig/CapAdd", "/inspect/HostConfig/CapDrop",
    "/inspect/HostConfig/PidMode", "/inspect/HostConfig/IpcMode", "/inspect/HostConfig/UTSMode",
    "/inspect/HostConfig/UsernsMode", "/inspect/HostConfig/NetworkMode", "/inspect/HostConfig/ReadonlyRootfs",
    "/inspect/HostConfig/Memory", "/inspect/HostConfig/MemorySwap", "/inspect/HostConfig/PidsLimit",
    "/inspect/HostConfig/NanoCpus", "/inspect/HostConfig/CpuShares", "/inspect/HostConfig/CpuQuota",
    "/inspect/HostConfig/CgroupParent", "/inspect/HostConfig/RestartPolicy", "/inspect/HostConfig/Devices",
    "/inspect/HostConfig/DeviceCgroupRules", "/inspect/HostConfig/Binds", "/inspect/HostConfig/PortBindings",
    "/inspect/HostConfig/PublishAllPorts", "/inspect/HostConfig/LogConfig/Type", "/inspect/HostConfig/ShmSize",
    "/inspect/HostConfig/CgroupnsMode", "/inspect/HostConfig/Runtime", "/inspect/HostConfig/Tmpfs",
    "/inspect/HostConfig/SecurityOpt", "/inspect/HostConfig/Init", "/inspect/HostConfig/Ulimits",
    "/inspect/Config/User", "/inspect/Config/Healthcheck", "/inspect/Config/Image", "/inspect/Config/Cmd",
    "/inspect/Config/Entrypoint", "/inspect/Config/ExposedPorts", "/inspect/AppArmorProfile",
    "/inspect/ProcessLabel", "/inspect/State/Running", "/inspect/Image",
]


def _get(item: dict[str, Any], pointer: str) -> Any:
    value: Any = item
    for part in pointer.strip("/").split("/"):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@pytest.fixture(scope="module")
def planned_and_real(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    name = plugin_name()
    daemon = guarded_dockerd(name)
    plans: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    def keep(request: Any, snapshot: dict[str, Any], decision: Any) -> None:
        if request.kind == "container create" and snapshot:
            with lock:
                plans[decision.record["container"]] = snapshot

    log = tmp_path_factory.mktemp("plans") / "decisions.jsonl"
    options = GuardOptions(name=name, enforce=None, log=log, docker_host=daemon.url, judge=JudgeOptions(),
                           facts_interval=3600)
    guard = Guard(options, warn=lambda message: None, on_judged=keep)
    server = PluginServer(PLUGIN_DIR / f"{name}.sock", guard.authorize)
    server.serve_in_thread()
    try:
        with daemon:
            client = daemon.client()
            build_busybox(client, IMAGE, b'HEALTHCHECK --interval=30s CMD ["/bin/true"]\nENV IMAGE_ENV=1\n')
            client.close()
            wait_for(lambda: guard.facts.ready, 60, "the guard to read the engine's facts")
            for variant, flags in VARIANTS.items():
                done = docker(daemon, "run", "-d", "--name", variant, *flags, IMAGE, "sleep", "3600")
                assert done.returncode == 0, (variant, done.stderr)
            real = collect(CollectOptions(docker_host=daemon.url))
            yield {"plans": plans, "real": real, "policies": guard.judge.policies}
    finally:
        server.shutdown()
        server.shutdown_and_remove()
        guard.close()


def _real_item(real: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in real["containers"] if c["inspect"]["Name"] == f"/{name}")


def _planned_item(plans: dict[str, Any], name: str) -> dict[str, Any]:
    (item,) = plans[name]["containers"]
    return item


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_the_planned_container_is_the_started_one_in_every_field_policies_read(planned_and_real, variant):
    planned = _planned_item(planned_and_real["plans"], variant)
    real = _real_item(planned_and_real["real"], variant)
    for pointer in FIELDS:
        assert _get(planned, pointer) == _get(real, pointer), (variant, pointer, _get(planned, pointer), _get(real, pointer))
    assert ("Health" in planned["inspect"]["State"]) == ("Health" in real["inspect"]["State"])
    assert sorted(planned["inspect"]["Config"]["Env"]) == sorted(real["inspect"]["Config"]["Env"])

    def mounts(item: dict[str, Any]) -> list[tuple[Any, ...]]:
        return sorted((m["Type"], m["Destination"], m["RW"], m.get("Propagation"), m["Source"] if m["Type"] == "bind" else m.get("Name"))
                      for m in item["inspect"]["Mounts"])
    assert mounts(planned) == mounts(real)
    networks = real["inspect"]["NetworkSettings"]["Networks"]
    assert {k: v["NetworkID"] for k, v in planned["inspect"]["NetworkSettings"]["Networks"].items()} == \
        {k: v["NetworkID"] for k, v in networks.items()}

    def ports(item: dict[str, Any], given: bool) -> dict[str, Any]:
        out = {}
        for key, bindings in (item["inspect"]["NetworkSettings"]["Ports"] or {}).items():
            out[key] = sorted({(b["HostIp"], b["HostPort"] if given else "") for b in bindings or [] if b["HostIp"] != "::"})
        return out
    published = {k: v for k, v in (real["inspect"]["HostConfig"]["PortBindings"] or {}).items()}
    exact = all(b.get("HostPort") for bs in published.values() for b in bs) and not real["inspect"]["HostConfig"]["PublishAllPorts"]
    assert ports(planned, exact) == ports(real, exact)


def test_every_container_policy_gives_the_plan_and_the_started_container_the_same_verdict(planned_and_real):
    policies = planned_and_real["policies"]
    real = copy.deepcopy(planned_and_real["real"])
    real["containers"] = [c for c in real["containers"] if c["inspect"]["Name"].lstrip("/") in VARIANTS]
    with Evaluator(policies) as evaluator:
        real_results = evaluator.evaluate(_source("real", real))
        differences = []
        for variant in sorted(VARIANTS):
            plan = planned_and_real["plans"][variant]
            planned_results = evaluator.evaluate(_source(variant, plan))
            judged = {r["id"] for r in planned_results["results"]}
            for result in real_results["results"]:
                if result["id"] not in judged:
                    assert "processes" in next(p for p in policies if p.id == result["id"]).scope
                    continue
                want = _status(result, variant)
                got = _status(next(r for r in planned_results["results"] if r["id"] == result["id"]), variant)
                if want != got:
                    differences.append((variant, result["id"], "real", want, "planned", got))
    assert not differences, differences
    assert "hc-secret-value" not in json.dumps(planned_and_real["plans"]), "planned containers are redacted as snapshots are"


def _source(name: str, snapshot: dict[str, Any]) -> Source:
    return Source.collected(name, snapshot, json.dumps(snapshot).encode())


def _status(result: dict[str, Any], container: str) -> str:
    if result["status"] == "error" and not result["findings"]:
        return "error"
    for finding in result["findings"]:
        if finding["resource"]["name"] == container:
            return finding["status"]
    if any(p["name"] == container for p in result["passed"]):
        return "pass"
    return result["status"]  # not_applicable / manual: the same for every container


def test_facts_subjects_are_what_the_guard_holds(planned_and_real):
    plan = planned_and_real["plans"]["plain"]
    assert plan["meta"]["source"]["kind"] == "request"
    assert plan["meta"]["source"]["subjects"] == ["container", *facts_of(planned_and_real["real"]).subjects]
    assert plan["images"] is None and len(plan["containers"]) == 1
    assert container_policies(JudgeOptions()) and Path(PLUGIN_DIR).is_dir()
