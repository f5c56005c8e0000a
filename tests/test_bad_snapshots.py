"""Bad snapshot files, through the real CLI: one clear line on stderr, exit 2, never a traceback.

Snapshots come from other machines and other people; whatever is wrong with the file, the user
gets `hullcheck: error: <file>: <what is wrong>` and exit code 2, and nothing hangs or crashes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

REPO = Path(__file__).resolve().parent.parent
MINIMAL = REPO / "snapshots" / "examples" / "minimal.json"
MISCONFIGURED = REPO / "snapshots" / "examples" / "misconfigured.json"


def _snap(base: Path = MINIMAL) -> dict[str, Any]:
    return json.loads(base.read_text(encoding="utf-8"))


def _text(base: Path = MINIMAL) -> str:
    return json.dumps(_snap(base))


def _with(mutate: Callable[[dict[str, Any]], None]) -> bytes:
    snap = _snap()
    mutate(snap)
    return json.dumps(snap).encode()


def _assert_one_line_error(proc: subprocess.CompletedProcess[str], *patterns: str) -> str:
    """Exit 2, exactly one line on stderr that starts `hullcheck: error:`, no traceback, nothing on stdout."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("hullcheck: error: "), lines[0]
    for pattern in patterns:
        assert re.search(pattern, lines[0], re.IGNORECASE), (pattern, lines[0])
    assert proc.stdout == ""
    return lines[0]


def _set(path: list[str], value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(snap: dict[str, Any]) -> None:
        target = snap
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return mutate


CASES: list[tuple[str, bytes, tuple[str, ...]]] = [
    ("empty", b"", ("empty file",)),
    ("whitespace", b"  \n\t\n", ("empty file",)),
    ("not-json", b"this is not a snapshot\n", ("not valid JSON", "line 1 column 1")),
    ("truncated", _text().encode()[:-200], ("not valid JSON", "truncated")),
    ("truncated-mid-string", _text().encode()[:301], ("not valid JSON", "truncated")),
    ("not-utf8", b'{"schema_version": "1.0", "x": "\xff\xfe"}', ("not UTF-8",)),
    ("utf16", _text().encode("utf-16"), ("not UTF-8",)),
    ("array", b"[1, 2, 3]", ("top level is a JSON array", "object")),
    ("string", b'"snapshot"', ("top level is a JSON string",)),
    ("null", b"null", ("top level is a JSON null",)),
    ("no-version", b'{"meta": {}}', ("no schema_version",)),
    ("version-wrong-type", _with(_set(["schema_version"], 1)), ("no schema_version",)),
    ("meta-wrong-type", _with(_set(["meta"], "yesterday")), ("snapshot schema", r"at /meta\b", "not of type")),
    ("containers-wrong-type", _with(_set(["containers"], {"web": {}})), ("snapshot schema", "/containers", "not of type")),
    ("hostname-wrong-type", _with(_set(["meta", "hostname"], 42)), ("snapshot schema", "/meta/hostname", "42 is not of type 'string'")),
    ("missing-section", _with(lambda s: s.pop("daemon")), ("snapshot schema", "'daemon' is a required property")),
    ("unknown-section", _with(_set(["extra"], 1)), ("snapshot schema", "'extra' was unexpected")),
    ("newer-major", _with(_set(["schema_version"], "2.0")), ("schema_version 2.0 is newer", "upgrade hullcheck")),
    ("older-major", _with(_set(["schema_version"], "0.9")), ("schema_version 0.9 is older",)),
    ("nan", _text().encode()[:-1] + b', "x": NaN}', ("NaN is not valid JSON",)),
    ("infinity", _text().encode()[:-1] + b', "x": -Infinity}', ("Infinity is not valid JSON",)),
    ("number-out-of-range", _with(_set(["engine", "info"], {"Big": 1.5})).replace(b"1.5", b"1e999"),
     ("number 1e999 is out of range",)),
    ("duplicate-key", _text().encode()[:-1] + b', "schema_version": "1.0"}', ("duplicate key 'schema_version'",)),
    ("duplicate-key-nested", _with(_set(["engine", "info"], {"A": 1})).replace(b'"A": 1', b'"A": 1, "A": 2'),
     ("duplicate key 'A'",)),
    ("unpaired-surrogate", _with(_set(["meta", "hostname"], "host")).replace(b'"host"', b'"ho\\udc80st"'),
     ("unpaired UTF-16 surrogate",)),
    ("deep-nesting-top", b"[" * 100_000 + b"]" * 100_000, ("nested too deeply",)),
    ("deep-nesting-inside", _with(_set(["engine", "info"], {"Deep": "@"})).replace(b'"@"', b"[" * 100_000 + b"]" * 100_000),
     ("nested too deeply",)),
]


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The real CLI, exactly as the `hullcheck_cli` fixture runs it (usable from a module fixture)."""
    return subprocess.run([sys.executable, "-m", "hullcheck.cli", *args], capture_output=True, text=True,
                          env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)}, cwd="/", timeout=timeout,
                          check=False)


@pytest.fixture(scope="module")
def bad_file_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, subprocess.CompletedProcess[str]]]:
    """Every bad file through the CLI, four at a time: each run is a separate process start."""
    from concurrent.futures import ThreadPoolExecutor

    directory = tmp_path_factory.mktemp("bad-snapshots")
    paths = {}
    for name, data, _ in CASES:
        paths[name] = directory / f"{name}.json"
        paths[name].write_bytes(data)
    with ThreadPoolExecutor(max_workers=4) as pool:
        runs = dict(zip(paths, pool.map(lambda p: _cli("evaluate", str(p), timeout=300), paths.values())))
    return {name: (paths[name], runs[name]) for name in paths}


@pytest.mark.parametrize("name,patterns", [(c[0], c[2]) for c in CASES], ids=[c[0] for c in CASES])
def test_bad_snapshot_file(bad_file_runs: dict[str, Any], name: str, patterns: tuple[str, ...]) -> None:
    path, proc = bad_file_runs[name]
    line = _assert_one_line_error(proc, *patterns)
    assert str(path) in line  # the user is told which file


def test_deep_but_legal_nesting_evaluates(hullcheck_cli: Callable[..., Any], tmp_path: Path) -> None:
    """Nesting Python accepts (800 levels in a free-form engine field) reaches jq and evaluates normally."""
    path = tmp_path / "deep-ok.json"
    path.write_bytes(_with(_set(["engine", "info", "Deep"], "@")).replace(b'"@"', b"[" * 800 + b"]" * 800))
    proc = hullcheck_cli("evaluate", str(path), "--format", "json", timeout=120)
    assert proc.returncode == 1, proc.stderr  # the minimal host fails policies: judged as usual
    document = json.loads(proc.stdout)
    assert {r["status"] for r in document["results"]} <= {"pass", "fail", "not_applicable", "manual"}
    assert "fail" in {r["status"] for r in document["results"]}


def test_directory(hullcheck_cli: Callable[..., Any], tmp_path: Path) -> None:
    """A directory is a fleet of snapshots (issue 10); one with no snapshot in it is a clear error."""
    _assert_one_line_error(hullcheck_cli("evaluate", str(tmp_path)), "no snapshot")


def test_missing_file(hullcheck_cli: Callable[..., Any], tmp_path: Path) -> None:
    _assert_one_line_error(hullcheck_cli("evaluate", str(tmp_path / "nope.json")), "no such file")


def test_fifo_with_no_writer_is_refused_not_waited_on(hullcheck_cli: Callable[..., Any], tmp_path: Path) -> None:
    fifo = tmp_path / "snapshot.json"
    os.mkfifo(fifo)
    # A generous timeout: a hang is a failure of this test (TimeoutExpired), not a slow pass.
    _assert_one_line_error(hullcheck_cli("evaluate", str(fifo), timeout=120), "FIFO", "not a regular file")


def test_device_is_refused_not_read_forever(hullcheck_cli: Callable[..., Any]) -> None:
    _assert_one_line_error(hullcheck_cli("evaluate", "/dev/zero", timeout=120), "device", "not a regular file")


def test_regular_file_that_fails_to_read(hullcheck_cli: Callable[..., Any]) -> None:
    """/proc/self/mem is a regular file whose read fails (EIO): the OS error is named."""
    _assert_one_line_error(hullcheck_cli("evaluate", "/proc/self/mem", timeout=120), "cannot read", "Input/output error")


def test_unreadable_file(tmp_path: Path) -> None:
    """chmod 000 does not stop root: drop the capabilities that let root ignore file modes."""
    path = tmp_path / "secret.json"
    shutil.copy(MINIMAL, path)
    path.chmod(0)
    command = [sys.executable, "-m", "hullcheck.cli", "evaluate", str(path)]
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.fail("running as root needs setpriv (util-linux) to drop CAP_DAC_OVERRIDE for this test")
        command = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all", *command]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd="/",
                          env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO)})
    _assert_one_line_error(proc, "permission denied")


def test_over_the_size_limit_is_refused_before_reading(hullcheck_cli: Callable[..., Any], tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    with path.open("wb") as fh:  # sparse: 3 MB of zeros costs nothing
        fh.truncate(3 * 1024 * 1024)
    _assert_one_line_error(hullcheck_cli("evaluate", str(path), "--max-snapshot-size", "2"),
                           "over the 2 MB limit", "--max-snapshot-size")


# main(), not the command's run(): run() leaves by os._exit, before atexit handlers.
_RUSAGE = """
import atexit, os, resource, sys
def report():
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(os.environ["HC_RUSAGE_OUT"], "w") as fh:
        fh.write(f"{self_kb} {children_kb}")
atexit.register(report)
sys.argv = ["hullcheck", *sys.argv[1:]]
from hullcheck.cli import main
main()
"""


def test_200_mb_snapshot_within_memory_bounds(tmp_path: Path) -> None:
    """A 200 MB snapshot (a huge string in a free-form engine field) is evaluated, the parent never
    holds it (its peak stays near an idle CLI's) and the jq worker stays far below its limit."""
    snap = _snap(MISCONFIGURED)
    snap["engine"]["info"]["HullcheckPadding"] = "@"
    head, tail = json.dumps(snap).split('"@"')
    path = tmp_path / "big.json"
    chunk = b"x" * (1 << 20)
    with path.open("wb") as fh:
        fh.write(head.encode() + b'"')
        for _ in range(200):
            fh.write(chunk)
        fh.write(b'"' + tail.encode())
    assert path.stat().st_size > 200 * 1024 * 1024
    out = tmp_path / "rusage"
    try:
        proc = subprocess.run([sys.executable, "-c", _RUSAGE, "evaluate", str(path), "--format", "json",
                               "--worker-memory", "2048"],
                              capture_output=True, text=True, timeout=600, cwd="/",
                              env={**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO), "HC_RUSAGE_OUT": str(out)})
    finally:
        path.unlink()
    assert proc.returncode == 1, proc.stderr[-2000:]  # misconfigured: findings, judged as usual
    document = json.loads(proc.stdout)
    failed = {r["id"] for r in document["results"] if r["status"] == "fail"}
    assert {"cis-docker-5.10", "cis-docker-5.11", "cis-docker-5.32"} <= failed
    parent_kb, worker_kb = map(int, out.read_text().split())
    assert parent_kb < 200 * 1024, f"the CLI process peaked at {parent_kb // 1024} MB: it held the snapshot"
    assert worker_kb < 1536 * 1024, f"the jq worker peaked at {worker_kb // 1024} MB for a 200 MB file"


def test_200_mb_snapshot_over_a_small_worker_limit_is_one_line(tmp_path: Path, hullcheck_cli: Callable[..., Any]) -> None:
    """With too little worker memory for the file, the user is told so: one line, exit 2, no crash."""
    path = tmp_path / "big.json"
    snap = _snap()
    snap["engine"]["info"]["HullcheckPadding"] = "@"
    head, tail = json.dumps(snap).split('"@"')
    with path.open("wb") as fh:
        fh.write(head.encode() + b'"' + b"x" * (64 * 1024 * 1024) + b'"' + tail.encode())
    try:
        proc = hullcheck_cli("evaluate", str(path), "--worker-memory", "256", timeout=300)
    finally:
        path.unlink()
    _assert_one_line_error(proc, "memory")
