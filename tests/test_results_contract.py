"""The results document is a contract: it validates against its published schema, and it is
deterministic (same snapshot and pack, byte-identical JSON apart from `evaluated_at`)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from policy_packs import EXAMPLES, MISCONFIGURED, policy, write_pack

from evaluator import Evaluator, Source, load_pack
from evaluator.render import render
from evaluator.results import SCHEMA_PATH
from hullcheck_common.resources import policies_dir

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def assert_valid(validator: jsonschema.protocols.Validator, document: dict) -> None:
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"/{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10])


def test_schema_ships_inside_the_evaluator_package():
    """hatch puts every non-.py file inside a listed package into the wheel: the schema travels with
    the evaluator's code, and `hullcheck schema results` prints that very file."""
    import importlib.resources

    import tomllib

    from hullcheck_common.resources import schema_path

    packaged = importlib.resources.files("evaluator").joinpath("results.schema.json")
    assert packaged.is_file()
    assert schema_path("results").resolve() == SCHEMA_PATH.resolve() == Path(str(packaged)).resolve()
    wheel = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["hatch"]["build"]["targets"]["wheel"]
    assert "evaluator" in wheel["packages"]
    assert json.loads(packaged.read_text())["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def _mixed_pack(tmp_path: Path) -> Path:
    """Every status and a failing, an erroring and a passing resource in one pack."""
    return write_pack(
        tmp_path / "pack",
        policy("tst-pass"),
        policy("tst-fail", assert_='.inspect.HostConfig.NetworkMode != "host"',
               evidence=["/inspect/HostConfig/NetworkMode", "snapshot:/meta/hostname"]),
        policy("tst-na", applies="false", not_applicable_reason="never applies"),
        policy("tst-manual", automated=False),
        policy("tst-error", assert_='.inspect.Name | tonumber > 0'),
        policy("tst-broken", resources='$snap.meta.hostname | tonumber | {type: "host", name: "h", id: null, path: "", data: .}'),
    )


@pytest.mark.parametrize("snapshot", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_results_of_every_example_snapshot_validate(validator, snapshot, tmp_path):
    policies = load_pack([policies_dir(), _mixed_pack(tmp_path)])
    with Evaluator(policies) as evaluator:
        document = evaluator.evaluate(Source(name=snapshot, path=str(EXAMPLES / snapshot)))
    assert_valid(validator, document)
    assert {r["status"] for r in document["results"]} >= {"manual", "error", "not_applicable"}


def test_a_document_that_breaks_the_contract_is_caught(validator):
    """The schema has teeth: a wrong status, a missing field and a bad digest are all refused."""
    with Evaluator(load_pack([policies_dir()])) as evaluator:
        document = evaluator.evaluate(Source(name="m", path=str(MISCONFIGURED)))
    for breakage in (lambda d: d["results"][0].update(status="passed"),
                     lambda d: d["results"][0].pop("findings"),
                     lambda d: d["pack"].update(digest="abc"),
                     lambda d: d["summary"].update(score=101)):
        broken = json.loads(json.dumps(document))
        breakage(broken)
        assert list(validator.iter_errors(broken)), breakage


def test_live_audit_results_validate(validator, run_container, session_label, hullcheck_cli):
    run_container("contract", mem_limit="64m", network_mode="none")  # independent of docker0
    proc = hullcheck_cli("audit", "--format", "json", "--label", f"hullcheck.test={session_label}")
    document = json.loads(proc.stdout)
    assert_valid(validator, document)
    # a busybox container running as root without a health check fails policies: exit 1, never 0
    assert proc.returncode == 1 and document["summary"]["fail"] >= 1, proc.stderr
    assert document["snapshot"]["running_containers"] == 1


# ---- determinism --------------------------------------------------------------------------------

def _without_time(text: str) -> str:
    document = json.loads(text)
    assert document.pop("evaluated_at")
    return json.dumps(document)


def test_two_evaluations_are_byte_identical(tmp_path):
    policies = load_pack([policies_dir(), _mixed_pack(tmp_path)])
    with Evaluator(policies) as evaluator:
        first = render(evaluator.evaluate(Source(name="a", path=str(MISCONFIGURED)), evaluated_at="2026-01-01T00:00:00Z"), "json")
    with Evaluator(policies) as evaluator:  # fresh workers
        data = MISCONFIGURED.read_bytes()
        second = render(evaluator.evaluate(Source(name="a", data=data), evaluated_at="2026-01-01T00:00:00Z"), "json")
        third = render(evaluator.evaluate(Source(name="a", data=data), evaluated_at="2026-01-01T00:00:00Z"), "json")
    assert first == second == third
    assert "tst-error" in first and '"status": "fail"' in first


def test_two_processes_give_byte_identical_json(tmp_path, hullcheck_cli):
    pack = _mixed_pack(tmp_path)
    outputs = []
    for seed in ("1", "2"):  # different hash seeds: no set or dict order may leak into the output
        proc = hullcheck_cli("evaluate", str(MISCONFIGURED), "--format", "json", "--policies", str(pack),
                             env={"PYTHONHASHSEED": seed})
        assert proc.returncode == 1, proc.stderr
        outputs.append(proc.stdout)
    assert outputs[0] != "" and _without_time(outputs[0]) == _without_time(outputs[1])
    # and apart from that one line the bytes are the same, not merely equal JSON
    strip = [[line for line in o.splitlines() if '"evaluated_at"' not in line] for o in outputs]
    assert strip[0] == strip[1]
