"""The typed options each evaluator command is called with, and the terminal it reports to.

The CLI (hullcheck/options.py) fills these from its flags; `evaluator.run` (one command) and
`evaluator.fleet_run` (many snapshots) both take them, so they live apart from either.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Iterator, Protocol

from hullcheck_common.vocabulary import DEFAULT_BENCHMARK

from .advisories import AdvisoryOptions
from .pipeline import GateOptions
from .policy import Selection
from .worker_pool import Limits

if TYPE_CHECKING:
    from hullcheck_common.sshsig import AllowedSigners, Signer


class Feedback(Protocol):
    """The terminal, as the CLI offers it: warnings and a progress bar on stderr."""

    def warn(self, message: str) -> None: ...

    def progress(self, label: str, total: int) -> ContextManager[Callable[[], None]]: ...


class PlainFeedback:
    """Warnings as plain lines on stderr, no progress bar (embedding, and the default)."""

    def warn(self, message: str) -> None:
        print(message, file=sys.stderr)

    @contextlib.contextmanager
    def progress(self, label: str, total: int) -> Iterator[Callable[[], None]]:
        yield lambda: None


@dataclass(frozen=True)
class ReportOptions:
    """--format, --output, --verbose and --benchmark, and how the terminal looks (colour, width)."""

    fmt: str = "text"
    output: Path | None = None
    verbose: bool = False
    benchmark: str = DEFAULT_BENCHMARK
    color: bool = False
    width: int = 100

    def style(self) -> dict[str, Any]:
        return {"color": self.color, "verbose": self.verbose, "width": self.width, "benchmark": self.benchmark}


@dataclass(frozen=True)
class EvaluateOptions:
    """Everything `evaluate` and `audit` were told: what to evaluate, how, and what to report."""

    snapshots: list[Path] = field(default_factory=list)
    policy_dirs: list[Path] = field(default_factory=list)
    selection: Selection = field(default_factory=Selection)
    limits: Limits = field(default_factory=Limits)
    jobs: int | None = None
    output_dir: Path | None = None
    expect_hosts: Path | None = None  # --expect-hosts: the hosts a fleet should hold (evaluator.fleet)
    gate: GateOptions = field(default_factory=GateOptions)
    report: ReportOptions = field(default_factory=ReportOptions)
    trust: AllowedSigners | None = None  # --trust: judge only snapshots signed by a key trusted for their host
    signer: Signer | None = None  # --sign: every file written gets FILE.sig (namespace hullcheck-results)
    advisories: AdvisoryOptions = field(default_factory=AdvisoryOptions)  # --advisories, --advisories-max-age (CIS 1.2.2)
