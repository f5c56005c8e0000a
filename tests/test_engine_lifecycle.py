"""The private-engine life every engine test relies on (tests/support/lifecycle.py): what it
finds as leftovers, what it never touches, and a real dockerd that crashed with a running
container cleaned up completely while the shared engine and its containers carry on."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from collector_support import PrivateDockerd, build_busybox
from support.lifecycle import leftover_pids, mounts_below, shared_engine_pids

SLEEPER = "import sys, time; time.sleep(float(sys.argv[1]))"


@pytest.fixture
def directory() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="hc-life-", dir="/tmp"))
    yield path
    os.rmdir(path)


@pytest.fixture
def processes() -> Iterator[Any]:
    """Start sleeping processes with the arguments and environment given; all ended afterwards."""
    started: list[subprocess.Popen[bytes]] = []

    def start(*args: str, env: dict[str, str] | None = None, shell_child: bool = False) -> subprocess.Popen[bytes]:
        code = SLEEPER if not shell_child else \
            "import subprocess, sys; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); " \
            "import time; time.sleep(60)"
        proc = subprocess.Popen([sys.executable, "-c", code, "60", *args], env={**os.environ, **(env or {})},
                                start_new_session=True)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.wait(timeout=10)


def _children(pid: int) -> list[int]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"pid {pid} started no child")


def test_leftovers_are_found_by_our_directory_and_nothing_else(directory: Path, processes: Any) -> None:
    ours = processes(f"--data-root={directory}/data")
    ours_too = processes(f"unix://{directory}/docker.sock", shell_child=True)
    child = _children(ours_too.pid)[0]
    by_environ = processes(env={"XDG_RUNTIME_DIR": f"{directory}/run"})
    longer_name = processes(f"{directory}x/data")  # another directory that starts with our name
    # Names our directory, but also the system containerd: the shared engine's (a shim of it, say).
    shared_looking = processes(str(directory), "-address", "/run/containerd/containerd.sock")
    found = set(leftover_pids(directory))
    assert {ours.pid, ours_too.pid, child} <= found
    assert not {by_environ.pid, longer_name.pid, shared_looking.pid} & found
    assert os.getpid() not in found
    with_environ = set(leftover_pids(directory, environ=True))
    assert by_environ.pid in with_environ and shared_looking.pid not in with_environ


def test_the_shared_engine_is_never_a_leftover() -> None:
    shared = shared_engine_pids()
    pid = int(Path("/var/run/docker.pid").read_text())
    assert pid in shared, "the dockerd behind /var/run/docker.sock"
    assert any(b"containerd" in _cmdline(p) for p in shared), "and its containerd"


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:  # gone meanwhile (another test's container on the shared engine)
        return b""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_crashed_private_dockerd_is_cleaned_up_and_the_shared_engine_is_not_touched(run_container: Any) -> None:
    shared_container = run_container()  # a container of the shared engine, running throughout
    shared_container.reload()
    shared_before = shared_engine_pids()
    # Other tests' containers on the shared engine come and go meanwhile: these must not.
    dockerd = int(Path("/var/run/docker.pid").read_text())
    engine = {dockerd, shared_container.attrs["State"]["Pid"]}
    engine |= {p for p in shared_before if b"containerd" in _cmdline(p)
               and (b"--config" in _cmdline(p) or shared_container.id.encode() in _cmdline(p))}
    assert len(engine) >= 4, "dockerd, its containerd, our container's shim and the container itself"
    daemon = PrivateDockerd({}, own_netns=True).start()
    try:
        client = daemon.client()
        container = client.containers.run(build_busybox(client), command=["sleep", "3600"], detach=True,
                                          network_mode="none")
        container_pid = container.attrs["State"]["Pid"] or client.api.inspect_container(container.id)["State"]["Pid"]
        client.close()
        assert daemon.proc is not None
        daemon.proc.kill()  # a crash: no container removed, the shim and the container live on
        daemon.proc.wait(timeout=30)
        left = leftover_pids(daemon.dir)
        assert container_pid in left, "the container's process is found through its shim"
        assert not set(left) & shared_before
        assert mounts_below(daemon.dir), "a dockerd leaves mounts below its directory"
    finally:
        daemon.stop()
    deadline = time.monotonic() + 10
    while _alive(container_pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(container_pid)
    assert not daemon.dir.exists() and not mounts_below(daemon.dir)
    assert all(_alive(pid) for pid in engine), "the shared dockerd, its containerd and shims, our container on it"
    shared_container.reload()
    assert shared_container.status == "running"
