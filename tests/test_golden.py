"""Golden re-runs: every recorded example snapshot, re-evaluated with the built-in pack, gives the
committed expected results; a policy change shows per host what it changes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml
from policy_packs import policy, write_pack

from evaluator import golden, load_pack
from hullcheck_common.resources import policies_dir, snapshots_dir

EXAMPLES = snapshots_dir() / "examples"
GOLDEN = snapshots_dir() / "golden"


def test_every_recorded_snapshot_has_a_golden_file():
    snapshots = {p.name for p in EXAMPLES.glob("*.json")}
    assert snapshots and snapshots == {p.name for p in GOLDEN.glob("*.json")}


def test_built_in_pack_matches_the_golden_results():
    """CI fails here when a policy change alters a verdict on a recorded host without approval."""
    outcomes, orphans = golden.run(load_pack([policies_dir()]), EXAMPLES, GOLDEN)
    report = "\n".join(line for o in outcomes for line in o.describe())
    assert not orphans
    assert not any(o.changed for o in outcomes), (
        report + "\nIf these changes are intended, approve them: hullcheck test --update-golden")
    # the files hold exactly what a re-run writes, byte for byte
    for outcome in outcomes:
        assert outcome.golden_path.read_text(encoding="utf-8") == outcome.text


def test_golden_form_is_compact_and_stable():
    data = json.loads((GOLDEN / "misconfigured.json").read_text())
    assert set(data) == {"golden_version", "snapshot", "snapshot_sha256", "host", "results"}
    assert data["results"]["cis-docker-5.10"] == {"status": "fail", "offenders": ["web"]}
    for entry in data["results"].values():
        assert set(entry) <= {"status", "offenders", "errors", "reason"}
        assert entry.get("offenders", []) == sorted(entry.get("offenders", []))


PRIVATE_HOSTS = ("minimal.json", "misconfigured.json")  # the two recordings nobody may re-record


def _private_copy(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The built-in pack, two example snapshots and their golden files, copied so the test can
    change them and so its host counts do not depend on how many examples the project ships."""
    pack = tmp_path / "pack"
    shutil.copytree(policies_dir(), pack)
    (pack / "policy.schema.json").unlink()
    examples, gold = tmp_path / "examples", tmp_path / "golden"
    examples.mkdir()
    gold.mkdir()
    for name in PRIVATE_HOSTS:
        shutil.copy2(EXAMPLES / name, examples / name)
        shutil.copy2(GOLDEN / name, gold / name)
    return pack, examples, gold


def test_golden_cli_shows_what_a_policy_change_does_per_host(tmp_path, hullcheck_cli):
    pack, examples, gold = _private_copy(tmp_path)
    args = ("test", str(pack), "--golden", "--snapshots", str(examples), "--golden-dir", str(gold))
    same = hullcheck_cli(*args)
    assert same.returncode == 0, same.stdout + same.stderr
    assert "misconfigured (host vm): unchanged" in same.stdout and "golden: 0 of 2 recorded host(s) changed" in same.stdout

    # a reviewer's pull request: 5.11 now also flags db, 5.10 is removed, a new policy appears
    path = next(pack.rglob("5.11-*.yaml"))
    data = yaml.safe_load(path.read_text())
    data["assert"] = f'(.inspect.Name != "/db") and ({data["assert"]}\n)'
    data.pop("tests", None)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    next(pack.rglob("5.10-*.yaml")).unlink()
    write_pack(pack / "acme", policy("acme-new", assert_='.inspect.Name != "/worker"'))

    changed = hullcheck_cli(*args)
    assert changed.returncode == 1, changed.stdout + changed.stderr
    out = changed.stdout.splitlines()
    start = out.index("misconfigured (host vm): 3 change(s)")
    assert out[start + 1:start + 4] == [
        "  cis-docker-5.10: policy gone (was fail [web])",
        "  cis-docker-5.11: fail -> fail; offenders added: db",
        "  acme-new: new policy -> fail [worker]",
    ]
    assert "minimal (host vm): 2 change(s)" in out
    assert out[-1] == ("golden: 2 of 2 recorded host(s) changed; review the changes, then approve them with: "
                       "hullcheck test --update-golden")

    approved = hullcheck_cli("test", str(pack), "--update-golden", "--snapshots", str(examples), "--golden-dir", str(gold))
    assert approved.returncode == 0 and "golden: wrote 2 file(s)" in approved.stdout
    assert json.loads((gold / "misconfigured.json").read_text())["results"]["cis-docker-5.11"] == \
        {"status": "fail", "offenders": ["db", "worker"]}
    assert hullcheck_cli(*args).returncode == 0


def test_missing_and_orphaned_golden_files_fail(tmp_path, hullcheck_cli):
    pack, examples, gold = _private_copy(tmp_path)
    (gold / "minimal.json").unlink()
    (gold / "retired-host.json").write_text("{}")
    proc = hullcheck_cli("test", str(pack), "--golden", "--snapshots", str(examples), "--golden-dir", str(gold))
    assert proc.returncode == 1
    assert "minimal (host vm): no golden file" in proc.stdout
    assert "retired-host: golden file" in proc.stdout and "has no snapshot any more" in proc.stdout
    assert "golden: 2 of 3 recorded host(s) changed" in proc.stdout


def test_changed_status_and_reasons_are_named():
    old = {"status": "fail", "offenders": ["a", "b"]}
    assert golden.entry_changes("p", old, {"status": "pass"}) == "p: fail -> pass; offenders removed: a, b"
    assert golden.entry_changes("p", {"status": "error", "reason": "x"}, {"status": "error", "reason": "y"}) == \
        "p: error -> error; reason: 'x' -> 'y'"
    assert golden.entry_changes("p", old, dict(old)) is None
