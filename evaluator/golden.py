"""Golden re-runs: recorded snapshots re-evaluated and compared with committed expected results.

Every snapshot in `snapshots/examples/` has a golden file `snapshots/golden/<name>.json` holding,
per policy id, the status, the sorted names of the failing resources, and the reasons of errors.
Nothing else: no timestamps, digests of the pack or evidence, so a golden file changes only when
what hullcheck says about a host changes. A pull request that changes a policy then shows its
effect on every recorded host as a diff of these files (`hullcheck test --golden` prints it;
`hullcheck test --update-golden` writes the new ones after review).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hullcheck_common import userfile
from hullcheck_common.atomic import write_atomic
from hullcheck_common.vocabulary import offenders as failing_names

from .policy import Policy
from .snapshot import read_bytes as read_snapshot
from .worker_pool import Evaluator, Limits, Source

GOLDEN_VERSION = 1


def compact(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The golden form of a results document: per policy id, status, offenders and error reasons."""
    out: dict[str, dict[str, Any]] = {}
    for result in document["results"]:
        entry: dict[str, Any] = {"status": result["status"]}
        offenders = failing_names(result)
        if offenders:
            entry["offenders"] = offenders
        where = {str(f["resource"]["name"]): [f"{loc['file']}:{loc['line']}" for loc in f["locations"]]
                 for f in result["findings"] if f["status"] == "fail" and f.get("locations")}
        if where:  # planned from Compose: the lines a finding points at are part of the contract
            entry["locations"] = dict(sorted(where.items()))
        errors = {str(f["resource"]["name"]): f["message"] for f in result["findings"] if f["status"] == "error"}
        if errors:
            entry["errors"] = dict(sorted(errors.items()))
        if result["status"] == "error" and result.get("reason"):
            entry["reason"] = result["reason"]
        out[result["id"]] = entry
    return out


def dumps(snapshot_name: str, snapshot_sha256: str, host: str | None, results: dict[str, dict[str, Any]]) -> str:
    """Stable text: one policy per line, so a diff in review shows exactly the policies that changed."""
    head = {"golden_version": GOLDEN_VERSION, "snapshot": snapshot_name, "snapshot_sha256": snapshot_sha256,
            "host": host}
    lines = ["{"]
    lines += [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}," for k, v in head.items()]
    lines.append('  "results": {')
    items = list(results.items())
    for i, (policy_id, entry) in enumerate(items):
        comma = "," if i < len(items) - 1 else ""
        lines.append(f"    {json.dumps(policy_id)}: {json.dumps(entry, ensure_ascii=False)}{comma}")
    lines += ["  }", "}"]
    return "\n".join(lines) + "\n"


def _brief(entry: dict[str, Any]) -> str:
    text = entry["status"]
    if entry.get("offenders"):
        text += f" [{', '.join(entry['offenders'])}]"
    return text


def entry_changes(policy_id: str, old: dict[str, Any] | None, new: dict[str, Any] | None) -> str | None:
    """One line saying how one policy's verdict on one host changed, or None when it did not."""
    if old == new:
        return None
    if old is None:
        return f"{policy_id}: new policy -> {_brief(new or {})}"
    if new is None:
        return f"{policy_id}: policy gone (was {_brief(old)})"
    parts = [f"{policy_id}: {old['status']} -> {new['status']}"]
    before, after = set(old.get("offenders") or ()), set(new.get("offenders") or ())
    if after - before:
        parts.append(f"offenders added: {', '.join(sorted(after - before))}")
    if before - after:
        parts.append(f"offenders removed: {', '.join(sorted(before - after))}")
    if old.get("reason") != new.get("reason"):
        parts.append(f"reason: {old.get('reason')!r} -> {new.get('reason')!r}")
    if (old.get("errors") or {}) != (new.get("errors") or {}):
        parts.append(f"resource errors: {old.get('errors') or {}} -> {new.get('errors') or {}}")
    return "; ".join(parts)


@dataclass
class HostGolden:
    """The outcome for one recorded snapshot."""

    name: str
    host: str | None
    golden_path: Path
    text: str = ""
    changes: list[str] = field(default_factory=list)
    missing: bool = False
    policies: int = 0

    @property
    def changed(self) -> bool:
        return self.missing or bool(self.changes)

    def describe(self) -> list[str]:
        head = f"{self.name}" + (f" (host {self.host})" if self.host else "")
        if self.missing:
            return [f"{head}: no golden file {self.golden_path} (record it with --update-golden after review)"]
        if not self.changes:
            return [f"{head}: unchanged ({self.policies} policies)"]
        return [f"{head}: {len(self.changes)} change(s)"] + [f"  {line}" for line in self.changes]


def run(policies: list[Policy], snapshots: Path, golden_dir: Path, limits: Limits | None = None,
        pack_version: str = "") -> tuple[list[HostGolden], list[Path]]:
    """Re-evaluate every snapshot in `snapshots` and compare with `golden_dir`.

    Returns the outcome per snapshot and the golden files whose snapshot no longer exists.
    """
    sources = sorted(p for p in snapshots.glob("*.json") if p.is_file())
    outcomes: list[HostGolden] = []
    with Evaluator(policies, limits or Limits(), pack_version=pack_version) as evaluator:
        for path in sources:
            data = read_snapshot(path)  # a FIFO or a device named *.json is refused, as evaluate refuses it
            document = evaluator.evaluate(Source(name=str(path), data=data), evaluated_at="1970-01-01T00:00:00Z")
            new = compact(document)
            golden_path = golden_dir / path.name
            outcome = HostGolden(path.stem, document["snapshot"].get("host"), golden_path, policies=len(new),
                                 text=dumps(path.name, hashlib.sha256(data).hexdigest(),
                                            document["snapshot"].get("host"), new))
            if not golden_path.is_file():
                outcome.missing = True
            else:
                try:
                    old_doc = json.loads(userfile.read_text(golden_path, what="a golden results file"))
                    old = old_doc["results"]
                except (userfile.UserFileError, ValueError, KeyError, TypeError) as exc:
                    outcome.changes.append(f"golden file unreadable ({exc}): re-record it with --update-golden")
                    old_doc, old = {}, {}
                if old_doc and old_doc.get("snapshot_sha256") != hashlib.sha256(data).hexdigest():
                    outcome.changes.append("the snapshot file changed since its golden results were recorded")
                for policy_id in list(old) + [k for k in new if k not in old]:
                    line = entry_changes(policy_id, old.get(policy_id), new.get(policy_id))
                    if line:
                        outcome.changes.append(line)
            outcomes.append(outcome)
    known = {p.name for p in sources}
    orphans = sorted(p for p in golden_dir.glob("*.json") if p.name not in known) if golden_dir.is_dir() else []
    return outcomes, orphans


def write(outcomes: list[HostGolden], orphans: list[Path], golden_dir: Path) -> None:
    """Approve: write every golden file and remove those whose snapshot is gone."""
    golden_dir.mkdir(parents=True, exist_ok=True)
    for outcome in outcomes:
        write_atomic(outcome.golden_path, outcome.text)
    for orphan in orphans:
        orphan.unlink()

