"""The drift report for people (`hullcheck diff`): one line per change, grouped."""

from __future__ import annotations

import json
from typing import Any


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def render(report: dict[str, Any], **_: Any) -> str:
    """A diff for people: one line per change, grouped."""
    lines = [f"hullcheck diff ({report['kind']}): {report['old'].get('host')} "
             f"{report['old'].get('collected_at')} -> {report['new'].get('host')} {report['new'].get('collected_at')}"]
    if report["kind"] == "results":
        for title, items, mark in (("New findings", report["new_findings"], "+"), ("Fixed", report["fixed"], "-"),
                                   ("Unchanged", report["unchanged"], "=")):
            lines.append(f"{title}: {len(items)}")
            for f in items:
                status = f" ({f['status']})" if f.get("status") == "waived" else ""
                lines.append(f"  {mark} {f['policy']} [{f['key']}] {f['severity']}{status}: {f.get('message') or f.get('title')}")
        for title, ids in (("Policies added", report["policies_added"]), ("Policies removed", report["policies_removed"])):
            if ids:
                lines.append(f"{title}: {', '.join(ids)}")
        return "\n".join(lines) + "\n"
    lines.append(f"Containers added: {len(report['containers_added'])}")
    lines += [f"  + {n}" for n in report["containers_added"]]
    lines.append(f"Containers removed: {len(report['containers_removed'])}")
    lines += [f"  - {n}" for n in report["containers_removed"]]
    lines.append(f"Containers changed: {len(report['containers_changed'])}")
    for c in report["containers_changed"]:
        lines.append(f"  ~ {c['name']}")
        lines += [f"      {ch['setting']}: {_short(ch['old'])} -> {_short(ch['new'])}" for ch in c["changes"]]
    lines.append(f"Daemon options changed: {len(report['daemon_options_changed'])}")
    lines += [f"  ~ {d['option']}: {_short(d['old'])} ({d['old_source']}) -> {_short(d['new'])} ({d['new_source']})"
              for d in report["daemon_options_changed"]]
    if report["engine_version"]:
        lines.append(f"Engine version: {report['engine_version']['old']} -> {report['engine_version']['new']}")
    lines.append(f"Images added: {len(report['images_added'])}, removed: {len(report['images_removed'])}")
    lines += [f"  + {n}" for n in report["images_added"]] + [f"  - {n}" for n in report["images_removed"]]
    lines.append(f"Files changed: {len(report['files_changed'])}")
    for f in report["files_changed"]:
        lines.append(f"  ~ {f['path']}: " + ", ".join(f"{c['setting']} {_short(c['old'])} -> {_short(c['new'])}" for c in f["changes"]))
    return "\n".join(lines) + "\n"
