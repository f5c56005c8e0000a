"""What each hullcheck command does on the evaluator's side, behind one typed options object.

The CLI parses flags into the dataclasses of evaluator/run_options.py and makes one call here; it owns only the terminal
(`Feedback`: warnings and progress on stderr) and the mapping of `Outcome` to exit codes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from hullcheck_common import __version__
from hullcheck_common.destination import refuse_overwriting_inputs, write_output
from hullcheck_common.errors import UsageError
from hullcheck_common.resources import policies_dir, snapshots_dir

from .pack import load_pack
from .pipeline import GateOptions, Outcome, ResultsPipeline
from .policy import Policy, Selection
from .render import formats, render, render_chunks
from .run_options import EvaluateOptions, Feedback, PlainFeedback, ReportOptions
from .worker_pool import Source

if TYPE_CHECKING:
    from hullcheck_common.sshsig import AllowedSigners, Signer

    from .trust import Verified
    from .worker_pool import Evaluator

# What only some commands need is imported inside them: every command pays for this module's
# imports before it answers (`policies list` is held to 1.5x `hullcheck --version`).

__all__ = ["EvaluateOptions", "Feedback", "GateOptions", "Outcome", "ReportOptions", "audit_source", "evaluate",
           "render_results", "run_tests", "run_golden", "diff", "lint_waivers", "load_policies", "catalogue",
           "show_advisories", "import_advisories"]


def load_policies(policy_dirs: list[Path], selection: Selection | None = None) -> list[Policy]:
    """The built-in pack plus extra directories, narrowed by the selection (never empty)."""
    policies = load_pack([policies_dir(), *policy_dirs])
    if selection is None:
        return policies
    chosen = selection.apply(policies)
    if not chosen:
        raise UsageError("no policy matches the selection (--policy/--skip/--level/--min-severity/--tag)")
    return chosen


def _report(document: dict[str, Any], report: ReportOptions, inputs: tuple[Path, ...],
            signer: Signer | None = None) -> None:
    from hullcheck_common.signed_files import RESULTS_NAMESPACE

    write_output(render_chunks(document, report.fmt, **report.style()), report.output, inputs,
                 signer=signer, namespace=RESULTS_NAMESPACE)


def evaluate(options: EvaluateOptions, feedback: Feedback | None = None) -> Outcome:
    """`hullcheck evaluate`: one snapshot, or a fleet (several, a directory, a glob, --output-dir)."""
    from .fleet_run import evaluate_fleet, is_fleet

    feedback = feedback or PlainFeedback()
    gate, report = options.gate, options.report
    refuse_overwriting_inputs(report.output, (*options.snapshots, *gate.files()))  # before the work
    if options.expect_hosts is not None or is_fleet(options.snapshots, options.output_dir):
        if gate.baseline is not None:
            raise UsageError("--baseline compares one host's results; with several snapshots, diff each host's "
                             "results (--output-dir) with `hullcheck diff`")
        pipeline = ResultsPipeline.prepare(gate, warn=feedback.warn)
        return evaluate_fleet(options, load_policies(options.policy_dirs, options.selection), pipeline, feedback)
    path = options.snapshots[0]
    worker, pipeline, policies = _worker_and_pack(options, feedback)
    with _evaluator(policies, options, feedback, worker) as ev:
        ev.warm_up()  # the worker compiles while the snapshot's signature is checked (--trust)
        from .trust import snapshot_source

        source, verified = snapshot_source(path, options.trust, options.limits.max_snapshot_bytes)
        return _evaluate_one(source, ev, options, pipeline, (path, *gate.files()), verified, feedback)


def _evaluator(policies: list[Policy], options: EvaluateOptions, feedback: Feedback, worker: Any = None) -> Evaluator:
    """The Evaluator of a run: its limits, the advisory data (a bad --advisories file stops the run
    here, before anything is judged) and the worker started ahead, which it owns from now on."""
    from .worker_pool import Evaluator

    try:
        return Evaluator(policies, options.limits, pack_version=__version__, workers=[worker] if worker else [],
                         advisories=options.advisories, warn=feedback.warn)
    except BaseException:
        if worker is not None:
            worker.kill()
        raise


def _worker_and_pack(options: EvaluateOptions, feedback: Feedback) -> tuple[Any, ResultsPipeline, list[Policy]]:
    """A jq worker, started first so that its start and imports overlap the loading of the
    waivers and the pack that follow; killed when those fail, else handed to the Evaluator."""
    from .worker_pool import start_worker

    worker = start_worker(options.limits)
    try:
        return worker, ResultsPipeline.prepare(options.gate, warn=feedback.warn), \
            load_policies(options.policy_dirs, options.selection)
    except BaseException:
        worker.kill()
        raise


def audit_source(source: Source | Callable[[], Source], options: EvaluateOptions, feedback: Feedback | None = None,
                 keep_snapshot: Path | None = None) -> Outcome:
    """`hullcheck audit`: the snapshot the collector takes (or the bundled example) in `source`;
    `keep_snapshot` (--keep-snapshot) also writes it there, signed with --sign, as `collect -o` would.

    `source` may be the function that collects it: the jq worker then starts and compiles the
    pack while the collector reads the engine (two processes: on two cores, both at once)."""
    from hullcheck_common.signed_files import SNAPSHOT_NAMESPACE


    feedback = feedback or PlainFeedback()
    worker, pipeline, policies = _worker_and_pack(options, feedback)
    with _evaluator(policies, options, feedback, worker) as ev:
        if callable(source):
            ev.warm_up()
            source = source()
        if keep_snapshot is not None and source.data is not None:
            write_output(source.data.decode(), keep_snapshot, signer=options.signer, namespace=SNAPSHOT_NAMESPACE)
        elif keep_snapshot is not None:
            feedback.warn(f"hullcheck: {keep_snapshot} not written: nothing was collected (the bundled example was evaluated)")
        return _evaluate_one(source, ev, options, pipeline, options.gate.files(), feedback=feedback)


def _evaluate_one(source: Source, ev: Evaluator, options: EvaluateOptions, pipeline: ResultsPipeline,
                  inputs: tuple[Path, ...], verified: Verified | None = None, feedback: Feedback | None = None) -> Outcome:
    """The tail evaluate and audit share: evaluate, record the verified signature, waive and mark,
    report, say what it means."""
    from .trust import attach

    document = ev.evaluate(source)
    if verified is not None:
        attach(document, verified)
    pipeline.apply(document)
    _report(document, options.report, inputs, options.signer)
    return pipeline.outcome(document)


def render_results(results: Path, gate: GateOptions, report: ReportOptions, feedback: Feedback | None = None,
                   trust: AllowedSigners | None = None) -> Outcome:
    """`hullcheck render`: stored results in another format, waivers and a baseline applied; a stored
    fleet.json is rendered as a fleet report (no gate: its hosts' results are not in it). With
    `trust` (--trust), only a document whose FILE.sig is good, and exactly the bytes verified."""
    from .diff import load_results
    from .fleet import load_fleet
    from .trust import verify_results

    data = None
    if trust is not None:
        data, note = verify_results(results, trust)
        (feedback or PlainFeedback()).warn(note)
    fleet = load_fleet(results, data)
    if fleet is not None:
        if report.fmt not in formats("fleet"):
            raise UsageError(f"format '{report.fmt}' is not available for a fleet report "
                             f"(choose from {', '.join(formats('fleet'))})")
        write_output(render(fleet, report.fmt, kind="fleet", **report.style()), report.output, (results,))
        return Outcome.CLEAN
    document = load_results(results, data)
    pipeline = ResultsPipeline.prepare(gate, marked="baseline" in document, warn=(feedback or PlainFeedback()).warn)
    pipeline.apply(document)
    _report(document, report, (results, *gate.files()))
    return pipeline.outcome(document)


def diff(old: Path, new: Path, report: ReportOptions) -> Outcome:
    """`hullcheck diff`: drift between two snapshots or two results files."""
    from .diff import diff_files, has_drift

    drift = diff_files(old, new)
    write_output(render(drift, report.fmt, kind="diff"), report.output, (old, new))
    return Outcome.FINDINGS if has_drift(drift) else Outcome.CLEAN


def run_tests(directories: list[Path], junit: Path | None, say: Callable[[str], None]) -> Outcome:
    """`hullcheck test`: every policy's cases; JUnit XML too with --junit."""
    from .testing import case_report

    report = case_report(load_pack(directories or [policies_dir()]), snapshots_dir() / "examples")
    say(render(report, "text", kind="tests").rstrip("\n"))
    if junit is not None:
        write_output(render(report, "junit", kind="tests"), junit)
    return Outcome.CLEAN if report.ok else Outcome.FINDINGS


def run_golden(directories: list[Path], snapshots: Path | None, golden_dir: Path | None, update: bool,
                say: Callable[[str], None]) -> Outcome:
    """`hullcheck test --golden / --update-golden`: what a pack change does to every recorded host."""
    from . import golden

    policies = load_pack(directories or [policies_dir()])
    snapshots = snapshots or snapshots_dir() / "examples"
    golden_dir = golden_dir or snapshots_dir() / "golden"
    if not snapshots.is_dir():
        raise UsageError(f"--snapshots {snapshots}: not a directory")
    outcomes, orphans = golden.run(policies, snapshots, golden_dir, pack_version=__version__)
    if not outcomes:
        raise UsageError(f"{snapshots}: no recorded snapshots (*.json) to re-run")
    for outcome in outcomes:
        for line in outcome.describe():
            say(line)
    for orphan in orphans:
        say(f"{orphan.stem}: golden file {orphan} has no snapshot any more")
    changed = sum(o.changed for o in outcomes) + len(orphans)
    if update:
        try:
            golden.write(outcomes, orphans, golden_dir)
        except OSError as exc:
            raise UsageError(f"{golden_dir}: cannot write golden results: {exc.strerror or exc}") from None
        say(f"golden: wrote {len(outcomes)} file(s) to {golden_dir}"
            + (f", removed {len(orphans)}" if orphans else "") + "; commit them with the policy change")
        return Outcome.CLEAN
    say(f"golden: {changed} of {len(outcomes) + len(orphans)} recorded host(s) changed"
        + ("; review the changes, then approve them with: hullcheck test --update-golden" if changed else ""))
    return Outcome.FINDINGS if changed else Outcome.CLEAN


def lint_waivers(file: Path, as_of: str | None, policy_dirs: list[Path], max_days: int | None,
                 say: Callable[[str], None]) -> Outcome:
    """`hullcheck waivers lint`: one line per issue; INCOMPLETE for errors, FINDINGS for problems."""
    from .waivers import check_file, lint, parse_as_of

    when = parse_as_of(as_of)
    waivers, issues = check_file(file)
    issues += lint(waivers, when, [p.id for p in load_policies(policy_dirs)], max_days)
    for issue in sorted(issues, key=lambda i: (i.line or 0, i.level)):
        say(issue.describe(str(file)))
    levels = [i.level for i in issues]
    say(f"{file}: {len(waivers)} usable waiver(s) as of {when.isoformat()}: {levels.count('error')} error(s), "
        f"{levels.count('problem')} problem(s), {levels.count('note')} note(s)")
    return Outcome.INCOMPLETE if "error" in levels else Outcome.FINDINGS if "problem" in levels else Outcome.CLEAN


def catalogue(policy_dirs: list[Path], fmt: str, width: int | None) -> str:
    """`hullcheck policies list`: every policy's id, benchmark numbers, level, severity, title."""
    return render([p.metadata() for p in load_policies(policy_dirs)], fmt, kind="catalogue", width=width)


def show_advisories(files: list[Path], fmt: str, say: Callable[[str], None]) -> Outcome:
    """`hullcheck advisories`: the advisory data in use (origin, date, sources, counts per component)."""
    import json
    from datetime import date, datetime, timezone

    from .advisories.store import load, store_dir

    notes: list[str] = []
    data = load(list(files), warn=notes.append)
    summary = data.summary()
    today = datetime.now(timezone.utc).date()
    summary["age_days_today"] = (today - date.fromisoformat(data.date)).days if data.date else None
    summary["store"] = str(store_dir())
    summary["distribution_records"] = len(data.distribution)
    if fmt == "json":
        say(json.dumps({**summary, "notes": notes}, indent=1))
        return Outcome.CLEAN
    say(f"advisory data: {data.origin} ({data.path})")
    say(f"dated {data.date}: {summary['age_days_today']} days old today")
    say("components: " + ", ".join(f"{name} {count} advisories" for name, count in data.counts().items()))
    for source in data.sources:
        detail = ", ".join(f"{k} {source[k]}" for k in ("commit", "date", "path") if source.get(k))
        say(f"  source: {source.get('name')}" + (f" ({detail})" if detail else ""))
    if data.imported:
        signer = data.imported.get("signed_by")
        say(f"imported {data.imported.get('at')} from {data.imported.get('from')}"
            + (f", signed by {signer['principal']} ({signer['fingerprint']})" if signer else ", unsigned"))
    for path in data.distribution_files:
        say(f"distribution data: {path}")
    if data.distribution:
        say(f"  {len(data.distribution)} Debian/Ubuntu record(s) about Docker, containerd or runc packages")
    say(f"local store: {store_dir()}" + ("" if data.origin == "store" else " (not in use)"))
    for note in notes:
        say(note)
    return Outcome.CLEAN


def import_advisories(bundle: Path, trust: AllowedSigners | None, date: str | None, say: Callable[[str], None]) -> Outcome:
    """`hullcheck advisories import BUNDLE`: build the advisory data from a carried-in OSV bundle into the local store."""
    from .advisories.bundle import import_bundle
    from .advisories.store import store_dir

    doc = import_bundle(bundle, trust, date)
    signer = (doc.get("imported") or {}).get("signed_by")
    say(f"imported {len(doc['records'])} advisories dated {doc['date']} from {bundle}"
        + (f" (signed by {signer['principal']}, {signer['fingerprint']})" if signer else "")
        + f" into {store_dir()}: " + ", ".join(f"{k} {v}" for k, v in doc.get("counts", {}).items()))
    return Outcome.CLEAN
