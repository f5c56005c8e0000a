"""Helpers for the guard and watch tests: the real `hullcheck guard` / `hullcheck watch` processes,
a private dockerd that names the guard in --authorization-plugin, and the real docker CLI.

Each guard serves a plugin name of its own (hctest-<random>) in /run/docker/plugins, and each
dockerd runs in a network namespace of its own (collector_support.PrivateDockerd, own_netns), so
tests never meet each other or the shared daemon. Every wait has a deadline; a failure says what
the process wrote.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from collector_support import PrivateDockerd

REPO = Path(__file__).resolve().parent.parent
PLUGIN_DIR = Path("/run/docker/plugins")


def plugin_name() -> str:
    return f"hctest-{secrets.token_hex(4)}"


def hullcheck_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "hullcheck.cli", *args]


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}


def activate(socket_path: Path, timeout: float = 5) -> bytes:
    """POST /Plugin.Activate to a plugin socket, as dockerd does first; its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(socket_path))
        sock.sendall(b"POST /Plugin.Activate HTTP/1.1\r\nHost: plugin\r\nContent-Length: 0\r\n\r\n")
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
    return answer


class GuardProcess:
    """`hullcheck guard --name NAME ...` as a process of its own, stopped by its pid."""

    def __init__(self, name: str, docker_host: str, *args: str, log: Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.env = env or {}
        self.docker_host = docker_host
        self.args = args
        self.dir = Path(tempfile.mkdtemp(prefix="hc-guard-"))
        self.log = log or self.dir / "decisions.jsonl"
        self.socket = PLUGIN_DIR / f"{name}.sock"
        self.proc: subprocess.Popen[bytes] | None = None
        self.stderr = self.dir / "guard.stderr"

    def argv(self) -> list[str]:
        # The engine by DOCKER_HOST, not --docker-host: PrivateDockerd.stop() ends every process
        # whose command line names its directory, and the guard must outlive the daemon it guards.
        return hullcheck_argv("guard", "--name", self.name, "--log", str(self.log), *self.args)

    def start(self, timeout: float = 60) -> GuardProcess:
        err = open(self.stderr, "ab")
        self.proc = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL, stderr=err,
                                     env={**_env(), "DOCKER_HOST": self.docker_host, **self.env},
                                     start_new_session=True)
        err.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hullcheck guard exited ({self.proc.returncode}): {self.said()}")
            if "serving" in self.said():
                try:
                    if b"authz" in activate(self.socket):
                        return self
                except OSError:
                    pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"hullcheck guard did not serve {self.socket} within {timeout}s: {self.said()}")

    def said(self) -> str:
        try:
            return self.stderr.read_text(errors="replace")
        except OSError:
            return ""

    def kill(self) -> None:
        """SIGKILL: no cleanup at all, as a crash or the OOM killer would leave it."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> int | None:
        """SIGTERM (the guard removes its socket); a socket left by a kill is removed here: every
        dockerd on the machine scans /run/docker/plugins for volume plugins and would wait on it."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.remove_stale_socket()
        return self.proc.returncode

    def remove_stale_socket(self) -> None:
        if self.socket.is_socket():
            try:
                activate(self.socket, timeout=1)
            except OSError:
                self.socket.unlink(missing_ok=True)

    def workers(self) -> list[int]:
        """The guard's jq worker processes (its children running evaluator.worker)."""
        assert self.proc is not None
        found = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.proc.pid and b"evaluator.worker" in cmdline:
                found.append(int(entry))
        return found

    def decisions(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]

    def __enter__(self) -> GuardProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def guarded_dockerd(name: str, config: dict[str, Any] | None = None) -> PrivateDockerd:
    """A private dockerd in a network namespace of its own that asks plugin `name` about every request."""
    return PrivateDockerd(config or {}, extra_args=("--authorization-plugin", name), own_netns=True)


def docker(daemon: PrivateDockerd, *args: str, timeout: float = 120, input: bytes | None = None) -> subprocess.CompletedProcess[str]:
    """The real docker CLI against `daemon`."""
    env = {**os.environ, "DOCKER_HOST": daemon.url, "DOCKER_CLI_HINTS": "false", "DOCKER_BUILDKIT": "0"}
    env.pop("DOCKER_CONTEXT", None)
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, env=env)


def raw_request(socket_path: str, method: str, path: str, body: bytes = b"",
                content_type: str = "application/json", timeout: float = 60) -> tuple[int, bytes]:
    """One HTTP request on a Unix socket, as a hand-written API client would send it."""
    import http.client

    class _Connection(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(socket_path)

    connection = _Connection("localhost", timeout=timeout)
    try:
        connection.putrequest(method, path)
        if body:
            connection.putheader("Content-Type", content_type)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders()
        try:
            for start in range(0, len(body), 65536):
                connection.send(body[start:start + 65536])
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon answered (a refusal) before reading the whole body: read that answer
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_for(predicate: Any, timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
