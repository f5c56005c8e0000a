"""Renderers: a document in, report text out. They never evaluate anything.

One registry, keyed by document kind and then format name: `results` (one host's results
document), `fleet` (the summary of many hosts), `diff` (drift between two runs), `tests` (the
policy test cases' report) and `catalogue` (the policy list). A new output format is one module
here and one line in RENDERERS; the CLI offers what `formats(kind)` lists.
"""

from __future__ import annotations

import importlib
import json
from typing import Any, Callable

from hullcheck_common import vocabulary
from hullcheck_common.vocabulary import DEFAULT_BENCHMARK, SECTION_NAMES

__all__ = ["FORMATS", "RENDERERS", "SECTION_NAMES", "cis_id", "formats", "in_benchmark_order", "render", "render_json", "section_of"]

Renderer = Callable[..., str]


class _Lazy:
    """A renderer imported the first time it runs: a command pays only for the format it writes
    (`policies list` never imports the HTML or SARIF renderers)."""

    def __init__(self, module: str, name: str = "render") -> None:
        self.module, self.name = module, name

    def __call__(self, document: Any, **options: Any) -> str:
        function: Renderer = getattr(importlib.import_module(f"{__name__}.{self.module}"), self.name)
        return function(document, **options)


def render_json(document: Any, **_: Any) -> str:
    """The document as JSON: its top-level keys one a line, each element of a top-level list (a
    result, a host, a change) compact on its own line. Readable, greppable and diffable, and all
    of it written by json's C encoder: `indent=` switches json to its pure-Python encoder, which
    for the 55 MB results of 5,000 containers took 4x the time and ~230 MB of extra memory."""
    if not isinstance(document, dict) or not document:
        return json.dumps(document, ensure_ascii=False) + "\n"
    dump = json.JSONEncoder(ensure_ascii=False).encode
    parts = ["{"]
    for number, (key, value) in enumerate(document.items()):
        parts.append(",\n  " if number else "\n  ")
        parts.append(f"{dump(key)}: ")
        if isinstance(value, list) and value:
            parts.append("[")
            for index, element in enumerate(value):
                parts.append(",\n    " if index else "\n    ")
                parts.append(dump(element))
            parts.append("\n  ]")
        else:
            parts.append(dump(value))
    parts.append("\n}\n")
    return "".join(parts)  # one join: the parts and the text are the only two copies


RENDERERS: dict[str, dict[str, Renderer]] = {
    "results": {
        "text": _Lazy("text"),
        "json": render_json,
        "sarif": _Lazy("sarif"),
        "junit": _Lazy("junit"),
        "markdown": _Lazy("markdown"),
        "html": _Lazy("html"),
    },
    "fleet": {"text": _Lazy("fleet_text"), "json": render_json, "markdown": _Lazy("fleet_markdown"),
              "html": _Lazy("fleet_html")},
    "diff": {"text": _Lazy("diff_text"), "json": render_json},
    "tests": {"text": _Lazy("cases", "text"), "junit": _Lazy("cases", "junit")},
    "catalogue": {"table": _Lazy("catalogue", "table"), "json": _Lazy("catalogue", "render_json"),
                  "markdown": _Lazy("catalogue", "markdown")},
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
