"""Renderers: a document in, report text out. They never evaluate anything.

One registry, keyed by document kind and then format name: `results` (one host's results
document), `fleet` (the summary of many hosts), `diff` (drift between two runs), `tests` (the
policy test cases' report) and `catalogue` (the policy list). A new output format is one module
here and one line in RENDERERS; the CLI offers what `formats(kind)` lists.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from hullcheck_common import vocabulary
from hullcheck_common.vocabulary import DEFAULT_BENCHMARK, SECTION_NAMES

from . import cases, catalogue, diff_text, fleet_html, fleet_markdown, fleet_text, html, junit, markdown, sarif, text

__all__ = ["FORMATS", "RENDERERS", "SECTION_NAMES", "cis_id", "formats", "in_benchmark_order", "render", "render_json", "section_of"]

Renderer = Callable[..., str]


def render_json(document: Any, **_: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


RENDERERS: dict[str, dict[str, Renderer]] = {
    "results": {
        "text": text.render,
        "json": render_json,
        "sarif": sarif.render,
        "junit": junit.render,
        "markdown": markdown.render,
        "html": html.render,
    },
    "fleet": {"text": fleet_text.render, "json": render_json, "markdown": fleet_markdown.render,
              "html": fleet_html.render},
    "diff": {"text": diff_text.render, "json": render_json},
    "tests": {"text": cases.text, "junit": cases.junit},
    "catalogue": {"table": catalogue.table, "json": catalogue.render_json, "markdown": catalogue.markdown},
}
FORMATS = RENDERERS["results"]  # one host's results: what `evaluate --format` and `render` offer


def formats(kind: str) -> tuple[str, ...]:
    """The format names a document kind can be rendered in."""
    return tuple(RENDERERS[kind])


def render(document: Any, fmt: str, kind: str = "results", **options: Any) -> str:
    """`document` of `kind` as `fmt`; ValueError names the choices when `fmt` is not one."""
    renderers = RENDERERS[kind]
    if fmt not in renderers:
        raise ValueError(f"format '{fmt}' is not available for {kind} (choose from {', '.join(renderers)})")
    return renderers[fmt](document, **options)


def section_of(result: dict[str, Any], benchmark: str = DEFAULT_BENCHMARK) -> str:
    """The section of `benchmark` a result belongs to ('5'), or 'other'."""
    return vocabulary.section_of(result, benchmark)


def cis_id(result: dict[str, Any], benchmark: str = DEFAULT_BENCHMARK) -> str | None:
    """The policy's number in `benchmark`, or None (it is then listed beyond the benchmark)."""
    return vocabulary.control_number(result, benchmark)


def in_benchmark_order(results: list[dict[str, Any]], benchmark: str = DEFAULT_BENCHMARK) -> list[dict[str, Any]]:
    """Results in the benchmark's order; the ones it does not number last, in pack order."""
    return sorted(results, key=lambda r: vocabulary.benchmark_order(r, benchmark))
