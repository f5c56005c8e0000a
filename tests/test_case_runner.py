"""The policy test runner: all cases in one worker, patches applied copy-on-write to one parsed
base, a case that runs too long is that case's error and the cases after it still run."""

from __future__ import annotations

import copy
import json

from policy_packs import MISCONFIGURED, policy, write_pack

from evaluator import Evaluator, Limits, load_pack
from evaluator.patches import apply_patches
from evaluator.testing import run_cases
from hullcheck_common.resources import snapshots_dir


def test_patches_never_change_the_shared_base():
    base = json.loads(MISCONFIGURED.read_text())
    pristine = copy.deepcopy(base)
    case = {
        "merge_patch": {"host": {"hostname": "patched"}},
        "json_patch": [
            {"op": "replace", "path": "/containers/0/inspect/HostConfig/Privileged", "value": True},
            {"op": "move", "from": "/containers/1/inspect", "path": "/containers/0/moved"},
            {"op": "add", "path": "/containers/0/moved/Config/Labels/new", "value": "x"},
            {"op": "remove", "path": "/containers/2"},
            {"op": "add", "path": "/images/-", "value": {"added": [1, 2]}},
            {"op": "add", "path": "/images/0/added_list", "value": [1]},
            {"op": "add", "path": "/images/0/added_list/-", "value": 2},
            {"op": "copy", "from": "/containers/0/inspect", "path": "/containers/0/copied"},
            {"op": "replace", "path": "/containers/0/copied/Name", "value": "/copy"},
        ],
    }
    first = apply_patches(base, case)
    second = apply_patches(base, case)
    assert base == pristine  # the base is shared by every case of a run
    assert first == second and first is not second
    assert first["host"]["hostname"] == "patched" and first["containers"][0]["moved"]["Config"]["Labels"]["new"] == "x"
    assert first["containers"][0]["copied"]["Name"] == "/copy" != first["containers"][0]["inspect"]["Name"]
    assert len(first["containers"]) == len(base["containers"]) - 1
    assert case["json_patch"][4]["value"] == {"added": [1, 2]}  # the case's own values are not shared either


def test_a_case_past_its_time_limit_is_an_error_and_later_cases_still_run(tmp_path):
    running = {"name": "web fails", "base": "misconfigured", "expect": {"status": "fail", "offenders": ["web"]}}
    pack = load_pack([write_pack(
        tmp_path / "pack",
        policy("tst-a-ok", assert_='.inspect.Name != "/web"', tests=[running]),
        policy("tst-b-loops", assert_="[range(1e12)] | length > 0",
               tests=[{"name": "loops", "base": "misconfigured", "merge_patch": {}, "expect": {"status": "pass"}}] * 2),
        policy("tst-c-ok", assert_='.inspect.Name != "/web"', tests=[running, {**running, "base": "minimal",
                                                                               "name": "nothing", "expect": {"status": "not_applicable"}}]),
    )], cache=False)
    with Evaluator(pack, Limits(policy_timeout=2)) as ev:
        results = run_cases(pack, snapshots_dir() / "examples", evaluator=ev)
    by_case = [(r.policy_id, r.case, r.ok, r.actual.get("status")) for r in results]
    assert by_case[0] == ("tst-a-ok", "web fails", True, "fail")
    assert by_case[1][:2] == ("tst-b-loops", "loops") and by_case[1][3] == "error"
    assert "time limit of 2s" in results[1].actual["reason"]
    assert by_case[2][3] == "error"
    assert by_case[3:] == [("tst-c-ok", "web fails", True, "fail"), ("tst-c-ok", "nothing", True, "not_applicable")]
