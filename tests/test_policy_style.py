"""The built-in policies are written in one style (docs/policy-style.md), and stay so.

Each rule here is one of the page's; a policy that breaks one fails with the file, the line and
the rule. The layout (indentation, spacing, no implicit octals) is yamllint's job; what yamllint
cannot see (anchors, key order, how each jq field is written, the shape of `message`) is checked
on PyYAML's node tree and a small jq lexer below.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterator

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
POLICY_FILES = sorted((ROOT / "policies").glob("**/*.yaml"))
STYLE_PAGE = ROOT / "docs" / "policy-style.md"
SCHEMA = json.loads((ROOT / "policies" / "policy.schema.json").read_text())

TOP_ORDER = list(SCHEMA["properties"])
CASE_ORDER = list(SCHEMA["$defs"]["test"]["properties"])
EXPECT_ORDER = list(SCHEMA["$defs"]["test"]["properties"]["expect"]["properties"])
JQ_FIELDS = [name for name, spec in SCHEMA["properties"].items() if "jq" in spec.get("description", "").split()]

# The layout rules, as yamllint checks them (https://yamllint.readthedocs.io/en/stable/rules.html).
YAMLLINT_CONFIG = """
rules:
  indentation: {spaces: 2, indent-sequences: true, check-multi-line-strings: false}
  key-duplicates: enable
  trailing-spaces: enable
  new-line-at-end-of-file: enable
  new-lines: {type: unix}
  empty-lines: {max: 1, max-start: 0, max-end: 0}
  hyphens: {max-spaces-after: 1}
  colons: {max-spaces-before: 0, max-spaces-after: 1}
  commas: {max-spaces-before: 0, min-spaces-after: 1, max-spaces-after: 1}
  brackets: {min-spaces-inside: 0, max-spaces-inside: 0}
  braces: {min-spaces-inside: 0, max-spaces-inside: 0}
  comments: {require-starting-space: true, min-spaces-from-content: 1}
  document-start: {present: false}
  document-end: {present: false}
  truthy: {allowed-values: ['true', 'false'], check-keys: true}
  octal-values: {forbid-implicit-octal: true, forbid-explicit-octal: true}
  float-values: {forbid-nan: true, forbid-inf: true}
"""


# --- a jq lexer: just enough to find string literals, interpolations and top-level pipes ---------

class JqText:
    """The parts of a jq program the style rules look at.

    `strings`: (start, end) of every string literal, interpolated code included, at any depth;
    `pipes`: offsets of the `|` that separate the program's top-level pipeline stages (not inside
    parentheses, brackets, braces, `if ... end`, nor string literals; `|=` is not a pipe).
    """

    _WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

    def __init__(self, text: str) -> None:
        self.text = text
        self.strings: list[tuple[int, int]] = []
        self.pipes: list[int] = []
        end = self._code(0, top=True)
        if end != len(text):
            raise ValueError(f"unbalanced ')' at offset {end}")

    def _code(self, i: int, top: bool = False) -> int:
        """Lex code from i until an unmatched ')' (returned) or the end of the text."""
        text, depth = self.text, 0
        while i < len(text):
            ch = text[i]
            if ch == '"':
                i = self._string(i)
                continue
            if ch == "#":  # a comment runs to the end of the line
                newline = text.find("\n", i)
                i = len(text) if newline == -1 else newline
                continue
            if ch in "([{":
                depth += 1
            elif ch in ")]}":
                if depth == 0:
                    if ch == ")":
                        return i
                    raise ValueError(f"unbalanced {ch!r} at offset {i}")
                depth -= 1
            elif ch == "|" and depth == 0 and top and not text.startswith("|=", i):
                self.pipes.append(i)
            elif ch.isalpha() or ch == "_":
                word = self._WORD.match(text, i)
                assert word is not None
                if word.group() == "if":
                    depth += 1
                elif word.group() == "end":
                    depth -= 1
                i = word.end()
                continue
            i += 1
        if depth:
            raise ValueError("unbalanced brackets or if ... end")
        return i

    def _string(self, start: int) -> int:
        """Lex the string literal opening at start; return the offset after its closing quote."""
        text, i = self.text, start + 1
        while i < len(text):
            ch = text[i]
            if ch == "\\":
                if text.startswith("\\(", i):
                    i = self._code(i + 2)
                    if i >= len(text):
                        raise ValueError(f"unterminated interpolation in the string at offset {start}")
                i += 2 if text[i] == "\\" else 1
                continue
            if ch == '"':
                self.strings.append((start, i + 1))
                return i + 1
            i += 1
        raise ValueError(f"unterminated string at offset {start}")

    def stages(self) -> list[str]:
        """The top-level pipeline stages, stripped."""
        bounds = [-1, *self.pipes, len(self.text)]
        return [self.text[a + 1:b].strip() for a, b in zip(bounds, bounds[1:])]


_BINDING = re.compile(r"\bas\s+(\$[A-Za-z_][A-Za-z0-9_]*|\[[^|]*\]|\{[^|]*\})$", re.S)


def message_problem(message: str) -> str | None:
    """Why `message` is not one jq string literal, optionally after `EXPR as $name |` bindings."""
    try:
        lexed = JqText(message)
    except ValueError as exc:
        return f"does not lex as jq: {exc}"
    *bindings, last = lexed.stages()
    for stage in bindings:
        if not _BINDING.search(stage):
            return f"a stage before the string is not a binding (EXPR as $name): {stage[:60]!r}"
    offset = message.rindex(last)
    if (offset, offset + len(last)) not in lexed.strings:
        return f"does not end in one string literal \"...\" (compute parts first, interpolate with \\(...)): {last[:60]!r}"
    return None


# --- how a jq field is written ------------------------------------------------------------------

def jq_field_text(key: str, value: str) -> list[str]:
    """The lines a jq field is written as: on the key's line when it is one line that fits in 120
    columns (plain when YAML reads it back unchanged, else in single quotes) and holds no single
    quote; otherwise a literal block, indented two spaces, its lines exactly the author's."""
    jq = value.strip("\n")
    if "\n" not in jq and "'" not in jq:
        for line in (f"{key}: {jq}", f"{key}: '{jq}'"):
            try:
                same = yaml.safe_load(line) == {key: jq}
            except yaml.YAMLError:
                same = False
            if same:
                if len(line) <= 120:
                    return [line]
                break
    return [f"{key}: |"] + [f"  {line}" if line.strip() else "" for line in jq.split("\n")]


# --- walking a policy file's nodes ---------------------------------------------------------------

def _nodes(node: yaml.Node) -> Iterator[yaml.Node]:
    yield node
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _nodes(key)
            yield from _nodes(value)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _nodes(item)


def _keys(node: yaml.MappingNode) -> list[str]:
    return [str(key.value) for key, _ in node.value]


def _order_problem(keys: list[str], order: list[str]) -> str | None:
    known = [k for k in keys if k in order]
    expected = sorted(known, key=order.index)
    if known != expected:
        return f"keys {known} should be in the schema's order: {expected}"
    return None


def style_problems(path: Path) -> list[str]:
    """Every way the policy file at `path` departs from docs/policy-style.md (yamllint aside)."""
    text = path.read_text()
    problems: list[str] = []

    def at(node: yaml.Node, what: str) -> None:
        problems.append(f"{path.name}:{node.start_mark.line + 1}: {what}")

    for event in yaml.parse(text):
        anchor = getattr(event, "anchor", None)
        if isinstance(event, yaml.AliasEvent):
            problems.append(f"{path.name}:{event.start_mark.line + 1}: alias *{anchor}: write the value out")
        elif anchor:
            problems.append(f"{path.name}:{event.start_mark.line + 1}: anchor &{anchor}: write the value out where it is used")
        elif getattr(event, "tag", None) and getattr(event, "implicit", None) in (False, (False, False)):
            problems.append(f"{path.name}:{event.start_mark.line + 1}: explicit tag {event.tag}")
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        return [f"{path.name}: not a mapping"]

    if (problem := _order_problem(_keys(root), TOP_ORDER)) is not None:
        at(root, problem)
    fields = {str(key.value): value for key, value in root.value}
    for case in getattr(fields.get("tests"), "value", []):
        if isinstance(case, yaml.MappingNode):
            if (problem := _order_problem(_keys(case), CASE_ORDER)) is not None:
                at(case, f"test case: {problem}")
            for key, value in case.value:
                if key.value == "expect" and isinstance(value, yaml.MappingNode):
                    if (problem := _order_problem(_keys(value), EXPECT_ORDER)) is not None:
                        at(value, f"expect: {problem}")

    for node in _nodes(root):
        one_line = node.start_mark.line == node.end_mark.line
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.flow_style and not one_line:
            at(node, "a flow collection [..] or {..} spans lines: put it on one line, or write it as a block")
        if isinstance(node, yaml.ScalarNode) and node.style in (None, "'", '"') and not one_line:
            at(node, "a plain or quoted scalar spans lines (a dumper re-wraps those): "
                     "one line, or a block scalar (> for prose, | for jq)")

    for name in JQ_FIELDS:
        node = fields.get(name)
        if not isinstance(node, yaml.ScalarNode):
            continue
        if node.style == ">":
            at(node, f"{name}: jq in a folded block (>) is re-wrapped by any YAML dumper: use a literal block (|)")
        if node.style == '"':
            at(node, f"{name}: jq in a double-quoted YAML scalar needs its quotes escaped twice: "
                     "use single quotes or a literal block (|)")
        last = node.end_mark.line - (node.end_mark.column == 0)
        written = text.split("\n")[node.start_mark.line:last + 1]
        if node.style != ">" and written != jq_field_text(name, node.value):
            at(node, f"{name}: not written as docs/policy-style.md says; write it as:\n"
                     + "\n".join(jq_field_text(name, node.value)))
        try:
            lexed = JqText(node.value)
        except ValueError as exc:
            at(node, f"{name}: does not lex as jq: {exc}")
            continue
        for start, end in lexed.strings:
            if "\n" in node.value[start:end]:
                at(node, f"{name}: a line break inside the jq string {node.value[start:start + 30]!r}...: "
                         "break lines between tokens, never inside a string")
        if name == "message" and (problem := message_problem(node.value)) is not None:
            at(node, f"message: {problem}")
    return problems


# --- the tests -----------------------------------------------------------------------------------

def test_jq_fields_are_those_the_schema_describes_as_jq() -> None:
    """The jq fields are read from the schema; if its wording changes, this says so."""
    assert set(JQ_FIELDS) == {"applies", "resources", "assert", "manual", "message"}


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: p.name)
def test_policy_follows_the_style(path: Path) -> None:
    problems = style_problems(path)
    assert not problems, "\n".join(problems)


def test_policies_pass_yamllint() -> None:
    from yamllint import linter
    from yamllint.config import YamlLintConfig

    config = YamlLintConfig(YAMLLINT_CONFIG)
    problems = [f"{path.relative_to(ROOT)}:{p.line}:{p.column}: {p.message} ({p.rule})"
                for path in POLICY_FILES for p in linter.run(path.read_text(), config)]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("message", [
    '"container \\(cname) runs privileged"',
    '(.a | length) as $n | [.b[] | .c] as [$first] | "\\($n) of them, the first \\($first)"',
    'if .x then "a" else "b" end as $why\n| "container \\(cname): \\($why)"',
])
def test_message_rule_accepts(message: str) -> None:
    assert message_problem(message) is None


@pytest.mark.parametrize("message, words", [
    ('"container \\(cname) holds " + (caps | join(", "))', "one string literal"),
    ('if .x then "a" else "b" end', "one string literal"),
    ('audit_message', "one string literal"),
    ('.a | "x \\(.)"', "not a binding"),
    ('"unterminated \\(.a"', "does not lex"),
])
def test_message_rule_refuses(message: str, words: str) -> None:
    problem = message_problem(message)
    assert problem is not None and words in problem


def _bad_policy(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    return style_problems(path)


def test_each_rule_catches_what_it_names(tmp_path: Path) -> None:
    """Every check above fails on a file that breaks its rule (so none of them is vacuous)."""
    base = "id: x-1\ntitle: a title\n"
    cases = [
        ("anchor &", base + "tests:\n  - name: a\n    merge_patch: &p {a: 1}\n    expect: {status: pass}\n"
                           "  - name: b\n    merge_patch: *p\n    expect: {status: pass}\n"),
        ("schema's order", "title: a title\nid: x-1\n"),
        ("test case: keys", base + "tests:\n  - expect: {status: pass}\n    name: a\n"),
        ("expect: keys", base + "tests:\n  - name: a\n    expect: {offenders: [a], status: fail}\n"),
        ("flow collection", base + "tags: [a,\n  b]\n"),
        ("plain or quoted scalar spans lines", base + "assert: .a and\n  .b\n"),
        ("folded block", base + "assert: >\n  .a\n  and .b\n"),
        ("double-quoted", base + "assert: \".a == \\\"x\\\"\"\n"),
        ("write it as", base + "assert: '.a and .b'\n"),
        ("write it as:", base + "assert: |\n  .a and .b\n"),
        ("inside the jq string", base + "message: |\n  \"a\n  b\"\n"),
        ("one string literal", base + "message: '\"a\" + .b'\n"),
        ("does not lex", base + "resources: '(.a'\n"),
        ("explicit tag", base + "tags: !!seq [a]\n"),
        ("explicit tag", base + "remediation: !!str do this\n"),
    ]
    for words, text in cases:
        problems = _bad_policy(tmp_path, text)
        assert any(words in p for p in problems), (words, problems)
    assert _bad_policy(tmp_path, base + "message: '\"ok \\(.a)\"'\n") == []


def _example(page: str) -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", page, re.S)
    examples = [b for b in blocks if b.startswith("id: ")]
    assert len(examples) == 1, "docs/policy-style.md holds one whole policy (a ```yaml block starting id:)"
    return examples[0]


def test_the_worked_example_follows_the_style_and_passes_its_tests(tmp_path: Path) -> None:
    """The page's worked example is a real policy: it loads, keeps the style, and its cases pass."""
    from yamllint import linter
    from yamllint.config import YamlLintConfig

    from evaluator.pack import load_policy
    from evaluator.testing import run_cases

    path = tmp_path / "example.yaml"
    path.write_text(_example(STYLE_PAGE.read_text()))
    assert style_problems(path) == []
    assert list(linter.run(path.read_text(), YamlLintConfig(YAMLLINT_CONFIG))) == []
    policy = load_policy(path)
    results = run_cases([policy], ROOT / "snapshots" / "examples")
    assert {r.expected["status"] for r in results} >= {"pass", "fail"}
    assert all(r.ok for r in results), [r.describe() for r in results]


def test_yamllint_config_refuses_the_layouts_the_page_forbids() -> None:
    """Sequences flush with their key, and a 0-led number YAML 1.1 reads as octal, are refused."""
    from yamllint import linter
    from yamllint.config import YamlLintConfig

    config = YamlLintConfig(YAMLLINT_CONFIG)
    rules = {p.rule for p in linter.run("tests:\n- name: a\n  value: 0001\n", config)}
    assert {"indentation", "octal-values"} <= rules
