"""After evaluation, before the report: waivers, the baseline and the --fail-on gate.

Everything is read and checked first (`ResultsPipeline.prepare`), so a bad waivers or baseline
file stops a run before any policy is evaluated; `apply` then marks each results document and
`outcome` says what it means for the exit code. `evaluate`, `audit` and `render` share it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any, Callable

from hullcheck_common.errors import UsageError

from .diff import load_results, mark_baseline
from .gate import check_fail_on, gating_results
from .waivers import Waiver, apply_waivers, load_waivers, parse_as_of


class Outcome(IntEnum):
    """What a run found; the CLI turns it into the exit code (0, 1, 2)."""

    CLEAN = 0  # nothing at or above the gate fails
    FINDINGS = 1  # something does (or: drift, changed golden results, failing cases)
    INCOMPLETE = 2  # some input could not be evaluated (a fleet reports the rest)


@dataclass(frozen=True)
class GateOptions:
    """--waivers, --as-of, --baseline and --fail-on as given on the command line."""

    waivers: Path | None = None
    as_of: str | None = None
    baseline: Path | None = None
    fail_on: str = "any"

    def files(self) -> tuple[Path, ...]:
        return tuple(p for p in (self.waivers, self.baseline) if p is not None)


def _stderr(message: str) -> None:
    import sys

    print(message, file=sys.stderr)


@dataclass
class ResultsPipeline:
    waivers: list[Waiver] | None
    waivers_path: Path | None
    as_of: dt.date
    baseline: dict[str, Any] | None
    baseline_path: Path | None
    fail_on: str
    warn: Callable[[str], None] = _stderr

    @classmethod
    def prepare(cls, options: GateOptions, marked: bool = False,
                warn: Callable[[str], None] = _stderr) -> ResultsPipeline:
        """Read and check every file first. `marked`: the results already carry new/known marks."""
        fail_on = check_fail_on(options.fail_on, options.baseline is not None or marked)
        when = parse_as_of(options.as_of)
        waivers = load_waivers(options.waivers) if options.waivers is not None else None
        baseline = load_results(options.baseline) if options.baseline is not None else None
        if options.as_of is not None and options.waivers is None:
            raise UsageError("--as-of judges waiver expiry: it needs --waivers FILE")
        return cls(waivers, options.waivers, when, baseline, options.baseline, fail_on, warn)

    def apply(self, document: dict[str, Any]) -> dict[str, Any]:
        """Waive and mark one results document in place (and return it); expired and stale waivers are said."""
        if self.waivers is not None:
            apply_waivers(document, self.waivers, self.as_of, str(self.waivers_path))
            waivers = document["waivers"]
            for entry in waivers["expired"]:
                self.warn(f"hullcheck: waiver {entry['id']} ({entry['policy']}) expired on {entry['expires']}; "
                          f"{len(entry['matched'])} finding(s) it covered are failing again")
            if waivers["stale"]:
                self.warn(f"hullcheck: {len(waivers['stale'])} waiver(s) matched no failing finding (stale): "
                          + ", ".join(w["id"] for w in waivers["stale"]))
        if self.baseline is not None:
            mark_baseline(document, self.baseline, str(self.baseline_path))
        return document

    def outcome(self, document: dict[str, Any]) -> Outcome:
        return Outcome.FINDINGS if gating_results(document, self.fail_on) else Outcome.CLEAN
