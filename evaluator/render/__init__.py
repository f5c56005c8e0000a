"""Renderers: results document in, report text out. They never evaluate anything.

Each format is a module with `render(document, **options) -> str`; FORMATS maps the names the
CLI accepts to them, so `hullcheck render RESULTS.json` and `evaluate --format` share one path.
"""

from __future__ import annotations

import json
from typing import Any, Callable

from hullcheck_common.vocabulary import SECTION_NAMES

from . import text
from . import html, junit, markdown, sarif  # reports for CI and review (issue 7)



def render_json(document: dict[str, Any], **_: Any) -> str:
    return json.dumps(document, indent=2, sort_keys=False, ensure_ascii=False) + "\n"


FORMATS: dict[str, Callable[..., str]] = {
    "text": text.render,
    "json": render_json,
    "sarif": sarif.render,
    "junit": junit.render,
    "markdown": markdown.render,
    "html": html.render,
}


def render(document: dict[str, Any], fmt: str, **options: Any) -> str:
    try:
        renderer = FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown format '{fmt}' (choose from {', '.join(FORMATS)})") from None
    return renderer(document, **options)


def section_of(result: dict[str, Any]) -> str:
    """The benchmark section a result belongs to ('5'), or 'other'."""
    controls = result.get("controls") or {}
    for framework in sorted(controls, reverse=True):
        if framework.startswith("cis-docker"):
            return str(controls[framework]).split(".")[0]
    return "other"


def cis_id(result: dict[str, Any]) -> str | None:
    controls = result.get("controls") or {}
    return controls.get("cis-docker-1.6.0") or next((v for k, v in sorted(controls.items()) if k.startswith("cis-docker")), None)
