"""The front door: `hullcheck collect | evaluate | audit | render | diff | test | schema | policies | waivers | advisories`.

The only module that knows both halves, and it only parses: each command turns its flags into
one typed options object, makes one call into the collector or `evaluator.run`, and exits with
the code its `Outcome` maps to. Exit codes: 0 no failing result, 1 at least one failing result,
2 usage or input error (bad file, unreachable daemon, invalid policy): every `HullcheckError`.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import shutil
import signal
import sys
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, List, NoReturn, Optional

import typer

from evaluator.render import formats
from hullcheck_common import __version__
from hullcheck_common.destination import write_output
from hullcheck_common.errors import HullcheckError, UsageError
from hullcheck_common.resources import SCHEMA_KINDS, example_snapshot_path

from .options import (
    AuditOptions,
    CollectFlags,
    ComposeFlags,
    EvaluateFlags,
    FleetFlags,
    GateFlags,
    GuardFlags,
    OutputFormat,
    ReportFlags,
    SelectionFlags,
    SignFlags,
    TlsFlagSet,
    TrustFlags,
    WatchFlags,
    choices,
    gate_options,
    report_options,
)

__all__ = ["EXIT_CODES", "OutputFormat", "app", "main", "run"]

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2
# The one mapping from what a run found (evaluator.pipeline.Outcome: 0 clean, 1 findings, 2 incomplete) to exit codes.
EXIT_CODES = {0: EXIT_OK, 1: EXIT_FINDINGS, 2: EXIT_ERROR}

EXIT_HELP = (
    "Exit codes: 0 no failing result; 1 at least one failing result; "
    "2 usage or input error (bad file, unreachable daemon, invalid policy)."
    " With --fail-on SEVERITY|new|none only failing results at or above the threshold give 1;"
    " waived findings never do."
)

app = typer.Typer(
    name="hullcheck",
    help="Security auditor for Docker hosts: collect a snapshot of a host, evaluate declarative jq "
         "policies (the CIS Docker Benchmark and your own) against it, offline.\n\n" + EXIT_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
policies_app = typer.Typer(help="List and inspect the policies hullcheck evaluates.", no_args_is_help=True)
app.add_typer(policies_app, name="policies")
waivers_app = typer.Typer(help="Check waiver files (accepted risks with a reason and an expiry date).", no_args_is_help=True)
app.add_typer(waivers_app, name="waivers")
advisories_app = typer.Typer(help="The advisory data CIS 1.2.2 judges engine versions with: show it, import a newer bundle (offline).")
app.add_typer(advisories_app, name="advisories")

@functools.cache
def _stderr() -> Console:
    """The rich console on stderr, made on first use: importing rich costs ~30 ms, and most
    commands never write to stderr."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, soft_wrap=True)


if TYPE_CHECKING:  # for mypy: Enums like any other
    from rich.console import Console

    ListFormat = Enum
    DiffFormat = Enum
    SchemaKind = Enum
else:
    ListFormat = choices("ListFormat", formats("catalogue"))
    DiffFormat = choices("DiffFormat", formats("diff"))
    SchemaKind = choices("SchemaKind", SCHEMA_KINDS)


def _version(value: bool) -> None:
    if value:
        from evaluator.jqbuild import describe

        typer.echo(f"hullcheck {__version__}\n{describe()}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Security auditor for Docker hosts."""


# ---- the terminal ---------------------------------------------------------------------------------

class TerminalFeedback:
    """evaluator.run.Feedback on this terminal: one-line warnings, a progress bar when stderr is one."""

    def warn(self, message: str) -> None:
        _stderr().print(message, markup=False)

    @contextlib.contextmanager
    def progress(self, label: str, total: int) -> Iterator[Callable[[], None]]:
        if not sys.stderr.isatty():
            yield lambda: None
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      console=_stderr(), transient=True) as progress:
            task = progress.add_task(label, total=total)
            yield lambda: progress.advance(task)


def _terminal(fmt: str, output: Optional[Path]) -> tuple[bool, int]:
    """(colour, width) of a text report: colour only on a terminal without NO_COLOR."""
    color = fmt == "text" and output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    if not color:
        return False, 100
    from rich.console import Console

    return True, Console().width


def _exit(outcome: int) -> None:
    raise typer.Exit(EXIT_CODES[int(outcome)])


def with_options(*groups: Any) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """Give a command the flags of each option group (a dataclass whose fields default to
    typer.Option); the command receives one instance per group, named after the group's `arg`."""
    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        own = [p for p in inspect.signature(command).parameters.values() if p.name not in {g.arg for g in groups}]
        extra = [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
                 for g in groups for f in g.fields()]

        @functools.wraps(command)
        def run(**kwargs: Any) -> None:
            for group in groups:
                kwargs[group.arg] = group(**{f.name: kwargs.pop(f.name) for f in group.fields()})
            command(**kwargs)

        run.__signature__ = inspect.Signature([*own, *extra])  # type: ignore[attr-defined]
        # typer reads types from __annotations__ too, which functools.wraps copied from the command
        run.__annotations__ = {p.name: p.annotation for p in [*own, *extra]}
        return run
    return decorate


# ---- commands ---------------------------------------------------------------------------------

@app.command()
@with_options(CollectFlags, TlsFlagSet, ComposeFlags, SignFlags)
def collect(
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the snapshot here (atomically); default stdout."),
    redact: bool = typer.Option(True, "--redact/--no-redact", help="Replace environment values and secret-looking arguments with a marker (default on)."),
    engine: Any = None, tls: Any = None, plan: Any = None, signing: Any = None,
) -> None:
    """Read the Docker host and engine into one JSON snapshot. Reads only: changes nothing.

    With --compose: the containers a Compose application would create, planned from its files (nothing is deployed). The plan holds the containers only (meta.source.subjects): policies that judge the host, daemon, engine or processes are listed as not judged (docs/planned-sources.md).

    With --dockerfile: the image docker build would make of a Dockerfile (its config and history, each part with the line that set it), planned without building; --target and --build-arg as for docker build. The plan holds the image only (docs/dockerfiles.md).
    """
    from collector import dumps
    from hullcheck_common.signed_files import SNAPSHOT_NAMESPACE

    signer = signing.signer(output)  # the key (and its passphrase) before the work
    snapshot = _snapshot(engine, tls, plan, redact)
    write_output(dumps(snapshot), output, signer=signer, namespace=SNAPSHOT_NAMESPACE)
    errors = snapshot["meta"]["errors"]
    if errors:
        _stderr().print(f"hullcheck: {len(errors)} source(s) could not be read; they are listed in meta.errors "
                     "and policies that need them will report ERROR")


def _snapshot(engine: Any, tls: Any, plan: Any, redact: bool) -> dict[str, Any]:
    """The engine's live snapshot, or with --compose the planned one of the Compose files."""
    planned = plan.options(engine.docker_host, redact)
    if planned is None:
        return _collect(engine.options(redact=redact, tls=tls.config(engine.docker_host)))
    if plan.dockerfile is not None:
        from collector.dockerfile import collect_dockerfile

        return collect_dockerfile(planned)
    from collector.compose import collect_compose

    return collect_compose(planned)


def _collect(options: Any) -> dict[str, Any]:
    """Collect with a spinner on a terminal; an unreachable engine is one line that says what to do."""
    from collector import EngineUnreachable, collect

    try:
        if not sys.stderr.isatty():
            return collect(options)
        with _stderr().status("collecting") as status:
            options.progress = lambda msg: status.update(msg)
            return collect(options)
    except EngineUnreachable as exc:
        endpoint = options.docker_host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        raise UsageError(f"no Docker daemon answers at {endpoint} ({exc}); point hullcheck at one with --docker-host "
                         f"or DOCKER_HOST, or evaluate the bundled example: hullcheck evaluate {example_snapshot_path()}") from None


@app.command()
@with_options(EvaluateFlags, FleetFlags, GateFlags, ReportFlags, TrustFlags, SignFlags)
def evaluate(
    snapshot: List[Path] = typer.Argument(..., help="A snapshot file written by `hullcheck collect`; or several files, directories or globs for a fleet report.", show_default=False,
                                          readable=False),  # hullcheck reads it itself and says why it cannot
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="Snapshots evaluated at once (a worker process each); default: all cores."),
    output_dir: Optional[Path] = typer.Option(None, "--output-dir", help="Also write each snapshot's results JSON here, plus fleet.json (the fleet summary)."),
    run: Any = None, fleet: Any = None, gate: Any = None, report: Any = None, custody: Any = None,
    signing: Any = None,
) -> None:
    """Evaluate policies against a snapshot, offline (no Docker, no network needed).

    Formats: text, json (the results document), sarif (code scanning), junit (CI test reports), markdown (a pull-request comment), html (one self-contained file). Several snapshots (files, directories, globs) are evaluated in parallel into one fleet report (hosts failing each policy, worst hosts, failures by severity); --output-dir adds each host's results JSON.

    [dim]Exit codes: 0 nothing at or above --fail-on fails; 1 something does (default: any failing result; waived findings never count); 2 usage, input or policy error (for a fleet: 2 when any snapshot could not be evaluated, after reporting the rest).[/dim]
    """
    from evaluator import run as runner

    options = run.options(snapshot, gate_options(gate), report_options(report, _terminal), jobs=jobs,
                          output_dir=output_dir, expect_hosts=fleet.expect_hosts, trust=custody.allowed(),
                          signer=signing.signer(report.output, output_dir))
    _exit(runner.evaluate(options, TerminalFeedback()))


@app.command()
@with_options(EvaluateFlags, GateFlags, ReportFlags, CollectFlags, TlsFlagSet, AuditOptions, ComposeFlags, SignFlags)
def audit(run: Any = None, gate: Any = None, report: Any = None, engine: Any = None, tls: Any = None,
          audit: Any = None, plan: Any = None, signing: Any = None) -> None:
    """Collect from the engine (or plan from --compose files or a --dockerfile) and evaluate in one step, no snapshot file needed.

    [dim]Exit codes: 0 nothing at or above --fail-on fails; 1 something does (default: any failing result; waived findings never count); 2 usage, input or policy error.[/dim]
    """
    from evaluator import Source
    from evaluator import run as runner

    options = run.options([], gate_options(gate), report_options(report, _terminal),
                          signer=signing.signer(audit.keep_snapshot, report.output))

    def collected() -> Source:
        """Called once the evaluator's worker is compiling the pack: importing the Docker SDK
        (~0.2 s) and collecting overlap with it."""
        from collector import EngineUnreachable, collect, dumps

        if audit.fallback_example and not plan.compose and plan.dockerfile is None:
            try:
                snapshot = collect(engine.options(redact=True, tls=tls.config(engine.docker_host)))
            except EngineUnreachable as exc:
                example = example_snapshot_path()
                _stderr().print(f"hullcheck: no Docker daemon answers ({exc}); evaluating the bundled example snapshot {example}")
                return Source(name=str(example), path=str(example))
        else:
            snapshot = _snapshot(engine, tls, plan, True)
        name = ("planned from Compose" if plan.compose else
                "planned from a Dockerfile" if plan.dockerfile is not None else "live collection")
        return Source.collected(name, snapshot, dumps(snapshot).encode())

    _exit(runner.audit_source(collected, options, TerminalFeedback(), keep_snapshot=audit.keep_snapshot))


@app.command("test")
def test_policies(
    directories: List[Path] = typer.Argument(None, help="Policy directories to test; default: the built-in pack.", show_default=False),
    junit: Optional[Path] = typer.Option(None, "--junit", help="Also write the case results as JUnit XML."),
    golden: bool = typer.Option(False, "--golden", help="Instead of the cases: re-evaluate every recorded snapshot and compare with its committed golden results."),
    update_golden: bool = typer.Option(False, "--update-golden", help="Like --golden, then write the new golden results (approve them after review)."),
    snapshots: Optional[Path] = typer.Option(None, "--snapshots", help="Recorded snapshots for --golden; default: the bundled snapshots/examples."),
    golden_dir: Optional[Path] = typer.Option(None, "--golden-dir", help="Golden results for --golden; default: the bundled snapshots/golden."),
) -> None:
    """Run the test cases that sit beside each policy (base snapshot + patch -> expected verdict).

    With --golden, re-evaluate every recorded snapshot with the pack and show, per host, which policy verdicts changed against the committed golden results; --update-golden approves them.

    [dim]Exit codes: 0 every case passed and every automated policy has a passing and a failing case (--golden: nothing changed); 1 otherwise; 2 usage or input error.[/dim]
    """
    from evaluator import run as runner

    if golden or update_golden:
        _exit(runner.run_golden(list(directories or []), snapshots, golden_dir, update_golden, typer.echo))
    _exit(runner.run_tests(list(directories or []), junit, typer.echo))


@app.command("schema")
def schema_cmd(
    kind: Optional[SchemaKind] = typer.Argument(None, help="snapshot, policy, results, waiver or fleet; none: list them.", show_default=False),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the schema to this file instead of stdout."),
) -> None:
    """Print the JSON Schema of a file hullcheck reads or writes, for tools built around those files.

    [dim]snapshot: what `collect` writes; policy: one policy file; results: what `evaluate --format json` writes; waiver: a --waivers file; fleet: what `evaluate --format json` writes for several snapshots.[/dim]
    """
    from hullcheck_common.resources import schema_path, schema_text

    if kind is None:
        for name in SCHEMA_KINDS:
            path = schema_path(name)
            typer.echo(f"{name:<9} {path}{'' if path.is_file() else '  (missing)'}")
        return
    write_output(schema_text(kind.value), output)


PoliciesDirs = typer.Option([], "--policies", help="Add a directory of custom policies beside the built-in pack (repeatable).")


@policies_app.command("list")
def policies_list(
    fmt: ListFormat = typer.Option("table", "--format", "-f", help="table, json or markdown."),
    policies: List[Path] = PoliciesDirs,
) -> None:
    """List every policy: id, CIS numbers, level, severity, automated or manual, title."""
    from evaluator import run as runner

    width = shutil.get_terminal_size().columns if sys.stdout.isatty() else None  # piped: a policy a line
    sys.stdout.write(runner.catalogue(list(policies), fmt.value, width=width))


@policies_app.command("show")
def policies_show(
    policy_id: str = typer.Argument(..., help="A policy id, e.g. cis-docker-5.10."),
    policies: List[Path] = PoliciesDirs,
) -> None:
    """Everything about one policy, including its jq."""
    from evaluator import run as runner

    pack = {p.id: p for p in runner.load_policies(list(policies))}
    if policy_id not in pack:
        raise UsageError(f"no policy with id '{policy_id}' (see `hullcheck policies list`)")
    from hullcheck_common.userfile import read_text

    typer.echo(read_text(pack[policy_id].path, what="a policy file").rstrip())
    typer.echo(f"# file: {pack[policy_id].path}")


@app.command()
@with_options(GateFlags, ReportFlags, TrustFlags)
def render(
    results: Path = typer.Argument(..., help="A results file written by `hullcheck evaluate --format json`, or a fleet.json (then text, json, markdown or html).", show_default=False),
    fail_on: str = typer.Option("none", "--fail-on", help="Exit 1 when a result at or above this fails (any, a severity, new, none). Default none: rendering is not gating."),
    gate: Any = None, report: Any = None, custody: Any = None,
) -> None:
    """Render stored results in another format, without evaluating again.

    For the air-gapped case: evaluate where the snapshot is, carry only the results out, render SARIF, JUnit, Markdown or HTML anywhere. Waivers and a baseline can be applied here too.

    [dim]Exit codes: 0 rendered (and nothing at or above --fail-on fails); 1 something at or above --fail-on fails; 2 bad results file or usage error.[/dim]
    """
    from evaluator import run as runner

    _exit(runner.render_results(results, gate_options(gate, fail_on), report_options(report, _terminal),
                                TerminalFeedback(), trust=custody.allowed()))


@app.command("diff")
def diff_command(
    old: Path = typer.Argument(..., help="The earlier snapshot or results file.", show_default=False),
    new: Path = typer.Argument(..., help="The later file of the same kind.", show_default=False),
    fmt: DiffFormat = typer.Option("text", "--format", "-f", help="text or json."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report to this file (atomically) instead of stdout."),
) -> None:
    """Drift between two runs: two snapshots, or two results files.

    Snapshots: containers added, removed and changed (by name: image, user, mounts, every HostConfig key...), daemon options, engine version, images, file owners and modes. Results: new, fixed and unchanged failing findings, keyed by policy id and resource key (container name, compose project/service), never by container id.

    [dim]Exit codes: 0 no drift (results: no new failing finding); 1 drift (results: new failing findings); 2 unreadable files, or a snapshot compared with results.[/dim]
    """
    from evaluator import run as runner

    _exit(runner.diff(old, new, runner.ReportOptions(fmt=fmt.value, output=output)))


@waivers_app.command("lint")
def waivers_lint(
    file: Path = typer.Argument(..., help="A waivers YAML file.", show_default=False),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Judge expiry on this date (YYYY-MM-DD) instead of today (UTC)."),
    policies: List[Path] = PoliciesDirs,
    max_days: Optional[int] = typer.Option(None, "--max-days", min=1, help="Also a problem: a waiver that expires more than this many days ahead."),
) -> None:
    """Check a waivers file: schema, dates, jq, policy ids that exist, expiry.

    Prints one line per issue (FILE:LINE: level: waiver: message). Errors make the file unusable; problems are waivers that no longer do what their author meant (expired, policy id that matches no policy, too far ahead with --max-days); notes expire within 14 days.

    [dim]Exit codes: 0 usable and no problem (notes allowed); 1 problems; 2 errors (the file cannot be used by --waivers), or usage error.[/dim]
    """
    from evaluator import run as runner

    _exit(runner.lint_waivers(file, as_of, list(policies), max_days, typer.echo))


@app.command()
@with_options(GuardFlags, SelectionFlags, TlsFlagSet)
def guard(guard: Any = None, selection: Any = None, tls: Any = None) -> None:
    """Refuse, at the Docker API, the containers the policies fail: an Engine authorization plugin.

    Judges container create, update, exec, legacy start and swarm service create/update requests with the container policies, the container planned as `docker inspect` would show it (with what the daemon fills in from its own facts); every other request is allowed at once. Enable with dockerd --authorization-plugin=NAME; see docs/runtime.md (and deploy/systemd/hullcheck-guard.service) for what dockerd does while the plugin is down, and how to recover.
    """
    from hullcheck_runtime.guard import serve

    serve(guard.options(selection, tls), TerminalFeedback().warn)


@app.command()
@with_options(WatchFlags, SelectionFlags, TlsFlagSet)
def watch(watch: Any = None, selection: Any = None, tls: Any = None) -> None:
    """Judge each container as it is created, started, updated or exec'd into, from the engine's event stream.

    Prints one JSON line per container judged (each policy's status, the failing ones with their messages); re-lists and judges the running containers at every (re)connection and every --resync-interval. --metrics keeps an OpenMetrics file for node_exporter's textfile collector.
    """
    from hullcheck_runtime.watch import serve

    serve(watch.options(selection, tls), TerminalFeedback().warn)


@advisories_app.callback(invoke_without_command=True)
def advisories_show(
    ctx: typer.Context,
    fmt: DiffFormat = typer.Option("text", "--format", "-f", help="text or json."),
    advisories: List[Path] = typer.Option([], "--advisories", metavar="FILE", help="Also read this Debian or Ubuntu OSV data, as evaluate would (repeatable)."),
) -> None:
    """Show the advisory data in use: bundled or imported, its date and age, its sources and their commits, how many advisories per component.

    [dim]hullcheck never fetches: refresh the data with `hullcheck advisories import BUNDLE` (the Go vulnerability database's vulndb.zip, OSV.dev's Go all.zip, or a directory of OSV files), carried in like a snapshot. docs/advisories.md says where the data comes from.[/dim]
    """
    if ctx.invoked_subcommand is None:
        from evaluator import run as runner

        _exit(runner.show_advisories(list(advisories), fmt.value, typer.echo))


@advisories_app.command("import")
def advisories_import(
    bundle: Path = typer.Argument(..., help="vulndb.zip, an OSV.dev all.zip, a directory of OSV files, or a hullcheck advisories.json.", show_default=False),
    trust: Optional[Path] = typer.Option(None, "--trust", metavar="ALLOWED_SIGNERS", help="Import only a bundle file whose BUNDLE.sig is a good SSH signature (namespace hullcheck-advisories) by a key this allowed-signers file trusts for that namespace."),
    date: Optional[str] = typer.Option(None, "--date", metavar="YYYY-MM-DD", help="The date the bundle is current to, when its records do not say (a directory of files)."),
) -> None:
    """Build the advisory data from an OSV bundle carried into the site and keep it in the local store that later runs use.

    [dim]The store is $HULLCHECK_ADVISORIES_DIR, else $XDG_DATA_HOME/hullcheck/advisories, else ~/.local/share/hullcheck/advisories; of it and the bundled data, the later-dated is used. Exit codes: 0 imported; 2 unreadable, unsigned or untrusted bundle.[/dim]
    """
    from evaluator import run as runner
    from hullcheck_common.signed_files import load_trust

    _exit(runner.import_advisories(bundle, load_trust(trust) if trust else None, date, typer.echo))


# ---- the process ------------------------------------------------------------------------------

def _one_line(text: str, limit: int = 2000) -> str:
    """Errors are one line on stderr, whatever the message (jq's or a library's) holds."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[:limit] + "..."


class _Signalled(BaseException):
    """SIGINT or SIGTERM, raised where the process is so that cleanup (temporary files, jq
    workers) runs; a BaseException so that neither typer nor a broad `except Exception` eats it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _terminate_cleanly() -> None:
    """Ctrl-C and SIGTERM unwind the stack: a half-written temporary file is removed, never left behind."""
    def on_signal(signum: int, _frame: Any) -> None:
        raise _Signalled(signum)

    try:
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    except ValueError:  # not the main thread (embedded use): keep the defaults
        pass


def main() -> None:
    """Console-script entry: every expected failure is one line on stderr and exit code 2."""
    _terminate_cleanly()
    try:
        app()  # standalone: usage errors print click's message and exit 2; typer.Exit sets the code
    except HullcheckError as exc:  # the user's input, not a bug: one line, exit 2
        _stderr().print(f"hullcheck: error: {_one_line(str(exc))}", markup=False)
        sys.exit(EXIT_ERROR)
    except _Signalled as exc:
        _stderr().print("hullcheck: terminated" if exc.signum == signal.SIGTERM else "hullcheck: interrupted", markup=False)
        sys.exit(128 + exc.signum)
    except KeyboardInterrupt:
        _stderr().print("hullcheck: interrupted", markup=False)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(EXIT_OK)
    except Exception as exc:  # a security tool never answers with a traceback
        if os.environ.get("HULLCHECK_DEBUG"):
            raise
        _stderr().print(f"hullcheck: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
                     "(set HULLCHECK_DEBUG=1 for a traceback)", markup=False)
        sys.exit(EXIT_ERROR)


def run() -> NoReturn:
    """The `hullcheck` command and `python -m hullcheck`: main(), then the process ends without
    tearing the interpreter down. By then every file is written and closed and every worker
    stopped; what is left is finalisation (collecting ~40,000 objects, unloading ~570 modules),
    ~45 ms of every command here. main() itself exits normally, for callers that embed it."""
    try:
        main()
        code = EXIT_OK
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            code = exc.code or EXIT_OK
        else:  # sys.exit("message"): print it, as the interpreter would
            print(exc.code, file=sys.stderr)
            code = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can reach it
            pass
    os._exit(code)


if __name__ == "__main__":
    run()
