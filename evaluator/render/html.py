"""One self-contained HTML report: open it from a file share, an e-mail or an air-gapped laptop.

No network at all: inline CSS, inline JavaScript, inline SVG; a Content-Security-Policy that
forbids loading anything from anywhere. The results document is embedded as JSON and the page
renders the table from it with its own script (all text goes in through textContent, so nothing
from a snapshot can become markup). Filters by status, severity and section can also be set in
the URL fragment (`report.html#status=fail&severity=high&section=5`) for links in tickets.
The chart (results by section and status, failing policies by severity) is drawn here in SVG.
"""

from __future__ import annotations

import html
import json
from typing import Any

from hullcheck_common.vocabulary import DEFAULT_BENCHMARK
from hullcheck_common.vocabulary import SEVERITIES as SEVERITY_ORDER

from .common import STATUS_LABELS, STATUS_ORDER, advisory_data_text, engine_of, host_of, not_judged_line, signed_by

COLORS = {"pass": "#2e7d32", "fail": "#c62828", "error": "#8e24aa", "waived": "#00838f",
          "manual": "#f9a825", "not_applicable": "#9e9e9e"}
SEVERITY_COLORS = {"critical": "#7f0000", "high": "#c62828", "medium": "#ef6c00", "low": "#f9a825", "info": "#607d8b"}


def _e(value: Any) -> str:
    return html.escape(str(value if value is not None else ""), quote=True)


def _section_label(section: str) -> str:
    from . import SECTION_NAMES

    return SECTION_NAMES.get(section, section) if section == "other" else f"{section} {SECTION_NAMES.get(section, '')}".strip()


def _chart(document: dict[str, Any], benchmark: str) -> str:
    """Inline SVG: a stacked bar per section (policies by status), bars of failing policies by severity."""
    from . import section_of

    sections: dict[str, dict[str, int]] = {}
    failing_by_severity = {s: 0 for s in SEVERITY_ORDER}
    for result in document.get("results", []):
        counts = sections.setdefault(section_of(result, benchmark), {s: 0 for s in STATUS_ORDER})
        counts[result.get("status", "error")] = counts.get(result.get("status", "error"), 0) + 1
        if result.get("status") == "fail" and result.get("severity") in failing_by_severity:
            failing_by_severity[result["severity"]] += 1
    order = sorted(sections, key=lambda s: (s == "other", int(s) if s.isdigit() else 0))
    bar_w, label_w, row_h = 360, 230, 26
    height = max(1, len(order)) * row_h + 60
    widest = max([sum(c.values()) for c in sections.values()] + [1])
    parts = [f'<svg id="chart-sections" xmlns="http://www.w3.org/2000/svg" role="img" width="{label_w + bar_w + 60}" '
             f'height="{height}" aria-label="Policies by section and status">',
             '<title>Policies by benchmark section and status</title>']
    for i, section in enumerate(order):
        y = 10 + i * row_h
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{_e(_section_label(section))}</text>')
        x = float(label_w)
        for status in STATUS_ORDER:
            n = sections[section].get(status, 0)
            if not n:
                continue
            w = bar_w * n / widest
            parts.append(f'<rect class="bar" data-section="{_e(section)}" data-status="{status}" data-count="{n}" x="{x:.1f}" '
                         f'y="{y}" width="{w:.1f}" height="18" fill="{COLORS[status]}"><title>{_e(_section_label(section))}: '
                         f'{n} {_e(STATUS_LABELS[status].lower())}</title></rect>')
            x += w
        parts.append(f'<text x="{x + 4:.1f}" y="{y + 14}" font-size="11">{sum(sections[section].values())}</text>')
    legend_y = 10 + max(1, len(order)) * row_h + 14
    x = 0
    for status in STATUS_ORDER:
        parts.append(f'<rect x="{x}" y="{legend_y - 10}" width="10" height="10" fill="{COLORS[status]}"/>'
                     f'<text x="{x + 14}" y="{legend_y}" font-size="11">{_e(STATUS_LABELS[status])}</text>')
        x += 14 + 6.5 * len(STATUS_LABELS[status]) + 14
    parts.append("</svg>")
    sev_h = len(SEVERITY_ORDER) * row_h + 30
    top = max(list(failing_by_severity.values()) + [1])
    parts.append(f'<svg id="chart-severity" xmlns="http://www.w3.org/2000/svg" role="img" width="320" height="{sev_h}" '
                 'aria-label="Failing policies by severity"><title>Failing policies by severity</title>')
    for i, severity in enumerate(SEVERITY_ORDER):
        y = 10 + i * row_h
        n = failing_by_severity[severity]
        w = 200 * n / top
        parts.append(f'<text x="0" y="{y + 15}" font-size="12">{severity}</text>'
                     f'<rect class="sev-bar" data-severity="{severity}" data-count="{n}" x="70" y="{y}" width="{w:.1f}" '
                     f'height="18" fill="{SEVERITY_COLORS[severity]}"/>'
                     f'<text x="{74 + w:.1f}" y="{y + 14}" font-size="11">{n}</text>')
    parts.append(f'<text x="0" y="{sev_h - 6}" font-size="11" fill="#555">failing policies by severity</text></svg>')
    return "\n".join(parts)


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d1d1d;background:#fafafa}
header{background:#263238;color:#fff;padding:14px 24px}header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#cfd8dc}
main{padding:16px 24px;max-width:1300px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:8px 0 16px}
.card{background:#fff;border:1px solid #ddd;border-left:6px solid #999;border-radius:4px;padding:8px 14px;min-width:110px}
.card b{display:block;font-size:24px}.card span{color:#555}
.charts{display:flex;flex-wrap:wrap;gap:30px;background:#fff;border:1px solid #ddd;border-radius:4px;padding:12px;margin-bottom:16px}
.filters{display:flex;gap:16px;align-items:center;margin:10px 0;flex-wrap:wrap}
select{font:inherit;padding:2px 6px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;border-bottom:1px solid #e0e0e0;padding:6px 8px;vertical-align:top}
th{background:#eceff1}
.st{display:inline-block;padding:1px 8px;border-radius:10px;color:#fff;font-size:12px;white-space:nowrap}
.finding{margin:4px 0 8px;padding:4px 8px;border-left:3px solid #c62828;background:#fff8f8}
.finding.waived{border-color:#00838f;background:#f0fbfc}.finding.error{border-color:#8e24aa;background:#fbf5fd}
.ev{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;white-space:pre-wrap;word-break:break-all;color:#333}
.loc{margin-left:6px;font-size:12px;color:#37474f}
.muted{color:#666}.new{background:#ffeb3b;border-radius:3px;padding:0 4px;font-size:11px}
details summary{cursor:pointer}
.notes{background:#fff;border:1px solid #ddd;border-radius:4px;padding:8px 14px;margin-bottom:12px}
"""

_JS = r"""
(function () {
  "use strict";
  var doc = JSON.parse(document.getElementById("hc-data").textContent);
  var LABELS = %LABELS%;
  var COLORS = %COLORS%;
  var SEVERITIES = %SEVERITIES%;
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) { for (var k in attrs) { if (k === "class") e.className = attrs[k]; else e.setAttribute(k, attrs[k]); } }
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  var BENCHMARK = %BENCHMARK%;  // the benchmark whose numbers, sections and order the page follows
  function cisId(r) { var c = r.controls || {}; return c[BENCHMARK] ? String(c[BENCHMARK]) : ""; }
  function sectionOf(r) { var n = cisId(r); return n ? n.split(".")[0] : "other"; }
  var results = doc.results || [];
  // Counts shown on the page are computed here, from the embedded results.
  var counts = {pass: 0, fail: 0, error: 0, not_applicable: 0, manual: 0, waived: 0};
  var findings = 0;
  results.forEach(function (r) {
    counts[r.status] = (counts[r.status] || 0) + 1;
    (r.findings || []).forEach(function (f) { if (f.status === "fail") findings += 1; });
  });
  Object.keys(counts).forEach(function (s) {
    var node = document.getElementById("count-" + s);
    if (node) { node.textContent = String(counts[s]); node.setAttribute("data-count", String(counts[s])); }
  });
  var total = document.getElementById("count-total");
  total.textContent = String(results.length); total.setAttribute("data-count", String(results.length));
  var ff = document.getElementById("count-findings");
  ff.textContent = String(findings); ff.setAttribute("data-count", String(findings));

  var sections = [];
  results.forEach(function (r) { var s = sectionOf(r); if (sections.indexOf(s) < 0) sections.push(s); });
  var secSelect = document.getElementById("filter-section");
  sections.forEach(function (s) { secSelect.appendChild(el("option", {value: s}, s === "other" ? "other" : "section " + s)); });

  var body = document.getElementById("results-body");
  results.forEach(function (r) {
    var tr = el("tr", {"class": "result", "data-status": r.status, "data-severity": r.severity, "data-section": sectionOf(r), "data-id": r.id});
    tr.appendChild(el("td", null, cisId(r)));
    var st = el("span", {"class": "st"}, LABELS[r.status] || r.status);
    st.style.background = COLORS[r.status] || "#555";
    var tds = el("td"); tds.appendChild(st); tr.appendChild(tds);
    tr.appendChild(el("td", null, r.severity));
    var main = el("td");
    main.appendChild(el("div", null, r.title));
    main.appendChild(el("div", {"class": "muted"}, r.id + (r.reason ? " \u2014 " + r.reason : "")));
    var fs = r.findings || [];
    if (fs.length || r.remediation || r.audit) {
      var det = el("details");
      if (r.status === "fail" || r.status === "error") det.open = true;
      det.appendChild(el("summary", null, fs.length ? fs.length + " finding(s)" + ((r.passed || []).length ? ", " + r.passed.length + " passed" : "") : "details"));
      fs.forEach(function (f) {
        var box = el("div", {"class": "finding " + f.status, "data-finding-status": f.status});
        var res = f.resource || {};
        var head = el("div");
        head.appendChild(el("b", null, (res.type || "") + " " + (res.name || "")));
        head.appendChild(document.createTextNode(" [" + f.status + "] "));
        if (f.baseline === "new") head.appendChild(el("span", {"class": "new"}, "new"));
        if ((f.locations || []).length) head.appendChild(el("code", {"class": "loc"}, f.locations.map(function (l) { return l.file + ":" + l.line; }).join(", ")));
        box.appendChild(head);
        box.appendChild(el("div", null, f.message));
        (f.evidence || []).forEach(function (ev) {
          box.appendChild(el("div", {"class": "ev"}, ev.pointer + " = " + JSON.stringify(ev.value)));
        });
        if (f.waiver) box.appendChild(el("div", {"class": "muted"}, "waived: " + f.waiver.reason + " (owner " + (f.waiver.owner || "-") + ", expires " + f.waiver.expires + ")"));
        det.appendChild(box);
      });
      if (r.description) det.appendChild(el("p", null, r.description));
      if (r.remediation) { var p = el("p"); p.appendChild(el("b", null, "Remediation: ")); p.appendChild(document.createTextNode(r.remediation)); det.appendChild(p); }
      if (r.audit) { var a = el("p"); a.appendChild(el("b", null, "Audit: ")); a.appendChild(document.createTextNode(r.audit)); det.appendChild(a); }
      main.appendChild(det);
    }
    tr.appendChild(main);
    body.appendChild(tr);
  });

  var filters = {status: document.getElementById("filter-status"), severity: document.getElementById("filter-severity"), section: secSelect};
  function apply() {
    var shown = 0;
    Array.prototype.forEach.call(body.querySelectorAll("tr.result"), function (tr) {
      var ok = ["status", "severity", "section"].every(function (k) { var v = filters[k].value; return !v || tr.getAttribute("data-" + k) === v; });
      tr.hidden = !ok;
      if (ok) shown += 1;
    });
    var sc = document.getElementById("shown-count");
    sc.textContent = String(shown); sc.setAttribute("data-count", String(shown));
    var parts = [];
    ["status", "severity", "section"].forEach(function (k) { if (filters[k].value) parts.push(k + "=" + encodeURIComponent(filters[k].value)); });
    if (history.replaceState) { try { history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname); } catch (e) {} }
  }
  (location.hash || "").replace(/^#/, "").split("&").forEach(function (kv) {
    var i = kv.indexOf("="); if (i < 0) return;
    var k = kv.slice(0, i), v = decodeURIComponent(kv.slice(i + 1));
    if (filters[k] && Array.prototype.some.call(filters[k].options, function (o) { return o.value === v; })) filters[k].value = v;
  });
  Object.keys(filters).forEach(function (k) { filters[k].addEventListener("change", apply); });
  apply();
  document.body.setAttribute("data-rendered", "true");
})();
"""


def _embed(document: dict[str, Any]) -> str:
    """JSON that is safe inside a <script> element: no '<', '>' or '&' can end it early."""
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def render(document: dict[str, Any], *, benchmark: str = DEFAULT_BENCHMARK, **_: Any) -> str:
    """The results document as one HTML file that needs nothing but a browser."""
    host = host_of(document)
    snap = document.get("snapshot") or {}
    summary = document.get("summary") or {}
    cards = []
    for key, label, color in [("total", "policies", "#263238"), ("findings", "failing resources", "#c62828")] + \
            [(s, STATUS_LABELS[s].lower(), COLORS[s]) for s in STATUS_ORDER]:
        cards.append(f'<div class="card" style="border-left-color:{color}"><b id="count-{key}">…</b><span>{_e(label)}</span></div>')
    notes = []
    not_judged = not_judged_line(document)
    if not_judged:
        notes.append(_e(not_judged))
    waivers = document.get("waivers")
    if waivers:
        notes.append(f"Waivers as of {_e(waivers.get('as_of'))}: {len(waivers.get('applied') or [])} applied, "
                     f"{len(waivers.get('expired') or [])} expired, {len(waivers.get('stale') or [])} stale"
                     + "".join(f"<br>stale: {_e(w.get('id'))} on {_e(w.get('policy'))} ({_e(w.get('reason'))})" for w in waivers.get("stale") or [])
                     + "".join(f"<br>expired: {_e(w.get('id'))} on {_e(w.get('policy'))} since {_e(w.get('expires'))}" for w in waivers.get("expired") or []))
    baseline = document.get("baseline")
    if baseline:
        notes.append(f"Against the baseline of {_e(baseline.get('baseline_evaluated_at'))}: {_e(baseline.get('new_failures'))} new "
                     f"failing finding(s), {_e(baseline.get('known_failures'))} known, {len(baseline.get('fixed') or [])} fixed.")
    status_options = "".join(f'<option value="{s}">{_e(STATUS_LABELS[s])}</option>' for s in STATUS_ORDER)
    severity_options = "".join(f'<option value="{s}">{s}</option>' for s in SEVERITY_ORDER)
    script = (_JS.replace("%LABELS%", json.dumps(STATUS_LABELS)).replace("%COLORS%", json.dumps(COLORS))
              .replace("%SEVERITIES%", json.dumps(list(SEVERITY_ORDER))).replace("%BENCHMARK%", json.dumps(benchmark)))
    score = summary.get("score")
    signed = f" · signed by {_e(signed_by(document))}" if signed_by(document) else ""
    signed += f" · {_e(advisory_data_text(document))}" if advisory_data_text(document) else ""
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hullcheck report: {_e(host)}</title>
<style>{_CSS}</style>
</head>
<body>
<header><h1>hullcheck report: {_e(host)}</h1>
<p>{_e(engine_of(document))} · snapshot {_e(str(snap.get('sha256', ''))[:12])} collected {_e(snap.get('collected_at'))} · evaluated {_e(document.get('evaluated_at'))} ·
hullcheck {_e((document.get('tool') or {}).get('version'))} · pack {_e(str((document.get('pack') or {}).get('digest', ''))[:12])} ·
score {_e('n/a' if score is None else f'{score}%')} of judged policies passed{signed}</p></header>
<main>
<section class="cards" aria-label="Summary">{''.join(cards)}</section>
{''.join(f'<div class="notes">{n}</div>' for n in notes)}
<section class="charts" aria-label="Charts">{_chart(document, benchmark)}</section>
<div class="filters">
<label>Status <select id="filter-status"><option value="">all</option>{status_options}</select></label>
<label>Severity <select id="filter-severity"><option value="">all</option>{severity_options}</select></label>
<label>Section <select id="filter-section"><option value="">all</option></select></label>
<span>showing <b id="shown-count">…</b> of {len(document.get('results', []))} policies</span>
</div>
<table><thead><tr><th>CIS</th><th>status</th><th>severity</th><th>policy, findings and evidence</th></tr></thead>
<tbody id="results-body"></tbody></table>
<noscript><p>This report needs JavaScript to show its counts and results.</p></noscript>
</main>
<script type="application/json" id="hc-data">{_embed(document)}</script>
<script>{script}</script>
</body>
</html>
"""
