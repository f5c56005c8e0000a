"""Air-gapped evaluation: no network, no Docker, only the snapshot, and the same results as outside.

The CLI runs in a fresh network namespace (only a loopback interface, down) and a private
mount namespace where /run is an empty tmpfs, so /var/run/docker.sock is gone as well. The
test first proves that cage holds (no route out, no engine answers), then evaluates there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

EXAMPLE = REPO / "snapshots" / "examples" / "misconfigured.json"

PROBE = r"""
import json, os, socket, sys
out = {"interfaces": sorted(name for _, name in socket.if_nameindex()), "docker_sock": os.path.exists("/var/run/docker.sock")}
try:
    socket.create_connection(("192.0.2.1", 443), timeout=3).close()
    out["tcp"] = "connected"
except OSError as exc:
    out["tcp"] = exc.strerror or str(exc)
try:
    socket.getaddrinfo("example.com", 443)
    out["dns"] = "resolved"
except OSError as exc:
    out["dns"] = str(exc)
print(json.dumps(out))
"""

# Runs inside the namespaces: hide /run (the Docker socket), then the probe, then hullcheck.
CAGE = r"""
set -u
mount -t tmpfs -o size=1m,mode=755 tmpfs /run || exit 97
out="$1"; shift
"$PYTHON" -c "$PROBE" > "$out/probe.json"
"$PYTHON" -m hullcheck.cli audit > "$out/audit.out" 2> "$out/audit.err"; echo $? > "$out/audit.rc"
"$PYTHON" -m hullcheck.cli evaluate "$SNAPSHOT" --format json > "$out/results.json" 2> "$out/results.err"; echo $? > "$out/results.rc"
"$PYTHON" -m hullcheck.cli evaluate "$SNAPSHOT_DIR" --format json --jobs 2 > "$out/fleet.json" 2> "$out/fleet.err"; echo $? > "$out/fleet.rc"
"""


def _unshare() -> str:
    path = shutil.which("unshare")
    if path is None:
        pytest.fail("unshare (util-linux) is needed to cut the network off")
    probe = subprocess.run([path, "--net", "--mount", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.fail(f"cannot create network and mount namespaces here (run as root): {probe.stderr.strip()}")
    return path


def _strip_time(document: dict[str, Any]) -> dict[str, Any]:
    document = dict(document)
    document.pop("evaluated_at", None)
    return document


def test_evaluation_needs_no_network_and_no_docker(tmp_path: Path, hullcheck_cli: Any) -> None:
    unshare = _unshare()
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "PYTHON": sys.executable, "PROBE": PROBE,
           "SNAPSHOT": str(EXAMPLE), "SNAPSHOT_DIR": str(EXAMPLE.parent),
           # Pointed at nothing: if anything tried the engine it would have to fail.
           "DOCKER_HOST": "tcp://127.0.0.1:9",
           "HTTP_PROXY": "http://192.0.2.1:3128", "HTTPS_PROXY": "http://192.0.2.1:3128"}
    proc = subprocess.run([unshare, "--net", "--mount", "--", "sh", "-c", CAGE, "sh", str(tmp_path)],
                          capture_output=True, text=True, env=env, cwd=str(tmp_path), timeout=600)
    assert proc.returncode == 0, proc.stderr

    # The cage holds: no interface but loopback, no route, no name service, no Docker socket.
    probe = json.loads((tmp_path / "probe.json").read_text())
    assert probe["interfaces"] == ["lo"]
    assert probe["tcp"] != "connected" and probe["dns"] != "resolved"
    assert probe["docker_sock"] is False
    assert (tmp_path / "audit.rc").read_text().strip() == "2", "no engine answers inside"
    assert "no Docker daemon answers" in (tmp_path / "audit.err").read_text()

    # Evaluation works there, with exactly the results it gives outside.
    assert (tmp_path / "results.rc").read_text().strip() == "1", (tmp_path / "results.err").read_text()
    assert (tmp_path / "results.err").read_text() == ""
    inside = json.loads((tmp_path / "results.json").read_text())
    outside_proc = hullcheck_cli("evaluate", str(EXAMPLE), "--format", "json")
    assert outside_proc.returncode == 1, outside_proc.stderr
    outside = json.loads(outside_proc.stdout)
    assert _strip_time(inside) == _strip_time(outside)
    assert any(r["status"] == "fail" for r in inside["results"])

    # A fleet of snapshots too, with worker processes in parallel.
    assert (tmp_path / "fleet.rc").read_text().strip() == "1", (tmp_path / "fleet.err").read_text()
    fleet = json.loads((tmp_path / "fleet.json").read_text())
    assert fleet["summary"]["evaluated"] == len(list(EXAMPLE.parent.glob("*.json")))
    assert fleet["summary"]["unreadable"] == 0
