"""CIS 1.2.2 from advisory data (issue 26): version ordering, the data hazards, the version matrix,
distribution builds, `hullcheck advisories` offline, and importing a (signed) bundle.

The Go records under tests/data/advisories/go are verbatim copies from golang/vulndb (a752ea5,
CC-BY 4.0, see advisories/NOTICE.md); the GitHub records are those the bundled data is built from.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest

from evaluator.advisories import match, store
from evaluator.advisories.build import Tables, build
from evaluator.advisories.ranges import intervals
from evaluator.advisories.versions import DebianVersion, Upstream, VersionError

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data" / "advisories"
EXAMPLE = REPO / "snapshots" / "examples" / "misconfigured.json"
# A collection time just after the bundled data's date: fresh data, so upstream builds can pass.
FRESH = "2026-08-30T00:00:00.000Z"


def go_records(*ids: str) -> list[dict[str, Any]]:
    return [json.loads((DATA / "go" / f"{i}.json").read_text()) for i in ids]


def ghsa_records() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((REPO / "advisories" / "sources" / "ghsa").glob("*.json"))]


def tables() -> Tables:
    return Tables.from_json(json.loads((REPO / "advisories" / "moby-releases.json").read_text()))


def supplement() -> list[dict[str, Any]]:
    return json.loads((REPO / "advisories" / "supplement.json").read_text())["records"]


class Data:
    """AdvisoryData over records built in the test (what store.load gives for a file)."""

    def __new__(cls, records: list[dict[str, Any]], date: str = "2026-08-21", distribution: list[Any] | None = None):
        return store.AdvisoryData(date=date, sources=[], records=records, origin="bundled", path="test",
                                  distribution=list(distribution or []),
                                  distribution_files=["test.json"] if distribution else [])


def snapshot(engine: str | None = None, containerd: str | None = None, runc: str | None = None,
             commits: dict[str, str] | None = None, packages: dict[str, Any] | None = None,
             finished_at: str = FRESH) -> dict[str, Any]:
    """The recorded Debian example with other component versions (upstream builds unless a
    distribution's version or package is given)."""
    snap = json.loads(EXAMPLE.read_text())
    snap["meta"]["finished_at"] = finished_at
    components = snap["engine"]["version"]["Components"]
    for index, (value, default_commit) in enumerate(((engine, "abcdef0"), (containerd, None), (runc, None))):
        if value is None:
            continue
        components[index]["Version"] = value
        name = components[index]["Name"]
        commit = (commits or {}).get(name) or default_commit or (f"v{value}" if name == "containerd" else f"v{value}-0-gabcdef0")
        components[index]["Details"]["GitCommit"] = commit
    if packages is not None:
        snap["host"]["packages"] = packages
    return snap


def names(facts: dict[str, Any], component: str, kind: str = "affected") -> set[str]:
    entry = next(c for c in facts["components"] if c["component"] == component)
    return {m["name"] for m in entry[kind]}


def component(facts: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in facts["components"] if c["component"] == name)


@pytest.fixture(scope="module")
def bundled() -> store.AdvisoryData:
    return store.load(prefer="bundled")


# ---- versions ---------------------------------------------------------------------------------

@pytest.mark.parametrize("low, high", [
    ("1.0.0-rc9", "1.0.0-rc10"),          # SemVer and Go order these as text: rc10 < rc9
    ("1.0.0-rc3", "1.0.0-rc10"),
    ("1.0.0-rc10", "1.0.0-rc92"),
    ("1.0.0-rc93", "1.0.0-rc95"),
    ("1.0.0-rc95", "1.0.0"),
    ("1.0.0-rc8", "1.0.0-rc8.0.20190930145003-cad42f6e0932"),   # a Go pseudo-version: after rc8 ...
    ("1.0.0-rc8.0.20190930145003-cad42f6e0932", "1.0.0-rc9"),   # ... before rc9
    ("1.4.0-rc.2", "1.4.0-rc.3"),
    ("1.4.0-rc.3", "1.4.0"),
    ("2.1.0-beta.0", "2.1.0"),
    ("19.03.9", "19.03.15"),              # leading zeros, which strict SemVer refuses
    ("20.10.0-beta1", "20.10.0"),
    ("29.0.0-0", "29.0.0-rc.1"),
])
def test_upstream_versions_order_as_released(low: str, high: str) -> None:
    assert Upstream(low) < Upstream(high)
    assert not Upstream(high) < Upstream(low)


@pytest.mark.parametrize("a, b", [("v27.1.1+incompatible", "27.1.1"), ("18.06.1-ce", "18.06.1"), ("v1.1.12", "1.1.12"),
                                  ("19.03.0", "19.3.0")])
def test_spellings_of_one_release_are_equal(a: str, b: str) -> None:
    assert Upstream(a) == Upstream(b)


@pytest.mark.parametrize("text", ["", "one-point-one", "27.1", "latest"][0:2] + ["1.2.3.4.5"])
def test_unreadable_versions_are_refused(text: str) -> None:
    with pytest.raises(VersionError):
        Upstream(text)


def test_debian_versions_follow_dpkg() -> None:
    assert DebianVersion("1.1.5+ds1-1") < DebianVersion("1.1.5+ds1-1+deb12u1")
    assert DebianVersion("1.6.20~ds1-1") < DebianVersion("1.6.20-1")     # ~ sorts before everything
    assert DebianVersion("20.10.24+dfsg1-1+deb12u1") < DebianVersion("20.10.24+dfsg1-1+deb12u1+b6")
    assert DebianVersion("1:1.0-1") > DebianVersion("9.9-1")              # the epoch wins
    with pytest.raises(VersionError):
        DebianVersion("not a version!")


def test_osv_events_are_sorted_before_they_are_walked() -> None:
    """GO-2024-3005's engine ranges list branches out of order; walking them unsorted would join them."""
    events = [{"introduced": "23.0.0"}, {"fixed": "23.0.15"}, {"introduced": "20.0.0"}, {"fixed": "20.10.28"}]
    assert [(i.introduced, i.fixed) for i in intervals(events, Upstream)] == [("20.0.0", "20.10.28"), ("23.0.0", "23.0.15")]


# ---- the data hazards (issue 26, Deliver 2), each on the real records ------------------------------

def facts_for(records: list[dict[str, Any]], **versions: Any) -> dict[str, Any]:
    return match.facts(match.inputs(snapshot(**versions)), Data(records), 30)


def test_go_spelling_of_engine_versions_is_read_as_the_release() -> None:
    """v27.1.1+incompatible in the Go data is engine 27.1.1."""
    records = build(go_records("GO-2024-3005"), [], [], tables())
    ranges = [a["ranges"][0]["events"] for a in records[0]["affected"]]
    assert not any("incompatible" in json.dumps(r) for r in ranges)


def test_engine_29_comes_from_moby_v2_mapped_through_moby_tags() -> None:
    """GO-2026-4887: docker/docker 'introduced 0' with no fix (the module ends at v28.5.2) and
    moby/moby/v2 fixed 2.0.0-beta.8, which is the docker-v29.3.1 tag."""
    records = build(go_records("GO-2026-4887"), [], [], tables())
    assert names(facts_for(records, engine="28.5.2"), "engine") == {"CVE-2026-34040"}
    assert names(facts_for(records, engine="29.3.0"), "engine") == {"CVE-2026-34040"}
    assert names(facts_for(records, engine="29.3.1"), "engine") == set()
    assert names(facts_for(records, engine="29.7.1"), "engine") == set()   # not 'every version after the module'


def test_a_moby_v2_version_without_an_engine_release_is_a_candidate_never_a_guess() -> None:
    record = copy.deepcopy(go_records("GO-2026-4887")[0])
    for entry in record["affected"]:
        if entry["package"]["name"] == "github.com/moby/moby/v2":
            entry["ranges"][0]["events"][-1] = {"fixed": "2.0.0-beta.99"}
    facts = facts_for(build([record], [], [], tables()), engine="29.7.1")
    assert names(facts, "engine") == set()
    assert names(facts, "engine", "candidates") == {"CVE-2026-34040"}
    assert "no Docker Engine release" in component(facts, "engine")["candidates"][0]["note"]


@pytest.mark.parametrize("engine, affected, fixed_text", [
    ("19.03.15", True, "no fixed release on the 19.3 branch; first fixed release 23.0.15"),
    ("20.10.27", True, "no fixed release on the 20.10 branch; first fixed release 23.0.15"),
    ("23.0.14", True, "fixed in 23.0.15"),
    ("23.0.15", False, None),
    ("24.0.9", True, "no fixed release on the 24.0 branch; first fixed release 25.0.6"),   # Go says 24.0.10, never released
    ("25.0.5", True, "fixed in 25.0.6"),
    ("25.0.6", False, None),
    ("26.0.2", True, "no fixed release on the 26.0 branch; first fixed release 26.1.5"),
    ("26.1.4", True, "fixed in 26.1.5"),
    ("26.1.5", False, None),     # the Go report's custom range says 26.1.15 (a typo): GitHub's advisory is followed
    ("27.0.3", True, "no fixed release on the 27.0 branch; first fixed release 27.1.1"),
    ("27.1.0", True, "fixed in 27.1.1"),
    ("27.1.1", False, None),
    ("18.09.9", False, None),
])
def test_backports_of_cve_2024_41110_follow_the_maintainers_advisory(engine: str, affected: bool, fixed_text: str | None) -> None:
    records = build(go_records("GO-2024-3005"), ghsa_records(), [], tables())
    facts = facts_for(records, engine=engine)
    assert ("CVE-2024-41110" in names(facts, "engine")) is affected
    if affected:
        hit = next(m for m in component(facts, "engine")["affected"] if m["name"] == "CVE-2024-41110")
        assert hit["fixed_text"] == fixed_text
        assert hit["severity"] == "critical"


def test_without_github_the_go_custom_ranges_decide_and_26_1_5_would_be_flagged() -> None:
    """Why GitHub's advisory is followed: the Go data alone flags the fixed 26.1.5."""
    records = build(go_records("GO-2024-3005"), [], [], tables())
    assert "CVE-2024-41110" in names(facts_for(records, engine="26.1.5"), "engine")


def test_cve_2019_14271_engine_range_comes_from_the_custom_range() -> None:
    """GO-2024-2521: the Go module range reaches every engine before 20.10.0-beta1; the engine's is 19.03.0 only."""
    records = build(go_records("GO-2024-2521"), [], [], tables())
    assert names(facts_for(records, engine="18.09.9"), "engine") == set()
    assert names(facts_for(records, engine="19.03.0"), "engine") == {"CVE-2019-14271"}
    assert names(facts_for(records, engine="19.03.1"), "engine") == set()


@pytest.mark.parametrize("versions, expected", [
    ({"runc": "1.0.0-rc6"}, {"runc": True}),
    ({"runc": "1.0.0-rc7"}, {"runc": False}),
    ({"engine": "18.09.1"}, {"engine": True}),
    ({"engine": "18.09.2"}, {"engine": False}),
    ({"engine": "18.06.1-ce"}, {"engine": True}),
    ({"engine": "18.06.2-ce"}, {"engine": False}),
])
def test_cve_2019_5736_has_ranges_from_the_hand_kept_supplement(versions: dict[str, str], expected: dict[str, bool]) -> None:
    """GitHub's record is unreviewed with no ranges, the Go database excluded it: the supplement states them."""
    records = build([], ghsa_records(), supplement(), tables())
    facts = facts_for(records, **versions)
    for name, affected in expected.items():
        assert ("CVE-2019-5736" in names(facts, name)) is affected


def test_docker_18_09_2s_runc_build_carries_the_cve_2019_5736_fix() -> None:
    """Docker CE 18.09.2 ships runc 1.0.0-rc6+dev at 09c8266: patched under the old number."""
    records = build([], ghsa_records(), supplement(), tables())
    fixed = facts_for(records, engine="18.09.2", runc="1.0.0-rc6+dev",
                      commits={"runc": "09c8266bf2fcf9519a651b04ae54c967b9ab86ec"})
    assert names(fixed, "runc") == names(fixed, "runc", "candidates") == set()
    older = facts_for(records, engine="18.09.1", runc="1.0.0-rc6+dev", commits={"runc": "96ec2177ae841256168fcf76954f7177af9446eb"})
    assert component(older, "runc")["build"] == "development"
    assert names(older, "runc", "candidates") == {"CVE-2019-5736"}


@pytest.mark.parametrize("runc, affected", [
    ("1.0.0-rc92", set()), ("1.0.0-rc93", {"CVE-2024-21626"}), ("1.1.11", {"CVE-2024-21626"}), ("1.1.12", set())])
def test_pre_release_ranges_runc_rc93(runc: str, affected: set[str]) -> None:
    records = build(go_records("GO-2024-2491"), [], [], tables())
    assert names(facts_for(records, runc=runc), "runc") == affected


def test_runc_rc10_is_after_rc3_and_rc9() -> None:
    """Text order would put rc10 before rc3: a false negative for GO-2025-4097 (introduced rc3) and
    false positives for GO-2022-0835 (fixed rc3) and GO-2021-0087 (fixed after rc9)."""
    records = build(go_records("GO-2025-4097", "GO-2022-0835", "GO-2021-0087"), [], [], tables())
    assert names(facts_for(records, runc="1.0.0-rc10"), "runc") == {"CVE-2025-52565"}
    assert names(facts_for(records, runc="1.0.0-rc2"), "runc") == {"CVE-2016-9962", "CVE-2019-19921"}


@pytest.mark.parametrize("runc, affected", [("1.4.0-rc.1", True), ("1.4.0-rc.2", True), ("1.4.0-rc.3", False), ("1.3.2", True),
                                            ("1.3.3", False), ("1.2.7", True), ("1.2.8", False)])
def test_pre_release_ranges_runc_1_4_0_rc_3(runc: str, affected: bool) -> None:
    records = build(go_records("GO-2025-4096"), [], [], tables())
    assert ("CVE-2025-31133" in names(facts_for(records, runc=runc), "runc")) is affected


@pytest.mark.parametrize("containerd, affected", [("1.7.28", True), ("1.7.29", False), ("2.0.6", True), ("2.0.7", False),
                                                  ("2.1.4", True), ("2.1.5", False), ("2.2.0-beta.0", True), ("2.2.0", False)])
def test_containerd_v2_module_ranges_start_at_2_0_0(containerd: str, affected: bool) -> None:
    """containerd/v2's 'introduced 0' is its first version, 2.0.0: it does not reach containerd 1.7.29."""
    records = build(go_records("GO-2025-4100"), [], [], tables())
    assert ("CVE-2024-25621" in names(facts_for(records, containerd=containerd), "containerd")) is affected


@pytest.mark.parametrize("engine, affected", [("24.0.9", True), ("25.0.1", True), ("25.0.2", False), ("26.1.5", False)])
def test_buildkit_bundled_in_the_engine_judges_engine_releases(engine: str, affected: bool) -> None:
    """BuildKit < 0.12.5 (CVE-2024-23651): Docker 25.0.2 bundles the fix, 24.0.9 does not (moby's vendor.mod)."""
    records = build(go_records("GO-2024-2493"), [], [], tables())
    facts = facts_for(records, engine=engine)
    assert ("CVE-2024-23651" in names(facts, "engine")) is affected
    if affected:
        assert component(facts, "engine")["affected"][0]["bundled"] == "buildkit"


# ---- the version matrix: each component's branches just before and at each fix, on the bundled data --

MATRIX = [
    # (component, version just before a fix, the fix, an advisory the fix closes)
    ("engine", "20.10.23", "20.10.24", "CVE-2023-28840"),
    ("engine", "23.0.2", "23.0.3", "CVE-2023-28840"),
    ("engine", "24.0.8", "24.0.9", "CVE-2024-24557"),
    ("engine", "25.0.1", "25.0.2", "CVE-2024-24557"),
    ("engine", "25.0.4", "25.0.5", "CVE-2024-29018"),
    ("engine", "25.0.5", "25.0.6", "CVE-2024-41110"),
    ("engine", "26.0.1", "26.0.2", "CVE-2024-32473"),
    ("engine", "26.1.4", "26.1.5", "CVE-2024-41110"),
    ("engine", "27.1.0", "27.1.1", "CVE-2024-41110"),
    ("engine", "28.3.2", "28.3.3", "CVE-2025-54388"),
    ("engine", "29.3.0", "29.3.1", "CVE-2026-34040"),
    ("engine", "29.5.0", "29.5.1", "CVE-2026-41567"),
    ("containerd", "1.3.8", "1.3.9", "CVE-2020-15257"),
    ("containerd", "1.4.2", "1.4.3", "CVE-2020-15257"),
    ("containerd", "1.5.17", "1.5.18", "CVE-2023-25173"),
    ("containerd", "1.6.17", "1.6.18", "CVE-2023-25173"),
    ("containerd", "1.6.37", "1.6.38", "CVE-2024-40635"),
    ("containerd", "1.7.26", "1.7.27", "CVE-2024-40635"),
    ("containerd", "1.7.28", "1.7.29", "CVE-2024-25621"),
    ("containerd", "1.7.32", "1.7.33", "CVE-2026-53488"),
    ("containerd", "2.0.3", "2.0.4", "CVE-2024-40635"),
    ("containerd", "2.2.4", "2.2.5", "CVE-2026-53488"),
    ("runc", "1.1.1", "1.1.2", "CVE-2022-29162"),
    ("runc", "1.1.4", "1.1.5", "CVE-2023-27561"),
    ("runc", "1.1.11", "1.1.12", "CVE-2024-21626"),
    ("runc", "1.1.13", "1.1.14", "CVE-2024-45310"),
    ("runc", "1.2.7", "1.2.8", "CVE-2025-31133"),
    ("runc", "1.3.2", "1.3.3", "CVE-2025-52881"),
    ("runc", "1.4.0-rc.2", "1.4.0-rc.3", "CVE-2025-52565"),
    ("runc", "1.3.5", "1.3.6", "CVE-2026-41579"),
    ("runc", "1.4.2", "1.4.3", "CVE-2026-41579"),
]


@pytest.mark.parametrize("name, before, fixed, advisory", MATRIX)
def test_version_matrix_before_and_at_each_fix(bundled: store.AdvisoryData, name: str, before: str, fixed: str,
                                               advisory: str) -> None:
    inputs_before = match.inputs(snapshot(**{name: before}))
    inputs_fixed = match.inputs(snapshot(**{name: fixed}))
    assert advisory in names(match.facts(inputs_before, bundled, 30), name)
    assert advisory not in names(match.facts(inputs_fixed, bundled, 30), name)


@pytest.fixture(scope="module")
def policy_evaluator() -> Any:
    from evaluator import Evaluator, Selection, load_pack
    from hullcheck_common.resources import policies_dir

    policies = Selection(include=("cis-docker-1.2.2", "cis-docker-1.2.1")).apply(load_pack([policies_dir()]))
    with Evaluator(policies) as ev:
        yield ev


def evaluate(ev: Any, snap: dict[str, Any], policy: str = "cis-docker-1.2.2") -> dict[str, Any]:
    from evaluator import Source

    document = ev.evaluate(Source(name="synthetic", data=json.dumps(snap).encode()))
    return next(r for r in document["results"] if r["id"] == policy)


@pytest.mark.parametrize("name, before, fixed, advisory", MATRIX[::3])
def test_the_policy_names_exactly_the_advisories_whose_ranges_hold_the_version(
        policy_evaluator: Any, bundled: store.AdvisoryData, name: str, before: str, fixed: str, advisory: str) -> None:
    """End to end (jq decides): 1.2.2's failing findings are the matched advisories, no more, no less."""
    for version in (before, fixed):
        snap = snapshot(**{name: version})
        expected = {f"{c['component']}:{m['name']}" for c in match.facts(match.inputs(snap), bundled, 30)["components"]
                    for m in c["affected"]}
        result = evaluate(policy_evaluator, snap)
        failing = {f["resource"]["name"] for f in result["findings"] if f["status"] == "fail"}
        assert failing == expected
        assert (f"{name}:{advisory}" in failing) is (version == before)


def test_an_upstream_host_fails_with_id_component_version_fix_severity_and_summary(policy_evaluator: Any) -> None:
    result = evaluate(policy_evaluator, snapshot(engine="29.7.1", containerd="2.3.2", runc="1.1.11"))
    assert result["status"] == "fail"
    assert {f["resource"]["name"] for f in result["findings"]} == {
        "runc:CVE-2024-21626", "runc:CVE-2024-45310", "runc:CVE-2025-31133", "runc:CVE-2025-52565", "runc:CVE-2025-52881",
        "runc:CVE-2026-41579"}
    (finding,) = [f for f in result["findings"] if f["resource"]["name"] == "runc:CVE-2024-21626"]
    # The resource is the component as the engine names it; the advisory is the finding (stable key for waivers).
    assert finding["resource"] == {"type": "advisory", "name": "runc:CVE-2024-21626", "id": "runc",
                                   "key": "advisory:runc/CVE-2024-21626"}
    message = finding["message"]
    for word in ("runc 1.1.11", "CVE-2024-21626", "GO-2024-2491", "GHSA-xr7r-f8xq-vfvv", "high", "fixed in 1.1.12",
                 "process.cwd"):
        assert word in message
    assert finding["evidence"] == [{"pointer": "/engine/version/Components/2/Version", "value": "1.1.11"}]
    assert {r["name"] for r in result["passed"]} == {"engine", "containerd"}


def test_the_debian_example_is_manual_with_its_candidates(policy_evaluator: Any) -> None:
    snap = json.loads(EXAMPLE.read_text())
    snap["meta"]["finished_at"] = FRESH
    result = evaluate(policy_evaluator, snap)
    assert result["status"] == "manual"
    candidates = {f["resource"]["name"] for f in result["findings"] if f["status"] == "manual"}
    assert {"runc:CVE-2024-21626", "engine:CVE-2024-41110", "containerd:CVE-2024-40635"} <= candidates
    assert not [f for f in result["findings"] if f["status"] == "fail"]
    runc = next(f for f in result["findings"] if f["resource"]["name"] == "runc:CVE-2024-21626")
    assert "distribution build" in runc["message"] and "1.1.5+ds1" in runc["message"] and "--advisories" in runc["message"]


def test_the_recorded_podman_example_says_what_the_data_covers(policy_evaluator: Any) -> None:
    snap = json.loads((REPO / "snapshots" / "examples" / "podman.json").read_text())
    snap["meta"]["finished_at"] = FRESH
    result = evaluate(policy_evaluator, snap)
    assert result["status"] == "manual"
    messages = {f["resource"]["name"]: f["message"] for f in result["findings"]}
    assert "covers Docker Engine, containerd and runc, not Podman Engine" in messages["Podman Engine"]
    assert "runc:CVE-2024-21626" in messages     # Debian's runc under Podman: a candidate, as under dockerd


def test_an_unreadable_version_is_an_error_naming_the_string(policy_evaluator: Any) -> None:
    result = evaluate(policy_evaluator, snapshot(runc="v1.x-final", commits={"runc": "abcdef1"}))
    assert result["status"] == "error"
    (error,) = [f for f in result["findings"] if f["status"] == "error"]
    assert "v1.x-final" in error["message"]


def test_stale_data_never_passes(policy_evaluator: Any) -> None:
    snap = snapshot(engine="29.7.1", containerd="2.3.2", runc="1.4.3", finished_at="2026-11-29T00:00:00.000Z")
    result = evaluate(policy_evaluator, snap)
    assert result["status"] == "manual"
    assert all("days older than the snapshot" in f["message"] for f in result["findings"])
    fresh = evaluate(policy_evaluator, snapshot(engine="29.7.1", containerd="2.3.2", runc="1.4.3"))
    assert fresh["status"] == "pass"


# ---- distribution builds -----------------------------------------------------------------------

DEBIAN_PACKAGES = {"manager": "dpkg", "database": "/var/lib/dpkg/status", "error": None, "components": {
    "engine": {"path": "/usr/sbin/dockerd", "found": "test", "error": None,
               "package": {"manager": "dpkg", "name": "docker.io", "version": "20.10.24+dfsg1-1+deb12u1+b6",
                           "architecture": "amd64", "source": "docker.io", "source_version": "20.10.24+dfsg1-1+deb12u1"}},
    "containerd": {"path": "/usr/bin/containerd", "found": "test", "error": None,
                   "package": {"manager": "dpkg", "name": "containerd", "version": "1.6.20~ds1-1+deb12u3",
                               "architecture": "amd64", "source": "containerd", "source_version": "1.6.20~ds1-1+deb12u3"}},
    "runc": {"path": "/usr/bin/runc", "found": "test", "error": None,
             "package": {"manager": "dpkg", "name": "runc", "version": "1.1.5+ds1-1+deb12u1",
                         "architecture": "amd64", "source": "runc", "source_version": "1.1.5+ds1-1+deb12u1"}}}}


def debian_record(cve: str, package: str, fixed: str | None, ecosystem: str = "Debian:12") -> dict[str, Any]:
    """A record in the shape OSV.dev publishes Debian's tracker in (DEBIAN-CVE-*: source package,
    Debian:N ecosystem, ECOSYSTEM range in package versions). The fixed versions are test data."""
    events: list[dict[str, str]] = [{"introduced": "0"}] + ([{"fixed": fixed}] if fixed else [])
    return {"schema_version": "1.7.0", "id": f"DEBIAN-{cve}", "upstream": [cve], "aliases": [], "summary": f"{cve} in {package}",
            "affected": [{"package": {"name": package, "ecosystem": ecosystem, "purl": f"pkg:deb/debian/{package}?arch=source"},
                          "ranges": [{"type": "ECOSYSTEM", "events": events}]}]}


def test_a_distribution_build_is_judged_by_that_distributions_data(bundled: store.AdvisoryData, tmp_path: Path) -> None:
    snap = json.loads(EXAMPLE.read_text())
    snap["meta"]["finished_at"] = FRESH
    snap["host"]["packages"] = DEBIAN_PACKAGES
    path = tmp_path / "debian.json"
    path.write_text(json.dumps([debian_record("CVE-2024-21626", "runc", "1.1.5+ds1-1+deb12u1"),
                                debian_record("CVE-2025-31133", "runc", "1.1.5+ds1-1+deb12u2"),
                                debian_record("CVE-2024-41110", "docker.io", "20.10.24+dfsg1-1+deb12u1"),
                                debian_record("CVE-2024-21626", "runc", "1.0.0~rc93+ds1-5+deb11u3", "Debian:11")]))
    data = store.load([path], prefer="bundled")
    facts = match.facts(match.inputs(snap), data, 30)
    runc, engine, containerd = component(facts, "runc"), component(facts, "engine"), component(facts, "containerd")
    assert runc["judged_by"] == "distribution" and names(facts, "runc") == {"CVE-2025-31133"}
    assert "fixed in 1.1.5+ds1-1+deb12u2" in runc["affected"][0]["fixed_text"]
    assert engine["judged_by"] == "distribution" and names(facts, "engine") == set()
    # The data holds nothing about Debian's containerd: it stays with a person, with its candidates.
    assert containerd["judged_by"] is None and "CVE-2024-40635" in names(facts, "containerd", "candidates")


def test_without_distribution_data_the_package_decides_not_the_version_string(bundled: store.AdvisoryData) -> None:
    """Ubuntu's docker.io reports a plain 24.0.7: the package says it is a distribution build."""
    packages = copy.deepcopy(DEBIAN_PACKAGES)
    packages["components"]["engine"]["package"].update(name="docker.io", version="24.0.7-0ubuntu2~22.04.1",
                                                       source="docker.io", source_version="24.0.7-0ubuntu2~22.04.1")
    snap = snapshot(engine="24.0.7", packages=packages)
    engine = component(match.facts(match.inputs(snap), bundled, 30), "engine")
    assert engine["build"] == "distribution" and engine["affected"] == []
    assert "CVE-2024-41110" in {m["name"] for m in engine["candidates"]}
    packages["components"]["engine"]["package"].update(name="docker-ce", version="5:24.0.7-1~ubuntu.22.04~jammy")
    engine = component(match.facts(match.inputs(snapshot(engine="24.0.7", packages=packages)), bundled, 30), "engine")
    assert engine["build"] == "upstream" and "CVE-2024-41110" in {m["name"] for m in engine["affected"]}


def test_distribution_versions_are_told_apart_without_packages(bundled: store.AdvisoryData) -> None:
    """A remote snapshot records no packages: Debian's version strings and package-version commits give it away."""
    facts = match.facts(match.inputs(snapshot(containerd="1.6.20~ds1", commits={"containerd": "1.6.20~ds1-1+deb12u3"})),
                        bundled, 30)
    assert component(facts, "containerd")["build"] == "distribution"


@pytest.mark.parametrize("ecosystem, os_release, expected", [
    ("Debian:12", {"ID": "debian", "VERSION_ID": "12"}, True),
    ("Debian:11", {"ID": "debian", "VERSION_ID": "12"}, False),
    ("Ubuntu:22.04:LTS", {"ID": "ubuntu", "VERSION_ID": "22.04"}, True),
    ("Ubuntu:Pro:20.04:LTS", {"ID": "ubuntu", "VERSION_ID": "20.04"}, True),
    ("Ubuntu:22.04:LTS", {"ID": "debian", "VERSION_ID": "12"}, False),
])
def test_ecosystems_match_the_hosts_release(ecosystem: str, os_release: dict[str, str], expected: bool) -> None:
    assert match.ecosystem_matches(ecosystem, os_release) is expected


def test_a_bad_advisories_file_is_one_line_exit_2(hullcheck_cli: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    other = tmp_path / "other.json"
    other.write_text(json.dumps([debian_record("CVE-2024-0001", "openssl", "3.0.11-1")]))
    for path, words in ((bad, "not OSV JSON"), (other, "no Debian or Ubuntu OSV record about a Docker"),
                        (tmp_path / "missing.json", "no such file")):
        proc = hullcheck_cli("evaluate", str(EXAMPLE), "--policy", "cis-docker-1.2.2", "--advisories", str(path))
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("hullcheck: error: --advisories") and words in proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1


def test_advisories_file_judges_the_example_from_the_command_line(hullcheck_cli: Any, tmp_path: Path) -> None:
    snap = json.loads(EXAMPLE.read_text())
    snap["meta"]["finished_at"] = FRESH
    snap["host"]["packages"] = DEBIAN_PACKAGES
    host = tmp_path / "host.json"
    host.write_text(json.dumps(snap))
    data = tmp_path / "debian.zip"
    with zipfile.ZipFile(data, "w") as archive:   # the shape of OSV.dev's per-ecosystem all.zip
        for record in (debian_record("CVE-2025-31133", "runc", "1.1.5+ds1-1+deb12u2"),
                       debian_record("CVE-2024-41110", "docker.io", "20.10.24+dfsg1-1+deb12u1"),
                       debian_record("CVE-2024-40635", "containerd", "1.6.20~ds1-1+deb12u1")):
            archive.writestr(f"{record['id']}.json", json.dumps(record))
    proc = hullcheck_cli("evaluate", str(host), "--policy", "cis-docker-1.2.2", "--advisories", str(data), "-f", "json")
    assert proc.returncode == 1, proc.stderr
    document = json.loads(proc.stdout)
    (result,) = document["results"]
    assert result["status"] == "fail"
    assert {f["resource"]["name"] for f in result["findings"]} == {"runc:CVE-2025-31133"}
    assert document["advisories"]["distribution_files"] == [str(data)]


# ---- reports, fleets, the command --------------------------------------------------------------

def test_every_report_names_the_advisory_data_date(hullcheck_cli: Any) -> None:
    for fmt in ("text", "markdown", "html"):
        proc = hullcheck_cli("evaluate", str(EXAMPLE), "--policy", "cis-docker-1.2.*", "-f", fmt)
        assert "advisory data dated 2026-08-21" in proc.stdout, fmt
    proc = hullcheck_cli("evaluate", str(EXAMPLE), "--policy", "cis-docker-1.2.2", "-f", "json", "--advisories-max-age", "400")
    block = json.loads(proc.stdout)["advisories"]
    assert block["date"] == "2026-08-21" and block["age_days"] == 100 and block["stale"] is False
    proc = hullcheck_cli("evaluate", str(EXAMPLE), "--policy", "cis-docker-1.2.2", "-f", "json")
    document = json.loads(proc.stdout)
    assert document["advisories"]["stale"] is True and proc.stderr == ""
    # 1.2.2 warns in its own findings too, not only in the report's header
    assert all("days older than the snapshot: refresh it" in f["message"] for f in document["results"][0]["findings"])
    text = hullcheck_cli("evaluate", str(EXAMPLE), "--policy", "cis-docker-1.2.2").stdout
    assert "over the 30-day limit, refresh it" in text


def test_the_fleet_report_lists_hosts_per_advisory(hullcheck_cli: Any, tmp_path: Path) -> None:
    for host, (engine, containerd, runc) in {"web01": ("27.1.0", "1.7.13", "1.1.11"), "web02": ("27.1.1", "1.7.29", "1.1.12"),
                                             "db01": ("26.1.4", "1.6.38", "1.1.14")}.items():
        snap = snapshot(engine=engine, containerd=containerd, runc=runc)
        snap["meta"]["hostname"] = host
        (tmp_path / f"{host}.json").write_text(json.dumps(snap))
    debian = json.loads(EXAMPLE.read_text())
    debian["meta"].update(hostname="deb01", finished_at=FRESH)
    (tmp_path / "deb01.json").write_text(json.dumps(debian))
    proc = hullcheck_cli("evaluate", str(tmp_path), "--policy", "cis-docker-1.2.2", "-f", "json")
    fleet = json.loads(proc.stdout)
    by_key = {a["key"]: a for a in fleet["advisories"]}
    authz = by_key["advisory:engine/CVE-2024-41110"]
    assert sorted(authz["affected_hosts"]) == ["db01", "web01"] and authz["candidate_hosts"] == ["deb01"]
    assert by_key["advisory:runc/CVE-2024-21626"]["affected_hosts"] == ["web01"]
    text = hullcheck_cli("evaluate", str(tmp_path), "--policy", "cis-docker-1.2.2").stdout
    assert "engine CVE-2024-41110" in text and "affected: db01, web01" in text


def test_hullcheck_advisories_shows_the_data_offline(hullcheck_cli: Any, tmp_path: Path) -> None:
    env = {"HULLCHECK_ADVISORIES_DIR": str(tmp_path / "store"), "HTTP_PROXY": "http://127.0.0.1:9",
           "HTTPS_PROXY": "http://127.0.0.1:9", "DOCKER_HOST": f"unix://{tmp_path}/dead.sock"}
    proc = hullcheck_cli("advisories", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "dated 2026-08-21" in proc.stdout and "golang/vulndb (commit a752ea5" in proc.stdout
    assert "engine 42 advisories, containerd 24 advisories, runc 18 advisories" in proc.stdout
    shown = json.loads(hullcheck_cli("advisories", "--format", "json", env=env).stdout)
    assert shown["origin"] == "bundled" and shown["counts"] == {"engine": 42, "containerd": 24, "runc": 18}


# ---- importing a bundle -------------------------------------------------------------------------

def go_zip(path: Path, ids: tuple[str, ...] = ("GO-2024-2491", "GO-2024-3005", "GO-2026-4887")) -> Path:
    """A bundle laid out as the Go database's vulndb.zip (ID/GO-*.json), with a newer modified date."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("index/db.json", json.dumps({"modified": "2026-12-01T00:00:00Z"}))
        for record in go_records(*ids):
            record["modified"] = "2026-12-01T00:00:00Z"
            archive.writestr(f"ID/{record['id']}.json", json.dumps(record))
    return path


def test_an_imported_bundle_is_used_by_later_runs(hullcheck_cli: Any, tmp_path: Path) -> None:
    env = {"HULLCHECK_ADVISORIES_DIR": str(tmp_path / "store")}
    bundle = go_zip(tmp_path / "vulndb.zip")
    proc = hullcheck_cli("advisories", "import", str(bundle), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "advisories dated 2026-12-01" in proc.stdout
    shown = json.loads(hullcheck_cli("advisories", "--format", "json", env=env).stdout)
    assert shown["origin"] == "store" and shown["date"] == "2026-12-01" and shown["counts"]["runc"] == 2  # + CVE-2019-5736
    assert (tmp_path / "store" / "advisories.json").stat().st_mode & 0o077 == 0
    snap = snapshot(engine="27.1.0", containerd="2.3.2", runc="1.1.11", finished_at="2026-12-05T00:00:00.000Z")
    host = tmp_path / "host.json"
    host.write_text(json.dumps(snap))
    document = json.loads(hullcheck_cli("evaluate", str(host), "--policy", "cis-docker-1.2.2", "-f", "json", env=env).stdout)
    assert document["advisories"]["origin"] == "store" and document["advisories"]["stale"] is False
    failing = {f["resource"]["name"] for f in document["results"][0]["findings"] if f["status"] == "fail"}
    assert failing == {"engine:CVE-2024-41110", "engine:CVE-2026-34040", "runc:CVE-2024-21626"}


def test_a_directory_of_osv_files_imports_too(hullcheck_cli: Any, tmp_path: Path) -> None:
    directory = tmp_path / "osv"
    shutil.copytree(DATA / "go", directory)
    proc = hullcheck_cli("advisories", "import", str(directory), "--date", "2026-12-02",
                         env={"HULLCHECK_ADVISORIES_DIR": str(tmp_path / "store")})
    assert proc.returncode == 0, proc.stderr
    assert "dated 2026-12-02" in proc.stdout


def test_a_store_others_can_write_is_ignored(hullcheck_cli: Any, tmp_path: Path) -> None:
    env = {"HULLCHECK_ADVISORIES_DIR": str(tmp_path / "store")}
    assert hullcheck_cli("advisories", "import", str(go_zip(tmp_path / "vulndb.zip")), env=env).returncode == 0
    (tmp_path / "store" / "advisories.json").chmod(0o666)
    proc = hullcheck_cli("advisories", env=env)
    assert "advisory store" in proc.stdout and "ignored" in proc.stdout and "writable by others" in proc.stdout
    assert "advisory data: bundled" in proc.stdout


def _keygen(path: Path) -> Path:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", path.name, "-f", str(path)], check=True)
    return path


def test_a_signed_bundle_is_verified_and_a_tampered_one_refused(hullcheck_cli: Any, tmp_path: Path) -> None:
    if shutil.which("ssh-keygen") is None:  # pragma: no cover - CI installs openssh-client
        pytest.fail("this test needs OpenSSH's ssh-keygen", pytrace=False)
    key = _keygen(tmp_path / "curator")
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f'curator@site namespaces="hullcheck-advisories" {(tmp_path / "curator.pub").read_text()}')
    bundle = go_zip(tmp_path / "vulndb.zip")
    subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-f", str(key), "-n", "hullcheck-advisories", str(bundle)], check=True)
    env = {"HULLCHECK_ADVISORIES_DIR": str(tmp_path / "store")}
    proc = hullcheck_cli("advisories", "import", str(bundle), "--trust", str(allowed), env=env)
    assert proc.returncode == 0, proc.stderr
    assert "signed by curator@site" in proc.stdout
    shown = hullcheck_cli("advisories", env=env).stdout
    assert "signed by curator@site" in shown

    tampered = tmp_path / "tampered.zip"
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0x01
    tampered.write_bytes(bytes(data))
    shutil.copy(str(bundle) + ".sig", str(tampered) + ".sig")
    proc = hullcheck_cli("advisories", "import", str(tampered), "--trust", str(allowed),
                         env={"HULLCHECK_ADVISORIES_DIR": str(tmp_path / "store2")})
    assert proc.returncode == 2 and "refused: changed since signing" in proc.stderr
    assert not (tmp_path / "store2" / "advisories.json").exists()

    unsigned = go_zip(tmp_path / "unsigned.zip")
    proc = hullcheck_cli("advisories", "import", str(unsigned), "--trust", str(allowed), env=env)
    assert proc.returncode == 2 and "no signature" in proc.stderr
    subprocess.run(["ssh-keygen", "-q", "-Y", "sign", "-f", str(key), "-n", "hullcheck-snapshot", str(unsigned)], check=True)
    proc = hullcheck_cli("advisories", "import", str(unsigned), "--trust", str(allowed), env=env)
    assert proc.returncode == 2 and "wrong namespace" in proc.stderr


def test_a_bundle_without_relevant_records_is_refused(hullcheck_cli: Any, tmp_path: Path) -> None:
    bundle = tmp_path / "other.zip"
    with zipfile.ZipFile(bundle, "w") as archive:
        archive.writestr("PYSEC-2024-1.json", json.dumps({"id": "PYSEC-2024-1", "affected": []}))
    proc = hullcheck_cli("advisories", "import", str(bundle), env={"HULLCHECK_ADVISORIES_DIR": str(tmp_path / "s")})
    assert proc.returncode == 2 and proc.stderr.startswith("hullcheck: error:") and "no Go" in proc.stderr


# ---- the bundled data is what the script builds from its sources --------------------------------

def test_the_bundled_data_is_reproducible_from_the_go_database(tmp_path: Path) -> None:
    """With a golang/vulndb clone at the recorded commit (scripts/build-advisories --go PATH), the
    build gives the committed file byte for byte. The clone is a git-ignored corpus: set
    HULLCHECK_VULNDB or put it at .cache/corpora/golang-vulndb (docs/advisories.md)."""
    import os

    corpus = Path(os.environ.get("HULLCHECK_VULNDB") or REPO / ".cache" / "corpora" / "golang-vulndb")
    if not corpus.exists():
        pytest.skip("no golang/vulndb clone (HULLCHECK_VULNDB or .cache/corpora/golang-vulndb)")
    out = tmp_path / "advisories.json"
    subprocess.run([str(REPO / "scripts" / "build-advisories"), "--go", str(corpus), "--ghsa",
                    str(REPO / "advisories" / "sources" / "ghsa"), "-o", str(out)], check=True, capture_output=True)
    committed = json.loads((REPO / "advisories" / "advisories.json").read_text())
    built = json.loads(out.read_text())
    if built["sources"][0]["commit"] != committed["sources"][0]["commit"]:
        pytest.skip(f"the clone is at {built['sources'][0]['commit']}, the data at {committed['sources'][0]['commit']}")
    assert built == committed


# ---- a live collection on this machine ------------------------------------------------------------

def test_a_live_collect_records_the_packages_and_judges_distribution_builds_by_them(docker_client: Any) -> None:
    """This machine's engine is Debian's docker.io (with Debian's containerd and runc): the collector
    finds each binary's package in dpkg's files, and 1.2.2 leaves the builds to a person with the
    candidate advisories, never a pass or a fail from upstream ranges alone."""
    from collector import CollectOptions, collect

    snap = collect(CollectOptions(label_filter=["hullcheck.test/none=none"]))
    packages = snap["host"]["packages"]
    assert packages["manager"] in ("dpkg", "rpm")
    engine_package = packages["components"]["engine"]["package"]
    assert engine_package is not None and engine_package["version"]
    for name in ("containerd", "runc"):
        record = packages["components"][name]
        assert record["path"] and record["package"] is not None, record
    listening = snap["host"]["listening"]
    assert listening["sockets"] and all({"protocol", "address", "port", "processes"} <= set(s) for s in listening["sockets"])
    facts = match.facts(match.inputs(snap), store.load(prefer="bundled"), 30)
    engine = component(facts, "engine")
    if engine_package["name"] in match.UPSTREAM_PACKAGES:  # pragma: no cover - a docker-ce machine
        assert engine["build"] == "upstream"
        return
    assert engine["build"] == "distribution" and engine_package["name"] in engine["build_reason"]
    assert engine["affected"] == [] and engine["candidates"]
    from evaluator import Evaluator, Selection, Source, load_pack
    from hullcheck_common.resources import policies_dir

    snap["meta"]["finished_at"] = FRESH   # judged with fresh data: the verdict, not the data's age
    policies = Selection(include=("cis-docker-1.2.2",)).apply(load_pack([policies_dir()]))
    with Evaluator(policies) as ev:
        (result,) = ev.evaluate(Source(name="live", data=json.dumps(snap).encode()))["results"]
    assert result["status"] == "manual"
    assert any(f["resource"]["name"] == "runc:CVE-2024-21626" and "1.1.5+ds1" in f["message"] for f in result["findings"])


# ---- package databases ------------------------------------------------------------------------

RPM_SPEC = """Name: {name}
Version: {version}
Release: {release}
Summary: a hullcheck test package
License: Apache-2.0
BuildArch: noarch
%description
test
%install
mkdir -p %{{buildroot}}/usr/bin
printf '#!/bin/sh\\n' > %{{buildroot}}/usr/bin/{binary}
chmod 755 %{{buildroot}}/usr/bin/{binary}
%files
/usr/bin/{binary}
"""


def test_the_rpm_database_written_by_rpm_itself_is_read_without_rpm(tmp_path: Path) -> None:
    """Fedora's moby-engine and runc, installed by the real rpm into a root of their own: the
    collector reads rpmdb.sqlite (read-only, immutable) and 1.2.2 sees distribution builds."""
    if shutil.which("rpmbuild") is None:  # pragma: no cover - CI installs Debian's rpm package
        pytest.fail("this test needs rpm and rpmbuild (apt-get install rpm)", pytrace=False)
    from collector.errors import ErrorLog
    from collector.hostfs import HostFS
    from collector.packages import collect_packages

    root = tmp_path / "root"
    rpms = []
    for name, version, release, binary in (("moby-engine", "24.0.5", "1.fc39", "dockerd"), ("runc", "1.1.9", "1.fc39", "runc")):
        top = tmp_path / f"build-{name}"
        (top / "SPECS").mkdir(parents=True)
        spec = top / "SPECS" / f"{name}.spec"
        spec.write_text(RPM_SPEC.format(name=name, version=version, release=release, binary=binary))
        subprocess.run(["rpmbuild", "--define", f"_topdir {top}", "-bb", str(spec)], check=True, capture_output=True)
        rpms += list((top / "RPMS" / "noarch").glob("*.rpm"))
    subprocess.run(["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "--initdb"], check=True, capture_output=True)
    subprocess.run(["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-i", "--nodeps", *map(str, rpms)],
                   check=True, capture_output=True)
    database = root / "var" / "lib" / "rpm" / "rpmdb.sqlite"
    before = database.read_bytes()
    daemon = {"kind": "docker", "process": {"pid": 4242, "exe": "/usr/bin/dockerd"}}
    packages = collect_packages(HostFS(str(root)), ErrorLog(), daemon, [], {"DefaultRuntime": "runc", "Runtimes": {"runc": {"path": "runc"}}})
    assert database.read_bytes() == before, "the database must not be written"
    assert packages["manager"] == "rpm" and packages["database"] == "/var/lib/rpm/rpmdb.sqlite"
    engine, runc = packages["components"]["engine"], packages["components"]["runc"]
    assert engine["package"] == {"manager": "rpm", "name": "moby-engine", "version": "24.0.5-1.fc39", "epoch": None,
                                 "architecture": "noarch", "source": "moby-engine", "source_version": None}
    assert runc["path"] == "/usr/bin/runc" and runc["package"]["name"] == "runc"
    assert packages["components"]["containerd"]["error"] == "binary not found on the host"
    snap = snapshot(engine="24.0.5", runc="1.1.9", packages=packages)
    facts = match.facts(match.inputs(snap), store.load(prefer="bundled"), 30)
    assert component(facts, "engine")["build"] == "distribution" and "moby-engine 24.0.5-1.fc39" in component(facts, "engine")["build_reason"]
    assert component(facts, "engine")["affected"] == [] and "CVE-2024-41110" in names(facts, "engine", "candidates")
    assert component(facts, "runc")["build"] == "distribution"


def test_dpkg_owner_and_status_are_read_from_files(tmp_path: Path) -> None:
    """A dpkg database laid out as dpkg writes it (info/*.list, status with Source:); a binary that
    no package lists is an upstream build."""
    from collector.errors import ErrorLog
    from collector.hostfs import HostFS
    from collector.packages import collect_packages

    root = tmp_path / "root"
    info = root / "var" / "lib" / "dpkg" / "info"
    info.mkdir(parents=True)
    (root / "usr" / "sbin").mkdir(parents=True)
    (root / "usr" / "bin").mkdir(parents=True)
    for binary in ("usr/sbin/dockerd", "usr/bin/containerd"):
        (root / binary).write_text("")
    (info / "docker.io.list").write_text("/.\n/usr\n/usr/sbin\n/usr/sbin/dockerd\n")
    (info / "zzz-other.list").write_text("/usr/bin/other\n")
    (root / "var" / "lib" / "dpkg" / "status").write_text(
        "Package: other\nStatus: install ok installed\nVersion: 1\n\n"
        "Package: docker.io\nStatus: install ok installed\nArchitecture: amd64\n"
        "Source: docker.io (20.10.24+dfsg1-1+deb12u1)\nVersion: 20.10.24+dfsg1-1+deb12u1+b6\nDescription: x\n more\n")
    daemon = {"kind": "docker", "process": {"pid": 1, "exe": "/usr/sbin/dockerd"}}
    packages = collect_packages(HostFS(str(root)), ErrorLog(), daemon, [{"pid": 7, "exe": "/usr/bin/containerd"}], {})
    assert packages["components"]["engine"]["package"] == {
        "manager": "dpkg", "name": "docker.io", "version": "20.10.24+dfsg1-1+deb12u1+b6", "architecture": "amd64",
        "source": "docker.io", "source_version": "20.10.24+dfsg1-1+deb12u1"}
    assert packages["components"]["containerd"]["package"] is None and packages["components"]["containerd"]["error"] is None
