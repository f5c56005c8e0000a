"""The prelude's jq functions on their own: jq in, value out (cases in evaluator/prelude/cases.yaml).

Also: every function the prelude defines is used by a policy or by another prelude function, so
nothing there is dead weight a reader has to understand.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jq
import pytest
import yaml

from evaluator.program import PRELUDE

PRELUDE_DIR = Path(__file__).resolve().parent.parent / "evaluator" / "prelude"
CASES: list[dict[str, Any]] = yaml.safe_load((PRELUDE_DIR / "cases.yaml").read_text(encoding="utf-8"))
DEFINED = re.findall(r"^def ([a-z_0-9]+)", PRELUDE, re.M)


def _run(case: dict[str, Any]) -> Any:
    program = jq.compile(f". as $snap | ($snap.meta.errors // []) as $errs |\n{PRELUDE}\n{case['expr']}")
    return program.input_value(case.get("input", {})).all()


@pytest.mark.parametrize("case", CASES, ids=[c["expr"][:60] for c in CASES])
def test_prelude_function(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(ValueError, match=re.escape(case["error"])):
            _run(case)
        return
    assert _run(case) == [case["output"]]


def test_cases_cover_every_function() -> None:
    """Every function the prelude defines is named by a direct case, so each has its own contract
    pinned here and a change to it fails beside the prelude, not only in some policy's test."""
    unnamed = [name for name in DEFINED if not any(re.search(rf"\b{name}\b", c["expr"]) for c in CASES)]
    assert DEFINED, "no function definitions found in the prelude"
    assert unnamed == [], f"prelude functions no direct case names: {unnamed}"


def test_every_prelude_function_is_used() -> None:
    policies = "\n".join(p.read_text(encoding="utf-8") for p in (PRELUDE_DIR.parent.parent / "policies").rglob("*.yaml"))
    code = re.sub(r"#[^\n]*", "", PRELUDE)  # a mention in a comment is no use
    unused = [name for name in DEFINED
              if not re.search(rf"\b{name}\b", policies) and len(re.findall(rf"\b{name}\b", code)) < 2]
    assert unused == []
