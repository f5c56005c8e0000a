"""The shared position-keeping YAML reader: YAML 1.2 scalars as go-yaml reads them, positions,
merge keys, and hostile texts refused before they cost anything (bounds by construction: the
refusal comes before the text that would expand, and memory is measured, never time)."""

from __future__ import annotations

import math
import os
import tracemalloc

import pytest

from hullcheck_common.yamlread import LDict, Limits, LList, Pos, Span, YamlError, load, load_all, plain, position, read_file


def test_scalars_are_yaml_1_2_as_compose_v2_reads_them():
    data = load("a: 25:25\nb: yes\nc: off\nd: 0644\ne: 0o10\nf: 0x1F\ng: 1_000\nh: 1e3\ni: .5\nj: ~\nk:\n"
                "l: True\nm: 2001-12-14\nn: '80'\no: .inf\np: y\nq: 1:30:00\nr: !!str 8080\ns: !!int '3'\n", "f.yaml")
    assert data == {"a": "25:25", "b": "yes", "c": "off", "d": 0o644, "e": 8, "f": 31, "g": 1000, "h": 1000.0,
                    "i": 0.5, "j": None, "k": None, "l": True, "m": "2001-12-14", "n": "80", "o": math.inf,
                    "p": "y", "q": "1:30:00", "r": "8080", "s": 3}


def test_spans_say_where_each_value_is_written():
    text = "a: |\n  x\n  y\nb: 'q'\nc:\n  d: 2\n"
    data = load(text, "p.yaml", spans=True)
    assert data.spans == {"a": Span(1, 3, 13, "|"), "b": Span(4, 16, 19, "'"), "c": Span(6, 25, 30, None)}
    assert text[data.spans["b"].start:data.spans["b"].end] == "'q'"
    assert load(text, "p.yaml").spans == {}  # only when asked
    assert type(plain(data)["c"]) is dict and plain(data) == {"a": "x\ny\n", "b": "q", "c": {"d": 2}}


@pytest.mark.parametrize("text, where", [
    ("a: &x 1\n", "f.yaml:1: YAML anchor &x"),
    ("a: 1\nb: *x\n", "f.yaml:2: YAML alias *x"),
    ("a:\n  - &item {k: v}\n", "f.yaml:2: YAML anchor &item"),
])
def test_anchors_and_aliases_are_refused_where_the_file_must_be_plain(text, where):
    with pytest.raises(YamlError) as caught:
        load(text, "f.yaml", anchors=False)
    assert str(caught.value).startswith(where + ": anchors and aliases are not allowed in this file")


def test_syntax_errors_are_worded_alike_with_or_without_libyaml():
    with pytest.raises(YamlError) as caught:
        load("a: b: c\n", "f.yaml")
    assert str(caught.value) == "f.yaml:1: YAML error: mapping values are not allowed here"


def test_positions_of_keys_and_entries():
    data = load("services:\n  web:\n    ports:\n      - 80:80\n      - target: 443\n", "c.yaml")
    assert isinstance(data, LDict) and isinstance(data["services"]["web"]["ports"], LList)
    assert data.keypos["services"] == Pos("c.yaml", 1, 1)
    assert position(data, ["services", "web", "ports", 1]) == Pos("c.yaml", 5, 9)
    assert position(data, ["services", "web", "missing"]) == Pos("c.yaml", 2, 3)


def test_merge_keys_own_keys_first_and_aliases_are_copies():
    data = load("x: &b {a: 1, b: 2}\ny: &c {b: 3, c: 4}\ns:\n  <<: [*b, *c]\n  a: 9\nt: *b\n", "m.yaml")
    assert data["s"] == {"a": 9, "b": 2, "c": 4}  # own key, then the earlier merge wins
    assert data["s"].keypos["a"].line == 5 and data["s"].keypos["c"].line == 2
    data["t"]["a"] = 7
    assert data["x"]["a"] == 1  # an alias is a copy: changing it changes nothing else


def test_documents_tags_and_errors():
    assert load_all("a: 1\n---\nb: 2\n", "d.yaml") == [{"a": 1}, {"b": 2}]
    tagged = load("a: !reset null\nb: !override [1]\n", "t.yaml", local_tags=("!reset", "!override"))
    assert tagged.keytag == {"a": "!reset", "b": "!override"}
    for text, message in (("a: 1\na: 2\n", "t.yaml:2: duplicate key 'a' (first at line 1)"),
                          ("a: !reset x\n", "t.yaml:1: unsupported YAML tag !reset"),
                          ("a: !!binary aGk=\n", "t.yaml:1: unsupported YAML tag !!binary"),
                          ("a: *nope\n", "t.yaml:1: alias *nope has no anchor before it"),
                          ("a: &x [1, *x]\n", "t.yaml:1: alias *x refers to a collection that contains it"),
                          ("a: [1\n", "t.yaml:2: YAML error"),
                          ("? [1]\n: 2\n", "t.yaml:1: a mapping key must be a plain value")):
        with pytest.raises(YamlError) as caught:
            load(text, "t.yaml")
        assert str(caught.value).startswith(message), str(caught.value)


BOMB = "".join(f"{chr(97 + i)}: &{chr(97 + i)} [" + ",".join([f"*{chr(96 + i)}" if i else '"lol"'] * 9) + "]\n"
               for i in range(9))


def test_alias_bomb_is_refused_before_it_expands():
    # 9 lines, 9**9 (387 million) strings once expanded. The refusal names the line of the alias that
    # would cross the limit; the invalid YAML after it is never reached, so reading stopped there.
    text = BOMB + "trailing: [this is not closed\n" * 3
    tracemalloc.start()
    try:
        with pytest.raises(YamlError) as caught:
            load(text, "compose.yaml")
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert str(caught.value).startswith("compose.yaml:6: more than 250,000 values once aliases are expanded")
    assert peak < 64 * 2**20, peak  # the values built before the refusal, never the expansion


def test_merge_key_bomb_is_bounded_too():
    lines = ["k0: &k0 {a: 1, b: 2}"] + [f"k{i}: &k{i} {{<<: [*k{i - 1}, *k{i - 1}, *k{i - 1}, *k{i - 1}]}}"
                                         for i in range(1, 30)]
    data = load("\n".join(lines) + "\n", "m.yaml")  # merged keys de-duplicate: linear, accepted
    assert data["k29"] == {"a": 1, "b": 2}
    with pytest.raises(YamlError, match="values once aliases are expanded"):
        load("\n".join(lines) + "\n", "m.yaml", limits=Limits(max_values=500))


def test_deep_nesting_is_refused_as_it_opens():
    for text in ("[" * 100_000 + "]" * 100_000, "".join(f"{'  ' * i}k{i}:\n" for i in range(200)) + "  " * 200 + "x\n"):
        with pytest.raises(YamlError) as caught:
            load(text, "deep.yaml")
        assert "nesting deeper than 64 levels" in str(caught.value)
        assert str(caught.value).startswith("deep.yaml:")


def test_oversized_file_is_refused_unread(tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("wb") as handle:  # a 64 GiB sparse file: reading it whole would exhaust memory
        handle.truncate(64 * 2**30)
    with pytest.raises(YamlError) as caught:
        read_file(path, "huge.yaml")
    assert str(caught.value) == "huge.yaml: 68719 MB is over the 4 MB limit"
    assert os.path.getsize(path) == 64 * 2**30
