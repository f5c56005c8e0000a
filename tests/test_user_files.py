"""Every option (and every file named inside a file) that names a file to read goes through the one
reader of user-named files (hullcheck_common.userfile): a FIFO nobody writes to is refused at once,
in one line naming it, exit 2, never waited on. Each case runs the real CLI with a timeout: a hang
fails the test (TimeoutExpired), it never passes slowly.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any, Callable

import pytest
from policy_packs import policy, write_pack

from hullcheck_common import userfile
from hullcheck_common.resources import snapshots_dir

SNAPSHOT = str(snapshots_dir() / "examples" / "minimal.json")
OTHER = str(snapshots_dir() / "examples" / "hardened.json")
FIFO = "named-pipe"
ONE = ("--policy", "cis-docker-5.1")  # one policy: the refusal comes before any evaluation anyway
CONTAINERS = ("--policy", "cis-docker-5.*")  # guard and watch judge container policies only

# (case name, arguments; "{F}" is the FIFO, "{D}" the case's directory with the files below)
CASES: list[tuple[str, list[str]]] = [
    ("evaluate SNAPSHOT", ["evaluate", "{F}"]),
    ("evaluate --waivers", ["evaluate", SNAPSHOT, *ONE, "--waivers", "{F}"]),
    ("evaluate --baseline", ["evaluate", SNAPSHOT, *ONE, "--baseline", "{F}"]),
    ("evaluate --trust", ["evaluate", SNAPSHOT, *ONE, "--trust", "{F}"]),
    ("evaluate --advisories", ["evaluate", SNAPSHOT, "--policy", "cis-docker-1.2.2", "--advisories", "{F}"]),
    ("evaluate --expect-hosts", ["evaluate", SNAPSHOT, OTHER, *ONE, "--expect-hosts", "{F}"]),
    ("evaluate --sign", ["evaluate", SNAPSHOT, *ONE, "-o", "{D}/out.txt", "--sign", "{F}"]),
    ("evaluate --policies (a policy file)", ["evaluate", SNAPSHOT, *ONE, "--policies", "{D}/policies"]),
    ("audit --waivers", ["audit", "-H", "unix:///nonexistent.sock", "--fallback-example", *ONE, "--waivers", "{F}"]),
    ("render RESULTS", ["render", "{F}"]),
    ("render --trust", ["render", "{D}/results.json", "--trust", "{F}"]),
    ("render --waivers", ["render", "{D}/results.json", "--waivers", "{F}"]),
    ("render --baseline", ["render", "{D}/results.json", "--baseline", "{F}"]),
    ("diff OLD", ["diff", "{F}", SNAPSHOT]),
    ("diff NEW", ["diff", SNAPSHOT, "{F}"]),
    ("collect --compose", ["collect", "--compose", "{F}"]),
    ("collect --env-file", ["collect", "--compose", "{D}/plain.yaml", "--env-file", "{F}"]),
    ("compose env_file:", ["collect", "--compose", "{D}/env_file.yaml"]),
    ("compose label_file:", ["collect", "--compose", "{D}/label_file.yaml"]),
    ("compose include:", ["collect", "--compose", "{D}/include.yaml"]),
    ("compose extends: file:", ["collect", "--compose", "{D}/extends.yaml"]),
    ("compose build: dockerfile:", ["collect", "--compose", "{D}/build.yaml"]),
    ("collect --dockerfile", ["collect", "--dockerfile", "{F}"]),
    ("collect --tlscacert", ["collect", "-H", "tcp://127.0.0.1:9", "--tlsverify", "--tlscacert", "{F}"]),
    ("collect --tlscert", ["collect", "-H", "tcp://127.0.0.1:9", "--tls", "--tlscert", "{F}", "--tlskey", "{D}/plain.yaml"]),
    ("collect --sign", ["collect", "--compose", "{D}/plain.yaml", "-o", "{D}/out.json", "--sign", "{F}"]),
    ("test DIRECTORY (a policy file)", ["test", "{D}/policies"]),
    ("waivers lint", ["waivers", "lint", "{F}"]),
    ("advisories --advisories", ["advisories", "--advisories", "{F}"]),
    ("advisories import", ["advisories", "import", "{F}"]),
    ("advisories import --trust", ["advisories", "import", "{D}/bundle.zip", "--trust", "{F}"]),
    ("watch --waivers", ["watch", "-H", "unix:///nonexistent.sock", *CONTAINERS, "--waivers", "{F}"]),
    ("guard --waivers", ["guard", "--name", "hullcheck-fifo-test", "--audit-only", "--plugin-dir", "{D}", *CONTAINERS,
                         "--waivers", "{F}"]),
]

COMPOSE_FILES = {
    "plain.yaml": "services:\n  web:\n    image: nginx:1.27\n",
    "env_file.yaml": f"services:\n  web:\n    image: nginx:1.27\n    env_file: {FIFO}\n",
    "label_file.yaml": f"services:\n  web:\n    image: nginx:1.27\n    label_file: {FIFO}\n",
    "include.yaml": f"include:\n  - {FIFO}\nservices:\n  web:\n    image: nginx:1.27\n",
    "extends.yaml": f"services:\n  web:\n    extends: {{file: {FIFO}, service: base}}\n",
    "build.yaml": f"services:\n  web:\n    build: {{context: ., dockerfile: {FIFO}}}\n",
}


@pytest.fixture(scope="module")
def results_file(tmp_path_factory: pytest.TempPathFactory, hullcheck_cli_module: Callable[..., Any]) -> Path:
    out = tmp_path_factory.mktemp("results") / "results.json"
    done = hullcheck_cli_module("evaluate", SNAPSHOT, *ONE, "--format", "json", "-o", str(out))
    assert done.returncode in (0, 1) and out.is_file(), done.stderr
    return out


@pytest.fixture(scope="module")
def hullcheck_cli_module() -> Callable[..., subprocess.CompletedProcess[str]]:
    import sys

    repo = Path(__file__).resolve().parent.parent

    def run(*args: str, cwd: str = "/", timeout: float = 60) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(repo)}
        return subprocess.run([sys.executable, "-m", "hullcheck.cli", *args], capture_output=True, text=True,
                              env=env, cwd=cwd, timeout=timeout, check=False)

    return run


@pytest.mark.parametrize("name,args", CASES, ids=[name for name, _ in CASES])
def test_a_fifo_is_refused_in_one_line(name: str, args: list[str], tmp_path: Path, results_file: Path,
                                       hullcheck_cli_module: Callable[..., subprocess.CompletedProcess[str]]) -> None:
    os.mkfifo(tmp_path / FIFO)
    for file, text in COMPOSE_FILES.items():
        (tmp_path / file).write_text(text)
    (tmp_path / "results.json").write_bytes(results_file.read_bytes())
    (tmp_path / "bundle.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip: --trust is read first
    (tmp_path / "policies").mkdir()
    os.mkfifo(tmp_path / "policies" / f"{FIFO}.yaml")
    argv = [a.replace("{F}", str(tmp_path / FIFO)).replace("{D}", str(tmp_path)) for a in args]
    done = hullcheck_cli_module(*argv, cwd=str(tmp_path))  # a hang raises TimeoutExpired: the test fails
    assert done.returncode == 2, (name, done.returncode, done.stderr[-2000:])
    if args[0] == "waivers":  # `waivers lint` reports on stdout, a line per issue, then its count
        lines = done.stdout.strip().splitlines()[:1]
        assert lines and lines[0].startswith(f"{tmp_path / FIFO}: error: ") and done.stderr == "", (name, done.stdout)
    else:
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("hullcheck: error: "), (name, done.stderr)
    assert re.search(rf"{FIFO}(\.yaml)?\b.*FIFO \(named pipe\), not a regular file", lines[0]), (name, lines[0])


def test_a_policy_case_whose_base_is_a_fifo_is_a_broken_case(tmp_path: Path,
                                                              hullcheck_cli_module: Callable[..., Any]) -> None:
    """A test case's base snapshot is a file named in a policy file: refused too, as that case's problem."""
    os.mkfifo(tmp_path / "base.json")
    write_pack(tmp_path, policy("tst-fifo", tests=[{"name": "fifo base", "base": "base.json", "expect": {"status": "pass"}}]))
    done = hullcheck_cli_module("test", str(tmp_path))
    assert done.returncode == 1, done.stderr
    assert "broken case: base snapshot" in done.stdout and "base.json: is a FIFO (named pipe)" in done.stdout


@pytest.mark.parametrize("make,words", [
    (lambda p: os.mkfifo(p), "is a FIFO (named pipe), not a regular file"),
    (lambda p: p.mkdir(), "is a directory, not a waivers file"),
    (lambda p: p.write_bytes(b"x" * 2000), "2 KB is over the 1 KB limit"),
    (lambda p: p.write_bytes(b"\xff\xfe"), "not UTF-8 text (byte 0)"),
    (lambda p: None, "no such file"),
])
def test_the_reader_says_what_the_file_is(tmp_path: Path, make: Callable[[Path], None], words: str) -> None:
    path = tmp_path / "named"
    make(path)
    with pytest.raises(userfile.UserFileError) as caught:
        userfile.read_text(path, what="a waivers file", max_bytes=1000)
    assert str(caught.value) == f"{path}: {words}"


def test_a_device_is_refused_and_checked_names_pass(tmp_path: Path) -> None:
    with pytest.raises(userfile.UserFileError, match="/dev/zero: is a device, not a regular file"):
        userfile.read_bytes("/dev/zero")
    with pytest.raises(userfile.UserFileError, match="is a device, not a regular file"):
        userfile.check_regular("/dev/null")
    plain = tmp_path / "plain"
    plain.write_text("x")
    assert userfile.check_regular(plain) == plain and userfile.read_bytes(plain) == b"x"
