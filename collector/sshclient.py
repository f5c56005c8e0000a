"""ssh:// engines through OpenSSH, with what ssh says kept for hullcheck's one error line.

The Docker SDK (`use_ssh_client=True`) starts `ssh -- HOST docker system dial-stdio` for each
connection with its stderr inherited: ssh's own "Connection refused" or "Permission denied
(publickey)" lands on the user's terminal beside hullcheck's error (two lines, the second saying
only that the remote end closed the connection), and in the middle of the progress display during
a collection. This transport is the SDK's, except that every ssh it starts writes its stderr into
one file of the client's; when the engine cannot be reached, what ssh said is the cause the error
line gives.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from typing import IO, Any

from docker.transport.sshconn import SSHConnection, SSHConnectionPool, SSHHTTPAdapter, SSHSocket

# What ssh says before it gives up is a line or two; keep a bounded tail of it.
_TAIL_BYTES = 4096
MAX_REASON = 300


class _Socket(SSHSocket):
    """The SDK's OpenSSH socket, with ssh's stderr sent to `stderr` instead of the terminal."""

    def __init__(self, host: str, stderr: IO[bytes]) -> None:
        super().__init__(host)
        self.stderr = stderr

    def connect(self, **kwargs: Any) -> None:  # the SDK's argv and environment, stderr captured
        args = ["ssh"]
        if self.user:
            args += ["-l", self.user]
        if self.port:
            args += ["-p", self.port]
        args += ["--", self.host, "docker system dial-stdio"]
        env = {k: v for k, v in os.environ.items() if k not in ("LD_LIBRARY_PATH", "SSL_CERT_FILE")}
        self.proc = subprocess.Popen(args, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.stderr, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))


class _Connection(SSHConnection):
    def __init__(self, adapter: OpenSSHAdapter) -> None:
        super().__init__(None, adapter.timeout, adapter.ssh_host)
        self.adapter = adapter

    def connect(self) -> None:
        sock = _Socket(self.ssh_host, self.adapter.stderr)
        sock.settimeout(self.timeout)
        sock.connect()
        self.sock = sock


class _Pool(SSHConnectionPool):
    def __init__(self, adapter: OpenSSHAdapter) -> None:
        super().__init__(None, adapter.timeout, adapter.max_pool_size, adapter.ssh_host)
        self.adapter = adapter

    def _new_conn(self) -> _Connection:
        return _Connection(self.adapter)


class OpenSSHAdapter(SSHHTTPAdapter):
    """The SDK's shell-out ssh transport; `said()` is what its ssh processes wrote on stderr."""

    def __init__(self, ssh_host: str, timeout: Any, max_pool_size: int) -> None:
        super().__init__(f"ssh://{ssh_host}", timeout, max_pool_size=max_pool_size, shell_out=True)
        # Append mode: every ssh writes at the end of the one file, reading it moves no writer.
        self.stderr: IO[bytes] = tempfile.TemporaryFile(mode="a+b", prefix="hullcheck-ssh-")

    @classmethod
    def like(cls, adapter: SSHHTTPAdapter) -> OpenSSHAdapter:
        """The same transport as the SDK's `adapter` (built by docker.APIClient), with stderr kept."""
        return cls(adapter.ssh_host, adapter.timeout, adapter.max_pool_size)

    def get_connection(self, url: Any, proxies: Any = None) -> _Pool:
        return _Pool(self)

    def said(self) -> str:
        """ssh's last words, distinct lines joined on one line ('' when it said nothing)."""
        try:
            self.stderr.seek(0, os.SEEK_END)
            size = self.stderr.tell()
            self.stderr.seek(max(0, size - _TAIL_BYTES))
            tail = self.stderr.read().decode("utf-8", "replace")
        except (OSError, ValueError):  # closed
            return ""
        lines = list(dict.fromkeys(line.strip() for line in tail.splitlines() if line.strip()))
        return "; ".join(lines)[-MAX_REASON:]

    def close(self) -> None:
        super().close()
        self.stderr.close()
