"""One life for every private engine a test starts: a dockerd, a Podman service, a rootless engine.

`PrivateEngine` owns a directory of its own below /tmp and the process it starts there, and goes
through the same steps for every kind of engine:

    start      `launch(argv)`: in a session of its own, its output in a log in the directory;
    wait       `wait_until_answers()`: the API answers a ping on the engine's socket, or the engine
               exited, or the deadline passed (then the log's tail is in the error);
    remove     `remove_containers()`: every container of the engine, so no shim, conmon or
               container process outlives it (live-restore would keep them running);
    stop       `terminate()`: SIGTERM, then SIGKILL when it has not exited in time;
    leftovers  `kill_leftovers()`: whatever still runs on behalf of our directory, found by the
               directory itself (see `leftover_pids`), killed by pid;
    unmount    `unmount_below()`: what the engine mounted below the directory (netns binds,
               overlays, shm), deepest first; then the directory is removed.

A subclass says how to run its engine (`start`) and, when the Docker API is not the way, how to
remove its containers. Everything is found by pid and by our directory: nothing here looks for
processes by name, and the shared engine behind /var/run/docker.sock, its containerd, its shims
and its containers are never touched, even where they happen to mention our directory.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable

# The shared engine: the dockerd that wrote the default pidfile, and the containerd sockets and
# configuration of the system's engines (dockerd's managed containerd, a system containerd).
# An argument that is (or ends an --option= with) one of these absolute paths names the system's
# engine state: a private engine's paths are below its own directory, never these.
SHARED_PIDFILE = Path("/var/run/docker.pid")
SHARED_PATHS = re.compile(rb"(?:^|=)(?:/var/run/docker/|/run/docker/|/var/run/containerd/|/run/containerd/)")


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError:
        return b""


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process there is now."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            stat = _read(f"/proc/{entry}/stat")
            try:
                parents[int(entry)] = int(stat.rsplit(b")", 1)[1].split()[1])
            except (IndexError, ValueError):
                continue
    return parents


def descendants(pids: Iterable[int], parents: dict[int, int] | None = None) -> set[int]:
    """Every descendant of `pids` (not the pids themselves)."""
    parents = _parents() if parents is None else parents
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    todo = list(pids)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def _ancestors(pid: int, parents: dict[int, int]) -> set[int]:
    found = set()
    while pid in parents and pid not in found and pid > 1:
        found.add(pid)
        pid = parents[pid]
    return found


def shared_engine_pids(parents: dict[int, int] | None = None) -> set[int]:
    """The shared engine's processes and all their descendants: the dockerd named by
    /var/run/docker.pid, and every process whose command line names a system engine's containerd
    (containerd itself, the shims it started, which are re-parented to init)."""
    parents = _parents() if parents is None else parents
    roots = set()
    try:
        roots.add(int(SHARED_PIDFILE.read_text().strip()))
    except (OSError, ValueError):
        pass
    for pid in parents:
        if any(SHARED_PATHS.search(arg) for arg in _read(f"/proc/{pid}/cmdline").split(b"\0")):
            roots.add(pid)
    roots &= set(parents)
    return roots | descendants(roots, parents)


def _names(directory: Path) -> re.Pattern[bytes]:
    """Our directory as a whole path: /tmp/hc-dd-ab12 names it, /tmp/hc-dd-ab123 does not."""
    return re.compile(re.escape(str(directory).encode()) + rb"(?![^/\0:\"'\s=,;])")


def leftover_pids(directory: Path, *, environ: bool = False) -> list[int]:
    """The processes left running on behalf of `directory`, and all their descendants.

    A process is ours when its command line names the directory (dockerd, its containerd and the
    shims, conmon, rootlesskit all take our paths as arguments) or, with `environ`, when its
    environment does (the rootless engines' helpers know it only as HOME/XDG_RUNTIME_DIR). Never
    ours: this process and its ancestors (the test itself), PID 1, and the shared engine with
    everything below it (`shared_engine_pids`).
    """
    parents = _parents()
    protected = shared_engine_pids(parents) | _ancestors(os.getpid(), parents) | {1}
    names = _names(directory)
    marked = set()
    for pid in parents:
        if pid in protected:
            continue
        if names.search(_read(f"/proc/{pid}/cmdline")) or (environ and names.search(_read(f"/proc/{pid}/environ"))):
            marked.add(pid)
    return sorted((marked | descendants(marked, parents)) - protected)


def kill_leftovers(directory: Path, *, environ: bool = False, rounds: int = 3) -> list[int]:
    """SIGKILL `leftover_pids`, again while any remain (a dying shim may start nothing new, but a
    parent killed first may leave a child just forked); returns every pid killed."""
    killed: list[int] = []
    for _ in range(rounds):
        pids = leftover_pids(directory, environ=environ)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except OSError:
                pass
        time.sleep(0.5)
    return killed


def mounts_below(directory: Path) -> list[str]:
    """Mount points strictly below `directory` in our mount namespace, deepest first."""
    prefix = str(directory) + "/"
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
        if point.startswith(prefix):
            points.append(point)
    return sorted(points, key=len, reverse=True)


def unmount_below(directory: Path) -> None:
    for point in mounts_below(directory):
        subprocess.run(["umount", "-l", point], capture_output=True, timeout=30, check=False)


def terminate(proc: subprocess.Popen[bytes] | None, timeout: float = 30) -> None:
    """SIGTERM, and SIGKILL if it has not exited within `timeout` seconds; reaped either way."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def ping(socket: Path, timeout: float = 10) -> bool:
    """Whether the Docker API (dockerd's, or Podman's compatible one) answers on `socket`."""
    import docker

    if not socket.exists():
        return False
    try:
        client = docker.APIClient(base_url=f"unix://{socket}", timeout=timeout)
        try:
            client.ping()
        finally:
            client.close()
        return True
    except Exception:  # noqa: BLE001 - not answering, for whatever reason
        return False


class PrivateEngine:
    """A private engine's directory, process and life; see the module docstring.

    Subclasses set `socket` (and may set `what`, `environ`) and implement `start()` with `launch`
    and `wait_until_answers`; `stop()` is the same for all.
    """

    what = "engine"
    environ = False  # also find leftovers by their environment (rootless engines)
    stop_timeout = 30.0

    def __init__(self, prefix: str, mode: int = 0o700) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
        self.dir.chmod(mode)
        self.socket = self.dir / "engine.sock"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "engine.log"

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    # ---- start and wait ----------------------------------------------------------------------------
    def launch(self, argv: list[str], *, log: Path | None = None, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> subprocess.Popen[bytes]:
        """Run the engine in a session of its own, stdout and stderr to `log` (kept, appended to)."""
        self.log = log or self.log
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         env=env, cwd=str(cwd) if cwd else None, start_new_session=True)
        return self.proc

    def wait_until_answers(self, timeout: float) -> None:
        """Until the API answers on `socket`; RuntimeError with the log's tail if the engine exits
        first or the deadline passes (the engine is left for `stop()`)."""
        assert self.proc is not None, "launch() first"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.what} exited ({self.proc.returncode}): {self.log_tail()}")
            if ping(self.socket):
                return
            time.sleep(0.2)
        raise RuntimeError(f"{self.what} did not answer on {self.socket} within {timeout:.0f}s: {self.log_tail()}")

    def log_tail(self, size: int = 2000) -> str:
        try:
            return self.log.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # ---- stop ----------------------------------------------------------------------------------------
    def remove_containers(self) -> None:
        """Every container, force-removed through the Docker API (a subclass may do it otherwise)."""
        import docker

        client = docker.DockerClient(base_url=self.url, timeout=120)
        try:
            for container in client.containers.list(all=True):
                container.remove(force=True)
        finally:
            client.close()

    def terminate(self) -> None:
        terminate(self.proc, self.stop_timeout)
        self.proc = None

    def kill_leftovers(self) -> list[int]:
        return kill_leftovers(self.dir, environ=self.environ)

    def stop(self, *, remove: bool = True) -> None:
        """Containers removed (while the engine still answers), the engine stopped, what is left of
        it killed, unmounted and its directory removed (`remove=False` keeps the directory, to start
        the engine again on the same data)."""
        if self.running:
            try:
                self.remove_containers()
            except Exception:  # noqa: BLE001 - stopping goes on regardless
                pass
        self.terminate()
        self.kill_leftovers()
        unmount_below(self.dir)
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)

    def __exit__(self, *exc: object) -> None:
        self.stop()


def docker_client(url: str, timeout: float = 120) -> Any:
    import docker

    return docker.DockerClient(base_url=url, timeout=timeout)
