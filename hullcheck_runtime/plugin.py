"""The Docker plugin protocol on a Unix socket: what dockerd's authorization middleware talks to.

dockerd finds a plugin named NAME at /run/docker/plugins/NAME.sock, activates it once
(`POST /Plugin.Activate` -> {"Implements": ["authz"]}) and then, for every API request, calls
`POST /AuthZPlugin.AuthZReq` before the daemon handles it and `POST /AuthZPlugin.AuthZRes` after,
over HTTP/1.1 with keep-alive (docs: docs.docker.com/engine/extend/plugins_authorization). Every
call is answered at once on its own thread: a read request never waits behind a judged one.
Responses are {"Allow": bool, "Msg": str} (or {"Err": str}, which the daemon also treats as a
refusal); AuthZRes is always allowed, the guard judges requests, not answers.
"""

from __future__ import annotations

import json
import os
import socket
import socketserver
import stat
import threading
from pathlib import Path
from typing import Any, Callable

from hullcheck_common.errors import UsageError

CONTENT_TYPE = "application/vnd.docker.plugins.v1+json"
ACTIVATE = b'{"Implements":["authz"]}'
ALLOW = b'{"Allow":true}'
# The largest call accepted: dockerd forwards request bodies up to 1 MiB and AuthZRes carries the
# response body (base64, a third larger) of answers that can be tens of MB (`docker ps` of a big host).
MAX_CALL_BYTES = 512 * 1024 * 1024

Authorize = Callable[[dict[str, Any]], "tuple[bool, str]"]


class _Handler(socketserver.StreamRequestHandler):
    """HTTP/1.1 as dockerd's plugin client speaks it (POST, Content-Length, keep-alive), read by
    hand: http.server's generic parsing (email.parser for the headers) was most of the ~0.6 ms a
    call cost, and every API request makes two calls."""

    server: PluginServer
    rbufsize = 65536

    def handle(self) -> None:
        while True:
            try:
                request = self._request()
            except (OSError, ValueError) as exc:
                if isinstance(exc, ValueError):
                    self._answer(json.dumps({"Err": f"hullcheck guard: {exc}"}).encode(), "400 Bad Request", close=True)
                return
            if request is None:
                return  # dockerd closed the connection
            path, data, close = request
            if path == "/AuthZPlugin.AuthZRes":
                self._answer(ALLOW, close=close)
            elif path == "/AuthZPlugin.AuthZReq":
                try:
                    payload = json.loads(data or b"{}")
                    allow, message = self.server.authorize(payload)
                    body = ALLOW if allow else json.dumps({"Allow": False, "Msg": message}).encode()
                except Exception as exc:  # noqa: BLE001 - every call gets an answer; an error refuses
                    body = json.dumps({"Allow": False, "Msg": f"hullcheck guard could not judge the request: {exc}"}).encode()
                self._answer(body, close=close)
            elif path == "/Plugin.Activate":
                self._answer(ACTIVATE, close=close)
            else:
                self._answer(json.dumps({"Err": f"hullcheck guard: unknown plugin call {path}"}).encode(), "404 Not Found",
                             close=close)
            if close:
                return

    def _request(self) -> tuple[str, bytes, bool] | None:
        line = self.rfile.readline(8192)
        if not line:
            return None
        parts = line.split()
        if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
            raise ValueError("not an HTTP/1.x request")
        length, close = 0, parts[2] == b"HTTP/1.0"
        for _ in range(100):
            header = self.rfile.readline(65536)
            if header in (b"\r\n", b"\n", b""):
                break
            name, _, value = header.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value.strip())
            elif name == b"connection":
                close = value.strip().lower() == b"close"
            elif name == b"transfer-encoding":
                raise ValueError("chunked plugin calls are not expected")
        else:
            raise ValueError("too many headers")
        if length < 0 or length > MAX_CALL_BYTES:
            raise ValueError(f"a plugin call of {length} bytes")
        data = self.rfile.read(length) if length else b""
        if len(data) != length:
            return None
        return parts[1].decode("latin-1"), data, close

    def _answer(self, body: bytes, status: str = "200 OK", close: bool = False) -> None:
        head = (f"HTTP/1.1 {status}\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {len(body)}\r\n"
                + ("Connection: close\r\n" if close else "") + "\r\n")
        self.wfile.write(head.encode("latin-1") + body)


class PluginServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """A thread per connection (dockerd keeps connections open and opens more when busy)."""

    daemon_threads = True
    allow_reuse_address = False
    request_queue_size = 128

    def __init__(self, path: Path, authorize: Authorize) -> None:
        self.path = path
        self.authorize = authorize
        claim_socket_path(path)
        super().__init__(str(path), _Handler, bind_and_activate=False)
        old_umask = os.umask(0o177)  # the socket is dockerd's (root's) alone: 0600 from the start
        try:
            self.server_bind()
        finally:
            os.umask(old_umask)
        self.server_activate()
        st = os.lstat(path)
        self._ours = (st.st_dev, st.st_ino)

    def get_request(self) -> tuple[Any, Any]:
        connection, _ = self.socket.accept()
        return connection, ("dockerd", 0)

    def shutdown_and_remove(self) -> None:
        try:
            self.server_close()
        finally:
            try:  # only our own socket: a guard started meanwhile may have bound its own here
                st = os.lstat(self.path)
                if stat.S_ISSOCK(st.st_mode) and (st.st_dev, st.st_ino) == self._ours:
                    os.unlink(self.path)
            except OSError:
                pass

    def serve_in_thread(self) -> threading.Thread:
        thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2},
                                  name="hullcheck-plugin", daemon=True)
        thread.start()
        return thread


def claim_socket_path(path: Path) -> None:
    """Make room for our socket: refuse when another process serves it, remove a stale one."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise UsageError(f"{path} exists and is not a socket: refusing to replace it")
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(2)
    try:
        probe.connect(str(path))
    except OSError:
        os.unlink(path)  # nobody answers: left by a guard that was killed
        return
    finally:
        probe.close()
    raise UsageError(f"{path}: another plugin already serves this name (stop it first, or choose another --name)")


def notify_systemd(state: str) -> None:
    """sd_notify(3) without libsystemd: READY=1 once dockerd can reach the socket (Type=notify)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):
        address = "\0" + address[1:]
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(state.encode())
    except OSError:
        pass
