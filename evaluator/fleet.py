"""A fleet summary: many hosts' results folded into one document.

Each host's results document is reduced as it arrives (statuses per policy, failures by
severity), so a fleet of thousands of hosts never holds thousands of full documents. The fleet
document (`fleet_version` 1.0, schema in `evaluator/fleet.schema.json`) answers the questions of
someone responsible for many hosts: which hosts fail each policy, which hosts are worst, how
many failures of each severity, and which snapshots could not be evaluated at all.

Worst hosts are ranked by their failing policies severity by severity (more critical failures
first, then high, ...), then by policies in error: a host with one critical failure is worse than
one with ten low ones.

Expected hosts (`hullcheck evaluate --expect-hosts FILE`, written by the Ansible play in
deploy/ansible): a fleet directory only holds the snapshots that arrived, so a host whose
collection failed would simply be absent and the fleet would look smaller, not incomplete. The
file names every host that should be there; one without a snapshot is listed as `not_collected`
(with the reason the file gives) and counts as incomplete for the exit code, like an unreadable
snapshot. A snapshot named `NAME.json` for an expected NAME is keyed by that name (the inventory
name the operator knows), else by the snapshot's host name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hullcheck_common import userfile
from hullcheck_common.errors import HullcheckError
from hullcheck_common.vocabulary import SEVERITIES, STATUSES

FLEET_VERSION = "1.0"
WORST_HOSTS = 10


@dataclass
class _Host:
    source: str
    host: str | None
    error: str | None = None
    refused: bool = False
    snapshot: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None
    statuses: dict[str, str] = field(default_factory=dict)
    failed_resources: dict[str, int] = field(default_factory=dict)
    results_file: str | None = None
    advisories: list[dict[str, Any]] = field(default_factory=list)  # findings of type advisory (CIS 1.2.2)
    advisory_data: dict[str, Any] | None = None
    label: str | None = None  # the expected host name its file is named after
    not_collected: bool = False

    def failed_by_severity(self, severity_of: dict[str, str]) -> dict[str, int]:
        counts = {s: 0 for s in SEVERITIES}
        for policy_id, status in self.statuses.items():
            if status == "fail":
                counts[severity_of.get(policy_id, "info")] += 1
        return counts

    def rank(self, severity_of: dict[str, str]) -> tuple[int, ...]:
        by_severity = self.failed_by_severity(severity_of)
        errors = sum(1 for s in self.statuses.values() if s == "error")
        return (*(by_severity[s] for s in SEVERITIES), errors)


class ExpectedHostsError(HullcheckError):
    """An --expect-hosts file that cannot be read: one line for the user."""


def parse_expected_hosts(text: str, origin: str = "--expect-hosts") -> dict[str, str | None]:
    """Host names (one per line, `#` comments, blank lines ignored), each with an optional reason after
    whitespace: `web02 unreachable: ssh timed out`. The reason says why it has no snapshot, if it has none."""
    expected: dict[str, str | None] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, *rest = line.split(None, 1)
        reason = rest[0].strip() if rest else ""
        if name in expected:
            raise ExpectedHostsError(f"{origin} line {number}: host {name!r} is named twice")
        expected[name] = reason or None
    return expected


def read_expected_hosts(path: Path) -> dict[str, str | None]:
    text = userfile.read_text(path, what="a hosts file", shown=f"--expect-hosts {path}",
                              error=lambda name, problem: ExpectedHostsError(f"{name}: {problem}"))
    return parse_expected_hosts(text, f"--expect-hosts {path}")


def _stem(source: str) -> str:
    name = os.path.basename(source)
    return name[: -len(".json")] if name.endswith(".json") else name


class FleetBuilder:
    """Collects hosts one at a time (results documents or unreadable snapshots), then builds the document."""

    def __init__(self, policies: list[dict[str, Any]], pack: dict[str, Any],
                 expected: dict[str, str | None] | None = None) -> None:
        self.policies = [{k: p.get(k) for k in ("id", "title", "severity", "level", "controls")} for p in policies]
        self.severity_of: dict[str, str] = {str(p["id"]): str(p["severity"]) for p in self.policies}
        self.pack = pack
        self.hosts: list[_Host] = []
        self.expected = expected

    def _label(self, source: str) -> str | None:
        stem = _stem(source)
        return stem if self.expected is not None and stem in self.expected else None

    def add_results(self, source: str, document: dict[str, Any], results_file: str | None = None) -> None:
        snapshot = document.get("snapshot") or {}
        self.hosts.append(_Host(
            source=source, host=snapshot.get("host"), snapshot=snapshot, summary=document.get("summary"),
            label=self._label(source),
            statuses={r["id"]: r["status"] for r in document.get("results", [])},
            failed_resources={r["id"]: sum(1 for f in r.get("findings", []) if f.get("status") == "fail")
                              for r in document.get("results", []) if r["status"] == "fail"},
            results_file=results_file,
            advisories=[{"key": f["resource"].get("key"), "name": f["resource"].get("name"), "id": None,
                         "status": f["status"], "policy": r["id"], "message": f.get("message")}
                        for r in document.get("results", []) for f in r.get("findings", [])
                        if (f.get("resource") or {}).get("type") == "advisory" and f.get("status") in ("fail", "manual", "waived")],
            advisory_data=document.get("advisories"),
        ))

    def add_unreadable(self, source: str, error: str) -> None:
        self.hosts.append(_Host(source=source, host=None, error=error, label=self._label(source)))

    def _add_not_collected(self) -> None:
        """Every expected host no snapshot answered for (by file name or by host name), as not_collected."""
        if not self.expected:
            return
        present = {h.label for h in self.hosts if h.label} | {h.host for h in self.hosts if h.host}
        for name, reason in self.expected.items():
            if name not in present:
                self.hosts.append(_Host(source=name, host=None, label=name, not_collected=True,
                                        error=f"{name}: not collected" + (f" ({reason})" if reason else "")))

    def add_refused(self, source: str, error: str) -> None:
        """A snapshot not evaluated because its signature was missing, bad or not trusted (--trust)."""
        self.hosts.append(_Host(source=source, host=None, error=error, refused=True))

    # -- the document ---------------------------------------------------------------------------
    def _keys(self) -> list[str]:
        """A label per host: its host name, or name plus snapshot file when two snapshots share a name."""
        names = [h.label or (h.host if h.error is None and h.host else None) for h in self.hosts]
        keys = []
        for host, name in zip(self.hosts, names):
            if host.label:
                keys.append(host.label)
            elif name is None:
                keys.append(host.source)
            elif names.count(name) > 1:
                keys.append(f"{name} ({host.source})")
            else:
                keys.append(name)
        return keys

    def document(self, evaluated_at: str, tool: dict[str, Any]) -> dict[str, Any]:
        self._add_not_collected()
        keys = self._keys()
        evaluated = [(k, h) for k, h in zip(keys, self.hosts) if h.error is None]
        hosts_out = []
        for key, host in zip(keys, self.hosts):
            hosts_out.append({
                "key": key,
                "host": host.host,
                "source": host.source,
                "status": ("not_collected" if host.not_collected else "refused" if host.refused else "unreadable")
                          if host.error is not None else "evaluated",
                "error": host.error,
                "results_file": host.results_file,
                "snapshot": host.snapshot,
                "summary": host.summary,
                "failed_by_severity": host.failed_by_severity(self.severity_of) if host.error is None else None,
                "failed": [p for p, s in host.statuses.items() if s == "fail"],
                "errors": [p for p, s in host.statuses.items() if s == "error"],
                "statuses": dict(host.statuses),
                "failed_resources": dict(host.failed_resources),
                **({"advisories": host.advisory_data} if host.advisory_data is not None else {}),
            })
        policies_out = []
        for policy in self.policies:
            counts = {s: 0 for s in STATUSES}
            failing, in_error = [], []
            failed_resources = 0
            for key, host in evaluated:
                status = host.statuses.get(str(policy["id"]))
                if status is None:
                    continue
                counts[status] = counts.get(status, 0) + 1
                if status == "fail":
                    failing.append(key)
                    failed_resources += host.failed_resources.get(str(policy["id"]), 0)
                elif status == "error":
                    in_error.append(key)
            policies_out.append({**policy, "counts": counts, "failing_hosts": failing, "error_hosts": in_error,
                                 "failed_resources": failed_resources})
        ranked = sorted(evaluated, key=lambda kh: (tuple(-n for n in kh[1].rank(self.severity_of)), kh[0]))
        worst = [k for k, h in ranked if any(h.rank(self.severity_of))][:WORST_HOSTS]
        failures_by_severity = {s: 0 for s in SEVERITIES}
        hosts_failing_by_severity = {s: 0 for s in SEVERITIES}
        statuses = {s: 0 for s in STATUSES}
        for _key, host in evaluated:
            by_severity = host.failed_by_severity(self.severity_of)
            for s in SEVERITIES:
                failures_by_severity[s] += by_severity[s]
                hosts_failing_by_severity[s] += 1 if by_severity[s] else 0
            for status in host.statuses.values():
                statuses[status] = statuses.get(status, 0) + 1
        failing_hosts = sum(1 for _k, h in evaluated if "fail" in h.statuses.values())
        not_collected = sum(1 for h in self.hosts if h.not_collected)
        by_advisory: dict[str, dict[str, Any]] = {}
        for key, host in evaluated:
            for item in host.advisories:
                entry = by_advisory.setdefault(str(item["key"]), {
                    "key": str(item["key"]), "name": str(item["name"]).split(":", 1)[-1], "id": item["id"],
                    "component": str(item["name"]).split(":", 1)[0], "policy": item["policy"], "message": item["message"],
                    "affected_hosts": [], "candidate_hosts": []})
                (entry["candidate_hosts"] if item["status"] == "manual" else entry["affected_hosts"]).append(key)
        advisories = sorted(by_advisory.values(), key=lambda a: (-len(a["affected_hosts"]), -len(a["candidate_hosts"]), a["key"]))
        document: dict[str, Any] = {
            "fleet_version": FLEET_VERSION,
            "tool": tool,
            "pack": self.pack,
            "evaluated_at": evaluated_at,
            "summary": {
                "hosts": len(self.hosts),
                "evaluated": len(evaluated),
                "unreadable": sum(1 for h in self.hosts if h.error is not None and not h.refused and not h.not_collected),
                "refused": sum(1 for h in self.hosts if h.refused),
                "not_collected": not_collected,
                "hosts_failing": failing_hosts,
                "hosts_passing": len(evaluated) - failing_hosts,
                "failures_by_severity": failures_by_severity,
                "hosts_failing_by_severity": hosts_failing_by_severity,
                "statuses": statuses,
            },
            "worst_hosts": worst,
            "policies": policies_out,
            "hosts": hosts_out,
        }
        if by_advisory:
            document["advisories"] = advisories
        return document


def policies_by_spread(fleet: dict[str, Any]) -> list[dict[str, Any]]:
    """Policies that fail on the most hosts first (then by severity, then pack order): what to fix first."""
    order = {p["id"]: i for i, p in enumerate(fleet["policies"])}
    return sorted(fleet["policies"], key=lambda p: (-len(p["failing_hosts"]), SEVERITIES.index(p["severity"])
                                                      if p["severity"] in SEVERITIES else 99, order[p["id"]]))


def hosts_by_rank(fleet: dict[str, Any]) -> list[dict[str, Any]]:
    """Evaluated hosts, worst first (severity by severity, then errors), then unreadable ones."""
    def rank(h: dict[str, Any]) -> tuple[Any, ...]:
        if h["status"] != "evaluated":
            return (1, (), h["key"])
        by = h["failed_by_severity"] or {}
        return (0, tuple(-by.get(s, 0) for s in SEVERITIES) + (-len(h["errors"]),), h["key"])

    return sorted(fleet["hosts"], key=rank)


def not_evaluated(fleet: dict[str, Any]) -> list[tuple[str, list[dict[str, Any]]]]:
    """The hosts without results, as (section title, hosts) for the renderers: unreadable snapshots,
    snapshots refused for their signature, then expected hosts that sent none. Sections without
    hosts are left out."""
    sections = [("Unreadable snapshots", [h for h in fleet["hosts"] if h["status"] == "unreadable"]),
                ("Refused snapshots: signature not accepted", [h for h in fleet["hosts"] if h["status"] == "refused"]),
                ("Not collected", [h for h in fleet["hosts"] if h["status"] == "not_collected"])]
    return [(title, hosts) for title, hosts in sections if hosts]


def is_fleet_document(document: Any) -> bool:
    return isinstance(document, dict) and "fleet_version" in document


class FleetDocumentError(HullcheckError):
    """A fleet.json that does not match its schema: one line for the user."""


def load_fleet(path: Path, data: bytes | None = None) -> dict[str, Any] | None:
    """The fleet document stored at `path` (or its bytes, already read and verified), checked against
    its schema; None when the file holds another kind of document (a results document: the caller
    reads it as one)."""
    import json

    from jsonschema import Draft202012Validator

    from hullcheck_common.resources import schema_text

    from .diff import ResultsError, read_json

    try:
        document = read_json(path, data)
    except ResultsError:
        return None  # the results reader says what is wrong with it
    if not is_fleet_document(document):
        return None
    schema = json.loads(schema_text("fleet"))
    error = next(iter(Draft202012Validator(schema).iter_errors(document)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise FleetDocumentError(f"{path}: not a fleet report this hullcheck reads: {where}: {error.message[:200]}")
    return document
