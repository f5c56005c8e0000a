"""The documentation as a newcomer meets it: a README short enough to read in two minutes, and
every link, anchor, repository path and command it and docs/ name are real.

- Every relative link of README.md and docs/*.md (`[text](path)`, `[text](path#anchor)`,
  `[text](#anchor)`) names a file of this repository, and an anchor names a heading of the target
  page, slugged as GitHub slugs headings (lower case; punctuation dropped; each space a hyphen;
  `-1`, `-2`... for repeats).
- Every repository path in inline code (`evaluator/render/__init__.py`, `snapshots/examples/*.json`,
  `tests/test_engines.py::test_x`) and every module path (`hullcheck_common.errors.HullcheckError`)
  exists, so renaming a file turns this test red until the docs follow.
- Every `hullcheck COMMAND [SUBCOMMAND] --option` written in the docs, in prose or in a shell or
  YAML block, is a command and an option the CLI has now (read from the CLI itself).
- Every page of docs/ is listed in docs/index.md, and the index is linked from the README.

Markdown is read with markdown-it-py (the CommonMark parser rich already brings in), with GFM
tables, so code blocks, code spans and tables are told apart as GitHub tells them apart.
"""

from __future__ import annotations

import glob
import re
import shlex
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any, Iterator

import pytest
import typer
from markdown_it import MarkdownIt

from hullcheck.cli import app

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"
DOCS = REPO / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
README_MAX_LINES = 200

# What a path in inline code must start with to be taken for a path of this repository.
REPO_PREFIXES = ("advisories/", "benchmarks/", "collector/", "deploy/", "docs/", "evaluator/", "hullcheck/",
                 "hullcheck_common/", "hullcheck_runtime/", "policies/", "scripts/", "snapshots/", "tests/", ".ci/")
PACKAGES = ("collector", "evaluator", "hullcheck", "hullcheck_common", "hullcheck_runtime")
SHELL_LANGUAGES = {"sh", "bash", "console", "shell", "yaml", "yml", ""}
SHELL_STOPS = {"|", "||", "&&", ";", ">", ">>", "<", "2>", "&"}


def _ids(pages: list[Path]) -> list[str]:
    return [str(p.relative_to(REPO)) for p in pages]


@cache
def _tokens(path: Path) -> list[Any]:
    return MarkdownIt("commonmark").enable("table").parse(path.read_text(encoding="utf-8"))


def _inline_children(path: Path) -> Iterator[tuple[int, Any, Any]]:
    """(line, child token, parent inline token) for every inline child, with its own line."""
    for token in _tokens(path):
        if token.type != "inline" or not token.map:
            continue
        line = token.map[0] + 1
        for child in token.children or []:
            if child.type in ("softbreak", "hardbreak"):
                line += 1
            yield line, child, token


def github_slug(text: str) -> str:
    """A heading's anchor as GitHub makes it (github-slugger): lower case, every character that is
    not a letter, a digit, a mark, `_`, `-` or a space removed, then each space made a hyphen."""
    kept = "".join(ch for ch in text.lower()
                   if ch in " -_" or unicodedata.category(ch)[0] in "LNM")
    return kept.replace(" ", "-")


@cache
def anchors(path: Path) -> frozenset[str]:
    seen: dict[str, int] = {}
    found = set()
    tokens = _tokens(path)
    for index, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        inline = tokens[index + 1]
        text = "".join(child.content for child in inline.children or [] if child.type in ("text", "code_inline"))
        slug = github_slug(text)
        if slug in seen:
            seen[slug] += 1
            slug = f"{slug}-{seen[slug]}"
        else:
            seen[slug] = 0
        found.add(slug)
    return frozenset(found)


def links(path: Path) -> Iterator[tuple[int, str]]:
    for line, child, _ in _inline_children(path):
        if child.type == "link_open":
            yield line, str(child.attrs.get("href", ""))
        elif child.type == "image":
            yield line, str(child.attrs.get("src", ""))


def _where(path: Path, line: int) -> str:
    return f"{path.relative_to(REPO)}:{line}"


def test_the_readme_is_a_front_door() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, (
        f"README.md has {len(lines)} lines; a front door has at most {README_MAX_LINES}: move the detail to a page in docs/")


def test_the_readme_commands_are_the_ones_ci_runs() -> None:
    """The README's two commands, word for word, and the suite command inside .ci/run agree."""
    readme = README.read_text(encoding="utf-8")
    blocks = [token.content.strip() for token in _tokens(README) if token.type == "fence"]
    assert "python3 -m pip install . && sh scripts/fast-jq && hullcheck audit --fallback-example" in blocks
    assert "bash .ci/run" in blocks
    suite = "python3 -m pytest -q -n 2"
    assert f"`{suite}`" in readme
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert f"# README: {suite}\n{suite}" in ci, "the command .ci/run runs is no longer the one the README names"


def test_the_slugs_are_githubs() -> None:
    assert github_slug("Exit codes and --fail-on") == "exit-codes-and---fail-on"
    assert github_slug("Where the kernel overrides the engine's report") == "where-the-kernel-overrides-the-engines-report"
    assert github_slug("For policy authors: $advisories and manual") == "for-policy-authors-advisories-and-manual"
    assert github_slug("hullcheck_python and 5.10") == "hullcheck_python-and-510"


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_every_relative_link_and_anchor_resolves(page: Path) -> None:
    broken = []
    for line, href in links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", href, re.I):  # https:, mailto:: not this repository's
            continue
        target_part, _, anchor = href.partition("#")
        target = (page.parent / target_part).resolve() if target_part else page
        if REPO not in (target, *target.parents):
            broken.append(f"{_where(page, line)}: {href}: outside the repository")
        elif not target.exists():
            broken.append(f"{_where(page, line)}: {href}: no such file")
        elif anchor:
            if target.suffix != ".md":
                broken.append(f"{_where(page, line)}: {href}: an anchor into a file that is not Markdown")
            elif anchor not in anchors(target):
                broken.append(f"{_where(page, line)}: {href}: {target.relative_to(REPO)} has no heading #{anchor}")
    assert not broken, "\n".join(broken)


def _code_spans(page: Path) -> Iterator[tuple[int, str]]:
    for line, child, _ in _inline_children(page):
        if child.type == "code_inline":
            yield line, child.content


def _expand(pattern: str) -> list[str]:
    """`a/{b,c}.json` -> [a/b.json, a/c.json]; `<name>` and `N` placeholders become globs."""
    match = re.search(r"\{([^{}]*)\}", pattern)
    if match:
        return [expanded for choice in match.group(1).split(",")
                for expanded in _expand(pattern[:match.start()] + choice + pattern[match.end():])]
    return [re.sub(r"<[^<>]*>", "*", pattern)]


def _repo_path_problem(word: str) -> str | None:
    path = word.split("::", 1)[0].rstrip(".,;:)")
    if not path.startswith(REPO_PREFIXES) or ":" in path or ".cache" in path or "=" in path:
        return None
    for candidate in _expand(path):
        if not glob.glob(str(REPO / candidate)):
            return f"{candidate}: no such path"
    return None


def _module_problem(word: str) -> str | None:
    word = word.rstrip(".,;:)")
    if not re.fullmatch(rf"({'|'.join(PACKAGES)})(\.[A-Za-z_]\w*)+", word):
        return None
    parts = word.split(".")
    path = REPO / parts[0]
    index = 1
    while index < len(parts) and ((path / parts[index]).is_dir() or (path / f"{parts[index]}.py").is_file()):
        path = path / parts[index]
        index += 1
    if index == len(parts):
        return None
    source_file = path / "__init__.py" if path.is_dir() else path.with_suffix(".py")
    if parts[index] in ("py", "json", "md", "yaml", "sh"):  # a file name (hullcheck.cli is the module, cli.py the file)
        return None
    if not re.search(rf"\b{re.escape(parts[index])}\b", source_file.read_text(encoding="utf-8")):
        return f"{'.'.join(parts[:index + 1])}: {source_file.relative_to(REPO)} defines no {parts[index]}"
    return None


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_repository_paths_and_modules_named_exist(page: Path) -> None:
    stale = []
    for line, span in _code_spans(page):
        for word in span.split():
            problem = _repo_path_problem(word) or _module_problem(word)
            if problem:
                stale.append(f"{_where(page, line)}: `{span}`: {problem}")
    assert not stale, "\n".join(stale)


@cache
def _cli() -> Any:
    """The CLI's click group (typer 0.28 carries its own copy of click, 0.23 uses click: duck-typed)."""
    command = typer.main.get_command(app)
    assert getattr(command, "commands", None), command
    return command


def _options(command: Any) -> set[str]:
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts) if opt.startswith("-")}


def _command_lines(page: Path) -> Iterator[tuple[int, str]]:
    """Every line that may run hullcheck: in shell, console and YAML blocks (a line continued with
    a backslash joined to the next), and in code spans."""
    for token in _tokens(page):
        if token.type == "fence" and token.info.strip().split(" ")[0] in SHELL_LANGUAGES and token.map:
            start, joined = None, ""
            for offset, text in enumerate(token.content.splitlines()):
                start = token.map[0] + 2 + offset if start is None else start
                if text.endswith("\\"):
                    joined += text[:-1] + " "
                    continue
                yield start, joined + text
                start, joined = None, ""
    yield from _code_spans(page)


def _invocations(text: str) -> Iterator[list[str]]:
    """The words after each `hullcheck` that runs it: at the start of the line or span (after a
    `$ ` prompt, a `- run:` or an environment assignment), or anywhere when a command follows
    (`... && hullcheck audit`, `/opt/hullcheck/venv/bin/hullcheck collect`)."""
    commands = _cli().commands
    lead = re.match(r"^\s*(?:\$\s+|-?\s*run:\s*(?:\|\s*)?)?(?:[A-Z_]+=\S*\s+)*", text)
    for match in re.finditer(r"(?:^|[\s/(=])hullcheck(?:\.cli)?\s+(?=\S)", text):
        rest = text[match.end():]
        try:
            words = shlex.split(rest, comments=True)
        except ValueError:  # an unbalanced quote in prose: take the words as they are
            words = rest.split()
        invocation = []
        for word in words:
            if word in SHELL_STOPS or word.startswith(("|", ">", "#")):
                break
            invocation.append(word.strip("[]"))
        at_start = lead is not None and match.start() <= lead.end()
        if invocation and (at_start or invocation[0] in commands):
            yield invocation


def _command_problem(words: list[str]) -> str | None:
    cli = _cli()
    name = words[0]
    if name.startswith("-"):
        return None if name.split("=")[0] in _options(cli) else f"hullcheck has no option {name}"
    if name not in cli.commands:
        return f"hullcheck has no command {name!r}"
    command = cli.commands[name]
    known = _options(command)
    rest = words[1:]
    if getattr(command, "commands", None):
        subcommand = next((w for w in rest if not w.startswith("-")), None)
        if subcommand in command.commands:
            known = known | _options(command.commands[subcommand])
    for word in rest:
        option = word.split("=", 1)[0]
        if re.fullmatch(r"--?[A-Za-z][\w-]*", option) and option not in known:
            return f"hullcheck {name} has no option {option}"
    return None


@pytest.mark.parametrize("page", PAGES, ids=_ids(PAGES))
def test_commands_and_options_named_exist(page: Path) -> None:
    stale = []
    for line, text in _command_lines(page):
        for words in _invocations(text):
            problem = _command_problem(words)
            if problem:
                stale.append(f"{_where(page, line)}: {problem}: {text.strip()}")
    assert not stale, "\n".join(stale)


def test_the_readme_commands_table_has_every_command() -> None:
    readme = README.read_text(encoding="utf-8")
    table = readme[readme.index("## Commands"):].split("\n## ", 1)[0]
    missing = []
    for name, command in _cli().commands.items():
        if f"`hullcheck {name}" not in table:
            missing.append(name)
        for sub in getattr(command, "commands", {}) or {}:
            if not re.search(rf"\b{name} {sub}\b", table):
                missing.append(f"{name} {sub}")
    assert not missing, f"the README's commands table lacks {missing}"


def test_the_worked_example_policy_does_what_the_page_says(tmp_path: Path, hullcheck_cli: Any) -> None:
    """docs/policies.md: the acme-no-latest example passes its own cases with the output shown,
    and a wrong expectation fails with the line shown."""
    page = (DOCS / "policies.md").read_text(encoding="utf-8")
    blocks = [token.content for token in _tokens(DOCS / "policies.md") if token.type == "fence"]
    policy = next(block for block in blocks if block.startswith("id: acme-no-latest"))
    (tmp_path / "mypolicies").mkdir()
    (tmp_path / "mypolicies" / "acme-no-latest.yaml").write_text(policy, encoding="utf-8")
    done = hullcheck_cli("test", str(tmp_path / "mypolicies"))
    assert done.returncode == 0, done.stdout + done.stderr
    shown = next(block for block in blocks if block.startswith("$ hullcheck test mypolicies/"))
    assert done.stdout.splitlines() == shown.splitlines()[1:3]

    (tmp_path / "wrong").mkdir()
    (tmp_path / "wrong" / "acme-no-latest.yaml").write_text(
        policy.replace("offenders: [web]}", "offenders: [db]}"), encoding="utf-8")
    done = hullcheck_cli("test", str(tmp_path / "wrong"))
    assert done.returncode == 1
    failure = next(line for line in done.stdout.splitlines() if line.startswith("FAIL "))
    assert f"\n{failure}\n" in page


def test_every_page_is_in_the_index_and_the_index_in_the_readme() -> None:
    index = DOCS / "index.md"
    listed = {(index.parent / href.partition("#")[0]).resolve() for _, href in links(index) if href.partition("#")[0]}
    missing = [p.name for p in DOCS.glob("*.md") if p != index and p.resolve() not in listed]
    assert not missing, f"docs/index.md does not list {missing}"
    assert any(href == "docs/index.md" for _, href in links(README)), "README.md does not link docs/index.md"
