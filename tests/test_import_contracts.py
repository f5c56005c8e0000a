"""The acyclic_modules contract (import_contracts.py, run by lint-imports in .ci/run) finds every
circle of imports, a package's __init__ and its own modules included."""

from __future__ import annotations

import pytest

importlinter = pytest.importorskip("importlinter")  # the lint extra; .ci/run installs it

from import_contracts import _strongly_connected  # noqa: E402


def _circles(edges: dict[str, list[str]]) -> list[list[str]]:
    return sorted(_strongly_connected(sorted(edges), {k: sorted(v) for k, v in edges.items()}))


def test_no_circle_in_a_tree_or_a_diamond() -> None:
    assert _circles({"a": ["b", "c"], "b": ["d"], "c": ["d"], "d": []}) == []


def test_every_circle_is_found_once_with_all_its_modules() -> None:
    edges = {"pkg": ["pkg.planned"], "pkg.planned": ["pkg"],            # a package and its own module
             "x": ["y"], "y": ["z"], "z": ["x", "w"], "w": [],          # three in a ring, one hanging off it
             "p": ["q"], "q": ["r"], "r": ["q"]}                       # a circle reached from outside it
    assert _circles(edges) == [["pkg", "pkg.planned"], ["q", "r"], ["x", "y", "z"]]


def test_a_long_chain_does_not_recurse() -> None:
    chain = {f"m{i}": [f"m{i + 1}"] for i in range(5000)}
    chain["m5000"] = ["m0"]
    assert [len(c) for c in _circles(chain)] == [5001]
