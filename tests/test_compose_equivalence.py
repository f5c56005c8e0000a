"""Planned and live agree: the recorded Compose projects brought up with docker-compose 1.29 against a
private dockerd in its own network namespace, collected live, and judged by the same pack as their
planned snapshots.

For every automated section-5 policy and every container (matched by the com.docker.compose.*
labels), a planned `pass` or `fail` must be the live verdict too. A plan does not judge the
policies that need what a file cannot say (the host, the daemon, processes: listed as not judged,
evaluator/scope.py); a planned `error` is allowed only where the image is unknown, listed here,
so a policy cannot drop out of the comparison unnoticed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from typing import Any

import pytest

from collector import CollectOptions, collect, dumps
from evaluator import Source
from tests.collector_support import PrivateDockerd, build_busybox
from tests.compose_support import FILES, plan, staged

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(shutil.which("docker-compose") is None or shutil.which("dockerd") is None or os.geteuid() != 0,
                       reason="needs root, dockerd and docker-compose (1.29)"),
]

IMAGE = "hullcheck-test/busybox:1"  # what the recorded projects name

# Policies a plan may leave `error`, and why.
NEEDS_MORE_THAN_THE_FILE = {
    "cis-docker-5.27": "the image's HEALTHCHECK, unless the service defines one",
}
# Section-5 policies a plan does not judge (its not_judged list), and why.
NOT_JUDGED_FROM_A_PLAN = {
    "cis-docker-5.1": "swarm state is the engine's",
    "cis-docker-5.2": "AppArmor is the host's",
    "cis-docker-5.3": "SELinux is the host's",
    "cis-docker-5.7": "processes exist only once running",
    "cis-docker-5.23": "docker exec sessions exist only once running (manual)",
    "cis-docker-5.24": "docker exec sessions exist only once running (manual)",
}


def _verdicts(document: dict[str, Any]) -> dict[str, dict[str, str]]:
    """policy id -> resource key -> pass / fail / error, for automated section-5 policies."""
    out: dict[str, dict[str, str]] = {}
    for result in document["results"]:
        if not result["id"].startswith("cis-docker-5.") or not result["automated"]:
            continue
        per = {ref["key"]: "pass" for ref in result["passed"]}
        per.update({f["resource"]["key"]: f["status"] for f in result["findings"]})
        out[result["id"]] = per
    return out


@pytest.fixture(scope="module")
def daemon():
    dockerd = PrivateDockerd(None, own_netns=True).start()
    try:
        client = dockerd.client()
        build_busybox(client, IMAGE)
        client.close()
        yield dockerd
    finally:
        dockerd.stop()


@pytest.mark.parametrize("name", sorted(FILES))
def test_planned_and_live_verdicts_agree(name, daemon, evaluator, tmp_path):
    # The socket a service mounts is the private daemon's own, never the shared system socket.
    environ = {"SOCK_DIR": str(daemon.dir)}
    planned = plan(name, environ=environ)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DOCKER_HOST": daemon.url, **environ}
    args = [a for f in FILES[name] for a in ("-f", f)]
    with staged(name, tmp_path) as project:
        up = subprocess.run(["docker-compose", *args, "up", "-d"], cwd=project, env=env, capture_output=True,
                            text=True, timeout=300, check=False)
        try:
            assert up.returncode == 0, up.stderr[-2000:]
            live = collect(CollectOptions(docker_host=daemon.url, label_filter=[f"com.docker.compose.project={name}"]))
            # The kernel's view of the namespaces depends on where the daemon runs (its own network
            # namespace here) and on its user-namespace remapping, which no Compose file says: the
            # plan is compared with what the engine reports, as a collection without it would be.
            for container in live["containers"]:
                container.pop("namespaces", None)
        finally:
            subprocess.run(["docker-compose", *args, "down", "-v", "--timeout", "1"], cwd=project, env=env,
                           capture_output=True, timeout=300, check=False)
    assert len(live["containers"]) == len(planned["containers"])
    planned_document = evaluator.evaluate(Source(name="planned", data=dumps(planned).encode()))
    ours = _verdicts(planned_document)
    assert {p["id"] for p in planned_document["not_judged"]["policies"] if p["id"].startswith("cis-docker-5.")} \
        == set(NOT_JUDGED_FROM_A_PLAN)
    theirs = _verdicts(evaluator.evaluate(Source(name="live", data=dumps(live).encode())))
    compared = 0
    disagreements = []
    for policy, per in ours.items():
        for key, verdict in per.items():
            if verdict == "error":
                assert policy in NEEDS_MORE_THAN_THE_FILE, f"{policy} on {key}: planned error without a listed reason"
                continue
            compared += 1
            if theirs.get(policy, {}).get(key) != verdict:
                disagreements.append(f"{policy} {key}: planned {verdict}, live {theirs.get(policy, {}).get(key)}")
    assert not disagreements, "\n".join(disagreements)
    print(f"{name}: {compared} planned verdicts compared with live, {len(planned['containers'])} containers")
    # A floor, so the agreement above cannot hold vacuously: most of section 5's automated policies
    # are judged from the file alone (those listed above need more).
    assert compared >= 18 * len(planned["containers"]), compared


def test_images_from_engine_fill_in_what_only_the_image_knows(daemon, evaluator, tmp_path):
    client = daemon.client()
    try:
        build_busybox(client, "hullcheck-test/busybox-user:1", b'USER 1000:1000\nHEALTHCHECK CMD ["true"]\n')
    finally:
        client.close()
    (tmp_path / "compose.yaml").write_text(
        "services:\n  app:\n    image: hullcheck-test/busybox-user:1\n  bare:\n    image: hullcheck-test/busybox:1\n"
        "  gone:\n    image: hullcheck-test/not-built:1\n")
    from collector.compose import ComposeOptions, collect_compose

    snap = collect_compose(ComposeOptions(files=[str(tmp_path / "compose.yaml")], environ={}, images_from_engine=True,
                                          docker_host=daemon.url))
    by = {c["planned"]["service"]: c["inspect"] for c in snap["containers"]}
    assert by["app"]["Config"]["User"] == "1000:1000" and "Health" in by["app"]["State"]
    assert by["bare"]["Config"]["User"] == "" and "Health" not in by["bare"]["State"]
    document = evaluator.evaluate(Source(name="planned", data=dumps(snap).encode()))
    results = {r["id"]: r for r in document["results"]}
    verdicts = {f["resource"]["key"].split("/")[-2]: f["status"] for f in results["cis-docker-4.1"]["findings"]}
    verdicts.update({p["key"].split("/")[-2]: "pass" for p in results["cis-docker-4.1"]["passed"]})
    # an image the engine lacks stays unknown: error, never pass
    assert verdicts == {"app": "pass", "bare": "fail", "gone": "error"}, verdicts
    assert any(e["source"].startswith("/images/") for e in snap["meta"]["errors"])
    # images read from the engine: the plan holds them, and the image policies judge them
    assert snap["meta"]["source"]["subjects"] == ["container", "image"]
    assert "cis-docker-4.6" in results and "cis-docker-4.6" not in {p["id"] for p in document["not_judged"]["policies"]}
