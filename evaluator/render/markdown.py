"""A pull-request comment (or GitHub job summary): what failed, on what, and what changed.

Summary table first, then failures by severity with their offenders, then collapsible details
(messages, evidence, remediation), errors, waivers. GitHub refuses comments over 65,536
characters, so the text is kept under `max_chars` (60,000): details are added in order of
severity until the budget is spent, and a note says what was cut and where the full report is.
Everything that comes from a snapshot is escaped: a container name cannot inject markup.
"""

from __future__ import annotations

import json
from typing import Any

from hullcheck_common.vocabulary import DEFAULT_BENCHMARK

from .common import (
    STATUS_LABELS,
    STATUS_ORDER,
    advisory_data_text,
    engine_of,
    host_of,
    location_text,
    not_judged_line,
    resource_key,
    severity_rank,
    signed_by,
    waiver_text,
)

MAX_CHARS = 60_000
MAX_OFFENDERS_INLINE = 10
MAX_EVIDENCE_CHARS = 500


def _esc(value: Any) -> str:
    """Safe inside a table cell and as HTML-rendered Markdown text."""
    text = str(value if value is not None else "")
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")
    for ch in "`*_[]":
        text = text.replace(ch, "\\" + ch)
    return text


def _code(value: Any, table: bool = False) -> str:
    """A code span: literal text (markup inside it is not rendered)."""
    text = str(value).replace("\n", " ")
    if table:
        text = text.replace("|", "\\|")
    if "`" in text:  # cannot be fenced safely: plain escaped text instead
        return _esc(text)
    return f"`{text}`"


def _offenders(result: dict[str, Any]) -> str:
    failing = [f for f in result.get("findings", []) if f.get("status") == "fail"]
    names = []
    for f in failing[:MAX_OFFENDERS_INLINE]:
        name = _esc((f.get("resource") or {}).get("name"))
        names.append(f"{name} 🆕" if f.get("baseline") == "new" else name)
    more = len(failing) - MAX_OFFENDERS_INLINE
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def _cis(result: dict[str, Any], benchmark: str) -> str:
    from . import cis_id

    return cis_id(result, benchmark) or ""


def _details(result: dict[str, Any]) -> str:
    """One collapsible block: every finding with its evidence, then the remediation."""
    findings = result.get("findings", [])
    lines = [f"<details><summary><b>{_esc(result['id'])}</b> {_esc(result.get('title'))} "
             f"({len(findings)} finding(s))</summary>", ""]
    for f in findings:
        ref = f.get("resource") or {}
        mark = {"fail": "❌", "error": "⚠️", "waived": "💤", "manual": "❔"}.get(f.get("status"), "•")
        new = " 🆕 new" if f.get("baseline") == "new" else ""
        where = location_text(f)
        at = f" at {_code(where)}" if where else ""
        lines.append(f"- {mark} **{_esc(ref.get('name'))}** ({_code(resource_key(ref))}){at}{new}: {_esc(f.get('message'))}")
        for ev in f.get("evidence") or []:
            value = json.dumps(ev.get("value"), ensure_ascii=False)
            if len(value) > MAX_EVIDENCE_CHARS:
                value = value[:MAX_EVIDENCE_CHARS] + "..."
            lines.append(f"  - {_code(ev.get('pointer'))} = {_code(value)}")
        if f.get("status") == "waived":
            lines.append(f"  - {_esc(waiver_text(f.get('waiver')))}")
    if result.get("remediation"):
        lines += ["", f"**Remediation:** {_esc(result['remediation'])}"]
    lines += ["", "</details>", ""]
    return "\n".join(lines)


def render(document: dict[str, Any], *, max_chars: int = MAX_CHARS, benchmark: str = DEFAULT_BENCHMARK, **_: Any) -> str:
    """The results document as a Markdown pull-request comment under `max_chars` characters."""
    summary = document.get("summary") or {}
    snapshot = document.get("snapshot") or {}
    results = document.get("results", [])
    failed = sorted((r for r in results if r.get("status") == "fail"),
                    key=lambda r: (severity_rank(r.get("severity")), r["id"]))
    head = [f"## hullcheck: {_esc(host_of(document))}", ""]
    verdict = "❌ failing" if failed else "✅ no failing policy"
    head.append(f"**{verdict}** · score {summary.get('score') if summary.get('score') is not None else 'n/a'}% of judged "
                f"policies passed · snapshot `{str(snapshot.get('sha256', ''))[:12]}` collected {_esc(snapshot.get('collected_at'))} "
                f"· engine {_esc(engine_of(document))} · hullcheck {_esc((document.get('tool') or {}).get('version'))}"
                + (f" · signed by {_esc(signed_by(document))}" if signed_by(document) else "")
                + (f" · {_esc(advisory_data_text(document))}" if advisory_data_text(document) else ""))
    head += ["", "| status | policies |", "|---|---:|"]
    for status in STATUS_ORDER:
        head.append(f"| {STATUS_LABELS[status]} | {summary.get(status, 0)} |")
    head.append(f"| **Total** | **{summary.get('total', len(results))}** |")
    not_judged = not_judged_line(document)
    if not_judged:
        head += ["", _esc(not_judged)]
    baseline = document.get("baseline")
    if baseline:
        head += ["", f"Against the baseline ({_esc(baseline.get('baseline_evaluated_at'))}): "
                     f"**{baseline.get('new_failures', 0)} new** failing finding(s), {baseline.get('known_failures', 0)} known, "
                     f"{len(baseline.get('fixed') or [])} fixed."]
    waivers = document.get("waivers")
    if waivers:
        head += ["", f"Waivers (as of {_esc(waivers.get('as_of'))}): {len(waivers.get('applied') or [])} applied "
                     f"({waivers.get('waived_findings', 0)} finding(s) waived), {len(waivers.get('expired') or [])} expired, "
                     f"{len(waivers.get('stale') or [])} stale."]
    head.append("")

    table: list[str] = []
    if failed:
        table += ["### Failures by severity"]
        current = None
        for r in failed:
            if r.get("severity") != current:
                current = r.get("severity")
                count = sum(1 for x in failed if x.get("severity") == current)
                table += ["", f"#### {_esc(str(current).capitalize())} ({count})", "",
                          "| policy | CIS | title | offenders |", "|---|---|---|---|"]
            table.append(f"| {_code(r['id'], True)} | {_esc(_cis(r, benchmark))} | {_esc(r.get('title'))} | {_offenders(r)} |")
        table.append("")

    blocks: list[str] = []
    if failed:
        blocks.append("### Details\n")
        blocks += [_details(r) for r in failed]
    errors = [r for r in results if r.get("status") == "error"]
    if errors:
        lines = ["### Could not be judged", ""]
        for r in errors:
            lines.append(f"- {_code(r['id'])} {_esc(r.get('title'))}: {_esc(r.get('reason'))}")
            for f in r.get("findings", []):
                if f.get("status") == "error":
                    lines.append(f"  - {_esc((f.get('resource') or {}).get('name'))}: {_esc(f.get('message'))}")
        blocks.append("\n".join(lines) + "\n")
    if baseline and baseline.get("fixed"):
        lines = ["<details><summary>Fixed since the baseline</summary>", ""]
        lines += [f"- {_code(f['policy'])} {_esc(f.get('name'))} ({_code(f['key'])})" for f in baseline["fixed"]]
        blocks.append("\n".join(lines + ["", "</details>", ""]))
    if waivers:
        lines = ["<details><summary>Waivers</summary>", ""]
        for title, key in (("Applied", "applied"), ("Expired (findings are back)", "expired"), ("Stale (matched nothing: delete them)", "stale")):
            for w in waivers.get(key) or []:
                lines.append(f"- **{title}** {_esc(w.get('id'))} on {_code(w.get('policy'))}: {_esc(w.get('reason'))} "
                             f"(owner {_esc(w.get('owner') or '-')}, expires {_esc(w.get('expires'))}, matched {len(w.get('matched') or [])})")
        blocks.append("\n".join(lines + ["", "</details>", ""]))

    note_template = ("\n> ✂️ This comment was cut to stay under {limit:,} characters: {left} more section(s) not shown. "
                     "The full report is in the job's artifacts (`hullcheck render results.json --format html`).\n")
    reserve = len(note_template) + 40
    out = "\n".join(head) + "\n"
    table_text = "\n".join(table) + "\n" if table else ""
    if len(out) + len(table_text) + reserve > max_chars:
        # Even the failure table is too long: keep as many of its rows as fit.
        kept: list[str] = []
        for line in table:
            if len(out) + sum(len(k) + 1 for k in kept) + len(line) + 1 + reserve > max_chars:
                break
            kept.append(line)
        table_text = "\n".join(kept) + "\n"
        cut_rows = len(table) - len(kept)
        return out + table_text + note_template.format(limit=max_chars, left=cut_rows + len(blocks))
    out += table_text
    for index, block in enumerate(blocks):
        if len(out) + len(block) + reserve > max_chars:
            return out + note_template.format(limit=max_chars, left=len(blocks) - index)
        out += block + "\n"
    return out
