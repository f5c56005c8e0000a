"""Helpers for the collector's live tests and for recording the example snapshots.

`PrivateDockerd` starts a dockerd of our own (own data-root, exec-root, pidfile, socket, no
bridge, no iptables) so a test can give it a daemon.json of its choosing and watch its event
stream without anyone else's activity, and never disturbs the shared daemon.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from testimage import build_busybox, static_busybox

busybox_path = static_busybox  # the names the collector tests use
__all__ = ["PrivateDockerd", "build_busybox", "busybox_path"]


class PrivateDockerd:
    """A dockerd started by us and stopped by us (by its pid), with its own everything."""

    def __init__(self, config: dict[str, Any] | None = None, extra_args: tuple[str, ...] = (),
                 own_netns: bool = False) -> None:
        """own_netns: run dockerd in a network namespace of its own (unshare --net), where it may
        keep iptables and a bridge (needed for icc=false) without touching the host's rules."""
        self.dir = Path(tempfile.mkdtemp(prefix="hc-dd-", dir="/tmp"))
        self.dir.chmod(0o711)  # userns-remap: the remapped root must traverse to its data-root
        self.socket = self.dir / "docker.sock"
        self.config_file = self.dir / "daemon.json"
        self.own_netns = own_netns
        base = {} if own_netns else {"bridge": "none", "iptables": False}
        # config=None with own_netns: no --config-file at all, dockerd falls back to its default path.
        self.config: dict[str, Any] | None = None if (config is None and own_netns) else {**base, **(config or {})}
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = f"unix://{self.socket}"

    @property
    def argv(self) -> list[str]:
        config = ["--config-file", str(self.config_file)] if self.config is not None else []
        return [shutil.which("dockerd") or "dockerd", *config, "--data-root", str(self.dir / "data"), "--exec-root", str(self.dir / "exec"),
                "--pidfile", str(self.dir / "docker.pid"), "-H", self.url, *self.extra_args]

    def start(self, timeout: float = 60) -> PrivateDockerd:
        if self.config is not None:
            self.config_file.write_text(json.dumps(self.config, indent=2) + "\n")
        log = open(self.dir / "dockerd.log", "wb")  # kept open for the daemon's life
        argv = self.argv
        if self.own_netns:  # a new namespace starts with loopback down: bring it up, then become dockerd
            argv = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *argv]
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"private dockerd exited: {self.log_tail()}")
            if self.socket.exists():
                try:
                    self.client().ping()
                    return self
                except Exception:  # not ready yet
                    pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"private dockerd did not answer within {timeout}s: {self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return (self.dir / "dockerd.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def client(self) -> Any:
        import docker

        return docker.DockerClient(base_url=self.url, timeout=120)

    def stop(self) -> None:
        """Remove every container (live-restore would keep them and their shims running), stop
        dockerd, then end any process still serving our directory, by pid, and unmount below it."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                client = self.client()
                for container in client.containers.list(all=True):
                    container.remove(force=True)
                client.close()
            except Exception:  # stopping must go on regardless
                pass
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None
        for pid in self._leftover_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        for mount_point in self._mounts_below():
            subprocess.run(["umount", "-l", mount_point], capture_output=True, check=False)
        shutil.rmtree(self.dir, ignore_errors=True)

    def _leftover_pids(self) -> list[int]:
        """Processes whose command line names our directory (containerd shims), and their children."""
        marker = str(self.dir).encode()
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    if marker in Path(f"/proc/{entry}/cmdline").read_bytes():
                        pids.append(int(entry))
                except OSError:
                    continue
        children = []
        for pid in pids:
            try:
                children += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
            except OSError:
                continue
        return children + pids

    def _mounts_below(self) -> list[str]:
        prefix = str(self.dir) + "/"
        points = []
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            point = line.split()[4].replace("\\040", " ")
            if point.startswith(prefix):
                points.append(point)
        return sorted(points, key=len, reverse=True)

    def __enter__(self) -> PrivateDockerd:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def run_labelled(client: Any, image: str, name: str, label: dict[str, str], command: list[str] | None = None,
                 **kwargs: Any) -> Any:
    """docker run -d with our label; the caller removes it."""
    labels = {**label, **kwargs.pop("labels", {})}
    return client.containers.run(image, command=command or ["sleep", "3600"], name=name, detach=True,
                                 labels=labels, **kwargs)


def is_root() -> bool:
    return os.geteuid() == 0
