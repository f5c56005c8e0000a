"""The fleet report as Markdown: a summary and tables for a pull request, a wiki or a ticket."""

from __future__ import annotations

from typing import Any

from hullcheck_common.vocabulary import SEVERITIES

MAX_CHARS = 60_000


def _cell(text: Any) -> str:
    """Table-safe: no pipe or newline can break the row."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")


def render(fleet: dict[str, Any], *, verbose: bool = False, **_: Any) -> str:
    from ..fleet import hosts_by_rank, not_evaluated, policies_by_spread
    from .fleet_text import names

    s = fleet["summary"]
    tool = fleet.get("tool") or {}
    out = ["# hullcheck fleet report", "",
           f"{s['hosts']} snapshot(s), {fleet['pack'].get('policies', 0)} policies, hullcheck "
           f"{_cell(tool.get('version', ''))}, evaluated {_cell(fleet['evaluated_at'])}.", "",
           "| hosts | evaluated | failing | without failures | unreadable |", "|---:|---:|---:|---:|---:|",
           f"| {s['hosts']} | {s['evaluated']} | {s['hosts_failing']} | {s['hosts_passing']} | {s['unreadable']} |", "",
           *([f"{s['not_collected']} expected host(s) sent no snapshot (listed under Not collected).", ""]
             if s.get("not_collected") else []),
           "## Failures by severity", "",
           "| severity | failing results | hosts |", "|---|---:|---:|"]
    for sev in SEVERITIES:
        out.append(f"| {sev} | {s['failures_by_severity'][sev]} | {s['hosts_failing_by_severity'][sev]} |")
    worst = set(fleet["worst_hosts"])
    if worst:
        out += ["", "## Worst hosts", "", "| host | " + " | ".join(SEVERITIES) + " | error | score |",
                "|---|" + "---:|" * (len(SEVERITIES) + 2)]
        for host in hosts_by_rank(fleet):
            if host["key"] in worst:
                by = host["failed_by_severity"]
                score = (host["summary"] or {}).get("score")
                out.append(f"| {_cell(host['key'])} | " + " | ".join(str(by[sev]) for sev in SEVERITIES)
                           + f" | {len(host['errors'])} | {'n/a' if score is None else f'{score}%'} |")
    spread = [p for p in policies_by_spread(fleet) if p["failing_hosts"]]
    out += ["", "## Policies failing on most hosts", ""]
    if spread:
        out += ["| hosts | policy | severity | failing hosts |", "|---:|---|---|---|"]
        for p in spread:
            out.append(f"| {len(p['failing_hosts'])}/{s['evaluated']} | `{_cell(p['id'])}` {_cell(p['title'])} | "
                       f"{p['severity']} | {_cell(names(p['failing_hosts'], 1000 if verbose else 20))} |")
    else:
        out.append("No policy fails on any host.")
    advisories = fleet.get("advisories") or []
    if advisories:
        out += ["", "## Advisories (CIS 1.2.2)", "", "| advisory | component | affected hosts | hosts to check |",
                "|---|---|---|---|"]
        for adv in advisories:
            out.append(f"| {_cell(adv['name'])} | {_cell(adv['component'])} | "
                       f"{len(adv['affected_hosts'])}: {_cell(names(adv['affected_hosts'], 1000 if verbose else 20))} | "
                       f"{len(adv['candidate_hosts'])}: {_cell(names(adv['candidate_hosts'], 1000 if verbose else 20))} |")
    for title, hosts in not_evaluated(fleet):
        out += ["", f"## {title} ({len(hosts)})", ""]
        out += [f"- {_cell(h['error'])}" for h in hosts]
    text = "\n".join(out) + "\n"
    if len(text) > MAX_CHARS:
        cut = text[:MAX_CHARS].rsplit("\n", 1)[0]
        text = cut + "\n\n_Report cut at 60,000 characters; the JSON fleet report (`--format json`) has everything._\n"
    return text
