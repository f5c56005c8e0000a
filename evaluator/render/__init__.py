"""Renderers: a document in, report text out. They never evaluate anything.

One registry, keyed by document kind and then format name: `results` (one host's results
document), `fleet` (the summary of many hosts), `diff` (drift between two runs), `tests` (the
policy test cases' report) and `catalogue` (the policy list). A new output format is one module
here and one line in RENDERERS; the CLI offers what `formats(kind)` lists.
"""

from __future__ import annotations

import importlib
import json
from typing import Any, Callable, Iterable, Iterator

from hullcheck_common import vocabulary
from hullcheck_common.vocabulary import DEFAULT_BENCHMARK, SECTION_NAMES

__all__ = ["FORMATS", "RENDERERS", "SECTION_NAMES", "cis_id", "formats", "in_benchmark_order", "json_chunks", "render", "render_chunks", "render_json",
           "section_of"]

Renderer = Callable[..., str]


class _Lazy:
    """A renderer imported the first time it runs: a command pays only for the format it writes
    (`policies list` never imports the HTML or SARIF renderers)."""

    def __init__(self, module: str, name: str = "render") -> None:
        self.module, self.name = module, name

    def __call__(self, document: Any, **options: Any) -> str:
        function: Renderer = getattr(importlib.import_module(f"{__name__}.{self.module}"), self.name)
        return function(document, **options)


def json_chunks(document: Any) -> Iterator[str]:
    """The document as JSON, in pieces: its top-level keys one a line, each element of a
    top-level list (a result, a host, a change) compact on its own line. Readable, greppable and
    diffable, and all of it written by json's C encoder: `indent=` switches json to its
    pure-Python encoder, which for the 55 MB results of 5,000 containers took 4x the time and
    ~230 MB of extra memory. Written piece by piece (write_output), the report never exists
    whole in memory beside the document."""
    if not isinstance(document, dict) or not document:
        yield json.dumps(document, ensure_ascii=False) + "\n"
        return
    dump = json.JSONEncoder(ensure_ascii=False).encode
    yield "{"
    for number, (key, value) in enumerate(document.items()):
        if isinstance(value, list) and value:
            yield f"{',' if number else ''}\n  {dump(key)}: ["
            for index, element in enumerate(value):
                yield (",\n    " if index else "\n    ") + dump(element)
            yield "\n  ]"
        else:
            yield f"{',' if number else ''}\n  {dump(key)}: {dump(value)}"
    yield "\n}\n"


def render_json(document: Any, **_: Any) -> str:
    """The document as JSON text (json_chunks, joined)."""
    return "".join(json_chunks(document))


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


def render_chunks(document: Any, fmt: str, kind: str = "results", **options: Any) -> Iterable[str]:
    """render(), as pieces of text for write_output: JSON comes result by result (the 37 MB
    report of 5,000 containers is never held whole, nor its encoded copy); other formats are one piece."""
    if RENDERERS[kind].get(fmt) is render_json:
        return json_chunks(document)
    return (render(document, fmt, kind, **options),)


def section_of(result: dict[str, Any], benchmark: str = DEFAULT_BENCHMARK) -> str:
    """The section of `benchmark` a result belongs to ('5'), or 'other'."""
    return vocabulary.section_of(result, benchmark)


def cis_id(result: dict[str, Any], benchmark: str = DEFAULT_BENCHMARK) -> str | None:
    """The policy's number in `benchmark`, or None (it is then listed beyond the benchmark)."""
    return vocabulary.control_number(result, benchmark)


def in_benchmark_order(results: list[dict[str, Any]], benchmark: str = DEFAULT_BENCHMARK) -> list[dict[str, Any]]:
    """Results in the benchmark's order; the ones it does not number last, in pack order."""
    return sorted(results, key=lambda r: vocabulary.benchmark_order(r, benchmark))
