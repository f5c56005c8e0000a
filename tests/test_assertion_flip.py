"""The promise of issue 6: flipping any one automated policy's assertion makes its tests fail.

For every automated policy of the built-in pack (whatever it holds when this runs), a copy of the
pack is written with only that policy's `assert` replaced by `(<original>) | not`; the flipped
policy is loaded from it by the real loader (so the flipped jq is checked like any policy) and its
own cases are run until one fails. One evaluator with warm workers serves every flipped policy,
each case evaluating that policy alone.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from evaluator import Evaluator, Limits, load_pack
from evaluator.policy import Policy
from evaluator.testing import BaseSnapshots, run_case
from hullcheck_common.resources import policies_dir, snapshots_dir


def _flipped_copy(policy: Policy, pack: Path, workdir: Path) -> Path:
    """A copy of the pack's directory of this policy with its assertion negated; returns the flipped file."""
    relative = Path(policy.path).resolve().relative_to(pack.resolve())
    target = workdir / policy.id / relative
    target.parent.mkdir(parents=True)
    for sibling in Path(policy.path).parent.iterdir():  # relative base snapshots keep resolving
        if sibling.is_file() and sibling.suffix != ".yaml":
            shutil.copy(sibling, target.parent / sibling.name)
    data = yaml.safe_load(Path(policy.path).read_text(encoding="utf-8"))
    data["assert"] = f"({data['assert']}\n) | not"
    target.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return workdir / policy.id


def surviving_flips(pack: Path, workdir: Path) -> list[str]:
    """Ids of automated policies in `pack` whose own cases all still pass with the assertion negated."""
    automated = [p for p in load_pack([pack]) if p.automated]
    assert automated
    flipped: list[Policy] = []
    for policy in automated:
        [copy] = [p for p in load_pack([_flipped_copy(policy, pack, workdir)]) if p.id == policy.id]
        assert copy.assert_ != policy.assert_ and copy.assert_.endswith("| not")
        flipped.append(copy)
    bases = BaseSnapshots(snapshots_dir() / "examples")
    survivors = []
    with Evaluator(flipped, Limits(policy_timeout=20)) as evaluator:
        for policy in flipped:
            # pass and fail cases first: they are the ones a negated assertion turns around
            cases = sorted(enumerate(policy.tests), key=lambda c: c[1]["expect"]["status"] not in ("pass", "fail"))
            if not any(not run_case(evaluator, policy, case, bases, index).ok for index, case in cases):
                survivors.append(policy.id)
    return survivors


def test_flipping_any_automated_assertion_fails_one_of_its_cases(tmp_path):
    survivors = surviving_flips(policies_dir(), tmp_path)
    assert not survivors, f"these policies' tests still pass with the assertion negated: {survivors}"


def test_a_policy_with_weak_tests_is_caught(tmp_path):
    """The check above can fail: cases that never look at the assertion survive the flip."""
    from policy_packs import policy, write_pack

    pack = write_pack(tmp_path / "pack",
                      policy("tst-weak", assert_='.inspect.HostConfig.NetworkMode != "host"', tests=[
                          {"name": "nothing running", "base": "minimal", "expect": {"status": "not_applicable"}}]),
                      policy("tst-strong", assert_='.inspect.HostConfig.NetworkMode != "host"', tests=[
                          {"name": "web fails", "base": "misconfigured", "expect": {"status": "fail", "offenders": ["web"]}}]))
    assert surviving_flips(pack, tmp_path / "work") == ["tst-weak"]
