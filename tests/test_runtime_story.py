"""From pull request to runtime (docs/runtime.md): one policy id, cis-docker-5.32 (the Docker
socket mounted into a container), found in a Compose plan, refused at `docker run` by the guard,
and found by watch on a container that was let through (the guard in audit-only mode).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from runtime_support import GuardProcess, docker, guarded_dockerd, hullcheck_argv, plugin_name, wait_for

from testimage import IMAGE, build_busybox

POLICY = "cis-docker-5.32"
REPO = Path(__file__).resolve().parents[1]


def test_the_same_policy_in_a_compose_plan_at_docker_run_and_in_watch(docker_client: Any, tmp_path: Path) -> None:
    # 1. The pull request: a Compose file planned and judged before anything is deployed.
    compose = tmp_path / "compose.yaml"
    compose.write_text("services:\n  agent:\n    image: registry.example/agent:1.4\n    user: \"1000\"\n"
                       "    volumes:\n      - /var/run/docker.sock:/var/run/docker.sock\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    planned = subprocess.run(hullcheck_argv("audit", "--compose", str(compose), "--policy", POLICY, "-f", "json"),
                             capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert planned.returncode == 1, planned.stderr
    (result,) = json.loads(planned.stdout)["results"]
    (finding,) = result["findings"]
    assert result["id"] == POLICY and finding["status"] == "fail" and "docker.sock" in finding["message"]
    assert any(loc["file"].endswith("compose.yaml") and loc["line"] == 6 for loc in finding["locations"])

    name = plugin_name()
    daemon = guarded_dockerd(name)
    guard = GuardProcess(name, daemon.url, "--enforce", "high").start()
    watch = None
    try:
        with daemon:
            client = daemon.client()
            build_busybox(client, IMAGE)
            client.close()
            mount = f"{daemon.socket}:/var/run/docker.sock"
            # 2. The host: the guard refuses the same setting at `docker run`.
            refused = docker(daemon, "run", "-d", "--name", "agent", "-v", mount, IMAGE, "sleep", "3600")
            assert refused.returncode != 0 and POLICY in refused.stderr and "docker.sock" in refused.stderr
            # 3. Let through (audit-only), watch finds it running.
            out = tmp_path / "watch.jsonl"
            watch = subprocess.Popen(hullcheck_argv("watch", "-o", str(out), "--policy", POLICY),
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                     env={**env, "DOCKER_HOST": daemon.url}, start_new_session=True)
            guard.stop()
            guard = GuardProcess(name, daemon.url, "--audit-only", log=guard.log).start()
            allowed = docker(daemon, "run", "-d", "--name", "agent", "-v", mount, IMAGE, "sleep", "3600")
            assert allowed.returncode == 0, allowed.stderr

            def seen() -> dict[str, Any] | None:
                lines = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
                return next((line for line in lines if line["container"] == "agent" and line["failing"]), None)
            line = wait_for(seen, 60, "watch's verdict on agent")
            assert [f["policy"] for f in line["failing"]] == [POLICY]
            logged = [e for e in guard.decisions() if e.get("container") == "agent"]
            assert [e["decision"] for e in logged] == ["deny", "allow"] and logged[1]["would_refuse_at"] == "critical"
    finally:
        if watch is not None and watch.poll() is None:
            watch.send_signal(signal.SIGTERM)
            watch.wait(timeout=30)
        guard.stop()
