"""`hullcheck evaluate` over many snapshots: inputs, parallel evaluation, per-host files, the fleet report.

Decisions (also in the README):
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
"""

from __future__ import annotations

import glob
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

OWN_OUTPUTS = ("fleet.json",)
OWN_SUFFIX = ".results.json"
_GLOB_CHARS = set("*?[")


def has_glob(arg: str) -> bool:
    return any(c in arg for c in _GLOB_CHARS)


def is_fleet(args: list[Path], output_dir: Optional[Path]) -> bool:
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


def evaluate_fleet(cli: Any, args: list[Path], policies: list[Any], *, jobs: Optional[int], fmt: str, output: Optional[Path],
                   output_dir: Optional[Path], verbose: bool, policy_timeout: float,
                   finish: Optional[Callable[[dict[str, Any]], dict[str, Any]]] = None,
                   exit_code: Optional[Callable[[dict[str, Any]], int]] = None, trust: Any = None,
                   signer: Any = None, max_snapshot_bytes: Optional[int] = None) -> int:
    """Evaluate every snapshot named, write per-host results and the fleet report; return the exit code.

    `cli` is the CLI module (its _fail, _write_output, stderr and exit codes: passed in because
    `python -m hullcheck.cli` runs it as __main__, whose UsageError is the one that is caught).
    `finish` may post-process each host's results document (waivers, baselines) before it is
    counted; `exit_code` says what one host's document means for the exit code (default: 1 when
    any policy fails). `trust` (allowed signers): each snapshot is verified before it is evaluated
    and a refused one is reported as refused, the others evaluated; `signer`: every file written
    gets its FILE.sig (namespace hullcheck-results).
    """
    from evaluator import Evaluator, Limits, Source
    from evaluator.fleet import FleetBuilder, fleet_formats, render_fleet
    from evaluator.render import render as render_host

    from . import __version__
    from evaluator import SnapshotError

    from .custody import RESULTS_NAMESPACE, SignatureRefused, attach, verify_snapshot

    class Refused(SnapshotError):
        """A refused signature, as the evaluator reports a source it could not evaluate."""
    EXIT_ERROR, EXIT_FINDINGS, EXIT_OK = cli.EXIT_ERROR, cli.EXIT_FINDINGS, cli.EXIT_OK
    _fail, _write_output, stderr = cli._fail, cli._write_output, cli.stderr

    if fmt not in fleet_formats():
        _fail(f"--format {fmt} describes one host; for several snapshots choose one of "
              f"{', '.join(fleet_formats())} (and --output-dir for each host's results JSON)")
    files, problems = expand(args)
    if not files:
        _fail("no snapshot to evaluate: " + "; ".join(problems) if problems else "no snapshot to evaluate")
    if output_dir is not None:
        try:
            output_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _fail(f"--output-dir {output_dir}: cannot create: {exc.strerror or exc}")
        if not output_dir.is_dir():
            _fail(f"--output-dir {output_dir}: not a directory")
    exit_code = exit_code or (lambda doc: EXIT_FINDINGS if any(r["status"] == "fail" for r in doc["results"]) else EXIT_OK)
    for problem in problems:
        stderr.print(f"hullcheck: error: {problem}", markup=False)

    base = _common_base(files)
    names: dict[str, int] = {}
    sources = [Source(name=str(p), path=str(p)) for p in files]
    meta = [p.metadata() for p in policies]
    worst = EXIT_OK
    unreadable = len(problems)
    refused = 0
    verified: dict[str, Any] = {}
    prepare = None
    if trust is not None:
        def prepare(src: Any) -> Any:
            """Verify in the evaluating thread, and evaluate exactly the bytes verified."""
            try:
                checked = verify_snapshot(Path(src.path), trust, max_snapshot_bytes or 256 * 1024 * 1024)
            except SignatureRefused as exc:
                raise Refused(str(exc)) from None
            verified[src.name] = checked
            return Source(name=src.name, data=checked.data)
    signed = {"signer": signer, "namespace": RESULTS_NAMESPACE}
    evaluated_at = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")

    progress = None
    if sys.stderr.isatty():
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        progress = Progress(TextColumn("evaluating"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            console=stderr, transient=True)
    say = (progress.console.print if progress else stderr.print)

    with Evaluator(policies, Limits(policy_timeout=policy_timeout), pack_version=__version__) as ev:
        builder = FleetBuilder(meta, ev.pack)
        task = progress.add_task("evaluating", total=len(sources)) if progress else None
        on_done = (lambda _src: progress.advance(task)) if progress else None
        if progress:
            progress.start()
        try:
            for (source, result), path in zip(ev.evaluate_many(sources, jobs=jobs, on_done=on_done, prepare=prepare),
                                              files):
                if isinstance(result, Refused):
                    refused += 1
                    builder.add_refused(source.name, str(result))
                    say(f"hullcheck: error: {result}", markup=False)
                    continue
                if not isinstance(result, dict):
                    unreadable += 1
                    builder.add_unreadable(source.name, str(result))
                    say(f"hullcheck: error: {result}", markup=False)
                    continue
                if trust is not None:
                    attach(result, verified.pop(source.name))
                document = finish(result) if finish else result
                results_file = None
                if output_dir is not None:
                    name = results_name(path, base)
                    count = names.get(name, 0)
                    names[name] = count + 1
                    if count:
                        name = name[: -len(OWN_SUFFIX)] + f"-{count + 1}" + OWN_SUFFIX
                    results_file = str(output_dir / name)
                    _write_output(render_host(document, "json"), Path(results_file), tuple(files), **signed)
                builder.add_results(source.name, document, results_file)
                worst = max(worst, exit_code(document))
        finally:
            if progress:
                progress.stop()
    tool = {"name": "hullcheck", "version": __version__}
    fleet = builder.document(evaluated_at, tool)
    if output_dir is not None:
        _write_output(render_fleet(fleet, "json"), output_dir / "fleet.json", tuple(files), **signed)
    color = fmt == "text" and output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    if color:
        from rich.console import Console

        width = Console().width
    else:
        width = 100
    _write_output(render_fleet(fleet, fmt, color=color, verbose=verbose, width=width), output, tuple(files),
                  **(signed if output is not None and str(output) != "-" else {}))
    if refused:
        stderr.print(f"hullcheck: error: {refused} of {len(files) + len(problems)} snapshot(s) were refused "
                     "(signature missing, bad or not trusted for their host); the report lists them", markup=False)
    if unreadable or refused:
        stderr.print(f"hullcheck: error: {unreadable} of {len(files) + len(problems)} input(s) could not be "
                     "evaluated; the report covers the rest", markup=False)
        return EXIT_ERROR
    return worst
