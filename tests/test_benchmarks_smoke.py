"""The benchmarks in smoke mode, so they cannot rot: each script runs on tiny sizes and its figures are sane.

No timing is asserted (speed goals are ratios in benchmarks/RESULTS.md, measured by the scripts
themselves); these tests check that each script runs end to end and reports positive, finite
numbers of the right shape. The generator's output must validate against the snapshot schema.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
sys.path.insert(0, str(BENCH))

import generate  # noqa: E402


def _run(script: str, tmp_path: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / f"{script}.json"
    results = tmp_path / "RESULTS.md"
    proc = subprocess.run([sys.executable, str(BENCH / script), "--smoke", "--json", str(out), "--results", str(results), *extra],
                          capture_output=True, text=True, timeout=600, cwd=str(tmp_path),
                          env={**os.environ, "HULLCHECK_BENCH_CACHE": str(tmp_path / "cache")})
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = results.read_text()
    assert f"<!-- begin {script} -->" in text and "## Targets" in text
    return json.loads(out.read_text())


def _positive(value: float) -> bool:
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


def test_generator_is_schema_valid_and_deterministic() -> None:
    from evaluator.snapshot import load

    snap = generate.generate(60, seed=3)
    text = generate.dumps(snap).encode()
    parsed, info = load(text, "generated")  # strict parse + schema + version, as the evaluator reads it
    assert info["containers"] == 60
    assert 0 < info["running_containers"] < 60, "a mix of running and stopped containers"
    assert generate.dumps(generate.generate(60, seed=3)).encode() == text
    assert generate.dumps(generate.generate(60, seed=4)).encode() != text
    inspects = [c["inspect"] for c in parsed["containers"]]
    assert len({i["Id"] for i in inspects}) == 60 and len({i["Name"] for i in inspects}) == 60
    assert len({i["HostConfig"]["RestartPolicy"]["Name"] for i in inspects}) > 1
    assert len({i["HostConfig"]["NetworkMode"] for i in inspects}) > 1
    assert any(i["Mounts"] for i in inspects) and any(i["HostConfig"]["PortBindings"] for i in inspects)
    base = json.loads((REPO / "snapshots/examples/misconfigured.json").read_text())["containers"][0]["inspect"]
    assert set(base) <= set(inspects[0]), "every field of a recorded inspect is kept"


def test_generator_cli_writes_a_file(tmp_path: Path) -> None:
    out = tmp_path / "snap.json"
    subprocess.run([sys.executable, str(BENCH / "generate.py"), "--containers", "7", "--seed", "1", "-o", str(out)], check=True)
    assert len(json.loads(out.read_text())["containers"]) == 7


def test_evaluate_smoke(tmp_path: Path) -> None:
    data = _run("evaluate", tmp_path)
    assert data["automated"] > 0
    for row in data["sizes"]:
        for key in ("hullcheck_s", "jq_cli_s", "json_loads_s", "peak_rss_mib", "ratio_vs_jq_cli", "ratio_vs_parse"):
            assert _positive(row[key]), (key, row)
        assert row["peak_rss_mib"] > 10, "the CLI and its worker are both counted"
        assert row["containers"] in (10, 40) and row["snapshot_mb"] > 0
        # A policy in error is reported in RESULTS.md, not failed here: the pack grows independently.
        assert isinstance(row["policies_in_error"], list) and isinstance(row["engines_disagree"], list)


@pytest.mark.docker
def test_collect_smoke(tmp_path: Path, docker_client: Any) -> None:
    data = _run("collect", tmp_path)
    assert _positive(data["hullcheck_s"]) and _positive(data["bare_s"]) and _positive(data["ratio"])
    assert data["bare_calls"] >= 3 + 2 * data["containers"]
    assert docker_client.containers.list(all=True, filters={"label": f"hullcheck.bench={data['bench_id']}"}) == []


@pytest.mark.docker
def test_audit_smoke(tmp_path: Path, docker_client: Any) -> None:
    data = _run("audit", tmp_path)
    assert _positive(data["hullcheck_s"]) and len(data["runs_s"]) == data["reps"]
    # --smoke runs docker-bench-security only when given --docker-bench DIR: no baseline, so no
    # ratio (never a derived one)
    assert data["docker_bench_runs_s"] == [] and data["docker_bench_s"] is None and data["speedup"] is None
    assert docker_client.containers.list(all=True, filters={"label": f"hullcheck.bench={data['bench_id']}"}) == []


def test_fleet_smoke(tmp_path: Path) -> None:
    data = _run("fleet", tmp_path)
    assert data["mode"] in ("api", "cli")
    for key in ("jobs1_s", "jobs2_s", "throughput1", "throughput2", "speedup"):
        assert _positive(data[key]), key


@pytest.mark.docker
def test_runtime_smoke(tmp_path: Path, docker_client: Any) -> None:
    data = _run("runtime", tmp_path)
    for key in ("ps_guarded_s", "ps_plain_s", "ps_ratio", "create_guarded_s", "create_plain_s", "create_ratio", "watch_delay_s"):
        assert _positive(data[key]), key
    assert len(data["watch_delays_s"]) == data["watched"] and len(data["runs"]["create"]["guarded"]) == data["reps"]
    assert not list(Path("/run/docker/plugins").glob("hcbench-*.sock")), "the guard's socket is removed"


def test_advisories_smoke(tmp_path: Path) -> None:
    data = _run("advisories", tmp_path)
    for key in ("with 1.2.2", "without 1.2.2"):
        assert _positive(data["cpu_medians_s"][key]) and _positive(data["medians_s"][key])
    assert data["load_ms"] > 0 and data["match_ms"] > 0 and isinstance(data["ratio"], float)
