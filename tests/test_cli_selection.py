"""Through the real CLI: selecting policies, custom packs beside the built-in one, `policies list`
and `policies show`, the text report, and evaluation that never reaches Docker or the network."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
from fnmatch import fnmatch
from functools import cache
from pathlib import Path

import pytest
from conftest import REPO
from policy_packs import MISCONFIGURED, policy, write_pack

from evaluator import Evaluator, Source, load_pack
from evaluator.render import render

ANSI = re.compile(r"\x1b\[[0-9;]*m")
ACME = {"acme-a", "acme-b", "acme-c", "acme-manual"}
# the policies the text-report and offline tests run: a fixed selection, whatever the pack's size
SMALL = ("--policy", "cis-docker-5.10", "--policy", "cis-docker-5.11", "--policy", "cis-docker-5.32", "--policy", "acme-*")


@cache
def builtin() -> tuple:
    """The built-in pack as loaded, so expectations follow the pack instead of a hard-coded size."""
    return tuple(load_pack([REPO / "policies"]))


def builtin_ids(keep=lambda p: True) -> set[str]:
    return {p.id for p in builtin() if keep(p)}


@pytest.fixture(scope="module")
def pack(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_pack(
        tmp_path_factory.mktemp("selection") / "acme",
        policy("acme-a", level=1, severity="critical", tags=["net", "acme"]),
        policy("acme-b", level=2, severity="low", tags=["acme"], assert_='.inspect.HostConfig.NetworkMode != "host"'),
        policy("acme-c", level=1, severity="high", tags=["files"], controls={"cis-docker-1.6.0": "2.1"}),
        policy("acme-manual", automated=False, level=2, severity="info", tags=["acme"]),
    )


def ids(hullcheck_cli, pack: Path, *args: str) -> set[str]:
    proc = hullcheck_cli("evaluate", str(MISCONFIGURED), "--format", "json", "--policies", str(pack), *args)
    results = json.loads(proc.stdout)["results"] if proc.stdout else []
    assert proc.returncode == (1 if any(r["status"] == "fail" for r in results) else 0), proc.stderr
    return {r["id"] for r in results}


# expected: the custom ids, plus the built-in policies a predicate over the loaded pack keeps (the
# predicate restates the option's meaning independently of hullcheck's Selection code)
@pytest.mark.parametrize("args, custom, keep, must", [
    ((), ACME, lambda p: True, {"cis-docker-5.10", "cis-docker-5.11", "cis-docker-5.32"}),
    (("--policy", "cis-docker-5.1*"), set(), lambda p: fnmatch(p.id, "cis-docker-5.1*"),
     {"cis-docker-5.10", "cis-docker-5.11"}),
    (("--policy", "acme-*", "--policy", "cis-docker-5.32", "--skip", "acme-b", "--skip", "*-manual"),
     {"acme-a", "acme-c"}, lambda p: p.id == "cis-docker-5.32", {"cis-docker-5.32"}),
    (("--min-severity", "high"), {"acme-a", "acme-c"}, lambda p: p.severity in ("critical", "high"),
     {"cis-docker-5.10", "cis-docker-5.32"}),
    (("--tag", "net", "--tag", "files"), {"acme-a", "acme-c"}, lambda p: bool({"net", "files"} & set(p.tags)), set()),
    (("--tag", "acme", "--level", "1"), {"acme-a"}, lambda p: "acme" in p.tags and p.level == 1, set()),
])
def test_selection(hullcheck_cli, pack, args, custom, keep, must):
    expected = custom | builtin_ids(keep)
    assert must <= expected  # the predicate itself keeps the policies it is known to keep
    if args:
        assert expected != ACME | builtin_ids(), "the selection must leave something out"
    assert ids(hullcheck_cli, pack, *args) == expected


@pytest.mark.parametrize("args, message", [
    (("--policy", "nothing-*"), "no policy matches the selection"),
    (("--min-severity", "severe"), "--min-severity must be one of critical, high, medium, low, info"),
])
def test_selection_errors_are_one_line(hullcheck_cli, pack, args, message):
    proc = hullcheck_cli("evaluate", str(MISCONFIGURED), "--policies", str(pack), *args)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"hullcheck: error: {message}" + proc.stderr.strip().split(message, 1)[1]]


def test_missing_policies_dir_is_an_error(hullcheck_cli, tmp_path):
    proc = hullcheck_cli("evaluate", str(MISCONFIGURED), "--policies", str(tmp_path / "nope"))
    assert proc.returncode == 2 and "not a directory of policies" in proc.stderr


# ---- policies list / show -------------------------------------------------------------------------

def test_policies_list_table(hullcheck_cli, pack):
    proc = hullcheck_cli("policies", "list", "--policies", str(pack))
    assert proc.returncode == 0, proc.stderr
    for policy_id in builtin_ids() | {"acme-a", "acme-manual"}:
        assert re.search(rf"(^|\s){re.escape(policy_id)}(\s|$)", proc.stdout, re.M), policy_id
    total = len(builtin()) + len(ACME)
    automated = sum(p.automated for p in builtin()) + len(ACME) - 1  # acme-manual is the custom manual one
    assert f"{total} policies ({automated} automated)" in proc.stdout
    assert not ANSI.search(proc.stdout)


def test_policies_list_json(hullcheck_cli, pack):
    proc = hullcheck_cli("policies", "list", "--format", "json", "--policies", str(pack))
    rows = json.loads(proc.stdout)
    assert {r["id"] for r in rows} == builtin_ids() | ACME
    by_id = {r["id"]: r for r in rows}
    assert by_id["cis-docker-5.10"]["controls"] == {"cis-docker-1.6.0": "5.10", "cis-docker-1.8.0": "5.10"}
    assert by_id["acme-manual"]["automated"] is False and by_id["acme-manual"]["audit"]
    assert [r["id"] for r in rows] == sorted(by_id, key=lambda i: [r["id"] for r in rows].index(i))  # stable order
    builtin_only = json.loads(hullcheck_cli("policies", "list", "--format", "json").stdout)
    assert {r["id"] for r in builtin_only} == builtin_ids()


def test_policies_list_markdown(hullcheck_cli):
    proc = hullcheck_cli("policies", "list", "--format", "markdown")
    lines = proc.stdout.strip().splitlines()
    assert lines[0].startswith("| id | CIS 1.6.0 | CIS 1.8.0 |") and set(lines[1]) <= {"|", "-"}
    assert len(lines) == 2 + len(builtin())
    assert any(line.startswith("| cis-docker-5.32 | 5.32 | 5.32 | 1 | critical | yes |") for line in lines)


def test_policies_show_prints_everything_including_the_jq(hullcheck_cli, pack):
    proc = hullcheck_cli("policies", "show", "cis-docker-5.10")
    assert proc.returncode == 0
    assert 'assert: shares_host_namespace("net"; .inspect.HostConfig.NetworkMode == "host") | not' in proc.stdout
    assert "remediation:" in proc.stdout and "tests:" in proc.stdout
    assert proc.stdout.rstrip().endswith("5.10-host-network-namespace.yaml")
    custom = hullcheck_cli("policies", "show", "acme-b", "--policies", str(pack))
    assert custom.returncode == 0 and str(pack / "acme-b.yaml") in custom.stdout
    missing = hullcheck_cli("policies", "show", "acme-b")
    assert missing.returncode == 2
    assert missing.stderr.strip() == "hullcheck: error: no policy with id 'acme-b' (see `hullcheck policies list`)"


# ---- the text report ------------------------------------------------------------------------------

def test_text_report_piped_is_plain_grouped_with_offenders(hullcheck_cli, pack):
    proc = hullcheck_cli("evaluate", str(MISCONFIGURED), "--policies", str(pack), *SMALL, env={"NO_COLOR": ""})
    assert proc.returncode == 1
    out = proc.stdout
    assert not ANSI.search(out), "no ANSI codes when stdout is not a terminal"
    lines = out.splitlines()
    headings = [line for line in lines if line and not line.startswith((" ", "[", "hullcheck", "Summary"))]
    assert headings == ["2 Docker Daemon Configuration", "5 Container Runtime", "Beyond the CIS Benchmark"]
    failing = lines.index(next(line for line in lines if line.startswith("[FAIL]") and "cis-docker-5.10" in line))
    assert lines[failing + 1] == "          * container web shares the host network namespace (NetworkMode=host)"
    assert "remediation:" not in out
    assert re.search(r"^\[MANUAL\] +Test policy acme-manual", out, re.M)
    assert re.search(r"^Summary: 2 passed, 4 failed, 0 errors, 0 not applicable, 1 manual, 0 waived \(7 policies; "
                     r"4 failing resources\)\. Score: 33\.3% of judged policies passed\.$", out, re.M), out


def test_text_report_verbose_shows_remediation_and_audit(hullcheck_cli, pack):
    out = hullcheck_cli("evaluate", str(MISCONFIGURED), "--policies", str(pack), "--verbose").stdout
    assert "remediation: Do not pass --network host" in out
    assert "audit: Look at the host and judge by hand." in out


def test_text_report_on_a_terminal_is_coloured():
    """A real pseudo-terminal: rich sees a TTY and colours the labels."""
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(PYTHONPATH=str(REPO), TERM="xterm-256color", COLUMNS="120")
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "hullcheck.cli", "evaluate", str(MISCONFIGURED)], stdout=follower,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env, cwd="/")
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # EIO: the other side closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(leader)
    assert proc.wait(60) == 1, proc.stderr.read()
    out = b"".join(chunks).decode()
    assert ANSI.search(out), out
    assert re.search(r"\x1b\[[0-9;]*31m\[FAIL\]", out), "the FAIL label is red"
    assert "Summary:" in ANSI.sub("", out)


def test_render_colour_forced_and_not():
    with Evaluator(load_pack([REPO / "policies"])) as evaluator:
        document = evaluator.evaluate(Source(name="m", path=str(MISCONFIGURED)))
    coloured = render(document, "text", color=True)
    plain = render(document, "text", color=False)
    assert ANSI.search(coloured) and not ANSI.search(plain)
    assert ANSI.sub("", coloured) == plain


def test_text_report_cuts_long_offender_lists_unless_verbose():
    document = {"tool": {"version": "x"}, "snapshot": {"host": "h"}, "summary": {"fail": 1, "total": 1},
                "results": [{"id": "p", "title": "T", "severity": "low", "controls": {}, "status": "fail", "reason": None,
                             "remediation": "fix", "passed": [],
                             "findings": [{"resource": {"name": f"c{i}"}, "status": "fail", "message": "bad", "evidence": []}
                                          for i in range(30)]}]}
    short = render(document, "text")
    assert short.count("* c") == 25 and "... and 5 more (--verbose lists all)" in short
    assert "* c0: bad" in short  # a message that does not name the resource gets its name
    assert render(document, "text", verbose=True).count("* c") == 30


# ---- offline --------------------------------------------------------------------------------------

NO_NETWORK = r"""
import sys
def refuse(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto", "socket.bind"):
        raise RuntimeError(f"evaluation tried the network: {event} {args[1:]!r}")
sys.addaudithook(refuse)
sys.argv = ["hullcheck"] + sys.argv[1:]
from hullcheck.cli import main
main()
"""


def test_evaluate_never_touches_docker_or_the_network(tmp_path, pack):
    """A dead DOCKER_HOST, and an audit hook that fails any connect or name lookup in the process
    (the hook's error would surface as an internal error, exit 2)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1", "DOCKER_HOST": f"unix://{tmp_path}/dead.sock",
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}
    proc = subprocess.run([sys.executable, "-c", NO_NETWORK, "evaluate", str(MISCONFIGURED), "--format", "json",
                           "--policies", str(pack), *SMALL, "-o", str(tmp_path / "out.json")],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""
    document = json.loads((tmp_path / "out.json").read_text())
    assert {r["status"] for r in document["results"]} <= {"pass", "fail", "manual"}
    assert len(document["results"]) == 7


def test_the_evaluator_does_not_import_docker_or_the_collector():
    code = ("import sys, evaluator, evaluator.worker_pool, evaluator.worker, evaluator.testing, evaluator.golden, "
            "evaluator.render, evaluator.render.text; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('docker', 'collector', 'requests', 'urllib3')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True)
    assert proc.stdout.strip() == "[]"


def test_evaluate_to_a_file_never_loads_the_docker_sdk(tmp_path):
    """`evaluate -o` writes with hullcheck_common's atomic writer: the collector (and the Docker SDK,
    most of a second to import) stays unloaded for the whole offline run."""
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print(sorted({m.split('.')[0] for m in sys.modules} & {'docker', 'collector', 'requests'})))\n"
            "from hullcheck.cli import main\n"
            "sys.argv = ['hullcheck', *sys.argv[1:]]\n"
            "main()\n")
    proc = subprocess.run([sys.executable, "-c", code, "evaluate", str(MISCONFIGURED), "--policy", "cis-docker-5.10",
                           "--format", "json", "-o", str(tmp_path / "out.json")],
                          capture_output=True, text=True, cwd=REPO, timeout=120, check=False)
    assert proc.returncode == 1, proc.stderr
    assert proc.stdout.strip() == "[]"
    assert json.loads((tmp_path / "out.json").read_text())["results"][0]["id"] == "cis-docker-5.10"
