"""`hullcheck schema`: the published schemas, byte for byte, and one clear line when one is missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from conftest import REPO

ALWAYS_SHIPPED = ("snapshot", "policy", "fleet")


def test_lists_every_schema_and_where_it_is(hullcheck_cli: Any) -> None:
    from hullcheck_common.resources import SCHEMA_KINDS, schema_path

    proc = hullcheck_cli("schema")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert [line.split()[0] for line in lines] == list(SCHEMA_KINDS)
    for kind, line in zip(SCHEMA_KINDS, lines):
        assert str(schema_path(kind)) in line
        assert line.endswith("(missing)") == (not schema_path(kind).is_file())
    assert {"snapshot", "policy", "results", "waiver"} <= set(SCHEMA_KINDS)


@pytest.mark.parametrize("kind", ["snapshot", "policy", "results", "waiver", "fleet"])
def test_prints_the_schema_file(kind: str, hullcheck_cli: Any) -> None:
    from hullcheck_common.resources import schema_path

    path = schema_path(kind)
    proc = hullcheck_cli("schema", kind)
    if kind in ALWAYS_SHIPPED or path.is_file():
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout == path.read_text(encoding="utf-8")
        schema = json.loads(proc.stdout)
        jsonschema.Draft202012Validator.check_schema(schema)
    else:  # being written elsewhere: until it lands, the command says so in one line
        assert proc.returncode == 2
        assert proc.stderr.strip().splitlines() == [
            f"hullcheck: error: the {kind} schema is missing from this installation ({path}); reinstall hullcheck"]


def test_the_snapshot_schema_printed_validates_the_examples(hullcheck_cli: Any) -> None:
    schema = json.loads(hullcheck_cli("schema", "snapshot").stdout)
    validator = jsonschema.Draft202012Validator(schema)
    for example in sorted((REPO / "snapshots" / "examples").glob("*.json")):
        validator.validate(json.loads(example.read_text()))
    with pytest.raises(jsonschema.ValidationError):
        validator.validate({"schema_version": "1.0"})


def test_writes_to_a_file(hullcheck_cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "policy.schema.json"
    proc = hullcheck_cli("schema", "policy", "-o", str(out))
    assert proc.returncode == 0 and proc.stdout == ""
    assert out.read_text() == (REPO / "policies" / "policy.schema.json").read_text()


def test_a_missing_schema_is_one_clear_line(tmp_path: Path) -> None:
    """A damaged installation (schema file deleted): exit 2, one line naming the file, no traceback."""
    for name in ("hullcheck", "hullcheck_common", "collector", "evaluator", "policies", "snapshots"):
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "snapshots" / "snapshot.schema.json").unlink()
    proc = subprocess.run([sys.executable, "-m", "hullcheck.cli", "schema", "snapshot"], capture_output=True, text=True,
                          cwd="/", env={**os.environ, "PYTHONPATH": str(tmp_path), "NO_COLOR": "1"}, timeout=120)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert lines[0].startswith("hullcheck: error: the snapshot schema is missing")
    assert str(tmp_path / "snapshots" / "snapshot.schema.json") in lines[0]


def test_an_unknown_kind_is_a_usage_error(hullcheck_cli: Any) -> None:
    proc = hullcheck_cli("schema", "nonsense")
    assert proc.returncode == 2
    assert "nonsense" in proc.stderr and "Traceback" not in proc.stderr
