"""`hullcheck policies list`: the policy catalogue as a table, JSON or Markdown."""

from __future__ import annotations

import json
import textwrap
from typing import Any

from hullcheck_common.vocabulary import BENCHMARKS


def _numbers(row: dict[str, Any]) -> list[str]:
    return [str(row["controls"].get(b, "")) for b in BENCHMARKS]


def render_json(rows: list[dict[str, Any]], **_: Any) -> str:
    return json.dumps(rows, indent=2) + "\n"


def markdown(rows: list[dict[str, Any]], **_: Any) -> str:
    heads = " | ".join(f"CIS {b.rsplit('-', 1)[1]}" for b in BENCHMARKS)
    lines = [f"| id | {heads} | level | severity | automated | title |", "|---|" + "---|" * (len(BENCHMARKS) + 4)]
    for r in rows:
        lines.append(f"| {r['id']} | {' | '.join(_numbers(r))} | {r['level']} | {r['severity']} "
                     f"| {'yes' if r['automated'] else 'manual'} | {r['title']} |")
    return "\n".join(lines) + "\n"


def table(rows: list[dict[str, Any]], *, width: int | None = None, **_: Any) -> str:
    """Aligned columns, one policy a line (`kubectl get` style: greppable, no box drawing); with a
    `width` (a terminal's), titles wrap under their column instead of running past the edge.

    Plain text rather than a rich table: `policies list` is held to 1.5x `hullcheck --version`,
    and laying out 122 rows with rich took longer than loading the whole pack."""
    heads = ("ID", *(f"CIS-{b.rsplit('-', 1)[1]}" for b in BENCHMARKS), "LEVEL", "SEVERITY", "AUTO", "TITLE")
    cells = [[r["id"], *_numbers(r), str(r["level"]), r["severity"], "yes" if r["automated"] else "manual", r["title"]]
             for r in rows]
    widths = [max(len(line[i]) for line in [list(heads), *cells]) for i in range(len(heads) - 1)]
    indent = sum(widths) + 2 * len(widths)
    room = max(20, width - indent) if width else None
    out = []
    for line in [list(heads), *cells]:
        lead = "".join(cell.ljust(w + 2) for cell, w in zip(line, widths))
        title = textwrap.wrap(line[-1], room) if room and len(line[-1]) > room else [line[-1]]
        out.append(lead + title[0])
        out.extend(" " * indent + more for more in title[1:])
    return "\n".join(out) + f"\n{len(rows)} policies ({sum(r['automated'] for r in rows)} automated)\n"
