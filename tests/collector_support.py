"""Helpers for the collector's live tests and for recording the example snapshots.

`PrivateDockerd` starts a dockerd of our own (own data-root, exec-root, pidfile, socket, no
bridge, no iptables) so a test can give it a daemon.json of its choosing and watch its event
stream without anyone else's activity, and never disturbs the shared daemon. Its life is the one
every private engine has (tests/support/lifecycle.py).
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from support.lifecycle import PrivateEngine, docker_client

from testimage import build_busybox, static_busybox

busybox_path = static_busybox  # the names the collector tests use
__all__ = ["PrivateDockerd", "build_busybox", "busybox_path"]


class PrivateDockerd(PrivateEngine):
    """A dockerd started by us and stopped by us (by its pid), with its own everything; its life
    (start, wait, remove containers, stop, leftovers, unmount) is tests/support/lifecycle.py's."""

    what = "private dockerd"

    def __init__(self, config: dict[str, Any] | None = None, extra_args: tuple[str, ...] = (),
                 own_netns: bool = False, prefix: tuple[str, ...] = (), dir_prefix: str = "hc-dd-") -> None:
        """own_netns: run dockerd in a network namespace of its own (unshare --net), where it may
        keep iptables and a bridge (needed for icc=false) without touching the host's rules.
        prefix: a command that runs dockerd somewhere else (nsenter into a test host's netns).
        dir_prefix: its directory's name below /tmp (keep it short: a unix socket path has 108 bytes)."""
        super().__init__(dir_prefix, mode=0o711)  # userns-remap: the remapped root must traverse to its data-root
        self.socket = self.dir / "docker.sock"
        self.log = self.dir / "dockerd.log"
        self.config_file = self.dir / "daemon.json"
        self.own_netns = own_netns
        base = {} if own_netns else {"bridge": "none", "iptables": False}
        # config=None with own_netns: no --config-file at all, dockerd falls back to its default path.
        self.config: dict[str, Any] | None = None if (config is None and own_netns) else {**base, **(config or {})}
        self.extra_args = extra_args
        self.prefix = prefix

    @property
    def argv(self) -> list[str]:
        config = ["--config-file", str(self.config_file)] if self.config is not None else []
        return [shutil.which("dockerd") or "dockerd", *config, "--data-root", str(self.dir / "data"), "--exec-root", str(self.dir / "exec"),
                "--pidfile", str(self.dir / "docker.pid"), "-H", self.url, *self.extra_args]

    def start(self, timeout: float = 60) -> PrivateDockerd:
        """Start it (again, after a stop of its process: same directory, same data) and wait until
        it answers; stopped again, with its log's tail in the error, when it does not."""
        if self.config is not None:
            self.config_file.write_text(json.dumps(self.config, indent=2) + "\n")
        self.log.write_bytes(b"")
        argv = self.argv
        if self.own_netns:  # a new namespace starts with loopback down: bring it up, then become dockerd
            argv = ["unshare", "--net", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", *argv]
        self.launch([*self.prefix, *argv])
        try:
            self.wait_until_answers(timeout)
        except RuntimeError:
            self.stop()
            raise
        return self

    def client(self) -> Any:
        return docker_client(self.url)

    def __enter__(self) -> PrivateDockerd:
        return self.start()


def run_labelled(client: Any, image: str, name: str, label: dict[str, str], command: list[str] | None = None,
                 **kwargs: Any) -> Any:
    """docker run -d with our label; the caller removes it."""
    labels = {**label, **kwargs.pop("labels", {})}
    return client.containers.run(image, command=command or ["sleep", "3600"], name=name, detach=True,
                                 labels=labels, **kwargs)


def is_root() -> bool:
    return os.geteuid() == 0
