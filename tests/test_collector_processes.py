"""Running containers' process tables read from the host's /proc against the engine's own /top.

The collector reads a local Docker engine's containers from /proc the way dockerd's /top makes
them (collector/proctop.py). Here both come from the live engine, one collection each way, for
containers whose tables differ in every column that can: users by name and by number, a
terminal, a process tree, an init process, a long command line, spaces inside arguments.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from conftest import LABEL_KEY

from collector import CollectOptions, collect
from collector.files import names_by_id
from collector.hostfs import HostFS
from collector.proctop import TITLES, ProcTop

# Read at a moment, not a fact of the process: they may tick between the two collections.
_MOMENTARY = {TITLES.index("C"), TITLES.index("TIME")}


def _settled(docker_client: Any, container: Any, processes: int) -> None:
    """Wait until the engine lists `processes` processes (a shell starts its children after `run`)."""
    deadline = time.monotonic() + 30
    while len(docker_client.api.top(container.id)["Processes"] or []) < processes:
        assert time.monotonic() < deadline, f"{container.name} never started {processes} processes"
        time.sleep(0.1)


def _long_named_uid() -> int:
    """A uid the host names with more than 8 characters (ps cuts it to `message+`)."""
    for uid, name in names_by_id(HostFS("/"), "/etc/passwd").items():
        if len(name) > 8:
            return uid
    pytest.skip("no user on this host has a name longer than ps's 8-cell column")


@pytest.fixture(scope="module")
def varied(docker_client, busybox_image, session_label):
    """Containers whose `ps -ef` rows differ in every column /proc has to reproduce."""
    label = f"{session_label}-ps"
    specs: dict[str, tuple[dict[str, Any], int]] = {
        "longuser": ({"command": ["sleep", "3599"], "user": str(_long_named_uid())}, 1),
        "plain": ({"command": ["sleep", "3600"]}, 1),
        "uid1000": ({"command": ["sleep", "3601"], "user": "1000:1000"}, 1),
        "nobody": ({"command": ["sleep", "3602"], "user": "65534"}, 1),
        "tty": ({"command": ["sh"], "tty": True, "stdin_open": True}, 1),
        "tree": ({"command": ["sh", "-c", "sleep 3603 & sleep 3604 & (sh -c 'sleep 3605') & exec sleep   3606"]}, 4),
        "init": ({"command": ["sleep", "3607"], "init": True}, 2),
        "long": ({"command": ["sh", "-c", "sleep 3608; : " + "x" * 3000]}, 2),
        "spaces": ({"command": ["sh", "-c", "sleep 3609; :", "two  spaces"]}, 2),
    }
    started = {}
    try:
        for name, (kwargs, count) in specs.items():
            container = docker_client.containers.run(busybox_image, name=f"hc-{label}-{name}", detach=True,
                                                     labels={LABEL_KEY: label}, **kwargs)
            started[name] = (container, count)
        for container, count in started.values():
            _settled(docker_client, container, count)
        yield label, {name: c for name, (c, _) in started.items()}
    finally:
        for container, _ in started.values():
            container.remove(force=True)


def _tables(snapshot: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["inspect"]["Name"].rsplit("-", 1)[-1]: c for c in snapshot["containers"]}


def test_proc_tables_are_the_engines_top_tables(varied):
    label, containers = varied
    from_proc = _tables(collect(CollectOptions(label_filter=[f"{LABEL_KEY}={label}"], redact=False)))
    from_engine = _tables(collect(CollectOptions(label_filter=[f"{LABEL_KEY}={label}"], redact=False,
                                                 processes_from_engine=True)))
    assert set(from_proc) == set(from_engine) == set(containers)
    for name in containers:
        mine, engine = from_proc[name], from_engine[name]
        assert mine["processes_from"] == "proc", name
        assert engine["processes_from"] == "engine", name
        assert mine["processes"]["Titles"] == engine["processes"]["Titles"] == TITLES
        rows, want = mine["processes"]["Processes"], engine["processes"]["Processes"]
        assert len(rows) == len(want), (name, rows, want)
        for row, expected in zip(rows, want):
            steady = [v for i, v in enumerate(row) if i not in _MOMENTARY]
            assert steady == [v for i, v in enumerate(expected) if i not in _MOMENTARY], (name, row, expected)
            assert row[TITLES.index("C")].isdigit() and int(row[TITLES.index("C")]) <= 99
            assert row[TITLES.index("TIME")].count(":") == 2
    # The columns that tell these containers apart really were exercised.
    assert from_proc["tree"]["processes"]["Processes"][0][-1] == "sleep 3606"  # dockerd joins on single spaces
    assert {row[-1] for row in from_proc["tree"]["processes"]["Processes"]} == {
        "sleep 3603", "sleep 3604", "sleep 3605", "sleep 3606"}
    assert from_proc["init"]["processes"]["Processes"][0][-1].startswith("/sbin/docker-init")
    assert len(from_proc["long"]["processes"]["Processes"][0][-1]) > 3000
    assert from_proc["longuser"]["processes"]["Processes"][0][0].endswith("+")
    assert from_proc["spaces"]["processes"]["Processes"][0][-1] == "sh -c sleep 3609; : two spaces"


def test_redaction_applies_to_proc_tables(run_container, session_label):
    run_container("secretps", command=("sh", "-c", "sleep 3600; : --password=hunter2"))
    deadline = time.monotonic() + 30
    while True:
        snapshot = collect(CollectOptions(label_filter=[f"{LABEL_KEY}={session_label}"]))
        item = next(c for c in snapshot["containers"] if c["inspect"]["Name"].endswith("-secretps"))
        commands = [row[-1] for row in item["processes"]["Processes"]]
        if len(commands) == 2 or time.monotonic() > deadline:
            break
    assert item["processes_from"] == "proc"
    assert any("--password=<redacted>" in c for c in commands), commands
    assert "hunter2" not in str(snapshot)


def test_a_pid_that_is_not_the_containers_own_is_never_read(varied, docker_client):
    """The check that makes /proc trustworthy: the cgroup of State.Pid must name the container.
    Another container's pid, a pid that does not exist and a made-up id all go to the engine."""
    _, containers = varied
    plain, tree = containers["plain"], containers["tree"]
    plain.reload()
    tree.reload()
    top = ProcTop(HostFS("/"))
    assert top.table(plain.id, plain.attrs["State"]["Pid"]) is not None
    assert top.table(tree.id, plain.attrs["State"]["Pid"]) is None, "the pid of another container"
    assert top.table(plain.id, 2 ** 22 + 12345) is None, "a pid that no process has"
    assert top.table("f" * 64, plain.attrs["State"]["Pid"]) is None, "an id no cgroup names"
    assert top.table(plain.id[:12], plain.attrs["State"]["Pid"]) is None, "only a full id is proof"
    assert top.table(plain.id, None) is None and top.table(plain.id, 0) is None


def test_cli_flag_asks_the_engine(varied, hullcheck_cli, tmp_path):
    import json

    label, _ = varied
    out = tmp_path / "snap.json"
    run = hullcheck_cli("collect", "--label", f"{LABEL_KEY}={label}", "--processes-from-engine", "-o", str(out))
    assert run.returncode == 0, run.stderr
    snapshot = json.loads(out.read_text())
    assert {c["processes_from"] for c in snapshot["containers"]} == {"engine"}
