"""deploy/ansible/audit.yml against real hosts: sshd and dockerd in network namespaces (tests/fleet_lab.py).

The play runs in the controller's namespace and reaches the hosts over ssh only. host1 runs a
container with an added capability, host2 none, host3's sshd is stopped before the play, host4's
python3 is Python 3.9 (RHEL 9, Debian 11), host5's is 3.6 (older than hullcheck runs on): the
report must name all five, host3 as not collected (unreachable), host5 as not collected because
its Python is too old (pointing at the collector image), and each collected host's verdicts must
equal a direct collection on that host. Then: a second run installs nothing again, `--check` changes no
file, `--limit` refreshes one host and still reports the fleet, a hullcheck_python that does not
run is reported as "no Python". The same hosts serve
`hullcheck collect --docker-host ssh://...` end to end.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Iterator

import pytest
from fleet_lab import FleetLab, Host, build_wheelhouse
from pythons_support import SUPPORTED, TOO_OLD, require

pytestmark = pytest.mark.docker

NEEDS = ("ip", "nsenter", "unshare", "sshd", "ssh", "ssh-keygen", "dockerd")
if os.geteuid() != 0 or any(shutil.which(tool) is None for tool in NEEDS):
    pytest.skip(f"needs root and {', '.join(NEEDS)}", allow_module_level=True)
pytest.importorskip("ansible", reason="ansible-core is a test dependency (pip install '.[test]')")

HULLCHECK = [sys.executable, "-m", "hullcheck.cli"]  # this checkout's hullcheck, wherever pip put its script
SUPPORTED_FLOOR = SUPPORTED[0]


@pytest.fixture(scope="module")
def wheelhouse() -> Iterator[Path]:
    work = Path(tempfile.mkdtemp(prefix="hcf-build-", dir="/tmp"))
    try:
        yield build_wheelhouse(work / "fleet")
    finally:
        shutil.rmtree(work, ignore_errors=True)


@pytest.fixture(scope="module")
def lab() -> Iterator[FleetLab]:
    oldest, too_old = require(SUPPORTED_FLOOR), require(TOO_OLD)
    with FleetLab(5, containers={0: [{"cap_add": ["SYS_PTRACE"]}]}) as lab:
        # The interpreter Ansible's modules run with is the host's python3 too, as on a real host.
        lab.hosts[3].extra_vars = {"hullcheck_python": oldest, "ansible_python_interpreter": oldest}
        lab.hosts[4].extra_vars = {"hullcheck_python": too_old, "ansible_python_interpreter": too_old}
        yield lab


def _tasks(output: str) -> dict[str, dict[str, set[str]]]:
    """The default callback's output as {task name: {host: {ok, changed, skipping, ...}}}."""
    tasks: dict[str, dict[str, set[str]]] = {}
    current = None
    for line in output.splitlines():
        m = re.match(r"TASK \[(?:\w+ : )?(.+?)\] \*+", line)
        if m:
            current = tasks.setdefault(m.group(1), {})
            continue
        m = re.match(r"(ok|changed|skipping|fatal|failed): \[([^\]\s]+)", line)
        if m and current is not None:
            current.setdefault(m.group(2), set()).add(m.group(1))
    return tasks


def _tree(*roots: Path) -> dict[str, tuple[float, str]]:
    out = {}
    for root in roots:
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                out[str(path)] = (path.stat().st_mtime, hashlib.sha256(path.read_bytes()).hexdigest())
    return out


def _statuses(document: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["status"] for r in document["results"]}


def _direct(lab: FleetLab, host: Host, evaluator: Path, work: Path) -> dict[str, str]:
    """Collect on the host itself (its namespace, its engine, the hullcheck the play installed), evaluate here."""
    assert host.dockerd is not None
    snapshot = work / f"direct-{host.name}.json"
    subprocess.run([*host.nsenter, str(host.dir / "opt" / "venv" / "bin" / "hullcheck"), "collect",
                    "--docker-host", host.dockerd.url, "-o", str(snapshot)], check=True, capture_output=True, timeout=300)
    done = subprocess.run([str(evaluator), "evaluate", str(snapshot), "-f", "json"], capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr
    return _statuses(json.loads(done.stdout))


def test_play_audits_the_fleet(lab: FleetLab, wheelhouse: Path, tmp_path: Path) -> None:
    fleet_dir = tmp_path / "fleet"
    inventory = lab.inventory(tmp_path / "inventory.ini")
    wh = f"hullcheck_wheelhouse={wheelhouse}"
    wheel = next(wheelhouse.glob("hullcheck-*.whl"))
    host1, host2, host3, host4, host5 = lab.hosts
    host3.stop_sshd()

    first = lab.play(inventory, fleet_dir, "-e", wh, "-e", f"hullcheck_wheel={wheel}")
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-2000:]
    fleet = json.loads((fleet_dir / "fleet.json").read_text())
    by_key = {h["key"]: h for h in fleet["hosts"]}
    assert set(by_key) == {"host1", "host2", "host3", "host4", "host5"}
    assert by_key["host1"]["status"] == by_key["host2"]["status"] == by_key["host4"]["status"] == "evaluated"
    assert by_key["host3"]["status"] == "not_collected" and "unreachable" in by_key["host3"]["error"]
    # The too-old host: not collected, with its Python's version, the floor and the way out.
    too_old = by_key["host5"]
    assert too_old["status"] == "not_collected", too_old
    version = subprocess.run([str(host5.extra_vars["hullcheck_python"]), "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, check=True).stdout.strip()
    for words in ("Python too old", f"is Python {version}", f"hullcheck needs {SUPPORTED_FLOOR} or newer", "collector container image"):
        assert words in too_old["error"], (words, too_old["error"])
    assert f"host5 not collected: Python too old: {host5.extra_vars['hullcheck_python']} is Python {version}" in first.stdout
    assert "host5 Python too old" in (fleet_dir / "expected-hosts.txt").read_text()
    assert fleet["summary"]["not_collected"] == 2 and fleet["summary"]["evaluated"] == 3
    assert (fleet_dir / "fleet.exit").read_text().strip() == "2"  # incomplete fleet: the CI gate must not pass
    for report in ("fleet.html", "fleet.md"):
        text = (fleet_dir / report).read_text()
        assert all(name in text for name in ("host1", "host2", "host3", "host4", "host5")), report
        assert "Not collected" in text and "Python too old" in text
    for name in ("host1", "host2", "host4"):
        sarif = json.loads((fleet_dir / "hosts" / f"{name}.sarif").read_text())
        assert sarif["version"] == "2.1.0"
        assert json.loads((fleet_dir / "hosts" / f"{name}.results.json").read_text())["snapshot"]["host"] \
            == f"hcf-{lab.tag}-{name}"  # the engine of that host, not of another one or of this machine
    assert sorted(p.name for p in (fleet_dir / "snapshots").glob("*.json")) == ["host1.json", "host2.json", "host4.json"]
    # host4's hullcheck runs on that host's Python 3.9 (from the wheelhouse's 3.9 wheels).
    assert re.search(rf"^version\s*=\s*{re.escape(SUPPORTED_FLOOR)}\.", (host4.dir / "opt" / "venv" / "pyvenv.cfg").read_text(), re.M)
    assert not (host5.dir / "opt").exists()  # nothing was copied to or installed on the too-old host

    evaluator = fleet_dir / ".build" / "venv" / "bin" / "hullcheck"
    for host in (host1, host2, host4):
        assert by_key[host.name]["statuses"] == _direct(lab, host, evaluator, tmp_path), host.name
    assert by_key["host1"]["statuses"] != by_key["host2"]["statuses"]  # the hosts differ, and the report shows it

    # A second run, --limit host1: installs nothing again on host1, refreshes its snapshot only, and
    # the report still covers the fleet (host2 from its last snapshot).
    host1_snapshot = (fleet_dir / "snapshots" / "host1.json").read_bytes()
    host2_snapshot = (fleet_dir / "snapshots" / "host2.json").read_bytes()
    second = lab.play(inventory, fleet_dir, "-e", wh, "-e", f"hullcheck_wheel={wheel}", "--limit", "host1")
    assert second.returncode == 0, second.stdout[-4000:]
    tasks = _tasks(second.stdout)
    for task in ("Make hullcheck's directories", "Copy the wheelhouse",
                 "Install hullcheck into its virtualenv from the wheelhouse (no index; again only when the wheelhouse changed)",
                 "Install the same hullcheck on the controller, from the same wheelhouse"):
        assert tasks[task] == {"host1": {"ok"}}, (task, tasks[task])
    assert (fleet_dir / "snapshots" / "host2.json").read_bytes() == host2_snapshot
    assert (fleet_dir / "snapshots" / "host1.json").read_bytes() != host1_snapshot
    by_key = {h["key"]: h for h in json.loads((fleet_dir / "fleet.json").read_text())["hosts"]}
    assert by_key["host1"]["status"] == by_key["host2"]["status"] == "evaluated"
    assert by_key["host3"]["status"] == "not_collected" and "--limit" in by_key["host3"]["error"]

    # --check contacts the hosts and changes no file, there or in the fleet directory.
    before = _tree(fleet_dir, host1.dir / "opt", host1.dir / "state", host2.dir / "state")
    check = lab.play(inventory, fleet_dir, "-e", wh, "-e", f"hullcheck_wheel={wheel}", "--check")
    assert check.returncode == 0, check.stdout[-4000:]
    checked = _tasks(check.stdout)
    for task in ("Collect the snapshot (read-only, the collector changes nothing on the host)",
                 "Evaluate every snapshot into the fleet report"):
        assert set().union(*checked[task].values()) == {"skipping"}, (task, checked[task])
    assert _tree(fleet_dir, host1.dir / "opt", host1.dir / "state", host2.dir / "state") == before

    # A host where hullcheck_python does not run: not collected, saying so and the way out.
    absent = lab.play(inventory, fleet_dir, "-e", wh, "-e", f"hullcheck_wheel={wheel}", "--limit", "host2",
                      "-e", "hullcheck_python=/nonexistent/python3")
    assert absent.returncode == 0, absent.stdout[-4000:]
    host2_now = {h["key"]: h for h in json.loads((fleet_dir / "fleet.json").read_text())["hosts"]}["host2"]
    assert host2_now["status"] == "not_collected", host2_now
    assert re.fullmatch(r"host2: not collected \(no Python: /nonexistent/python3 does not run on the host \([^()\n]*"
                        r"/nonexistent/python3[^()\n]*\); set hullcheck_python to a Python 3\.9 or newer, or collect with the"
                        r" collector container image \(docs/install\.md\)\)", host2_now["error"]), host2_now["error"]


def test_ssh_engine_end_to_end(lab: FleetLab, tmp_path: Path) -> None:
    """`collect --docker-host ssh://root@host` from the controller: OpenSSH to the host, `docker system
    dial-stdio` there, the host's own engine answers. ssh reads its configuration from the system file
    (never $HOME), so the test gives it one in a private mount namespace: the machine's stays untouched."""
    host = lab.hosts[0]
    assert host.dockerd is not None
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text("Host *\n" + "".join(f"  {option}\n" for option in (
        f"IdentityFile {lab.client_key}", f"UserKnownHostsFile {lab.known_hosts}", "StrictHostKeyChecking yes",
        "BatchMode yes", "ConnectTimeout 20", "ControlMaster no")))
    remote = tmp_path / "remote.json"
    done = lab.in_controller(["unshare", "--mount", "--", "sh", "-c",
                              'mount --bind "$0" /etc/ssh/ssh_config && exec "$@"', str(ssh_config),
                              *HULLCHECK, "collect", "--docker-host", f"ssh://root@{host.address}", "-o", str(remote)],
                             check=False, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    snapshot = json.loads(remote.read_text())
    local = subprocess.run([*host.nsenter, *HULLCHECK, "collect", "--docker-host", host.dockerd.url],
                           capture_output=True, text=True, timeout=300, check=True)
    direct = json.loads(local.stdout)
    assert snapshot["meta"]["hostname"] == direct["meta"]["hostname"] == f"hcf-{lab.tag}-{host.name}"
    ids = sorted(c["inspect"]["Id"] for c in snapshot["containers"])
    assert ids and ids == sorted(c["inspect"]["Id"] for c in direct["containers"])
    assert snapshot["meta"]["collector"]["remote"] is True and direct["meta"]["collector"]["remote"] is False
    assert snapshot["host"] is None and direct["host"] is not None  # a remote engine: the host is not read
    assert snapshot["meta"]["engine_endpoint"].startswith("ssh://")
