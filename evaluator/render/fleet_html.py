"""The fleet report as one self-contained HTML file: summary, worst hosts and a hosts x policies heat map.

No script, font or stylesheet is fetched: the file opens the same in an air-gapped site. Every
value from a snapshot (host names, paths, messages) is HTML-escaped. Each heat-map cell carries
`data-host`, `data-policy` and `data-status`, so tools (and our tests) can read the map back.
"""

from __future__ import annotations

from html import escape
from typing import Any

from hullcheck_common.vocabulary import DEFAULT_BENCHMARK, SEVERITIES, control_number

STATUS_LABEL = {"pass": "pass", "fail": "fail", "error": "error", "not_applicable": "n/a", "manual": "manual",
                "waived": "waived"}

CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;color:#1d232a;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.meta{color:#5b6570}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}
.card{border:1px solid #d6dbe0;border-radius:6px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:22px}
table{border-collapse:collapse}
td,th{padding:3px 8px;border-bottom:1px solid #e3e7eb;text-align:left;vertical-align:top}
td.n,th.n{text-align:right}
.sev-critical{color:#8b0000;font-weight:600}.sev-high{color:#c62828}.sev-medium{color:#b26a00}
.sev-low{color:#1565c0}.sev-info{color:#5b6570}
.heat{border-collapse:separate;border-spacing:1px}
.heat td,.heat th{border:0;padding:0}
.heat th.p{height:110px;vertical-align:bottom;font-weight:400;font-size:11px}
.heat th.p span{writing-mode:vertical-rl;transform:rotate(180deg);white-space:nowrap}
.heat th.h{padding-right:8px;white-space:nowrap;font-weight:400;text-align:right}
.heat td.c{width:14px;height:14px;min-width:14px}
.s-pass{background:#7cc47f}.s-fail{background:#e57373}.s-fail.x2{background:#d32f2f}.s-fail.x3{background:#8b0000}
.s-error{background:#ba68c8}.s-not_applicable{background:#e0e0e0}.s-manual{background:#ffe082}
.s-waived{background:#90caf9}.s-missing{background:repeating-linear-gradient(45deg,#fff,#fff 2px,#ccc 2px,#ccc 4px)}
.legend span{display:inline-block;width:12px;height:12px;margin:0 4px 0 12px;vertical-align:middle}
.bad{color:#8b0000}
"""


def _shade(failed: int) -> str:
    """Darker red for more failing resources: the 'heat' of the map."""
    return " x3" if failed >= 10 else " x2" if failed >= 3 else ""


def render(fleet: dict[str, Any], *, benchmark: str = DEFAULT_BENCHMARK, **_: Any) -> str:
    from ..fleet import hosts_by_rank, not_evaluated, policies_by_spread

    s = fleet["summary"]
    tool = fleet.get("tool") or {}
    hosts = hosts_by_rank(fleet)
    policies = policies_by_spread(fleet)
    out: list[str] = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # Nothing may load from anywhere: the report is opened in sites without network.
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>hullcheck fleet report: {s['hosts']} hosts</title>", f"<style>{CSS}</style></head><body>",
        "<h1>hullcheck fleet report</h1>",
        f"<p class=\"meta\">{s['hosts']} snapshot(s), {escape(str(fleet['pack'].get('policies', 0)))} policies, "
        f"hullcheck {escape(str(tool.get('version', '')))}, evaluated {escape(str(fleet['evaluated_at']))}</p>",
        '<div class="cards" id="summary">',
    ]
    for label, key in (("hosts", "hosts"), ("evaluated", "evaluated"), ("failing", "hosts_failing"),
                       ("without failures", "hosts_passing"), ("unreadable", "unreadable"), ("refused", "refused"),
                       ("not collected", "not_collected")):
        if key in ("refused", "not_collected") and not s.get(key):
            continue
        out.append(f'<div class="card" data-count="{key}"><b>{s[key]}</b>{label}</div>')
    out.append("</div>")

    out += ["<h2>Failures by severity</h2>", '<table id="severity"><tr><th>severity</th><th class="n">failing results</th>'
            '<th class="n">hosts</th></tr>']
    for sev in SEVERITIES:
        out.append(f'<tr data-severity="{sev}"><td class="sev-{sev}">{sev}</td><td class="n">{s["failures_by_severity"][sev]}</td>'
                   f'<td class="n">{s["hosts_failing_by_severity"][sev]}</td></tr>')
    out.append("</table>")

    worst = set(fleet["worst_hosts"])
    if worst:
        out += ["<h2>Worst hosts</h2>", '<table id="worst"><tr><th>host</th>'
                + "".join(f'<th class="n sev-{sev}">{sev}</th>' for sev in SEVERITIES)
                + '<th class="n">error</th><th class="n">score</th></tr>']
        for host in hosts:
            if host["key"] in worst:
                by = host["failed_by_severity"]
                score = (host["summary"] or {}).get("score")
                out.append(f'<tr><td>{escape(host["key"])}</td>' + "".join(f'<td class="n">{by[sev]}</td>' for sev in SEVERITIES)
                           + f'<td class="n">{len(host["errors"])}</td><td class="n">{"n/a" if score is None else f"{score}%"}</td></tr>')
        out.append("</table>")

    out += ["<h2>Heat map: hosts by policies</h2>",
            '<p class="legend">' + "".join(f'<span class="s-{st}"></span>{STATUS_LABEL[st]}'
                                            for st in ("fail", "error", "pass", "not_applicable", "manual", "waived"))
            + '<span class="s-missing"></span>snapshot unreadable. Darker red: more failing resources. '
              "Hosts worst first; policies failing on most hosts first.</p>",
            '<div style="overflow-x:auto"><table class="heat" id="heatmap"><tr><th></th>']
    for p in policies:
        cis = control_number(p, benchmark)
        label = cis or p["id"]
        out.append(f'<th class="p" title="{escape(p["id"])}: {escape(p["title"])} ({p["severity"]}); '
                   f'failing on {len(p["failing_hosts"])} host(s)"><span>{escape(label)}</span></th>')
    out.append("</tr>")
    for host in hosts:
        unreadable = host["status"] != "evaluated"
        row_title = escape(host["error"] or "") if unreadable else escape(host["source"])
        out.append(f'<tr data-host="{escape(host["key"])}"><th class="h{" bad" if unreadable else ""}" title="{row_title}">'
                   f'{escape(host["key"])}</th>')
        for p in policies:
            status = "missing" if unreadable else host["statuses"].get(p["id"], "missing")
            failed = (host.get("failed_resources") or {}).get(p["id"], 0)
            shade = _shade(failed) if status == "fail" else ""
            detail = f" ({failed} resource(s))" if status == "fail" else ""
            out.append(f'<td class="c s-{status}{shade}" data-host="{escape(host["key"])}" data-policy="{escape(p["id"])}" '
                       f'data-status="{status}" title="{escape(host["key"])} - {escape(p["id"])}: '
                       f'{escape(STATUS_LABEL.get(status, "unreadable"))}{detail}"></td>')
        out.append("</tr>")
    out.append("</table></div>")

    spread = [p for p in policies if p["failing_hosts"]]
    if spread:
        out += ["<h2>Policies failing on most hosts</h2>", '<table id="policies"><tr><th class="n">hosts</th><th>policy</th>'
                "<th>severity</th><th>failing hosts</th></tr>"]
        for p in spread:
            out.append(f'<tr><td class="n">{len(p["failing_hosts"])}/{s["evaluated"]}</td><td><code>{escape(p["id"])}</code> '
                       f'{escape(p["title"])}</td><td class="sev-{escape(p["severity"])}">{escape(p["severity"])}</td>'
                       f'<td>{escape(", ".join(p["failing_hosts"]))}</td></tr>')
        out.append("</table>")
    advisories = fleet.get("advisories") or []
    if advisories:
        out += ["<h2>Advisories (CIS 1.2.2)</h2>", '<table id="advisories"><tr><th>advisory</th><th>component</th>'
                "<th>affected hosts</th><th>hosts to check</th></tr>"]
        for adv in advisories:
            out.append(f"<tr><td>{escape(adv['name'])}</td><td>{escape(adv['component'])}</td>"
                       f"<td>{len(adv['affected_hosts'])}: {escape(', '.join(adv['affected_hosts']))}</td>"
                       f"<td>{len(adv['candidate_hosts'])}: {escape(', '.join(adv['candidate_hosts']))}</td></tr>")
        out.append("</table>")
    for title, hosts in not_evaluated(fleet):
        ident = {"unreadable": "unreadable", "refused": "refused"}.get(hosts[0]["status"], "not-collected")
        out += [f"<h2>{title} ({len(hosts)})</h2>", f'<ul id="{ident}">']
        out += [f"<li>{escape(str(h['error']))}</li>" for h in hosts]
        out.append("</ul>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"
