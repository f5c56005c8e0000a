"""The command line's option groups: each a dataclass of typer options that several commands share.

`cli.with_options(Group, ...)` adds a group's flags to a command and hands the command one
instance of the group. A new flag goes into the group it belongs to (or a command's own
signature when only that command has it), and into the options object it fills.

No `from __future__ import annotations` here: typer reads these field types at runtime.
"""

import dataclasses
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, List, Optional

import typer

from evaluator.render import formats
from hullcheck_common.errors import UsageError
from hullcheck_common.vocabulary import BENCHMARKS, DEFAULT_BENCHMARK, SEVERITIES


def choices(name: str, values: "tuple[str, ...]") -> Any:
    """An Enum of strings for typer, from the tuple that defines the choices (one home each)."""
    return Enum(name, {v: v for v in values}, type=str)


if TYPE_CHECKING:  # for mypy: Enums like any other
    OutputFormat = Enum
    Benchmark = Enum
else:
    OutputFormat = choices("OutputFormat", formats("results"))  # what the renderer registry offers
    Benchmark = choices("Benchmark", BENCHMARKS)


class _Group:
    arg: ClassVar[str]

    @classmethod
    def fields(cls) -> "tuple[dataclasses.Field[Any], ...]":
        return dataclasses.fields(cls)  # type: ignore[arg-type]


@dataclasses.dataclass
class SelectionFlags(_Group):
    """Which policies run, within which limits: shared by `evaluate`, `audit`, `guard` and `watch`."""

    arg: ClassVar[str] = "selection"
    policies: List[Path] = typer.Option([], "--policies", help="Add a directory of custom policies beside the built-in pack (repeatable).")
    policy: List[str] = typer.Option([], "--policy", "-p", help="Only these policy ids or globs (repeatable), e.g. 'cis-docker-5.*'.")
    skip: List[str] = typer.Option([], "--skip", help="Skip these policy ids or globs (repeatable).")
    level: Optional[int] = typer.Option(None, "--level", min=1, max=2, help="Only policies of this CIS level or lower.")
    min_severity: Optional[str] = typer.Option(None, "--min-severity", help="Only policies at or above: critical, high, medium, low, info.")
    tag: List[str] = typer.Option([], "--tag", help="Only policies with this tag (repeatable).")
    policy_timeout: float = typer.Option(30.0, "--policy-timeout", min=0.1, help="Seconds one policy may run before it is stopped and reported as error.")
    worker_memory: int = typer.Option(4096, "--worker-memory", min=256, metavar="MB", help="Memory limit of the jq worker; a policy that needs more is reported as error.")

    def judge_options(self, waivers: Optional[Path]) -> Any:
        """The runtime judge's options (guard, watch): these policies, these limits, these waivers."""
        from evaluator.worker_pool import Limits
        from hullcheck_runtime.judge import JudgeOptions

        limits = Limits(policy_timeout=self.policy_timeout, load_timeout=30.0, memory_bytes=self.worker_memory * 1024 * 1024)
        return JudgeOptions(policy_dirs=list(self.policies), selection=selection(self), limits=limits, waivers=waivers)


@dataclasses.dataclass
class EvaluateFlags(SelectionFlags):
    """What to evaluate and within which limits: shared by `evaluate` and `audit`."""

    arg: ClassVar[str] = "run"
    max_snapshot_size: int = typer.Option(256, "--max-snapshot-size", min=1, metavar="MB", help="Refuse snapshot files larger than this many MB (a 5,000-container host is about 35 MB).")
    fail_on: str = typer.Option("any", "--fail-on", help="Exit 1 when a result at or above this fails: any (default), critical, high, medium, low, info, new (only findings not in --baseline), or none.")
    advisories: List[Path] = typer.Option([], "--advisories", metavar="FILE", help="Debian or Ubuntu OSV advisory data (a record, a JSON list, or OSV.dev's all.zip; repeatable): 1.2.2 then judges that distribution's docker.io, containerd and runc packages by their package versions instead of leaving them to a person. See `hullcheck advisories`.")
    advisories_max_age: int = typer.Option(30, "--advisories-max-age", min=1, metavar="DAYS", help="1.2.2 warns, and never passes, when the advisory data is more than this many days older than the snapshot.")

    def options(self, snapshots: List[Path], gate: Any, report: Any, **more: Any) -> Any:
        """The evaluator's typed EvaluateOptions for these flags."""
        from evaluator.advisories import AdvisoryOptions
        from evaluator.run_options import EvaluateOptions
        from evaluator.worker_pool import Limits

        limits = Limits(policy_timeout=self.policy_timeout, max_snapshot_bytes=self.max_snapshot_size * 1024 * 1024,
                        memory_bytes=self.worker_memory * 1024 * 1024)
        return EvaluateOptions(snapshots=list(snapshots), policy_dirs=list(self.policies), selection=selection(self),
                               limits=limits, gate=dataclasses.replace(gate, fail_on=self.fail_on), report=report,
                               advisories=AdvisoryOptions(files=tuple(self.advisories), max_age_days=self.advisories_max_age),
                               **more)


def selection(flags: SelectionFlags) -> Any:
    from evaluator import Selection

    if flags.min_severity is not None and flags.min_severity not in SEVERITIES:
        raise UsageError(f"--min-severity must be one of {', '.join(SEVERITIES)}, not '{flags.min_severity}'")
    return Selection(include=tuple(flags.policy), skip=tuple(flags.skip), level=flags.level,
                     min_severity=flags.min_severity, tags=tuple(flags.tag))


@dataclasses.dataclass
class FleetFlags(_Group):
    """What only `evaluate` over a fleet has: the hosts the fleet should hold (the Ansible play writes it)."""

    arg: ClassVar[str] = "fleet"
    expect_hosts: Optional[Path] = typer.Option(None, "--expect-hosts", help="File naming the hosts that should have a snapshot (one per line, an optional reason after it); those without one are reported as not collected (exit 2).")


@dataclasses.dataclass
class GateFlags(_Group):
    """Waivers and a baseline: shared by `evaluate`, `audit` and `render` (--fail-on differs: not here)."""

    arg: ClassVar[str] = "gate"
    waivers: Optional[Path] = typer.Option(None, "--waivers", help="YAML file of waivers (accepted risks with reason and expiry): matching failing findings become 'waived'. Check it with `hullcheck waivers lint`.")
    as_of: Optional[str] = typer.Option(None, "--as-of", help="Judge waiver expiry on this date (YYYY-MM-DD) instead of today (UTC): re-evaluating an old snapshot gives the same result.")
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="Earlier results (--format json) to compare with: each finding is marked new or known.")


def gate_options(flags: GateFlags, fail_on: str = "any") -> Any:
    from evaluator.pipeline import GateOptions

    return GateOptions(waivers=flags.waivers, as_of=flags.as_of, baseline=flags.baseline, fail_on=fail_on)


@dataclasses.dataclass
class ReportFlags(_Group):
    """How the report looks and where it goes: shared by every command that reports results."""

    arg: ClassVar[str] = "report"
    fmt: OutputFormat = typer.Option("text", "--format", "-f", help="Report format: text, json (results document), sarif, junit, markdown (PR comment) or html (self-contained).")
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report to this file (atomically) instead of stdout.")
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show remediation, audit steps and reasons.")
    benchmark: Benchmark = typer.Option(DEFAULT_BENCHMARK, "--benchmark", help="Number, group and order policies by this benchmark's controls; policies it does not number are listed under 'Beyond the CIS Benchmark'.")


def report_options(flags: ReportFlags, terminal: Callable[[str, Optional[Path]], "tuple[bool, int]"]) -> Any:
    from evaluator.run_options import ReportOptions

    color, width = terminal(flags.fmt.value, flags.output)
    return ReportOptions(fmt=flags.fmt.value, output=flags.output, verbose=flags.verbose,
                         benchmark=flags.benchmark.value, color=color, width=width)


@dataclasses.dataclass
class CollectFlags(_Group):
    """Which engine and host to read: shared by `collect` and `audit`."""

    arg: ClassVar[str] = "engine"
    docker_host: Optional[str] = typer.Option(None, "--docker-host", "-H", help="Engine endpoint (unix://, tcp://, ssh://); default: DOCKER_HOST or the local socket.")
    host_root: Optional[Path] = typer.Option(None, "--host-root", help="Read host files below this directory (a collector in a container: -v /:/host:ro --host-root /host).")
    label: List[str] = typer.Option([], "--label", help="Only containers with this label (key or key=value; repeatable).")
    processes_from_engine: bool = typer.Option(False, "--processes-from-engine", help="Ask the engine's /top for every running container's processes. By default a Docker engine on this host has them read from /proc the way its /top computes them (the same table, without starting runc ps and ps per container).")

    def options(self, redact: bool, tls: Any) -> Any:
        """The collector's CollectOptions for these flags."""
        from collector import CollectOptions

        if self.host_root is not None and not self.host_root.is_dir():
            raise UsageError(f"--host-root {self.host_root}: not a directory")
        return CollectOptions(docker_host=self.docker_host, host_root=str(self.host_root) if self.host_root else None,
                              redact=redact, label_filter=list(self.label), tls=tls,
                              processes_from_engine=self.processes_from_engine)


@dataclasses.dataclass
class TlsFlagSet(_Group):
    """TLS to a tcp:// engine, as the Docker CLI takes it (flags, then DOCKER_TLS_VERIFY/DOCKER_CERT_PATH)."""

    arg: ClassVar[str] = "tls"
    tls: bool = typer.Option(False, "--tls", help="Use TLS to a tcp:// engine without verifying it (also DOCKER_TLS).")
    tlsverify: bool = typer.Option(False, "--tlsverify", help="Use TLS and verify the tcp:// engine against --tlscacert (also DOCKER_TLS_VERIFY).")
    tlscacert: Optional[Path] = typer.Option(None, "--tlscacert", help="CA the engine's certificate must chain to; default $DOCKER_CERT_PATH/ca.pem.")
    tlscert: Optional[Path] = typer.Option(None, "--tlscert", help="Client certificate; default $DOCKER_CERT_PATH/cert.pem (DOCKER_CERT_PATH defaults to ~/.docker).")
    tlskey: Optional[Path] = typer.Option(None, "--tlskey", help="Client key; default $DOCKER_CERT_PATH/key.pem.")

    def config(self, docker_host: Optional[str]) -> Any:
        from .remote import TLSFlags, tls_config

        return tls_config(docker_host, TLSFlags(self.tls, self.tlsverify, self.tlscacert, self.tlscert, self.tlskey))


@dataclasses.dataclass
class AuditOptions(_Group):
    """What only `audit` has."""

    arg: ClassVar[str] = "audit"
    fallback_example: bool = typer.Option(False, "--fallback-example", help="When no daemon answers, evaluate the bundled example snapshot instead (and say so).")
    keep_snapshot: Optional[Path] = typer.Option(None, "--keep-snapshot", metavar="FILE", help="Also write the collected snapshot to FILE (with --sign: and FILE.sig), as `collect -o FILE` would.")


@dataclasses.dataclass
class ComposeFlags(_Group):
    """A Compose application (issue 15) or a Dockerfile (issue 27) instead of the engine: shared by `collect` and `audit`."""

    arg: ClassVar[str] = "plan"  # not "compose": that is the --compose field's name
    compose: List[Path] = typer.Option([], "--compose", help="Judge this Compose file before it is deployed instead of the engine (repeatable: merged in order, like docker compose -f).")
    project_directory: Optional[Path] = typer.Option(None, "--project-directory", help="With --compose: the project directory (default: the first file's directory).")
    env_file: List[Path] = typer.Option([], "--env-file", help="With --compose: variables to interpolate (default: .env in the project directory; the environment wins).")
    profile: List[str] = typer.Option([], "--profile", help="With --compose: enable this profile (repeatable; default COMPOSE_PROFILES).")
    images_from_engine: bool = typer.Option(False, "--images-from-engine", help="With --compose or --dockerfile: read the images they start from (USER, HEALTHCHECK, history) from the local engine.")
    dockerfile: Optional[Path] = typer.Option(None, "--dockerfile", metavar="PATH", help="Judge the image this Dockerfile builds, before it is built (nothing runs; see docs/dockerfiles.md).")
    target: Optional[str] = typer.Option(None, "--target", metavar="STAGE", help="With --dockerfile: the stage that becomes the image (default: the last), as docker build --target.")
    build_arg: List[str] = typer.Option([], "--build-arg", metavar="NAME=VALUE", help="With --dockerfile: a build argument, as docker build --build-arg (repeatable; NAME alone takes it from the environment).")

    def options(self, docker_host: Optional[str], redact: bool) -> Any:
        """The collector's ComposeOptions or DockerfileOptions, or None without --compose or
        --dockerfile (then the engine is read)."""
        if self.dockerfile is not None:
            if self.compose:
                raise UsageError("--dockerfile and --compose are two sources: give one (a Compose service with build: plans its Dockerfile)")
            if self.project_directory or self.env_file or self.profile:
                raise UsageError("--project-directory, --env-file and --profile need --compose FILE")
            from collector.dockerfile import DockerfileOptions, parse_build_args

            return DockerfileOptions(path=str(self.dockerfile), target=self.target, build_args=parse_build_args(list(self.build_arg)),
                                     images_from_engine=self.images_from_engine, docker_host=docker_host, redact=redact)
        if self.target is not None or self.build_arg:
            raise UsageError("--target and --build-arg need --dockerfile PATH")
        if not self.compose:
            if self.project_directory or self.env_file or self.profile or self.images_from_engine:
                raise UsageError("--project-directory, --env-file, --profile and --images-from-engine need --compose FILE or --dockerfile PATH")
            return None
        from collector.compose import ComposeOptions

        return ComposeOptions(files=[str(f) for f in self.compose],
                              project_directory=str(self.project_directory) if self.project_directory else None,
                              env_files=[str(f) for f in self.env_file], profiles=list(self.profile),
                              images_from_engine=self.images_from_engine, docker_host=docker_host, redact=redact)


@dataclasses.dataclass
class SignFlags(_Group):
    """--sign: shared by `collect`, `evaluate` and `audit` (chain of custody, see docs/fleets.md)."""

    arg: ClassVar[str] = "signing"
    sign: Optional[Path] = typer.Option(None, "--sign", metavar="KEY", help="Sign what is written to a file: FILE.sig beside it (an SSH signature, as `ssh-keygen -Y sign` makes; check it with `ssh-keygen -Y verify`). KEY: a private key file (passphrase from $HULLCHECK_KEY_PASSPHRASE, else asked on the terminal), or a .pub file whose key ssh-agent holds ($SSH_AUTH_SOCK).")

    def signer(self, *outputs: Optional[Path]) -> Any:
        """The key, loaded (and its passphrase asked) before any work; None without --sign."""
        if self.sign is None:
            return None
        if not any(o is not None and str(o) != "-" for o in outputs):
            raise UsageError("--sign writes FILE.sig beside an output file: give -o FILE (standard output cannot be signed)")
        from hullcheck_common.signed_files import load_signer

        return load_signer(self.sign)


@dataclasses.dataclass
class TrustFlags(_Group):
    """--trust: shared by `evaluate` and `render` (chain of custody, see docs/fleets.md)."""

    arg: ClassVar[str] = "custody"
    trust: Optional[Path] = typer.Option(None, "--trust", metavar="ALLOWED_SIGNERS", help="Refuse input whose FILE.sig is missing, bad, or made by a key this ssh-keygen allowed-signers file does not trust (for a snapshot: for its meta.hostname). Exit 2, one line saying which.")

    def allowed(self) -> Any:
        """The allowed-signers file, read and checked once, before any work; None without --trust."""
        if self.trust is None:
            return None
        from hullcheck_common.signed_files import load_trust

        return load_trust(self.trust)


@dataclasses.dataclass
class GuardFlags(_Group):
    """What only `guard` has (issue 28): the plugin's name, how it decides, where it logs."""

    arg: ClassVar[str] = "guard"
    name: str = typer.Option(..., "--name", help="The plugin's name: it serves /run/docker/plugins/NAME.sock, and dockerd names it in --authorization-plugin=NAME (or \"authorization-plugins\" in daemon.json).", show_default=False)
    enforce: Optional[str] = typer.Option(None, "--enforce", metavar="SEVERITY", help="Refuse a request when a container policy at or above SEVERITY (critical, high, medium, low, info) fails; the refusal names each policy and the offending setting.")
    audit_only: bool = typer.Option(False, "--audit-only", help="Allow every request; log what --enforce would have refused.")
    on_error: Optional[str] = typer.Option(None, "--on-error", metavar="deny|allow", help="A request a policy at or above --enforce cannot judge (an error): deny (the default) or allow. Logged loudly either way.")
    waivers: Optional[Path] = typer.Option(None, "--waivers", help="YAML file of waivers: a waived finding never refuses. Re-read on SIGHUP.")
    log: Optional[Path] = typer.Option(None, "--log", metavar="FILE", help="Append the decision log here (one JSON line per judged request); default standard output.")
    docker_host: Optional[str] = typer.Option(None, "--docker-host", "-H", help="The engine the guard protects, for its facts (default seccomp and AppArmor profiles, runtime, networks) and the images and containers a request names; default DOCKER_HOST or the local socket.")
    plugin_dir: Path = typer.Option(Path("/run/docker/plugins"), "--plugin-dir", help="Where dockerd looks for plugin sockets: /run/docker/plugins, or $XDG_RUNTIME_DIR/docker/plugins for a rootless dockerd.")
    decision_timeout: float = typer.Option(20.0, "--decision-timeout", min=1.0, metavar="SECONDS", help="A request not judged within this time follows --on-error (dockerd waits for every answer).")

    def options(self, choose: SelectionFlags, tls: Any) -> Any:
        from hullcheck_runtime.guard import ON_ERROR_CHOICES, GuardOptions

        if (self.enforce is None) == (not self.audit_only):
            raise UsageError("say how the guard decides: --enforce SEVERITY (refuse failing requests) or --audit-only (allow and log)")
        if self.enforce is not None and self.enforce not in SEVERITIES:
            raise UsageError(f"--enforce must be one of {', '.join(SEVERITIES)}, not '{self.enforce}'")
        if self.on_error is not None and self.on_error not in ON_ERROR_CHOICES:
            raise UsageError(f"--on-error must be deny or allow, not '{self.on_error}'")
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise UsageError(f"--name must be a plain name (it becomes NAME.sock), not '{self.name}'")
        return GuardOptions(name=self.name, enforce=self.enforce, on_error=self.on_error, log=self.log,
                            plugin_dir=self.plugin_dir, docker_host=self.docker_host, tls=tls.config(self.docker_host),
                            judge=choose.judge_options(self.waivers), decision_timeout=self.decision_timeout)


@dataclasses.dataclass
class WatchFlags(_Group):
    """What only `watch` has (issue 28): the engine, where verdicts and metrics go."""

    arg: ClassVar[str] = "watch"
    docker_host: Optional[str] = typer.Option(None, "--docker-host", "-H", help="Engine endpoint (unix://, tcp://, ssh://); default: DOCKER_HOST or the local socket.")
    output: Optional[Path] = typer.Option(None, "--output", "-o", metavar="FILE", help="Append one JSON line per container judged here; default standard output.")
    metrics: Optional[Path] = typer.Option(None, "--metrics", metavar="FILE", help="Keep an OpenMetrics text file for node_exporter's textfile collector (failing running containers per policy and severity), replaced atomically.")
    waivers: Optional[Path] = typer.Option(None, "--waivers", help="YAML file of waivers: waived findings are reported as waived, not failing.")
    resync_interval: float = typer.Option(300.0, "--resync-interval", min=5.0, metavar="SECONDS", help="Also list and judge every running container this often (besides at every (re)connection), for events the daemon dropped.")

    def options(self, choose: SelectionFlags, tls: Any) -> Any:
        from hullcheck_runtime.watch import WatchOptions

        return WatchOptions(docker_host=self.docker_host, tls=tls.config(self.docker_host), output=self.output,
                            metrics=self.metrics, judge=choose.judge_options(self.waivers),
                            resync_interval=self.resync_interval)
