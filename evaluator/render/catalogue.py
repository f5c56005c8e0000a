"""`hullcheck policies list`: the policy catalogue as a table, JSON or Markdown."""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console
from rich.table import Table

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


def table(rows: list[dict[str, Any]], *, width: int | None = 160, color: bool = False, **_: Any) -> str:
    grid = Table(show_lines=False, header_style="bold")
    for column in ("id", *(b.rsplit("-", 1)[1] for b in BENCHMARKS), "lvl", "severity", "auto", "title"):
        grid.add_column(column, overflow="fold")
    for r in rows:
        grid.add_row(r["id"], *_numbers(r), str(r["level"]), r["severity"], "yes" if r["automated"] else "manual",
                     r["title"])
    out = io.StringIO()
    Console(file=out, width=width, force_terminal=color, no_color=not color, highlight=False).print(grid)
    return out.getvalue() + f"{len(rows)} policies ({sum(r['automated'] for r in rows)} automated)\n"
