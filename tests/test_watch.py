"""`hullcheck watch` on a private dockerd: containers judged as they start, exec'd into, after a
daemon restart; the metrics file as node_exporter's textfile collector reads it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
from collector_support import PrivateDockerd
from runtime_support import docker, hullcheck_argv, wait_for

from testimage import IMAGE, build_busybox

SLEEP = ["sleep", "3600"]
REPO = Path(__file__).resolve().parents[1]


class WatchProcess:
    def __init__(self, daemon: PrivateDockerd, directory: Path, *args: str) -> None:
        self.out = directory / "verdicts.jsonl"
        self.metrics = directory / "hullcheck.prom"
        self.stderr = directory / "watch.stderr"
        with open(self.stderr, "wb") as err:
            # The engine by DOCKER_HOST: PrivateDockerd.stop() ends processes naming its directory.
            self.proc = subprocess.Popen(
                hullcheck_argv("watch", "-o", str(self.out), "--metrics", str(self.metrics), *args),
                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True,
                env={**os.environ, "PYTHONPATH": str(REPO), "DOCKER_HOST": daemon.url})

    def said(self) -> str:
        return self.stderr.read_text(errors="replace")

    def lines(self) -> list[dict[str, Any]]:
        if not self.out.exists():
            return []
        return [json.loads(line) for line in self.out.read_text().splitlines()]

    def verdict(self, container: str, event: str, timeout: float = 60) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            assert self.proc.poll() is None, f"watch exited: {self.said()}"
            return next((line for line in self.lines() if line["container"] == container and line["event"] == event), None)
        return wait_for(found, timeout, f"watch's verdict on {container} ({event})")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        return self.proc.returncode


def _failing(line: dict[str, Any]) -> dict[str, str]:
    return {f["policy"]: f["message"] for f in line["failing"]}


def _metrics(path: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    from prometheus_client.openmetrics.parser import text_string_to_metric_families

    out = {}
    for family in text_string_to_metric_families(path.read_text()):  # strict: refuses a malformed file
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


@pytest.fixture(scope="module")
def watched(docker_client: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrivateDockerd, WatchProcess]]:
    with PrivateDockerd({}, own_netns=True) as daemon:
        client = daemon.client()
        build_busybox(client, IMAGE)
        client.close()
        before = docker(daemon, "run", "-d", "--name", "before-1", "--cap-add", "NET_ADMIN", IMAGE, *SLEEP)
        assert before.returncode == 0, before.stderr
        watch = WatchProcess(daemon, tmp_path_factory.mktemp("watch"))
        try:
            wait_for(lambda: "following the events" in watch.said(), 60, "watch to follow the events")
            yield daemon, watch
        finally:
            watch.stop()


def test_a_running_container_is_judged_when_watch_starts(watched):
    _, watch = watched
    line = watch.verdict("before-1", "resync")
    assert "NET_ADMIN" in _failing(line)["cis-docker-5.4"]
    statuses = {r["policy"]: r["status"] for r in line["results"]}
    assert statuses["cis-docker-5.5"] == "pass" and statuses["cis-docker-5.4"] == "fail"
    assert statuses["cis-docker-5.7"] in ("pass", "fail"), "a live container's processes are judged"
    assert line["id"] and line["image"] == IMAGE and line["time"].endswith("Z")


def test_a_container_started_after_watch_and_an_exec_into_it_are_judged(watched):
    daemon, watch = watched
    started = docker(daemon, "run", "-d", "--name", "after-1", "--cap-add", "SYS_ADMIN", IMAGE, *SLEEP)
    assert started.returncode == 0, started.stderr
    line = watch.verdict("after-1", "start")
    assert "hullcheck-cap-sys-admin" in _failing(line) and line["event_time"].endswith("Z")
    client = daemon.client()  # a privileged exec created, never started (it could not start here)
    try:
        client.api.exec_create("after-1", ["/bin/true"], privileged=True)
    finally:
        client.close()
    line = watch.verdict("after-1", "exec_create")
    assert "runs privileged" in _failing(line)["cis-docker-5.5"]

    def metrics_say_two() -> bool:
        values = _metrics(watch.metrics)
        return values.get(("hullcheck_judged_containers", ())) == 2
    wait_for(metrics_say_two, 30, "the metrics to count both running containers")
    values = _metrics(watch.metrics)
    assert values[("hullcheck_failing_containers", (("policy", "cis-docker-5.4"), ("severity", "high")))] == 2
    assert values[("hullcheck_failing_containers", (("policy", "hullcheck-cap-sys-admin"), ("severity", "critical")))] == 1
    assert values[("hullcheck_failing_containers", (("policy", "cis-docker-5.5"), ("severity", "critical")))] == 0, \
        "an exec's privileges are the exec's, not the container's"
    assert oct(watch.metrics.stat().st_mode & 0o777) == "0o644"


def test_watch_carries_on_after_a_daemon_restart(watched):
    daemon, watch = watched
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGTERM)  # no live-restore: its containers stop with it
    daemon.proc.wait(timeout=60)
    daemon.start()
    wait_for(lambda: "connected to the engine again" in watch.said(), 90, "watch to reconnect")
    started = docker(daemon, "run", "-d", "--name", "after-restart", "--pid", "host", IMAGE, *SLEEP)
    assert started.returncode == 0, started.stderr
    line = watch.verdict("after-restart", "start", timeout=90)
    # watch reads the started container on this host: the kernel's view decides, the engine's report is shown beside it
    message = _failing(line)["cis-docker-5.16"]
    assert "the host's" in message and 'PidMode="host"' in message, message

    def only_the_new_one() -> bool:
        values = _metrics(watch.metrics)
        return values.get(("hullcheck_judged_containers", ())) == 1
    wait_for(only_the_new_one, 60, "the stopped containers to leave the metrics")
    assert watch.proc.poll() is None


def test_watch_stops_cleanly(watched, tmp_path):
    daemon, _ = watched
    other = WatchProcess(daemon, tmp_path)
    wait_for(lambda: "following the events" in other.said(), 60, "the second watch to follow")
    assert other.stop() == 143 and "terminated" in other.said()
