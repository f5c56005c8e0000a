"""The report for people: grouped by benchmark section, offenders under each failure.

Coloured on a terminal (rich markup), plain when piped or written to a file. Sections come in
benchmark order (1 to 7, then policies beyond the benchmark) whatever order the pack is in.
Without --verbose a long list of offenders is cut to the first MAX_FINDINGS, and says so.
"""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from rich.markup import escape

from hullcheck_common.vocabulary import DEFAULT_BENCHMARK

from .common import advisory_data_text, not_judged_line, signed_by

LABELS = {
    "pass": ("[PASS]", "green"),
    "fail": ("[FAIL]", "bold red"),
    "error": ("[ERROR]", "magenta"),
    "not_applicable": ("[N/A]", "dim"),
    "manual": ("[MANUAL]", "yellow"),
    "waived": ("[WAIVED]", "cyan"),
}
LABEL_WIDTH = 10
MAX_FINDINGS = 25


def _finding_line(finding: dict[str, Any]) -> str:
    """The message, prefixed with the resource's name when the message does not say it."""
    from .common import location_text

    name = str((finding.get("resource") or {}).get("name") or "")
    message = str(finding.get("message") or "")
    line = message if not name or name in message else f"{name}: {message}"
    where = location_text(finding)
    return f"{line} ({where})" if where else line


def render(document: dict[str, Any], *, color: bool = False, verbose: bool = False, width: int = 100,
           benchmark: str = DEFAULT_BENCHMARK, **_: Any) -> str:
    from ..snapshot import engine_text
    from . import SECTION_NAMES, cis_id, in_benchmark_order, section_of

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=width, highlight=False,
                      soft_wrap=True, color_system="standard" if color else None)
    snap = document.get("snapshot") or {}
    console.print(f"[bold]hullcheck[/bold] {escape(str((document.get('tool') or {}).get('version', '')))} - "
                  f"host {escape(str(snap.get('host')))} - {escape(engine_text(snap.get('engine')))} - snapshot {str(snap.get('sha256', ''))[:12]} "
                  f"collected {escape(str(snap.get('collected_at')))}")
    if signed_by(document):
        console.print(f"snapshot signed by {escape(str(signed_by(document)))}")
    if advisory_data_text(document):
        stale = (document.get("advisories") or {}).get("stale")
        console.print(("[yellow]" if stale else "") + escape(str(advisory_data_text(document))) + ("[/yellow]" if stale else ""))
    if snap.get("collector_errors"):
        console.print(f"[magenta]note:[/magenta] the collector could not read {snap['collector_errors']} source(s); "
                      "policies that need them report ERROR")
    current = None
    for result in in_benchmark_order(document.get("results", []), benchmark):
        section = section_of(result, benchmark)
        if section != current:
            current = section
            console.print()
            heading = f"{section} {SECTION_NAMES.get(section, section)}" if section != "other" else SECTION_NAMES["other"]
            console.print(f"[bold]{escape(heading)}[/bold]")
        label, style = LABELS.get(result["status"], (f"[{result['status'].upper()}]", "bold"))
        number = cis_id(result, benchmark)
        head = f"{number} " if number else ""
        console.print(f"[{style}]{escape(label.ljust(LABEL_WIDTH))}[/{style}]{escape(head)}{escape(result['title'])} "
                      f"[dim]({escape(result['id'])}, {result['severity']})[/dim]")
        if result["status"] in ("error", "not_applicable") and result.get("reason") and (verbose or result["status"] == "error"):
            console.print(f"          [dim]{escape(result['reason'])}[/dim]")
        findings = result.get("findings", [])
        shown = findings if verbose else findings[:MAX_FINDINGS]
        for finding in shown:
            mark = {"fail": "*", "waived": "~", "manual": "?"}.get(finding["status"], "!")
            console.print(f"          {mark} {escape(_finding_line(finding))}")
        if len(shown) < len(findings):
            console.print(f"          [dim]... and {len(findings) - len(shown)} more (--verbose lists all)[/dim]")
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
        f"({summary.get('total', 0)} policies; {summary.get('failed_resources', 0)} failing resources). "
        f"Score: {'n/a' if score is None else f'{score}%'} of judged policies passed."
    )
    not_judged = not_judged_line(document)
    if not_judged:
        console.print(f"[dim]{escape(not_judged)}[/dim]")
    return buffer.getvalue()
