"""The fleet report for people at a terminal: totals, worst hosts, policies failing most widely."""

from __future__ import annotations

import io
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hullcheck_common.vocabulary import SEVERITIES

MAX_NAMES = 8
MAX_ADVISORIES = 20
SEVERITY_STYLE = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan", "info": "dim"}


def names(keys: list[str], limit: int = MAX_NAMES) -> str:
    """'a, b, c and 12 more': long host lists stay one readable line."""
    shown = ", ".join(keys[:limit])
    return shown + (f" and {len(keys) - limit} more" if len(keys) > limit else "")


def render(fleet: dict[str, Any], *, color: bool = False, verbose: bool = False, width: int = 100, **_: Any) -> str:
    from ..fleet import hosts_by_rank, not_evaluated, policies_by_spread

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width, highlight=False,
                      soft_wrap=True, color_system="standard" if color else None)
    s = fleet["summary"]
    tool = fleet.get("tool") or {}
    console.print(f"[bold]hullcheck[/bold] {escape(str(tool.get('version', '')))} - fleet of {s['hosts']} snapshot(s), "
                  f"{fleet['pack'].get('policies', 0)} policies, evaluated {escape(str(fleet['evaluated_at']))}")
    console.print(f"{s['evaluated']} evaluated: [bold red]{s['hosts_failing']} failing[/bold red], "
                  f"[green]{s['hosts_passing']} without failures[/green]"
                  + (f"; [magenta]{s['unreadable']} unreadable[/magenta]" if s["unreadable"] else "")
                  + (f"; [magenta]{s['refused']} refused (signature)[/magenta]" if s.get("refused") else "")
                  + (f"; [magenta]{s['not_collected']} not collected[/magenta]" if s.get("not_collected") else ""))
    parts = []
    for sev in SEVERITIES:
        parts.append(f"[{SEVERITY_STYLE[sev]}]{sev}[/{SEVERITY_STYLE[sev]}] {s['failures_by_severity'][sev]} "
                     f"on {s['hosts_failing_by_severity'][sev]} host(s)")
    console.print("Failures by severity: " + ", ".join(parts))

    ranked = [h for h in hosts_by_rank(fleet) if h["status"] == "evaluated"]
    worst = set(fleet["worst_hosts"])
    if worst:
        console.print()
        table = Table(title="Worst hosts", title_justify="left", header_style="bold", box=box.SIMPLE_HEAD if color else box.ASCII2,
                      show_edge=False, pad_edge=False)
        table.add_column("host", overflow="fold")
        for sev in SEVERITIES:
            table.add_column(sev, justify="right")
        table.add_column("error", justify="right")
        table.add_column("score", justify="right")
        for host in ranked:
            if host["key"] not in worst:
                continue
            by = host["failed_by_severity"]
            score = (host["summary"] or {}).get("score")
            table.add_row(escape(host["key"]), *(str(by[sev]) for sev in SEVERITIES), str(len(host["errors"])),
                          "n/a" if score is None else f"{score}%")
        console.print(table)

    spread = [p for p in policies_by_spread(fleet) if p["failing_hosts"] or (verbose and p["error_hosts"])]
    console.print()
    console.print("[bold]Policies failing on most hosts[/bold]" if spread else "No policy fails on any host.")
    for policy in spread:
        n = len(policy["failing_hosts"])
        style = SEVERITY_STYLE.get(policy["severity"], "")
        console.print(f"[bold]{n:>4}/{s['evaluated']}[/bold] {escape(policy['id'])} {escape(policy['title'])} "
                      f"[{style}]({policy['severity']})[/{style}]")
        if policy["failing_hosts"]:
            console.print(f"          [dim]failing:[/dim] {escape(names(policy['failing_hosts'], 1000 if verbose else MAX_NAMES))}")
        if verbose and policy["error_hosts"]:
            console.print(f"          [dim]error:[/dim] {escape(names(policy['error_hosts'], 1000))}")
    errors = sum(len(p["error_hosts"]) for p in fleet["policies"])
    if errors and not verbose:
        console.print(f"[magenta]{errors} policy result(s) are errors[/magenta] (missing data); --verbose lists them")

    advisories = fleet.get("advisories") or []
    if advisories:
        console.print()
        console.print("[bold]Advisories (CIS 1.2.2): hosts affected, hosts to check[/bold]")
        for adv in advisories if verbose else advisories[:MAX_ADVISORIES]:
            affected, check = adv["affected_hosts"], adv["candidate_hosts"]
            console.print(f"[bold]{len(affected):>4}[/bold] affected, {len(check):>4} to check  "
                          f"{escape(adv['component'])} {escape(adv['name'])}"
                          + (f" [dim]({escape(str(adv['id']))})[/dim]" if adv.get("id") and adv["id"] != adv["name"] else ""))
            if affected:
                console.print(f"          [dim]affected:[/dim] {escape(names(affected, 1000 if verbose else MAX_NAMES))}")
            if check:
                console.print(f"          [dim]to check:[/dim] {escape(names(check, 1000 if verbose else MAX_NAMES))}")
        if len(advisories) > MAX_ADVISORIES and not verbose:
            console.print(f"          [dim]... and {len(advisories) - MAX_ADVISORIES} more advisories (--verbose lists all)[/dim]")

    for title, hosts in not_evaluated(fleet):
        console.print()
        console.print(f"[bold magenta]{title} ({len(hosts)})[/bold magenta]")
        for host in hosts:
            console.print(f"  ! {escape(str(host['error']))}")
    return buffer.getvalue()
