"""The report for people: grouped by benchmark section, offenders under each failure.

Coloured on a terminal (rich markup), plain when piped or written to a file.
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from rich.markup import escape

LABELS = {
    "pass": ("[PASS]", "green"),
    "fail": ("[FAIL]", "bold red"),
    "error": ("[ERROR]", "magenta"),
    "not_applicable": ("[N/A]", "dim"),
    "manual": ("[MANUAL]", "yellow"),
    "waived": ("[WAIVED]", "cyan"),
}


def render(document: dict[str, Any], *, color: bool = False, verbose: bool = False, width: int = 100, **_: Any) -> str:
    from . import SECTION_NAMES, cis_id, section_of

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width, highlight=False,
                      soft_wrap=True, color_system="standard" if color else None)
    snap = document.get("snapshot") or {}
    console.print(f"[bold]hullcheck[/bold] {escape(str((document.get('tool') or {}).get('version', '')))} - "
                  f"host {escape(str(snap.get('host')))} - snapshot {str(snap.get('sha256', ''))[:12]} "
                  f"collected {escape(str(snap.get('collected_at')))}")
    if snap.get("collector_errors"):
        console.print(f"[magenta]note:[/magenta] the collector could not read {snap['collector_errors']} source(s); "
                      "policies that need them report ERROR")
    current = None
    for result in document.get("results", []):
        section = section_of(result)
        if section != current:
            current = section
            console.print()
            console.print(f"[bold]{escape(section if section != 'other' else '')} {escape(SECTION_NAMES.get(section, section))}[/bold]".strip())
        label, style = LABELS.get(result["status"], (f"[{result['status'].upper()}]", ""))
        number = cis_id(result)
        head = f"{number} " if number else ""
        console.print(f"[{style}]{escape(label):<9}[/{style}] {escape(head)}{escape(result['title'])} "
                      f"[dim]({escape(result['id'])}, {result['severity']})[/dim]")
        if result["status"] in ("error", "not_applicable") and result.get("reason") and (verbose or result["status"] == "error"):
            console.print(f"          [dim]{escape(result['reason'])}[/dim]")
        for finding in result.get("findings", []):
            mark = "*" if finding["status"] == "fail" else "!"
            console.print(f"          {mark} {escape(finding['message'])}")
        if verbose and result["status"] in ("fail", "error", "manual"):
            console.print(f"          [dim]remediation:[/dim] {escape(result.get('remediation', ''))}")
            if result["status"] == "manual" and result.get("audit"):
                console.print(f"          [dim]audit:[/dim] {escape(result['audit'])}")
    summary = document.get("summary", {})
    console.print()
    score = summary.get("score")
    console.print(
        f"[bold]Summary:[/bold] {summary.get('pass', 0)} passed, {summary.get('fail', 0)} failed, "
        f"{summary.get('error', 0)} errors, {summary.get('not_applicable', 0)} not applicable, "
        f"{summary.get('manual', 0)} manual, {summary.get('waived', 0)} waived "
        f"({summary.get('total', 0)} policies). "
        f"Score: {'n/a' if score is None else f'{score}%'} of judged policies passed."
    )
    return buffer.getvalue()
