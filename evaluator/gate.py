"""When a run fails CI: the `--fail-on` threshold, kept apart from tool errors (exit code 2).

- `any` (default): any failing policy result (a waived finding is not failing);
- a severity (critical, high, medium, low, info): a failing result at or above it;
- `new`: a failing finding that the baseline (`--baseline`) did not have;
- `none`: never, for report-only steps.
Errors (`error` results) never gate here: they are reported, and a run with evidence missing
still exits on what it could judge. Tool, input and policy errors exit 2 before any of this.
"""

from __future__ import annotations

from typing import Any

from hullcheck_common.errors import HullcheckError
from hullcheck_common.vocabulary import SEVERITIES

FAIL_ON_CHOICES = ("any", *SEVERITIES, "new", "none")


class GateError(HullcheckError, ValueError):
    """A threshold that cannot be applied (unknown name, `new` without a baseline)."""


def check_fail_on(value: str, has_baseline: bool) -> str:
    value = value.strip().lower()
    if value not in FAIL_ON_CHOICES:
        raise GateError(f"--fail-on must be one of {', '.join(FAIL_ON_CHOICES)}, not '{value}'")
    if value == "new" and not has_baseline:
        raise GateError("--fail-on new needs earlier results to compare with: add --baseline OLD_RESULTS.json")
    return value


def gating_results(document: dict[str, Any], fail_on: str) -> list[dict[str, Any]]:
    """The failing policy results that trip the threshold (empty: exit 0)."""
    failing = [r for r in document.get("results", []) if r.get("status") == "fail"]
    if fail_on == "none":
        return []
    if fail_on == "any":
        return failing
    if fail_on == "new":
        return [r for r in failing if any(f.get("status") == "fail" and f.get("baseline") == "new"
                                          for f in r.get("findings", []))]
    limit = SEVERITIES.index(fail_on)
    return [r for r in failing if r.get("severity") in SEVERITIES and SEVERITIES.index(r["severity"]) <= limit]
