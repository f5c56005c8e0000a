"""Waivers: reason and expiry required, waived is not pass, expiry brings findings back, stale ones reported."""

from __future__ import annotations

import json

import pytest
from reports_support import SELECT, container_index, evaluate_snapshot, example, patched

from evaluator.waivers import WaiverError, apply_waivers, check_file, load_waivers, parse_as_of

MISCONFIGURED = "snapshots/examples/misconfigured.json"


def waivers_file(tmp_path, text, name="waivers.yaml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def apply(tmp_path, text, as_of="2026-11-29", snapshot="misconfigured"):
    document = evaluate_snapshot(snapshot) if isinstance(snapshot, str) else evaluate_snapshot(snapshot)
    return apply_waivers(document, load_waivers(waivers_file(tmp_path, text)), parse_as_of(as_of), "waivers.yaml")


def result(document, policy_id):
    return next(r for r in document["results"] if r["id"] == policy_id)


WEB = """
waivers:
  - id: web-hostnet
    policy: cis-docker-5.10
    resources: [web]
    reason: the edge proxy needs the host network until the move to ingress
    owner: netops
    ticket: OPS-42
    expires: 2026-12-31
"""


def test_a_waived_finding_is_waived_not_pass(tmp_path):
    document = apply(tmp_path, WEB)
    hostnet = result(document, "cis-docker-5.10")
    assert hostnet["status"] == "waived"
    [finding] = hostnet["findings"]
    assert finding["status"] == "waived" and finding["waiver"]["owner"] == "netops"
    assert document["summary"]["waived"] == 1 and document["summary"]["pass"] == 0
    assert document["summary"]["fail"] == 2
    assert [w["id"] for w in document["waivers"]["applied"]] == ["web-hostnet"]
    assert document["waivers"]["applied"][0]["matched"] == ["cis-docker-5.10[container:web]"]


def test_expiry_is_inclusive_and_then_the_finding_is_back_and_says_so(tmp_path):
    on_the_day = apply(tmp_path, WEB, as_of="2026-12-31")
    assert result(on_the_day, "cis-docker-5.10")["status"] == "waived"
    after = apply(tmp_path, WEB, as_of="2027-01-01")
    hostnet = result(after, "cis-docker-5.10")
    assert hostnet["status"] == "fail"
    [finding] = hostnet["findings"]
    assert finding["status"] == "fail"
    assert "expired on 2026-12-31" in finding["message"] and finding["expired_waiver"]["id"] == "web-hostnet"
    assert hostnet["reason"] == "1 failing resource(s) back after waiver(s) expired: web-hostnet on 2026-12-31"
    assert [w["id"] for w in after["waivers"]["expired"]] == ["web-hostnet"]
    assert after["waivers"]["applied"] == [] and after["waivers"]["as_of"] == "2027-01-01"


def test_a_waiver_that_matches_nothing_is_stale(tmp_path):
    document = apply(tmp_path, """
waivers:
  - {id: gone, policy: cis-docker-5.10, resources: [old-proxy], reason: removed last month, expires: 2027-01-01}
  - {id: typo, policy: cis-docker-9.99, reason: no such policy, expires: 2027-01-01}
""")
    assert [w["id"] for w in document["waivers"]["stale"]] == ["gone", "typo"]
    assert document["summary"]["waived"] == 0


def test_resource_key_globs_and_jq_over_the_finding(tmp_path):
    document = apply(tmp_path, """
waivers:
  - policy: "cis-docker-5.*"
    resources: ["container:work*"]
    reason: batch workers are bounded by their cgroup parent
    expires: 2027-01-01
  - policy: cis-docker-5.32
    where: '.resource.name == "dashboard" and (.evidence[0].value | map(.RW) | all)'
    reason: the dashboard manages the engine by design
    expires: 2027-01-01
""")
    assert result(document, "cis-docker-5.11")["status"] == "waived"
    assert result(document, "cis-docker-5.32")["status"] == "waived"
    assert result(document, "cis-docker-5.10")["status"] == "fail"
    no_match = apply(tmp_path, """
waivers:
  - {policy: cis-docker-5.32, where: '.resource.name == "other"', reason: not this one, expires: 2027-01-01}
""")
    assert result(no_match, "cis-docker-5.32")["status"] == "fail"
    assert len(no_match["waivers"]["stale"]) == 1


def test_a_finding_that_could_not_be_judged_is_never_waived(tmp_path):
    snap = example("misconfigured")
    worker = container_index(snap, "worker")
    broken = patched("misconfigured", [
        {"op": "test", "path": f"/containers/{worker}/inspect/Name", "value": "/worker"},
        {"op": "remove", "path": f"/containers/{worker}/inspect/HostConfig/Memory"},
    ])
    document = apply(tmp_path, "waivers:\n  - {policy: cis-docker-5.11, reason: all of them, expires: 2027-01-01}\n",
                     snapshot=broken)
    memory = result(document, "cis-docker-5.11")
    assert memory["status"] == "error"
    assert [f["status"] for f in memory["findings"]] == ["error"]
    assert len(document["waivers"]["stale"]) == 1


@pytest.mark.parametrize("text, message", [
    ("waivers:\n  - {policy: cis-docker-5.10, expires: 2027-01-01}\n", "'reason' is a required property"),
    ("waivers:\n  - {policy: cis-docker-5.10, reason: forever please}\n", "'expires' is a required property"),
    ("waivers:\n  - {policy: cis-docker-5.10, reason: bad day, expires: 2027-02-30}\n", "2027-02-30"),
    ("waivers:\n  - {policy: cis-docker-5.10, reason: never, expires: someday}\n", "someday"),
    ("waivers:\n  - {policy: x, reason: env, expires: 2027-01-01, where: '$ENV.HOME == 1'}\n", "$ENV"),
    ("waivers:\n  - {policy: x, reason: syntax, expires: 2027-01-01, where: '.a == '}\n", "where: jq"),
    ("waivers:\n  - {policy: x, reason: unknown key, expires: 2027-01-01, until: 2027-01-01}\n", "until"),
    ("waivers: [\n", "YAML error"),
    ("", "empty file"),
    ("defaults: &d {reason: shared, expires: 2027-01-01}\nwaivers:\n  - {policy: x, reason: r, expires: 2027-01-01}\n",
     "waivers.yaml:1: error: YAML anchor &d: anchors and aliases are not allowed"),
    ("waivers:\n  - {policy: x, reason: r, expires: 2027-01-01}\n  - *first\n", "waivers.yaml:3: error: YAML alias *first"),
])
def test_bad_files_are_refused_with_the_reason(tmp_path, text, message):
    with pytest.raises(WaiverError) as info:
        load_waivers(waivers_file(tmp_path, text))
    assert message in str(info.value)
    assert "\n" not in str(info.value)


def test_errors_point_at_the_line(tmp_path):
    path = waivers_file(tmp_path, "waivers:\n  - {policy: a, reason: fine, expires: 2027-01-01}\n  - {policy: b, expires: 2027-01-01}\n")
    waivers, issues = check_file(path)
    assert [w.policy for w in waivers] == ["a"]
    assert [(i.level, i.line) for i in issues] == [("error", 3)]


# ---- through the CLI ---------------------------------------------------------------------------

def test_evaluate_with_waivers_exit_codes_and_as_of(hullcheck_cli, tmp_path):
    repo_snapshot = str((__import__("pathlib").Path(__file__).parent.parent / MISCONFIGURED).resolve())
    all_three = waivers_file(tmp_path, """
waivers:
  - {policy: cis-docker-5.10, resources: [web], reason: edge proxy, expires: 2026-12-31}
  - {policy: cis-docker-5.11, resources: [worker], reason: batch worker, expires: 2026-12-31}
  - {policy: cis-docker-5.32, resources: [dashboard], reason: admin ui, expires: 2026-12-31}
""")
    ok = hullcheck_cli("evaluate", *SELECT, repo_snapshot, "--waivers", str(all_three), "--as-of", "2026-12-01", "--format", "json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["summary"]["waived"] == 3
    later = hullcheck_cli("evaluate", *SELECT, repo_snapshot, "--waivers", str(all_three), "--as-of", "2027-01-15", "--format", "json")
    assert later.returncode == 1
    assert json.loads(later.stdout)["summary"]["fail"] == 3
    assert "expired on 2026-12-31" in later.stderr
    again = hullcheck_cli("evaluate", *SELECT, repo_snapshot, "--waivers", str(all_three), "--as-of", "2027-01-15", "--format", "json")
    strip = lambda text: {k: v for k, v in json.loads(text).items() if k != "evaluated_at"}  # noqa: E731
    assert strip(again.stdout) == strip(later.stdout)  # reproducible at a given date

    bad = waivers_file(tmp_path, "waivers:\n  - {policy: cis-docker-5.10, reason: no expiry}\n", "bad.yaml")
    proc = hullcheck_cli("evaluate", *SELECT, repo_snapshot, "--waivers", str(bad))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("hullcheck: error: ") and "expires" in proc.stderr and proc.stderr.count("\n") == 1
    proc = hullcheck_cli("evaluate", *SELECT, repo_snapshot, "--waivers", str(all_three), "--as-of", "yesterday")
    assert proc.returncode == 2 and "--as-of" in proc.stderr


def test_waivers_lint_exit_codes(hullcheck_cli, tmp_path):
    good = waivers_file(tmp_path, "waivers:\n  - {policy: cis-docker-5.10, reason: edge proxy, expires: 2027-06-01}\n", "good.yaml")
    proc = hullcheck_cli("waivers", "lint", str(good), "--as-of", "2026-11-29")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 error(s), 0 problem(s)" in proc.stdout

    soon = waivers_file(tmp_path, "waivers:\n  - {policy: cis-docker-5.10, reason: edge proxy, expires: 2026-12-05}\n", "soon.yaml")
    proc = hullcheck_cli("waivers", "lint", str(soon), "--as-of", "2026-11-29")
    assert proc.returncode == 0 and "note: waiver #1: expires soon" in proc.stdout

    problems = waivers_file(tmp_path, """
waivers:
  - {id: old, policy: cis-docker-5.10, reason: edge proxy, expires: 2026-01-01}
  - {id: typo, policy: cis-dokcer-5.11, reason: spelling, expires: 2027-01-01}
  - {id: far, policy: cis-docker-5.32, reason: much later, expires: 2030-01-01}
""", "problems.yaml")
    proc = hullcheck_cli("waivers", "lint", str(problems), "--as-of", "2026-11-29", "--max-days", "365")
    assert proc.returncode == 1, proc.stdout
    assert f"{problems}:3: problem: waiver old: expired on 2026-01-01" in proc.stdout
    assert "waiver typo: policy 'cis-dokcer-5.11' matches no known policy id" in proc.stdout
    assert "waiver far: expires 2030-01-01, more than 365 days" in proc.stdout

    broken = waivers_file(tmp_path, "waivers:\n  - {policy: cis-docker-5.10, expires: 2027-01-01}\n  - {reason: xyz}\n", "broken.yaml")
    proc = hullcheck_cli("waivers", "lint", str(broken))
    assert proc.returncode == 2
    assert proc.stdout.count(": error: ") == 3  # one missing reason, then missing policy and expires
    assert hullcheck_cli("waivers", "lint", str(tmp_path / "missing.yaml")).returncode == 2


def test_the_documented_waiver_example_is_valid(tmp_path):
    page = (__import__("pathlib").Path(__file__).parent.parent / "docs" / "reports.md").read_text()
    block = page.split("# waivers.yaml", 1)[1].split("\n", 1)[1].split("```", 1)[0]
    path = waivers_file(tmp_path, block)
    waivers = load_waivers(path)
    assert [w.label for w in waivers] == ["edge-proxy-host-network", "dashboard-socket"]
    document = apply_waivers(evaluate_snapshot("misconfigured"), waivers, parse_as_of("2026-11-29"))
    # The dashboard mounts the socket read-write in the example snapshot: that waiver does not apply.
    assert result(document, "cis-docker-5.32")["status"] == "fail"
    assert result(document, "cis-docker-5.10")["status"] == "waived"


def test_a_where_that_never_ends_does_not_hang(tmp_path):
    document = apply(tmp_path, """
waivers:
  - {policy: cis-docker-5.10, where: 'repeat(true)', reason: endless generator, expires: 2027-01-01}
  - {policy: cis-docker-5.11, where: 'error("boom")', reason: jq runtime error, expires: 2027-01-01}
""")
    assert result(document, "cis-docker-5.10")["status"] == "fail"  # two trues is not one true
    assert result(document, "cis-docker-5.11")["status"] == "fail"  # an error never waives
    assert len(document["waivers"]["stale"]) == 2
