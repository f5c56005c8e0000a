"""The one test image: FROM scratch with the host's static busybox, built without any registry.

Shared by tests/ and benchmarks/ (neither imports the other); not part of the wheel.
"""

from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path
from typing import Any

IMAGE = "hullcheck-test/busybox:1"


def static_busybox() -> Path:
    """The host's static busybox; RuntimeError naming the package when it is missing."""
    for candidate in ("/bin/busybox", "/usr/bin/busybox", shutil.which("busybox") or ""):
        if candidate and Path(candidate).is_file():
            return Path(candidate).resolve()
    raise RuntimeError("busybox-static is not installed (apt-get install busybox-static)")


def build_busybox(client: Any, tag: str = IMAGE, extra_dockerfile: bytes = b"", *, applets: bool = True,
                  cmd: bytes = b'["/bin/sh"]') -> str:
    """Build the image on the engine behind `client` (a docker.DockerClient) and return its tag.

    `applets`: install busybox's applets as /bin/sh, /bin/sleep... (a RUN step); `extra_dockerfile`
    adds lines (USER, HEALTHCHECK...) before CMD.
    """
    dockerfile = (b"FROM scratch\nCOPY busybox /bin/busybox\n"
                  + (b'RUN ["/bin/busybox", "--install", "-s", "/bin"]\n' if applets else b"")
                  + extra_dockerfile + b"CMD " + cmd + b"\n")
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(dockerfile)
        tar.addfile(info, io.BytesIO(dockerfile))
        tar.add(str(static_busybox()), arcname="busybox")
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True, network_mode="none")
    return tag
