"""Tiny custom policy packs written by tests: the real loader and engine judge them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from conftest import REPO

EXAMPLES = REPO / "snapshots" / "examples"
MISCONFIGURED = EXAMPLES / "misconfigured.json"
MINIMAL = EXAMPLES / "minimal.json"
RUNNING = {"dashboard", "db", "web", "worker"}  # running containers of misconfigured.json


def policy(policy_id: str, **fields: Any) -> dict[str, Any]:
    """A valid automated policy judging running containers; fields override or add (assert_ -> assert)."""
    base: dict[str, Any] = {
        "id": policy_id,
        "title": f"Test policy {policy_id}",
        "description": "A policy written by a test, judging the example snapshot.",
        "remediation": "Nothing: this policy only exists inside a test.",
        "severity": "medium",
        "level": 1,
        "tags": ["test"],
        "controls": {},
        "automated": True,
        "resources": "running_containers",
        "assert": "true",
        "message": '"container \\(.inspect.Name | ltrimstr("/")) does not comply"',
        "evidence": [],
    }
    if "assert_" in fields:
        fields["assert"] = fields.pop("assert_")
    base.update(fields)
    if not base["automated"]:
        for key in ("resources", "assert", "message", "evidence"):
            base.pop(key, None)
        base.setdefault("audit", "Look at the host and judge by hand.")
    return base


class _PlainDumper(yaml.SafeDumper):
    """Writes a value used twice out twice: policy files are plain YAML, the loader refuses anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def write_pack(directory: Path, *policies: dict[str, Any]) -> Path:
    """One YAML file per policy under `directory`, plain as policy authors write them; returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    for item in policies:
        text = yaml.dump(item, Dumper=_PlainDumper, sort_keys=False)
        (directory / f"{item['id']}.yaml").write_text(text, encoding="utf-8")
    return directory


def write_text_policy(directory: Path, name: str, text: str) -> Path:
    """A policy file written verbatim (for tests about lines in the file)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def patched_snapshot(directory: Path, name: str, change: Any, base: Path = MISCONFIGURED) -> Path:
    """A copy of a recorded snapshot changed by `change(snapshot)`, written to directory/name."""
    snapshot = json.loads(base.read_text(encoding="utf-8"))
    change(snapshot)
    path = directory / name
    path.write_text(json.dumps(snapshot), encoding="utf-8")
    return path


def result_of(document: dict[str, Any], policy_id: str) -> dict[str, Any]:
    return next(r for r in document["results"] if r["id"] == policy_id)


def offenders(document: dict[str, Any], policy_id: str) -> set[str]:
    return {f["resource"]["name"] for f in result_of(document, policy_id)["findings"] if f["status"] == "fail"}
