"""Output files are written atomically, never over an input, and an interrupted run leaves nothing
half-written behind: not at the target, not as a temporary file (SIGKILL included).

Also here: an unexpected exception in the CLI is one line and exit 2 unless HULLCHECK_DEBUG=1.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
MISCONFIGURED = REPO / "snapshots" / "examples" / "misconfigured.json"
ENV = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)}
PREVIOUS = b'{"previous": "report, complete"}\n'


def _big_pack(directory: Path) -> Path:
    """Two policies with 15,000 failing synthetic resources each: a ~70 MB JSON report, slow to write."""
    directory.mkdir()
    for n in range(2):
        (directory / f"big{n}.yaml").write_text(yaml.safe_dump({
            "id": f"custom-big-{n}", "title": "A policy with a very large report", "description": "Test only.",
            "remediation": "Nothing: test only.", "severity": "low", "level": 1, "controls": {"custom": str(n)},
            "automated": True, "evidence": [], "assert": "false", "message": '"y" * 1999',
            "resources": 'range(15000) | {type: "synthetic", name: "r\\(.)", id: "\\(.)", path: "", data: .}',
        }), encoding="utf-8")
    return directory


def _fds_into(pid: int, directory: Path) -> list[str]:
    out = []
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith(str(directory) + "/"):
                out.append(target)
    except OSError:
        pass
    return out


def _interrupt_while_writing(command: list[str], directory: Path, signum: int, timeout: float = 300) -> tuple[
        subprocess.Popen[bytes], bool, bytes]:
    """Start the command, send `signum` the moment it has a file open in `directory`."""
    proc = subprocess.Popen(command, env=ENV, cwd="/", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout
    caught = False
    while proc.poll() is None and time.monotonic() < deadline:
        if _fds_into(proc.pid, directory):
            proc.send_signal(signum)
            caught = True
            break
        time.sleep(0.002)
    _, err = proc.communicate(timeout=timeout)
    return proc, caught, err


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM], ids=["SIGKILL", "SIGINT", "SIGTERM"])
def test_interrupted_evaluation_leaves_previous_output_and_no_temp_file(tmp_path: Path, signum: int) -> None:
    pack = _big_pack(tmp_path / "pack")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "report.json"
    target.write_bytes(PREVIOUS)
    command = [sys.executable, "-m", "hullcheck.cli", "evaluate", str(MISCONFIGURED), "--policies", str(pack),
               "--format", "json", "-o", str(target)]
    proc, caught, err = _interrupt_while_writing(command, out_dir, signum)
    assert caught, f"the run ended before it wrote (rc {proc.returncode}): {err.decode()[-500:]}"
    assert proc.returncode != 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["report.json"], "a temporary file was left behind"
    content = target.read_bytes()
    if content != PREVIOUS:  # the signal came after the rename: then it must be the whole new report
        document = json.loads(content)
        assert len(document["results"]) > 2
    if signum != signal.SIGKILL:
        assert b"Traceback" not in err
        assert err.decode().strip().splitlines()[-1] in ("hullcheck: interrupted", "hullcheck: terminated")
        assert proc.returncode == 128 + signum


def test_uninterrupted_output_is_complete_with_default_mode(tmp_path: Path, hullcheck_cli: Callable[..., Any]) -> None:
    target = tmp_path / "report.json"
    proc = hullcheck_cli("evaluate", str(MISCONFIGURED), "--format", "json", "-o", str(target))
    assert proc.returncode == 1, proc.stderr
    assert json.loads(target.read_bytes())["summary"]["fail"] >= 3
    assert oct(target.stat().st_mode & 0o777) == oct(0o666 & ~_umask())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.json"]


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_output_into_a_device_or_a_fifo_writes_into_it(tmp_path: Path, hullcheck_cli: Callable[..., Any]) -> None:
    """`-o /dev/null` (and a named pipe) is written into, not replaced: as root, renaming a file over
    /dev/null made it a regular file for the whole machine (ssh -F /dev/null then read reports)."""
    import stat
    import threading

    null = tmp_path / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # the same device as /dev/null
    proc = hullcheck_cli("evaluate", str(MISCONFIGURED), "--format", "json", "-o", str(null))
    assert proc.returncode == 1, proc.stderr
    assert stat.S_ISCHR(null.lstat().st_mode) and null.stat().st_rdev == os.makedev(1, 3)

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    proc = hullcheck_cli("evaluate", str(MISCONFIGURED), "--format", "json", "-o", str(fifo))
    reader.join(timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert json.loads(received[0])["summary"]["fail"] >= 3
    assert stat.S_ISFIFO(fifo.lstat().st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["null", "pipe"]  # no temporary file left beside them


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def test_interrupted_collection_leaves_no_partial_snapshot(tmp_path: Path, docker_client: Any) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    target = out_dir / "snap.json"
    command = [sys.executable, "-m", "hullcheck.cli", "collect", "--label", "hullcheck.test=nothing-matches", "-o", str(target)]
    proc, caught, err = _interrupt_while_writing(command, out_dir, signal.SIGKILL)
    names = sorted(p.name for p in out_dir.iterdir())
    assert names in ([], ["snap.json"]), names
    if names:  # the kill came after the rename: the snapshot is whole
        assert json.loads(target.read_bytes())["schema_version"]
    else:
        assert caught, err.decode()[-500:]


@pytest.mark.parametrize("how", ["same-path", "relative-path", "symlink", "hard-link"])
def test_output_never_overwrites_the_input(tmp_path: Path, hullcheck_cli: Callable[..., Any], how: str) -> None:
    snapshot = tmp_path / "snap.json"
    snapshot.write_bytes(MISCONFIGURED.read_bytes())
    before = snapshot.read_bytes()
    if how == "same-path":
        output = str(snapshot)
    elif how == "relative-path":
        output = "./snap.json"
    elif how == "symlink":
        (tmp_path / "alias.json").symlink_to(snapshot)
        output = str(tmp_path / "alias.json")
    else:
        os.link(snapshot, tmp_path / "hard.json")
        output = str(tmp_path / "hard.json")
    proc = hullcheck_cli("evaluate", str(snapshot), "-o", output, cwd=str(tmp_path))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "refusing to overwrite an input file" in lines[0], proc.stderr
    assert snapshot.read_bytes() == before


_BROKEN_RENDERER = (
    "import sys, evaluator.render as r\n"
    "def broken(*a, **k):\n"
    "    raise RuntimeError('renderer exploded\\nsecond line')\n"
    "r.FORMATS['text'] = broken\n"
    "from hullcheck.cli import main\n"
    "sys.argv = ['hullcheck', *sys.argv[1:]]\n"
    "main()\n"
)


def test_unexpected_exception_is_one_line(tmp_path: Path) -> None:
    """A bug (here: a renderer that raises) is one line and exit 2; HULLCHECK_DEBUG=1 shows the traceback."""
    command = [sys.executable, "-c", _BROKEN_RENDERER, "evaluate", str(MISCONFIGURED)]
    env = {k: v for k, v in ENV.items() if k != "HULLCHECK_DEBUG"}
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd="/", timeout=300, check=False)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("hullcheck: internal error: RuntimeError: renderer exploded second line")
    assert "HULLCHECK_DEBUG=1" in lines[0]
    debug = subprocess.run(command, capture_output=True, text=True, env={**env, "HULLCHECK_DEBUG": "1"}, cwd="/",
                           timeout=300, check=False)
    assert debug.returncode != 0
    assert "Traceback" in debug.stderr and "renderer exploded" in debug.stderr
