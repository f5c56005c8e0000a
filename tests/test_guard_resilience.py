"""`hullcheck guard` when things go wrong: killed under load and restarted, its jq worker killed,
a slow or failing policy, audit-only and waivers, and what dockerd does while the plugin is down.

One private dockerd (its own network namespace) asks plugin NAME; each test starts the guard it
needs under that name (`swap`), as an operator restarting it with other flags would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from collector_support import PrivateDockerd
from runtime_support import GuardProcess, docker, guarded_dockerd, plugin_name, wait_for

from testimage import IMAGE, build_busybox

SLEEP = ["sleep", "3600"]


@pytest.fixture(scope="module")
def lab(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    name = plugin_name()
    daemon = guarded_dockerd(name)
    log = tmp_path_factory.mktemp("guard") / "decisions.jsonl"
    state: dict[str, Any] = {"guard": GuardProcess(name, daemon.url, "--audit-only", log=log).start(),
                             "daemon": daemon, "name": name, "log": log}

    def swap(*args: str) -> GuardProcess:
        state["guard"].stop()
        state["guard"] = GuardProcess(name, daemon.url, *args, log=log).start()
        return state["guard"]

    state["swap"] = swap
    try:
        with daemon:
            client = daemon.client()
            build_busybox(client, IMAGE)
            client.close()
            yield state
            swap("--audit-only")  # dockerd's own teardown removes its containers through the guard
    finally:
        state["guard"].stop()


def _decisions(log: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def _for(log: Path, container: str) -> list[dict[str, Any]]:
    return [e for e in _decisions(log) if e.get("container") == container]


def test_audit_only_allows_and_logs_what_enforcement_would_refuse(lab):
    daemon = lab["daemon"]
    lab["swap"]("--audit-only")
    created = docker(daemon, "create", "--name", "audited", "--privileged", IMAGE, *SLEEP)  # created, never started
    assert created.returncode == 0, created.stderr
    (entry,) = _for(lab["log"], "audited")
    assert entry["decision"] == "allow" and entry["would_refuse_at"] == "critical" and entry["mode"] == "audit-only"
    assert entry["reason"].startswith("--enforce critical (or lower) would refuse: ") and "cis-docker-5.5" in entry["reason"]
    assert {"policy": "cis-docker-5.5", "severity": "critical", "status": "fail"}.items() <= \
        next(p for p in entry["policies"] if p["policy"] == "cis-docker-5.5").items()
    assert docker(daemon, "rm", "audited").returncode == 0


def test_waivers_apply_to_the_containers_they_name(lab, tmp_path):
    daemon = lab["daemon"]
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n"
                       "  - id: net-tools\n    policy: cis-docker-5.4\n    resources: [nettools-*]\n"
                       "    reason: the network debugging tool needs NET_ADMIN\n    expires: 2999-12-31\n")
    lab["swap"]("--enforce", "high", "--waivers", str(waivers))
    allowed = docker(daemon, "run", "-d", "--name", "nettools-1", "--cap-add", "NET_ADMIN", IMAGE, *SLEEP)
    assert allowed.returncode == 0, allowed.stderr
    refused = docker(daemon, "run", "-d", "--name", "other-1", "--cap-add", "NET_ADMIN", IMAGE, *SLEEP)
    assert refused.returncode != 0 and "cis-docker-5.4" in refused.stderr
    (entry,) = _for(lab["log"], "nettools-1")
    waived = next(p for p in entry["policies"] if p["policy"] == "cis-docker-5.4")
    assert entry["decision"] == "allow" and waived["status"] == "waived" and waived["waiver"] == "net-tools"


def _pack(directory: Path, policy_id: str, assertion: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{policy_id}.yaml").write_text(
        f"id: {policy_id}\ntitle: A container policy for the guard's tests\n"
        "description: Judges every running container.\nremediation: None needed.\n"
        "severity: high\nlevel: 1\ntags: [container]\ncontrols: {}\nautomated: true\nsubject: container\n"
        f"requires: [/containers]\nresources: running_containers\nassert: '{assertion}'\n"
        'message: \'"container \\(cname)"\'\nevidence: [/inspect/Id]\n')
    return directory


def test_a_policy_error_follows_on_error(lab, tmp_path):
    daemon = lab["daemon"]
    pack = _pack(tmp_path / "pack", "acme-broken", 'error("the policy broke")')
    lab["swap"]("--enforce", "high", "--policies", str(pack), "--policy", "acme-*")
    refused = docker(daemon, "run", "-d", "--name", "erring-1", IMAGE, *SLEEP)
    assert refused.returncode != 0 and "acme-broken could not be judged" in refused.stderr, refused.stderr
    assert "the policy broke" in refused.stderr and "--on-error deny" in refused.stderr
    guard = lab["swap"]("--enforce", "high", "--policies", str(pack), "--policy", "acme-*", "--on-error", "allow")
    allowed = docker(daemon, "run", "-d", "--name", "erring-2", IMAGE, *SLEEP)
    assert allowed.returncode == 0, allowed.stderr
    (entry,) = _for(lab["log"], "erring-2")
    assert entry["decision"] == "allow" and entry["error"] is True and "--on-error allow" in entry["reason"]
    assert "could not be judged" in guard.said(), "an allowed error is said loudly on stderr too"


def test_read_requests_never_wait_for_a_judged_one(lab, tmp_path):
    """A create held up by a slow policy: `docker ps` and `docker images` are answered meanwhile."""
    daemon = lab["daemon"]
    pack = _pack(tmp_path / "slow", "acme-slow", "reduce range(1e10) as $i (0; . + 1) > 0")
    lab["swap"]("--enforce", "high", "--policies", str(pack), "--policy", "acme-*", "--policy-timeout", "8",
                "--on-error", "allow")
    env = {**os.environ, "DOCKER_HOST": daemon.url}
    create = subprocess.Popen(["docker", "create", "--name", "slowly", IMAGE, *SLEEP], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: _judging(lab["guard"]), 30, "the guard to be judging the create")
        for args in (["ps", "-a"], ["images"], ["info"]):
            done = docker(daemon, *args, timeout=60)
            assert done.returncode == 0, done.stderr
            assert create.poll() is None, "the create was decided before the reads were answered"
        out, err = create.communicate(timeout=120)
    finally:
        if create.poll() is None:
            create.kill()
    assert create.returncode == 0, err
    (entry,) = _for(lab["log"], "slowly")
    assert "exceeded the time limit" in entry["reason"] and entry["decision"] == "allow"


def _judging(guard: GuardProcess) -> bool:
    """A jq worker of the guard is busy (its CPU time grows)."""
    def cpu(pid: int) -> int:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            return int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            return 0
    before = {pid: cpu(pid) for pid in guard.workers()}
    time.sleep(0.5)
    return any(cpu(pid) - ticks >= 5 for pid, ticks in before.items())  # busy: an idle worker uses none


def test_a_killed_jq_worker_is_replaced_and_requests_are_still_judged(lab):
    daemon = lab["daemon"]
    guard = lab["swap"]("--enforce", "high")
    for pid in guard.workers():
        os.kill(pid, signal.SIGKILL)
    refused = docker(daemon, "run", "-d", "--name", "after-kill", "--privileged", IMAGE, *SLEEP)
    assert refused.returncode != 0 and "cis-docker-5.5" in refused.stderr, refused.stderr
    wait_for(lambda: guard.workers(), 30, "a new jq worker")
    for pid in guard.workers():
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: "replaced" in guard.said() or "jq worker" in guard.said(), 30, "the guard to replace its worker")
    allowed = docker(daemon, "run", "-d", "--name", "after-kill-2", IMAGE, *SLEEP)
    assert allowed.returncode == 0, allowed.stderr
    assert [e["decision"] for e in _for(lab["log"], "after-kill-2")] == ["allow"]


def test_killed_under_load_and_restarted_loses_no_decision_and_wedges_nothing(lab):
    """SIGKILL mid-load, a new guard a second later. dockerd retries the calls in flight; a call the
    dead guard had read comes back empty (moby#39331: the retry re-sends a drained body) and is
    refused, never allowed unjudged. Every command ends (none hangs), no privileged create gets
    through, every container that exists was allowed by a logged decision, and the log is whole.
    `docker create` only: a wrongly allowed privileged container would never be started."""
    daemon = lab["daemon"]
    guard = lab["swap"]("--enforce", "high")
    start = len(_decisions(lab["log"]))
    jobs = [(f"load-{i}", [] if i % 3 else ["--privileged"]) for i in range(15)]
    results: dict[str, subprocess.CompletedProcess[str]] = {}

    def run(name: str, flags: list[str]) -> None:
        results[name] = docker(daemon, "create", "--name", name, *flags, IMAGE, *SLEEP, timeout=180)

    threads = [threading.Thread(target=run, args=job) for job in jobs]
    for thread in threads:
        thread.start()
    wait_for(lambda: len(_decisions(lab["log"])) > start, 60, "the first decision under load")
    guard.kill()  # SIGKILL mid-load: no cleanup, requests in flight
    time.sleep(1)
    lab["swap"]("--enforce", "high")  # finds the dead guard's socket, takes its place
    for thread in threads:
        thread.join(timeout=240)
    assert not any(t.is_alive() for t in threads), "a docker command hung"
    decided = _decisions(lab["log"])[start:]  # every line whole: json.loads read each one
    existing = set(docker(daemon, "ps", "-a", "--format", "{{.Names}}", timeout=30).stdout.split())
    retried = [e for e in decided if e.get("request") is None]
    for name, flags in jobs:
        proc = results[name]
        mine = [e["decision"] for e in decided if e.get("container") == name]
        if proc.returncode == 0:
            assert not flags, f"{name}: a privileged create was allowed"
            assert name in existing and "allow" in mine, (name, mine)
        else:
            assert f"authorization denied by plugin {lab['name']}" in proc.stderr, (name, proc.stderr)
            assert name not in existing
            if "run the command again" in proc.stderr:
                assert retried, "the refused empty retry is in the log"
            else:
                assert flags and "cis-docker-5.5" in proc.stderr and "deny" in mine, (name, proc.stderr, mine)
    # Nothing wedged: the same load again, on the new guard, is decided as it should be.
    again = [(f"again-{i}", flags) for i, (_, flags) in enumerate(jobs)]
    threads = [threading.Thread(target=run, args=job) for job in again]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    decided = _decisions(lab["log"])
    for name, flags in again:
        mine = [e["decision"] for e in decided if e.get("container") == name]
        assert (results[name].returncode == 0) == (not flags), (name, results[name].stderr)
        assert mine == (["deny"] if flags else ["allow"]), (name, mine)
    assert docker(daemon, "ps", timeout=30).returncode == 0
    for name, _ in jobs + again:
        docker(daemon, "rm", name)


def test_while_the_guard_is_down_dockerd_waits_then_carries_on(lab):
    """dockerd retries a plugin that does not answer (for up to ~30 s per call): a command waits
    instead of failing, and goes through once a guard answers again."""
    daemon = lab["daemon"]
    lab["guard"].stop()
    env = {**os.environ, "DOCKER_HOST": daemon.url}
    waiting = subprocess.Popen(["docker", "ps"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(2)
        assert waiting.poll() is None, "docker ps was answered while no plugin served the name"
        lab["swap"]("--enforce", "high")
        out, err = waiting.communicate(timeout=60)
    finally:
        if waiting.poll() is None:
            waiting.kill()
    assert waiting.returncode == 0, err


def test_recovery_without_the_guard_takes_it_out_of_daemon_json_and_reloads(docker_client: Any):
    """The documented way back when the guard cannot be started: remove it from daemon.json and
    send dockerd SIGHUP (no restart, containers keep running); put it back the same way."""
    name = plugin_name()
    daemon = PrivateDockerd({"authorization-plugins": [name]}, own_netns=True)
    guard = GuardProcess(name, daemon.url, "--enforce", "high").start()
    try:
        with daemon:
            assert docker(daemon, "ps").returncode == 0
            guard.stop()
            _set_plugins(daemon, [])
            assert docker(daemon, "ps", timeout=20).returncode == 0, "without the plugin in daemon.json"
            guard = GuardProcess(name, daemon.url, "--enforce", "high").start()
            _set_plugins(daemon, [name])
            client = daemon.client()
            build_busybox(client, IMAGE)
            client.close()
            refused = docker(daemon, "run", "-d", "--privileged", IMAGE, *SLEEP)
            assert refused.returncode != 0 and f"authorization denied by plugin {name}" in refused.stderr
    finally:
        guard.stop()


def _set_plugins(daemon: PrivateDockerd, plugins: list[str]) -> None:
    config = json.loads(daemon.config_file.read_text())
    config["authorization-plugins"] = plugins
    daemon.config_file.write_text(json.dumps(config))
    log = daemon.dir / "dockerd.log"
    reloads = log.read_text(errors="replace").count("Reloaded configuration")
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGHUP)
    reloaded: Callable[[], bool] = lambda: log.read_text(errors="replace").count("Reloaded configuration") > reloads  # noqa: E731
    wait_for(reloaded, 30, "dockerd to reload daemon.json")
