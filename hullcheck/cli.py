"""The front door: `hullcheck collect | evaluate | audit | policies`.

The only module that knows both halves. Exit codes: 0 no failing result, 1 at least one failing
result, 2 usage or input error (bad file, unreachable daemon, invalid policy).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
from enum import Enum
from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.console import Console

from . import __version__
from .resources import example_snapshot_path, policies_dir

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

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
    context_settings={"help_option_names": ["-h", "--help"]},
)
policies_app = typer.Typer(help="List and inspect the policies hullcheck evaluates.", no_args_is_help=True)
app.add_typer(policies_app, name="policies")
waivers_app = typer.Typer(help="Check waiver files (accepted risks with a reason and an expiry date).", no_args_is_help=True)
app.add_typer(waivers_app, name="waivers")

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit code 2."""


class OutputFormat(str, Enum):
    text = "text"
    json = "json"
    sarif = "sarif"
    junit = "junit"
    markdown = "markdown"
    html = "html"


class ListFormat(str, Enum):
    table = "table"
    json = "json"
    markdown = "markdown"


def _fail(message: str) -> None:
    raise UsageError(message)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"hullcheck {__version__}")
        raise typer.Exit(EXIT_OK)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Security auditor for Docker hosts."""


# ---- shared pieces ----------------------------------------------------------------------------

def _write_output(text: str, output: Optional[Path], inputs: tuple[Path, ...] = (), signer: Any = None,
                  namespace: str = "") -> None:
    """Write to a file atomically (never over an input), or to stdout; with `signer`, also FILE.sig."""
    if output is None or str(output) == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    from collector import write_atomic  # the one atomic writer, shared by both halves through the CLI

    try:
        _refuse_overwriting_inputs(output, inputs)
        if output.is_dir():
            _fail(f"{output}: is a directory")
        if signer is not None:
            from .custody import write_signed

            write_signed(output, text, signer, namespace, write_atomic)
        else:
            write_atomic(output, text)
    except OSError as exc:
        _fail(f"{output}: cannot write: {exc.strerror or exc}")


def _refuse_overwriting_inputs(output: Optional[Path], inputs: tuple[Path, ...]) -> None:
    """-o naming an input (same path, a symlink or a hard link to it) is refused: exit 2."""
    if output is None or str(output) == "-":
        return
    resolved = output.resolve()
    if any(resolved == Path(i).resolve() or _same_file(output, Path(i)) for i in inputs):
        _fail(f"{output}: refusing to overwrite an input file")


def _same_file(a: Path, b: Path) -> bool:
    """True when both names reach one file (hard link, bind mount): never write over an input."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _load_policies(extra: list[Path], include: list[str], skip: list[str], level: Optional[int],
                   min_severity: Optional[str], tags: list[str]) -> list[Any]:
    from evaluator import Selection, load_pack

    policies = load_pack([policies_dir(), *extra])
    selection = Selection(include=tuple(include), skip=tuple(skip), level=level,
                          min_severity=min_severity, tags=tuple(tags))
    chosen = selection.apply(policies)
    if not chosen:
        _fail("no policy matches the selection (--policy/--skip/--level/--min-severity/--tag)")
    return chosen


def _exit_code(document: dict[str, Any]) -> int:
    return EXIT_FINDINGS if any(r["status"] == "fail" for r in document["results"]) else EXIT_OK


def _report(document: dict[str, Any], fmt: OutputFormat, output: Optional[Path], verbose: bool,
            inputs: tuple[Path, ...] = (), signer: Any = None, namespace: str = "") -> None:
    from evaluator.render import render

    color = fmt is OutputFormat.text and output is None and sys.stdout.isatty() and "NO_COLOR" not in os.environ
    width = Console().width if color else 100
    _write_output(render(document, fmt.value, color=color, verbose=verbose, width=width), output, inputs,
                  signer=signer, namespace=namespace)


SelectionPolicy = typer.Option([], "--policy", "-p", help="Only these policy ids or globs (repeatable), e.g. 'cis-docker-5.*'.")
SelectionSkip = typer.Option([], "--skip", help="Skip these policy ids or globs (repeatable).")
SelectionLevel = typer.Option(None, "--level", min=1, max=2, help="Only policies of this CIS level or lower.")
SelectionSeverity = typer.Option(None, "--min-severity", help="Only policies at or above: critical, high, medium, low, info.")
SelectionTag = typer.Option([], "--tag", help="Only policies with this tag (repeatable).")
PoliciesDirs = typer.Option([], "--policies", help="Add a directory of custom policies beside the built-in pack (repeatable).")
FormatOpt = typer.Option(OutputFormat.text, "--format", "-f", help="Report format: text, json (results document), sarif, junit, markdown (PR comment) or html (self-contained).")
OutputOpt = typer.Option(None, "--output", "-o", help="Write the report to this file (atomically) instead of stdout.")
VerboseOpt = typer.Option(False, "--verbose", "-v", help="Show remediation, audit steps and reasons.")
TimeoutOpt = typer.Option(30.0, "--policy-timeout", min=0.1, help="Seconds one policy may run before it is stopped and reported as error.")


def _check_severity(value: Optional[str]) -> Optional[str]:
    from evaluator.policy import SEVERITIES

    if value is not None and value not in SEVERITIES:
        _fail(f"--min-severity must be one of {', '.join(SEVERITIES)}, not '{value}'")
    return value


def _collect_options(docker_host: Optional[str], host_root: Optional[Path], redact: bool, labels: list[str]) -> Any:
    from collector import CollectOptions

    if host_root is not None and not host_root.is_dir():
        _fail(f"--host-root {host_root}: not a directory")
    return CollectOptions(docker_host=docker_host, host_root=str(host_root) if host_root else None,
                          redact=redact, label_filter=list(labels))


def _collect(options: Any) -> dict[str, Any]:
    from collector import EngineUnreachable, collect

    show = sys.stderr.isatty()
    try:
        if show:
            with stderr.status("collecting") as status:
                options.progress = lambda msg: status.update(msg)
                return collect(options)
        return collect(options)
    except EngineUnreachable as exc:
        endpoint = options.docker_host or os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"
        _fail(f"no Docker daemon answers at {endpoint} ({exc}); point hullcheck at one with --docker-host or "
              f"DOCKER_HOST, or evaluate the bundled example: hullcheck evaluate {example_snapshot_path()}")
    raise AssertionError("unreachable")


DockerHostOpt = typer.Option(None, "--docker-host", "-H", help="Engine endpoint (unix://, tcp://, ssh://); default: DOCKER_HOST or the local socket.")
HostRootOpt = typer.Option(None, "--host-root", help="Read host files below this directory (a collector in a container: -v /:/host:ro --host-root /host).")
RedactOpt = typer.Option(True, "--redact/--no-redact", help="Replace environment values and secret-looking arguments with a marker (default on).")
LabelOpt = typer.Option([], "--label", help="Only containers with this label (key or key=value; repeatable).")
TlsOpt = typer.Option(False, "--tls", help="Use TLS to a tcp:// engine without verifying it (also DOCKER_TLS).")
TlsVerifyOpt = typer.Option(False, "--tlsverify", help="Use TLS and verify the tcp:// engine against --tlscacert (also DOCKER_TLS_VERIFY).")
TlsCaOpt = typer.Option(None, "--tlscacert", help="CA the engine's certificate must chain to; default $DOCKER_CERT_PATH/ca.pem.")
TlsCertOpt = typer.Option(None, "--tlscert", help="Client certificate; default $DOCKER_CERT_PATH/cert.pem (DOCKER_CERT_PATH defaults to ~/.docker).")
TlsKeyOpt = typer.Option(None, "--tlskey", help="Client key; default $DOCKER_CERT_PATH/key.pem.")


def _remote_tls(docker_host: Optional[str], tls: bool, tlsverify: bool, tlscacert: Optional[Path],
                tlscert: Optional[Path], tlskey: Optional[Path]) -> Any:
    """The TLS config of a tcp:// engine from the flags and DOCKER_TLS_VERIFY/DOCKER_CERT_PATH, as the Docker CLI does."""
    from .remote import RemoteSettingsError, TLSFlags, tls_config

    try:
        return tls_config(docker_host, TLSFlags(tls, tlsverify, tlscacert, tlscert, tlskey))
    except RemoteSettingsError as exc:
        _fail(str(exc))


# ---- chain of custody: --sign and --trust (issue 16) ------------------------------------------

SignOpt = typer.Option(None, "--sign", metavar="KEY", help="Sign what is written to a file: FILE.sig beside it (an SSH signature, as `ssh-keygen -Y sign` makes; check it with `ssh-keygen -Y verify`). KEY: a private key file (passphrase from $HULLCHECK_KEY_PASSPHRASE, else asked on the terminal), or a .pub file whose key ssh-agent holds ($SSH_AUTH_SOCK).")
TrustOpt = typer.Option(None, "--trust", metavar="ALLOWED_SIGNERS", help="Refuse input whose FILE.sig is missing, bad, or made by a key this ssh-keygen allowed-signers file does not trust (for a snapshot: for its meta.hostname). Exit 2, one line saying which.")


def _signer(key: Optional[Path], *outputs: Optional[Path]) -> Any:
    """The --sign key, loaded (and its passphrase asked) before any work; None without --sign."""
    if key is None:
        return None
    if not any(o is not None and str(o) != "-" for o in outputs):
        _fail("--sign writes FILE.sig beside an output file: give -o FILE (standard output cannot be signed)")
    from .custody import load_signer

    return load_signer(key)


def _trust(path: Optional[Path]) -> Any:
    if path is None:
        return None
    from .custody import load_trust

    return load_trust(path)


# ---- reports, waivers, baselines and --fail-on (issue 7) ---------------------------------------

WaiversOpt = typer.Option(None, "--waivers", help="YAML file of waivers (accepted risks with reason and expiry): matching failing findings become 'waived'. Check it with `hullcheck waivers lint`.")
AsOfOpt = typer.Option(None, "--as-of", help="Judge waiver expiry on this date (YYYY-MM-DD) instead of today (UTC): re-evaluating an old snapshot gives the same result.")
BaselineOpt = typer.Option(None, "--baseline", help="Earlier results (--format json) to compare with: each finding is marked new or known.")
FailOnOpt = typer.Option("any", "--fail-on", help="Exit 1 when a result at or above this fails: any (default), critical, high, medium, low, info, new (only findings not in --baseline), or none.")


class _PostProcess:
    """Waivers, baseline and the --fail-on gate: read and checked before evaluating, applied after."""

    def __init__(self, waivers: Any, waivers_path: Optional[Path], as_of: Any, baseline: Any,
                 baseline_path: Optional[Path], fail_on: str) -> None:
        self.waivers, self.waivers_path, self.as_of = waivers, waivers_path, as_of
        self.baseline, self.baseline_path, self.fail_on = baseline, baseline_path, fail_on

    @classmethod
    def prepare(cls, waivers_path: Optional[Path], as_of: Optional[str], baseline_path: Optional[Path],
                fail_on: str, marked: bool = False) -> "_PostProcess":
        """Read and check everything first: a bad waivers or baseline file stops the run before evaluating.

        `marked`: the results already carry new/known marks (render of results evaluated with --baseline).
        """
        from evaluator.diff import ResultsError, load_results
        from evaluator.gate import GateError, check_fail_on
        from evaluator.waivers import WaiverError, load_waivers, parse_as_of

        try:
            fail_on = check_fail_on(fail_on, baseline_path is not None or marked)
            when = parse_as_of(as_of)
            waivers = load_waivers(waivers_path) if waivers_path is not None else None
            baseline = load_results(baseline_path) if baseline_path is not None else None
        except (GateError, WaiverError, ResultsError) as exc:
            _fail(str(exc))
            raise AssertionError("unreachable")
        if as_of is not None and waivers_path is None:
            _fail("--as-of judges waiver expiry: it needs --waivers FILE")
        return cls(waivers, waivers_path, when, baseline, baseline_path, fail_on)

    def apply(self, document: dict[str, Any]) -> dict[str, Any]:
        from evaluator.diff import mark_baseline
        from evaluator.waivers import WaiverError, apply_waivers

        if self.waivers is not None:
            try:
                apply_waivers(document, self.waivers, self.as_of, str(self.waivers_path))
            except WaiverError as exc:
                _fail(str(exc))
            waivers = document["waivers"]
            for entry in waivers["expired"]:
                stderr.print(f"hullcheck: waiver {entry['id']} ({entry['policy']}) expired on {entry['expires']}; "
                             f"{len(entry['matched'])} finding(s) it covered are failing again", markup=False)
            if waivers["stale"]:
                stderr.print(f"hullcheck: {len(waivers['stale'])} waiver(s) matched no failing finding (stale): "
                             + ", ".join(w["id"] for w in waivers["stale"]), markup=False)
        if self.baseline is not None:
            mark_baseline(document, self.baseline, str(self.baseline_path))
        return document

    def exit_code(self, document: dict[str, Any]) -> int:
        from evaluator.gate import gating_results

        return EXIT_FINDINGS if gating_results(document, self.fail_on) else EXIT_OK


# ---- commands ---------------------------------------------------------------------------------

@app.command()
def collect(
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the snapshot here (atomically); default stdout."),
    docker_host: Optional[str] = DockerHostOpt,
    host_root: Optional[Path] = HostRootOpt,
    redact: bool = RedactOpt,
    label: List[str] = LabelOpt,
    tls: bool = TlsOpt,
    tlsverify: bool = TlsVerifyOpt,
    tlscacert: Optional[Path] = TlsCaOpt,
    tlscert: Optional[Path] = TlsCertOpt,
    tlskey: Optional[Path] = TlsKeyOpt,
    sign: Optional[Path] = SignOpt,
) -> None:
    """Read the Docker host and engine into one JSON snapshot. Reads only: changes nothing."""
    from collector import dumps

    from .custody import SNAPSHOT_NAMESPACE

    signer = _signer(sign, output)
    options = _collect_options(docker_host, host_root, redact, label)
    options.tls = _remote_tls(docker_host, tls, tlsverify, tlscacert, tlscert, tlskey)
    snapshot = _collect(options)
    _write_output(dumps(snapshot), output, signer=signer, namespace=SNAPSHOT_NAMESPACE)
    errors = snapshot["meta"]["errors"]
    if errors:
        stderr.print(f"hullcheck: {len(errors)} source(s) could not be read; they are listed in meta.errors "
                     "and policies that need them will report ERROR")


JobsOpt = typer.Option(None, "--jobs", "-j", min=1, help="Snapshots evaluated at once (a worker process each); default: all cores.")
OutputDirOpt = typer.Option(None, "--output-dir", help="Also write each snapshot's results JSON here, plus fleet.json (the fleet summary).")


def _is_fleet(snapshots: list[Path], output_dir: Optional[Path]) -> bool:
    from .fleet import is_fleet

    return is_fleet(snapshots, output_dir)


def _evaluate_fleet(snapshots: list[Path], policies: list[Any], **options: Any) -> int:
    from .fleet import evaluate_fleet

    return evaluate_fleet(sys.modules[__name__], snapshots, policies, **options)


def _evaluate_source(source: Any, policies: list[Any], timeout: float, max_snapshot_mb: Optional[int] = None,
                     worker_memory_mb: Optional[int] = None) -> dict[str, Any]:
    from evaluator import Evaluator, Limits

    limits = Limits(policy_timeout=timeout)
    if max_snapshot_mb is not None:
        limits = dataclasses.replace(limits, max_snapshot_bytes=max_snapshot_mb * 1024 * 1024)
    if worker_memory_mb is not None:
        limits = dataclasses.replace(limits, memory_bytes=worker_memory_mb * 1024 * 1024)
    with Evaluator(policies, limits, pack_version=__version__) as ev:
        return ev.evaluate(source)


MaxSnapshotOpt = typer.Option(256, "--max-snapshot-size", min=1, metavar="MB",
                              help="Refuse snapshot files larger than this many MB (a 5,000-container host is about 35 MB).")
WorkerMemoryOpt = typer.Option(4096, "--worker-memory", min=256, metavar="MB",
                               help="Memory limit of the jq worker; a policy that needs more is reported as error.")


@app.command()
def evaluate(
    snapshot: List[Path] = typer.Argument(..., help="A snapshot file written by `hullcheck collect`; or several files, directories or globs for a fleet report.", show_default=False,
                                     readable=False),  # hullcheck reads it itself and says why it cannot
    fmt: OutputFormat = FormatOpt,
    output: Optional[Path] = OutputOpt,
    policies: List[Path] = PoliciesDirs,
    policy: List[str] = SelectionPolicy,
    skip: List[str] = SelectionSkip,
    level: Optional[int] = SelectionLevel,
    min_severity: Optional[str] = SelectionSeverity,
    tag: List[str] = SelectionTag,
    verbose: bool = VerboseOpt,
    policy_timeout: float = TimeoutOpt,
    jobs: Optional[int] = JobsOpt,
    output_dir: Optional[Path] = OutputDirOpt,
    max_snapshot_size: int = MaxSnapshotOpt,
    worker_memory: int = WorkerMemoryOpt,
    waivers: Optional[Path] = WaiversOpt,
    as_of: Optional[str] = AsOfOpt,
    baseline: Optional[Path] = BaselineOpt,
    fail_on: str = FailOnOpt,
    trust: Optional[Path] = TrustOpt,
    sign: Optional[Path] = SignOpt,
) -> None:
    """Evaluate policies against a snapshot, offline (no Docker, no network needed).

    Formats: text, json (the results document), sarif (code scanning), junit (CI test
    reports), markdown (a pull-request comment), html (one self-contained file).
    Several snapshots (files, directories, globs) are evaluated in parallel into one fleet report
    (hosts failing each policy, worst hosts, failures by severity); --output-dir adds each host's
    results JSON.

    [dim]Exit codes: 0 nothing at or above --fail-on fails; 1 something does (default: any failing
    result; waived findings never count); 2 usage, input or policy error (for a fleet: 2 when any
    snapshot could not be evaluated, after reporting the rest).[/dim]
    """
    from .custody import RESULTS_NAMESPACE, attach, snapshot_source

    _refuse_overwriting_inputs(output, (*snapshot, *(p for p in (waivers, baseline) if p)))  # before the work
    post = _PostProcess.prepare(waivers, as_of, baseline, fail_on)
    chosen = _load_policies(policies, policy, skip, level, _check_severity(min_severity), tag)
    allowed, signer = _trust(trust), _signer(sign, output, output_dir)
    if _is_fleet(snapshot, output_dir):
        if baseline is not None:
            _fail("--baseline compares one host's results; with several snapshots, diff each host's results "
                  "(--output-dir) with `hullcheck diff`")
        raise typer.Exit(_evaluate_fleet(snapshot, chosen, jobs=jobs, fmt=fmt.value, output=output,
                                         output_dir=output_dir, verbose=verbose, policy_timeout=policy_timeout,
                                         finish=post.apply, exit_code=post.exit_code, trust=allowed,
                                         signer=signer, max_snapshot_bytes=max_snapshot_size * 1024 * 1024))
    snapshot = snapshot[0]
    source, verified = snapshot_source(snapshot, allowed, max_snapshot_size * 1024 * 1024)
    document = _evaluate_source(source, chosen, policy_timeout, max_snapshot_size, worker_memory)
    if verified:
        attach(document, verified)
    post.apply(document)
    _report(document, fmt, output, verbose, inputs=tuple(p for p in (snapshot, waivers, baseline) if p),
            signer=signer, namespace=RESULTS_NAMESPACE)
    raise typer.Exit(post.exit_code(document))


@app.command()
def audit(
    fmt: OutputFormat = FormatOpt,
    output: Optional[Path] = OutputOpt,
    policies: List[Path] = PoliciesDirs,
    policy: List[str] = SelectionPolicy,
    skip: List[str] = SelectionSkip,
    level: Optional[int] = SelectionLevel,
    min_severity: Optional[str] = SelectionSeverity,
    tag: List[str] = SelectionTag,
    verbose: bool = VerboseOpt,
    policy_timeout: float = TimeoutOpt,
    docker_host: Optional[str] = DockerHostOpt,
    host_root: Optional[Path] = HostRootOpt,
    label: List[str] = LabelOpt,
    fallback_example: bool = typer.Option(False, "--fallback-example", help="When no daemon answers, evaluate the bundled example snapshot instead (and say so)."),
    tls: bool = TlsOpt,
    tlsverify: bool = TlsVerifyOpt,
    tlscacert: Optional[Path] = TlsCaOpt,
    tlscert: Optional[Path] = TlsCertOpt,
    tlskey: Optional[Path] = TlsKeyOpt,
    worker_memory: int = WorkerMemoryOpt,
    waivers: Optional[Path] = WaiversOpt,
    as_of: Optional[str] = AsOfOpt,
    baseline: Optional[Path] = BaselineOpt,
    fail_on: str = FailOnOpt,
    keep_snapshot: Optional[Path] = typer.Option(None, "--keep-snapshot", metavar="FILE", help="Also write the collected snapshot to FILE (with --sign: and FILE.sig), as `collect -o FILE` would."),
    sign: Optional[Path] = SignOpt,
) -> None:
    """Collect from the engine and evaluate in one step, no snapshot file needed.

    [dim]Exit codes: 0 nothing at or above --fail-on fails; 1 something does (default: any failing
    result; waived findings never count); 2 usage, input or policy error.[/dim]
    """
    from collector import EngineUnreachable, collect, dumps
    from evaluator import Source

    from .custody import RESULTS_NAMESPACE, SNAPSHOT_NAMESPACE

    post = _PostProcess.prepare(waivers, as_of, baseline, fail_on)
    chosen = _load_policies(policies, policy, skip, level, _check_severity(min_severity), tag)
    signer = _signer(sign, keep_snapshot, output)
    options = _collect_options(docker_host, host_root, True, label)
    options.tls = _remote_tls(docker_host, tls, tlsverify, tlscacert, tlscert, tlskey)
    if fallback_example:
        try:
            snapshot = collect(options)
        except EngineUnreachable as exc:
            example = example_snapshot_path()
            stderr.print(f"hullcheck: no Docker daemon answers ({exc}); evaluating the bundled example snapshot {example}")
            source = Source(name=str(example), path=str(example))
        else:
            source = Source(name="live collection", data=dumps(snapshot).encode())
    else:
        source = Source(name="live collection", data=dumps(_collect(options)).encode())
    if keep_snapshot is not None and source.data is not None:
        _write_output(source.data.decode(), keep_snapshot, signer=signer, namespace=SNAPSHOT_NAMESPACE)
    elif keep_snapshot is not None:
        stderr.print(f"hullcheck: {keep_snapshot} not written: nothing was collected (the bundled example was evaluated)",
                     markup=False)
    document = _evaluate_source(source, chosen, policy_timeout, worker_memory_mb=worker_memory)
    post.apply(document)
    _report(document, fmt, output, verbose, inputs=tuple(p for p in (waivers, baseline) if p),
            signer=signer, namespace=RESULTS_NAMESPACE)
    raise typer.Exit(post.exit_code(document))


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
    from evaluator import load_pack
    from evaluator.testing import coverage, run_cases

    from .resources import snapshots_dir

    dirs = list(directories) if directories else [policies_dir()]
    policies = load_pack(dirs)
    if golden or update_golden:
        _golden(policies, snapshots or snapshots_dir() / "examples", golden_dir or snapshots_dir() / "golden",
                update_golden)
        return
    results = run_cases(policies, snapshots_dir() / "examples")
    failed = [r for r in results if not r.ok]
    for result in failed:
        typer.echo(f"FAIL {result.describe()}")
    covered, uncovered = coverage(policies)
    typer.echo(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    typer.echo(f"coverage: {len(covered)} of {len(covered) + len(uncovered)} automated policies have a passing "
               f"and a failing case" + (f"; without: {', '.join(uncovered)}" if uncovered else ""))
    if junit is not None:
        from evaluator.testing import junit_xml

        _write_output(junit_xml(results), junit)
    raise typer.Exit(EXIT_FINDINGS if failed or uncovered else EXIT_OK)


def _golden(policies: list[Any], snapshots: Path, golden_dir: Path, update: bool) -> None:
    """`hullcheck test --golden / --update-golden`: what a pack change does to every recorded host."""
    from evaluator import golden

    if not snapshots.is_dir():
        _fail(f"--snapshots {snapshots}: not a directory")
    outcomes, orphans = golden.run(policies, snapshots, golden_dir, pack_version=__version__)
    if not outcomes:
        _fail(f"{snapshots}: no recorded snapshots (*.json) to re-run")
    for outcome in outcomes:
        for line in outcome.describe():
            typer.echo(line)
    for orphan in orphans:
        typer.echo(f"{orphan.stem}: golden file {orphan} has no snapshot any more")
    changed = sum(o.changed for o in outcomes) + len(orphans)
    if update:
        try:
            golden.write(outcomes, orphans, golden_dir)
        except OSError as exc:
            _fail(f"{golden_dir}: cannot write golden results: {exc.strerror or exc}")
        typer.echo(f"golden: wrote {len(outcomes)} file(s) to {golden_dir}"
                   + (f", removed {len(orphans)}" if orphans else "") + "; commit them with the policy change")
        raise typer.Exit(EXIT_OK)
    typer.echo(f"golden: {changed} of {len(outcomes) + len(orphans)} recorded host(s) changed"
               + ("; review the changes, then approve them with: hullcheck test --update-golden" if changed else ""))
    raise typer.Exit(EXIT_FINDINGS if changed else EXIT_OK)

class SchemaKind(str, Enum):
    snapshot = "snapshot"
    policy = "policy"
    results = "results"
    waiver = "waiver"
    fleet = "fleet"


@app.command("schema")
def schema_cmd(
    kind: Optional[SchemaKind] = typer.Argument(None, help="snapshot, policy, results, waiver or fleet; none: list them.", show_default=False),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the schema to this file instead of stdout."),
) -> None:
    """Print the JSON Schema of a file hullcheck reads or writes, for tools built around those files.

    [dim]snapshot: what `collect` writes; policy: one policy file; results: what `evaluate --format json`
    writes; waiver: a --waivers file; fleet: what `evaluate --format json` writes for several snapshots.[/dim]
    """
    from .resources import SCHEMA_KINDS, schema_path

    if kind is None:
        for name in SCHEMA_KINDS:
            path = schema_path(name)
            typer.echo(f"{name:<9} {path}{'' if path.is_file() else '  (missing)'}")
        return
    path = schema_path(kind.value)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        _fail(f"the {kind.value} schema is missing from this installation ({path}); reinstall hullcheck")
    except OSError as exc:
        _fail(f"{path}: cannot read the {kind.value} schema: {exc.strerror or exc}")
    _write_output(text if text.endswith("\n") else text + "\n", output)


@policies_app.command("list")
def policies_list(
    fmt: ListFormat = typer.Option(ListFormat.table, "--format", "-f", help="table, json or markdown."),
    policies: List[Path] = PoliciesDirs,
) -> None:
    """List every policy: id, CIS numbers, level, severity, automated or manual, title."""
    import json

    from evaluator import load_pack

    pack = load_pack([policies_dir(), *policies])
    rows = [p.metadata() for p in pack]
    if fmt is ListFormat.json:
        typer.echo(json.dumps(rows, indent=2))
    elif fmt is ListFormat.markdown:
        lines = ["| id | CIS 1.6.0 | CIS 1.8.0 | level | severity | automated | title |", "|---|---|---|---|---|---|---|"]
        for r in rows:
            c = r["controls"]
            lines.append(f"| {r['id']} | {c.get('cis-docker-1.6.0', '')} | {c.get('cis-docker-1.8.0', '')} | {r['level']} "
                         f"| {r['severity']} | {'yes' if r['automated'] else 'manual'} | {r['title']} |")
        typer.echo("\n".join(lines))
    else:
        from rich.table import Table

        table = Table(show_lines=False, header_style="bold")
        for column in ("id", "1.6.0", "1.8.0", "lvl", "severity", "auto", "title"):
            table.add_column(column, overflow="fold")
        for r in rows:
            c = r["controls"]
            table.add_row(r["id"], c.get("cis-docker-1.6.0", ""), c.get("cis-docker-1.8.0", ""), str(r["level"]),
                          r["severity"], "yes" if r["automated"] else "manual", r["title"])
        Console(width=None if sys.stdout.isatty() else 160).print(table)
        typer.echo(f"{len(rows)} policies ({sum(r['automated'] for r in rows)} automated)")


@policies_app.command("show")
def policies_show(
    policy_id: str = typer.Argument(..., help="A policy id, e.g. cis-docker-5.10."),
    policies: List[Path] = PoliciesDirs,
) -> None:
    """Everything about one policy, including its jq."""
    from evaluator import load_pack

    pack = {p.id: p for p in load_pack([policies_dir(), *policies])}
    if policy_id not in pack:
        _fail(f"no policy with id '{policy_id}' (see `hullcheck policies list`)")
    typer.echo(Path(pack[policy_id].path).read_text(encoding="utf-8").rstrip())
    typer.echo(f"# file: {pack[policy_id].path}")


@app.command()
def render(
    results: Path = typer.Argument(..., help="A results file written by `hullcheck evaluate --format json`.", show_default=False),
    fmt: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="text, json, sarif, junit, markdown or html."),
    output: Optional[Path] = OutputOpt,
    verbose: bool = VerboseOpt,
    waivers: Optional[Path] = WaiversOpt,
    as_of: Optional[str] = AsOfOpt,
    baseline: Optional[Path] = BaselineOpt,
    fail_on: str = typer.Option("none", "--fail-on", help="Exit 1 when a result at or above this fails (any, a severity, new, none). Default none: rendering is not gating."),
    trust: Optional[Path] = TrustOpt,
) -> None:
    """Render stored results in another format, without evaluating again.

    For the air-gapped case: evaluate where the snapshot is, carry only the results out, render
    SARIF, JUnit, Markdown or HTML anywhere. Waivers and a baseline can be applied here too.

    [dim]Exit codes: 0 rendered (and nothing at or above --fail-on fails); 1 something at or above
    --fail-on fails; 2 bad results file or usage error.[/dim]
    """
    from evaluator.diff import ResultsError, load_results

    data = None
    if trust is not None:  # the bytes verified are the bytes rendered
        from .custody import verify_results

        data, note = verify_results(results, _trust(trust))
        stderr.print(note, markup=False)
    try:
        document = load_results(results, data)
    except ResultsError as exc:
        _fail(str(exc))
        raise AssertionError("unreachable")
    post = _PostProcess.prepare(waivers, as_of, baseline, fail_on, marked="baseline" in document)
    post.apply(document)
    _report(document, fmt, output, verbose, inputs=tuple(p for p in (results, waivers, baseline) if p))
    raise typer.Exit(post.exit_code(document))


class DiffFormat(str, Enum):
    text = "text"
    json = "json"


@app.command("diff")
def diff_command(
    old: Path = typer.Argument(..., help="The earlier snapshot or results file.", show_default=False),
    new: Path = typer.Argument(..., help="The later file of the same kind.", show_default=False),
    fmt: DiffFormat = typer.Option(DiffFormat.text, "--format", "-f", help="text or json."),
    output: Optional[Path] = OutputOpt,
) -> None:
    """Drift between two runs: two snapshots, or two results files.

    Snapshots: containers added, removed and changed (by name: image, user, mounts, every
    HostConfig key...), daemon options, engine version, images, file owners and modes.
    Results: new, fixed and unchanged failing findings, keyed by policy id and resource key
    (container name, compose project/service), never by container id.

    [dim]Exit codes: 0 no drift (results: no new failing finding); 1 drift (results: new failing
    findings); 2 unreadable files, or a snapshot compared with results.[/dim]
    """
    import json

    from evaluator.diff import (ResultsError, check_results, check_snapshot, diff_results, diff_snapshots, has_drift,
                                kind_of, read_json, render_text)

    try:
        before, after = read_json(old), read_json(new)
        kinds = [kind_of(before), kind_of(after)]
        if kinds[0] != kinds[1] or "unknown" in kinds:
            _fail(f"{old} is {kinds[0]} and {new} is {kinds[1]}: diff two snapshots or two results files")
        if kinds[0] == "results":
            report = diff_results(check_results(before, str(old)), check_results(after, str(new)))
        else:
            report = diff_snapshots(check_snapshot(before, str(old)), check_snapshot(after, str(new)))
    except ResultsError as exc:
        _fail(str(exc))
        raise AssertionError("unreachable")
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n" if fmt is DiffFormat.json else render_text(report)
    _write_output(text, output, inputs=(old, new))
    raise typer.Exit(EXIT_FINDINGS if has_drift(report) else EXIT_OK)


@waivers_app.command("lint")
def waivers_lint(
    file: Path = typer.Argument(..., help="A waivers YAML file.", show_default=False),
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Judge expiry on this date (YYYY-MM-DD) instead of today (UTC)."),
    policies: List[Path] = PoliciesDirs,
    max_days: Optional[int] = typer.Option(None, "--max-days", min=1, help="Also a problem: a waiver that expires more than this many days ahead."),
) -> None:
    """Check a waivers file: schema, dates, jq, policy ids that exist, expiry.

    Prints one line per issue (FILE:LINE: level: waiver: message). Errors make the file
    unusable; problems are waivers that no longer do what their author meant (expired, policy
    id that matches no policy, too far ahead with --max-days); notes expire within 14 days.

    [dim]Exit codes: 0 usable and no problem (notes allowed); 1 problems; 2 errors (the file
    cannot be used by --waivers), or usage error.[/dim]
    """
    from evaluator import load_pack
    from evaluator.waivers import WaiverError, check_file, lint, parse_as_of

    try:
        when = parse_as_of(as_of)
    except WaiverError as exc:
        _fail(str(exc))
        raise AssertionError("unreachable")
    waivers, issues = check_file(file)
    ids = [p.id for p in load_pack([policies_dir(), *policies])]
    issues += lint(waivers, when, ids, max_days)
    for issue in sorted(issues, key=lambda i: (i.line or 0, i.level)):
        typer.echo(issue.describe(str(file)))
    levels = [i.level for i in issues]
    typer.echo(f"{file}: {len(waivers)} usable waiver(s) as of {when.isoformat()}: {levels.count('error')} error(s), "
               f"{levels.count('problem')} problem(s), {levels.count('note')} note(s)")
    raise typer.Exit(EXIT_ERROR if "error" in levels else EXIT_FINDINGS if "problem" in levels else EXIT_OK)


def _expected_errors() -> tuple[type[BaseException], ...]:
    """The errors that are the user's input, not a bug: one line, exit 2.

    The collector (and the Docker SDK it pulls in, most of a second to import) is only looked at
    when a command used it, so `evaluate` stays quick to start.
    """
    from evaluator import PolicyError, SnapshotError

    from hullcheck_common.sshsig import SignatureError

    errors: list[type[BaseException]] = [UsageError, PolicyError, SnapshotError, SignatureError]
    engine = sys.modules.get("collector.engine")
    if engine is not None:
        errors.append(engine.EngineUnreachable)
    return tuple(errors)


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
    except _expected_errors() as exc:  # evaluated only when something was raised
        stderr.print(f"hullcheck: error: {_one_line(str(exc))}", markup=False)
        sys.exit(EXIT_ERROR)
    except _Signalled as exc:
        stderr.print("hullcheck: terminated" if exc.signum == signal.SIGTERM else "hullcheck: interrupted", markup=False)
        sys.exit(128 + exc.signum)
    except KeyboardInterrupt:
        stderr.print("hullcheck: interrupted", markup=False)
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(EXIT_OK)
    except Exception as exc:  # noqa: BLE001 - a security tool never answers with a traceback
        if os.environ.get("HULLCHECK_DEBUG"):
            raise
        stderr.print(f"hullcheck: internal error: {type(exc).__name__}: {_one_line(str(exc))} "
                     "(set HULLCHECK_DEBUG=1 for a traceback)", markup=False)
        sys.exit(EXIT_ERROR)


if __name__ == "__main__":
    main()
