"""The results vocabulary: the words every part of hullcheck uses about a result, in one place.

Severities, statuses, benchmark sections, resource keys, offenders, timestamps and the raw verdict
a policy worker sends back. The evaluator builds results with these, every renderer reads them,
the collector stamps its snapshots with the same UTC timestamp form.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal, TypedDict

# Most to least severe. `--min-severity`, `--fail-on` and every report sort by this order.
SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")

# Every status a policy result or a finding can have, in the order results.summary counts them.
STATUSES: tuple[str, ...] = ("pass", "fail", "error", "not_applicable", "manual", "waived")
# The order reports list them in: what needs attention first.
STATUS_ORDER: tuple[str, ...] = ("fail", "error", "waived", "manual", "not_applicable", "pass")
STATUS_LABELS: dict[str, str] = {"pass": "Pass", "fail": "Fail", "error": "Error", "not_applicable": "Not applicable",
                                 "manual": "Manual", "waived": "Waived"}

# The benchmarks whose numbering a report can follow (`--benchmark`); the first is the default.
BENCHMARKS: tuple[str, ...] = ("cis-docker-1.6.0", "cis-docker-1.8.0")
DEFAULT_BENCHMARK = BENCHMARKS[0]

# Section titles of the CIS Docker Benchmark (the same in 1.6.0 and 1.8.0); OTHER_SECTION holds
# every policy the chosen benchmark does not number.
OTHER_SECTION = "other"
SECTION_NAMES: dict[str, str] = {
    "1": "Host Configuration",
    "2": "Docker Daemon Configuration",
    "3": "Docker Daemon Configuration Files",
    "4": "Container Images and Build File",
    "5": "Container Runtime",
    "6": "Docker Security Operations",
    "7": "Docker Swarm Configuration",
    OTHER_SECTION: "Beyond the CIS Benchmark",
}


def severity_rank(severity: str | None) -> int:
    """0 for critical ... 4 for info; unknown severities sort last."""
    try:
        return SEVERITIES.index(str(severity))
    except ValueError:
        return len(SEVERITIES)


def resource_key(ref: dict[str, Any] | None) -> str:
    """The resource's stable key (container name or compose project/service, image repository...).

    Results written before keys existed fall back to type:name. Never a container id, so a
    redeployed container is the same resource.
    """
    ref = ref or {}
    return str(ref.get("key") or f"{ref.get('type')}:{ref.get('name')}")


def offenders(result: dict[str, Any]) -> list[str]:
    """The sorted names of the resources a policy result fails on (what golden files and test cases compare)."""
    return sorted(str(f["resource"]["name"]) for f in result.get("findings", []) if f.get("status") == "fail")


def utc_timestamp(timespec: str = "seconds") -> str:
    """Now in UTC as ISO 8601 with a Z (`2026-01-31T12:00:00Z`): the one timestamp form hullcheck writes."""
    return datetime.now(timezone.utc).isoformat(timespec=timespec).replace("+00:00", "Z")


# ---- the worker's wire format -------------------------------------------------------------------
# A policy program returns one raw verdict per policy; short keys keep the pipe between the worker
# and the evaluator small. `results.policy_result` turns it into a result.

class RawEvidence(TypedDict, total=False):
    pointer: str
    value: Any
    truncated: bool


class RawResource(TypedDict, total=False):
    type: str | None
    name: str | None
    id: str | None
    key: str | None
    image: str | None


class RawItem(TypedDict, total=False):
    s: Literal["pass", "fail", "error", "manual"]  # status of this resource (manual: a person must judge it)
    r: RawResource  # the resource
    m: str | None  # the failure message (manual: what a person must check)
    ev: list[RawEvidence]  # evidence: JSON pointers into the snapshot and the values there
    reason: str  # why this resource could not be judged (s = error)
    loc: list[dict[str, Any]]  # planned from Compose: where the offending values were written (file, line, column, pointer)


class RawVerdict(TypedDict, total=False):
    # set only when the policy as a whole did not judge; not_judged: the snapshot does not hold its
    # subject or needs (evaluator/scope.py), manual: a manual policy with `applies` that applies
    s: Literal["error", "not_applicable", "not_judged", "manual"]
    reason: str
    items: list[RawItem]


# ---- benchmark numbering ------------------------------------------------------------------------
# A report speaks one benchmark at a time (`--benchmark`): a policy's number, section and place
# come from that benchmark's control; policies it does not number go to OTHER_SECTION.

def control_number(result: dict[str, Any], benchmark: str = DEFAULT_BENCHMARK) -> str | None:
    """The policy's number in `benchmark` ('5.10'), or None when that benchmark does not number it."""
    number = (result.get("controls") or {}).get(benchmark)
    return str(number) if number else None


def section_of(result: dict[str, Any], benchmark: str = DEFAULT_BENCHMARK) -> str:
    """The section of `benchmark` a result belongs to ('5'), or OTHER_SECTION."""
    number = control_number(result, benchmark)
    return number.split(".")[0] if number else OTHER_SECTION


def benchmark_order(result: dict[str, Any], benchmark: str = DEFAULT_BENCHMARK) -> tuple[int, tuple[int, ...]]:
    """Sort key: numbered policies in the benchmark's order (2.2 before 2.10), then the rest."""
    number = control_number(result, benchmark)
    if number is None:
        return (1, ())
    return (0, tuple(int(p) if p.isdigit() else 0 for p in number.split(".")))


# ---- scope: what a source holds, what a policy judges --------------------------------------------
# A live snapshot holds every subject. A plan holds part of a host: a Compose plan its containers
# (and their images when read from an engine), a Dockerfile plan its image. A policy judges one
# subject (and may need others); it is judged only on a snapshot that holds them all
# (evaluator/scope.py), else it is listed once as not judged from that source.
SUBJECTS: tuple[str, ...] = ("host", "daemon", "engine", "files", "swarm", "image", "container", "processes")
# What a policy can judge (`subject:`): every subject but processes, which only ever is needed
# (`needs: [processes]`) by a policy that judges a container.
JUDGED_SUBJECTS: tuple[str, ...] = SUBJECTS[:-1]

# Where each subject lives in a snapshot: JSON Pointer prefixes, `*` standing for one segment (any
# index). The longest matching prefix wins: /containers/3/processes is the processes subject,
# /containers/3/inspect the container subject. A pointer no prefix matches (/meta, /schema_version)
# belongs to no subject and is held by every source. The one home of this map: the Python scope
# module (evaluator/scope.py) and the generated jq program (evaluator/program.py) both read it.
POINTER_SUBJECTS: dict[str, str] = {
    "/host": "host",
    "/daemon": "daemon",
    "/engine": "engine",
    "/networks": "engine",
    "/volumes": "engine",
    "/plugins": "engine",
    "/files": "files",
    "/audit": "files",
    "/swarm": "swarm",
    "/images": "image",
    "/containers": "container",
    "/containers/*/processes": "processes",
}


def _pointer_tokens(pointer: str) -> list[str]:
    if pointer in ("", "/"):
        return [] if pointer == "" else [""]
    return [part.replace("~1", "/").replace("~0", "~") for part in pointer[1:].split("/")]


# (tokens of the prefix, subject), longest first: what pointer_subject and the jq program walk.
SUBJECT_PREFIXES: tuple[tuple[tuple[str, ...], str], ...] = tuple(sorted(
    ((tuple(_pointer_tokens(prefix)), subject) for prefix, subject in POINTER_SUBJECTS.items()),
    key=lambda item: -len(item[0])))


def pointer_subject(pointer: str) -> str | None:
    """The subject a JSON Pointer into a snapshot reads ('/containers/0/processes' -> 'processes'),
    or None when it reads none (/meta: every source holds it)."""
    tokens = _pointer_tokens(pointer)
    for prefix, subject in SUBJECT_PREFIXES:
        if len(tokens) >= len(prefix) and all(p == "*" or p == t for p, t in zip(prefix, tokens)):
            return subject
    return None
