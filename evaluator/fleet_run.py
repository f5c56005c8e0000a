"""`hullcheck evaluate` over many snapshots: inputs, parallel evaluation, per-host files, the fleet report.

(Moved here from hullcheck/fleet.py: the CLI only parses options and calls `evaluator.run`.)

Decisions (also in docs/fleets.md):
- Fleet mode starts when `evaluate` gets more than one argument, a directory, a glob, or
  `--output-dir`; one plain file behaves exactly as before.
- A directory means every `*.json` below it (recursively, hidden files skipped), except
  hullcheck's own outputs (`*.results.json`, `fleet.json`), so a re-run over a directory that
  holds an earlier `--output-dir` does not read its results as snapshots. Globs are expanded
  here too (for shells that do not, and for quoting `'snaps/**/*.json'`).
- `--output-dir DIR` writes one results document per snapshot (`<relative path with / as
  __>.results.json`) plus `fleet.json`; the report in `--format` still goes to stdout or `--output`.
- A snapshot that cannot be read is one line on stderr, is listed in the report, and the rest
  are evaluated; at the end the exit code is 2 when any snapshot was unreadable (an incomplete
  fleet must not look like a clean one), else 1 when any host fails a policy, else 0.
- With --trust each snapshot is verified just before it is evaluated (in the evaluating thread,
  so only the snapshots in flight are held); a refused one is reported as refused (status
  "refused", summary.refused), the others evaluated, and the exit code is 2. With --sign every
  file written gets its FILE.sig (namespace hullcheck-results).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from hullcheck_common import __version__
from hullcheck_common.destination import write_output
from hullcheck_common.errors import UsageError
from hullcheck_common.signed_files import RESULTS_NAMESPACE, SignatureRefused
from hullcheck_common.vocabulary import utc_timestamp

from .fleet import FleetBuilder, read_expected_hosts
from .pipeline import Outcome, ResultsPipeline
from .policy import Policy
from .render import formats, render
from .run_options import EvaluateOptions, Feedback
from .snapshot import SnapshotError
from .trust import Verified, attach, verify_snapshot
from .worker_pool import Evaluator, Source

if TYPE_CHECKING:
    from hullcheck_common.sshsig import AllowedSigners, Signer


OWN_OUTPUTS = ("fleet.json",)
OWN_SUFFIX = ".results.json"
_GLOB_CHARS = set("*?[")


def has_glob(arg: str) -> bool:
    return any(c in arg for c in _GLOB_CHARS)


def is_fleet(args: list[Path], output_dir: Path | None) -> bool:
    """One plain existing-or-not file and no --output-dir: the single-snapshot path, unchanged."""
    return output_dir is not None or len(args) != 1 or args[0].is_dir() or has_glob(str(args[0]))


def _snapshot_files_below(directory: Path) -> list[Path]:
    found = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or not name.endswith(".json"):
                continue
            if name in OWN_OUTPUTS or name.endswith(OWN_SUFFIX):
                continue
            found.append(Path(root) / name)
    return found


def expand(args: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """The snapshot files named by files, directories and globs (deduplicated, in order), and problems."""
    files: list[Path] = []
    problems: list[str] = []
    seen: set[str] = set()

    def add(path: Path) -> None:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            files.append(path)

    for arg in args:
        text = str(arg)
        if arg.is_dir():
            below = _snapshot_files_below(arg)
            if not below:
                problems.append(f"{arg}: no snapshot (*.json) in this directory")
            for path in below:
                add(path)
        elif has_glob(text) and not arg.exists():
            matches = sorted(glob.glob(text, recursive=True))
            matched = [Path(m) for m in matches if Path(m).is_file()]
            for m in matches:
                if Path(m).is_dir():
                    matched.extend(_snapshot_files_below(Path(m)))
            if not matched:
                problems.append(f"{arg}: matches no file")
            for path in matched:
                add(path)
        else:
            add(arg)  # a missing or unreadable file is reported when it is evaluated
    return files, problems


def results_name(path: Path, base: Path) -> str:
    """A per-host results file name that keeps the snapshot's place: web01/snap.json -> web01__snap.results.json."""
    try:
        rel = Path(os.path.relpath(os.path.abspath(path), base))
    except ValueError:
        rel = Path(path.name)
    parts = [p for p in rel.parts if p not in ("..", ".", "/")] or [path.name]
    stem = "__".join(parts)
    if stem.endswith(".json"):
        stem = stem[: -len(".json")]
    return stem + OWN_SUFFIX


def _common_base(paths: list[Path]) -> Path:
    dirs = [os.path.dirname(os.path.abspath(p)) for p in paths]
    return Path(os.path.commonpath(dirs)) if dirs else Path.cwd()


def _prepare_output_dir(output_dir: Path | None) -> None:
    if output_dir is None:
        return
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--output-dir {output_dir}: cannot create: {exc.strerror or exc}") from None
    if not output_dir.is_dir():
        raise UsageError(f"--output-dir {output_dir}: not a directory")


class _ResultsFiles:
    """--output-dir: one results file per host, named after the snapshot's place, never twice the same name."""

    def __init__(self, output_dir: Path | None, files: list[Path], signer: Signer | None = None) -> None:
        self.output_dir, self.files, self.base = output_dir, files, _common_base(files)
        self.signed: dict[str, Any] = {"signer": signer, "namespace": RESULTS_NAMESPACE}
        self.names: dict[str, int] = {}

    def write(self, path: Path, document: dict) -> str | None:
        if self.output_dir is None:
            return None
        name = results_name(path, self.base)
        count = self.names.get(name, 0)
        self.names[name] = count + 1
        if count:
            name = name[: -len(OWN_SUFFIX)] + f"-{count + 1}" + OWN_SUFFIX
        results_file = str(self.output_dir / name)
        write_output(render(document, "json"), Path(results_file), tuple(self.files), **self.signed)
        return results_file


class Refused(SnapshotError):
    """A snapshot whose signature --trust refused, as the evaluator reports a source it could not evaluate."""


class _Verifier:
    """evaluate_many's `prepare` hook for --trust: verify, then evaluate exactly the bytes verified."""

    def __init__(self, trust: AllowedSigners, max_bytes: int) -> None:
        self.trust, self.max_bytes = trust, max_bytes
        self.verified: dict[str, Verified] = {}

    def __call__(self, src: Source) -> Source:
        try:
            checked = verify_snapshot(Path(str(src.path)), self.trust, self.max_bytes)
        except SignatureRefused as exc:
            raise Refused(str(exc)) from None
        self.verified[src.name] = checked
        return Source(name=src.name, data=checked.data)

    def attach(self, source: Source, document: dict[str, Any]) -> None:
        attach(document, self.verified.pop(source.name))


def evaluate_fleet(options: EvaluateOptions, policies: list[Policy], pipeline: ResultsPipeline,
                   feedback: Feedback) -> Outcome:
    """Evaluate every snapshot named, write per-host results and the fleet report.

    Each host's document goes through `pipeline` (waivers) before it is counted. A snapshot that
    cannot be read is reported and counted; the outcome is then INCOMPLETE. So is a host named in
    `options.expect_hosts` that has no snapshot: it is reported as not collected.
    """
    report = options.report
    if report.fmt not in formats("fleet"):
        raise UsageError(f"--format {report.fmt} describes one host; for several snapshots choose one of "
                         f"{', '.join(formats('fleet'))} (and --output-dir for each host's results JSON)")
    expected = read_expected_hosts(options.expect_hosts) if options.expect_hosts is not None else None
    files, problems = expand(options.snapshots)
    if expected:  # an empty fleet directory is what a run where every host failed leaves
        problems = [p for p in problems if not p.endswith(": no snapshot (*.json) in this directory")]
    if not files and not expected:
        raise UsageError("no snapshot to evaluate: " + "; ".join(problems) if problems else "no snapshot to evaluate")
    _prepare_output_dir(options.output_dir)
    for problem in problems:
        feedback.warn(f"hullcheck: error: {problem}")
    outputs = _ResultsFiles(options.output_dir, files, options.signer)
    sources = [Source(name=str(p), path=str(p)) for p in files]
    worst, unreadable, refused = Outcome.CLEAN, len(problems), 0
    verifier = _Verifier(options.trust, options.limits.max_snapshot_bytes) if options.trust is not None else None
    evaluated_at = utc_timestamp()
    with Evaluator(policies, options.limits, pack_version=__version__, advisories=options.advisories,
                   warn=feedback.warn) as ev:
        builder = FleetBuilder([p.metadata() for p in policies], ev.pack, expected)
        with feedback.progress("evaluating", len(sources)) as advance:
            done = ev.evaluate_many(sources, jobs=options.jobs, on_done=lambda _src: advance(), prepare=verifier)
            for (source, result), path in zip(done, files):
                if isinstance(result, Refused):
                    refused += 1
                    builder.add_refused(source.name, str(result))
                    feedback.warn(f"hullcheck: error: {result}")
                    continue
                if not isinstance(result, dict):
                    unreadable += 1
                    builder.add_unreadable(source.name, str(result))
                    feedback.warn(f"hullcheck: error: {result}")
                    continue
                if verifier is not None:
                    verifier.attach(source, result)
                document = pipeline.apply(result)
                builder.add_results(source.name, document, outputs.write(path, document))
                worst = max(worst, pipeline.outcome(document))
    fleet = builder.document(evaluated_at, {"name": "hullcheck", "version": __version__})
    if options.output_dir is not None:
        write_output(render(fleet, "json", kind="fleet"), options.output_dir / "fleet.json", tuple(files),
                     **outputs.signed)
    write_output(render(fleet, report.fmt, kind="fleet", **report.style()), report.output, tuple(files),
                 **outputs.signed)
    missing = fleet["summary"].get("not_collected", 0)
    if missing:
        feedback.warn(f"hullcheck: error: {missing} expected host(s) have no snapshot: "
                      + ", ".join(h["key"] for h in fleet["hosts"] if h["status"] == "not_collected"))
    if refused:
        feedback.warn(f"hullcheck: error: {refused} of {len(files) + len(problems)} snapshot(s) were refused "
                      "(signature missing, bad or not trusted for their host); the report lists them")
    if unreadable:
        feedback.warn(f"hullcheck: error: {unreadable} of {len(files) + len(problems)} input(s) could not be "
                      "evaluated; the report covers the rest")
    return Outcome.INCOMPLETE if unreadable or refused or missing else worst
