"""Bad policies stop the run before anything is evaluated: file, line, and why (exit 2, one line)."""

from __future__ import annotations

from pathlib import Path

import pytest
from policy_packs import MISCONFIGURED, policy, write_pack, write_text_policy

from evaluator.pack import PolicyError, load_pack, load_policy

HEAD = """id: tst-lines
title: A policy for line numbers
description: A policy whose jq is broken on purpose.
remediation: Nothing to do, it only exists in a test.
severity: low
level: 1
controls: {}
automated: true
resources: running_containers
message: '"container \\\\(.inspect.Name) does not comply"'
evidence: []
"""  # 11 lines: the field under test starts on line 12


def _error(tmp_path: Path, body: str) -> PolicyError:
    path = write_text_policy(tmp_path, "tst-lines.yaml", HEAD + body)
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.path == str(path)
    return info.value


def _cli_error(hullcheck_cli, pack: Path) -> str:
    proc = hullcheck_cli("evaluate", str(MISCONFIGURED), "--policies", str(pack))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hullcheck: error: "), proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    return lines[0]


# ---- YAML and jq syntax errors --------------------------------------------------------------------

def test_yaml_syntax_error_names_file_and_line(tmp_path, hullcheck_cli):
    path = write_text_policy(tmp_path / "pack", "tst-yaml.yaml", HEAD + "assert: [true\ntags: [a]\n")
    line = _cli_error(hullcheck_cli, tmp_path / "pack")
    assert f"{path}:13: YAML error:" in line  # the parser notices on the line after the open bracket


def test_anchors_and_aliases_are_refused_in_one_line(tmp_path, hullcheck_cli):
    """A policy file is plain YAML: an anchor or an alias is refused where it is written."""
    path = write_text_policy(tmp_path / "pack", "tst-anchor.yaml", HEAD + "tags: &shared [a]\nassert: 'true'\n")
    line = _cli_error(hullcheck_cli, tmp_path / "pack")
    assert line.startswith(f"hullcheck: error: {path}:12: YAML anchor &shared: anchors and aliases are not allowed")
    write_text_policy(tmp_path / "pack", "tst-anchor.yaml", HEAD + "tags: [a]\nassert: 'true'\nreferences: *shared\n")
    assert f"{path}:14: YAML alias *shared:" in _cli_error(hullcheck_cli, tmp_path / "pack")


def test_a_key_written_twice_is_refused_at_its_second_line(tmp_path):
    error = _error(tmp_path, "assert: 'true'\ntags: [a]\nassert: 'false'\n")
    assert (error.line, error.message) == (14, "duplicate key 'assert' (first at line 12)")


def test_jq_syntax_error_names_file_line_and_jq_message(tmp_path, hullcheck_cli):
    body = "assert: |\n  .inspect.HostConfig\n  | .NetworkMode == | \"host\"\n"
    path = write_text_policy(tmp_path / "pack", "tst-jq.yaml", HEAD + body)
    line = _cli_error(hullcheck_cli, tmp_path / "pack")
    assert line == f"hullcheck: error: {path}:14: assert: jq: syntax error, unexpected '|'"


@pytest.mark.parametrize("body, line", [
    # literal block: lines kept
    ("assert: |\n  .inspect.Config\n  | .Foo == 1\n  | bar\n", 15),
    # literal block with a comment on the indicator line
    ("assert: |  # bar is not here\n  .inspect.Config\n  | bar\n", 14),
    # folded block: YAML joins the lines, jq sees one line
    ("assert: >\n  .inspect.Config\n  | .Foo == 1\n  | bar\n", 15),
    ("assert: >-\n  .inspect.Config\n\n  | .Foo == 1\n  | bar\n", 16),
    # plain scalar, on one line and continued over several
    ("assert: .inspect | bar\n", 12),
    ("assert: .inspect.Config\n  | .Foo == 1\n  | bar\n", 14),
    # quoted scalars
    ("assert: \".inspect.Config\n  | .Foo == \\\"1\\\"\n  | bar\"\n", 14),
    ("assert: '.inspect.Config\n  | .Foo == \"1\"\n  | bar'\n", 14),
    # an error jq only notices at the end of the fragment
    ("assert: |\n  .inspect.Config\n  | .Foo ==\n", 14),
    # a later field
    ("assert: 'true'\napplies: >\n  $snap.swarm\n  | nosuchfunction\nnot_applicable_reason: never\n", 15),
])
def test_jq_error_line_for_every_scalar_style(tmp_path, body, line):
    error = _error(tmp_path, body)
    assert error.line == line, (str(error), body)
    assert error.message.startswith(("assert: jq: ", "applies: jq: "))


def test_jq_message_is_jqs_own(tmp_path):
    error = _error(tmp_path, "assert: .inspect | nosuchfunction(1)\n")
    assert error.message == "assert: jq: nosuchfunction/1 is not defined"
    error = _error(tmp_path, "assert: |\n  .inspect.Config\n  | .Foo ==\n")
    assert "syntax error" in error.message and "end of the fragment" in error.message


def test_schema_error_names_the_field_and_its_line(tmp_path):
    error = _error(tmp_path, "assert: 'true'\nseverity_x: 1\n")
    assert "severity_x" in error.message and error.line == 13  # HEAD is 11 lines, then assert, then severity_x
    path = write_text_policy(tmp_path, "bad-level.yaml", HEAD.replace("level: 1", "level: 7") + "assert: 'true'\n")
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert info.value.line == 6 and "level" in info.value.message


# ---- forbidden builtins ---------------------------------------------------------------------------

FORBIDDEN = ["$ENV.HOME == \"x\"", "env.HOME == \"x\"", "input == 1", "[inputs] == []", "halt", "halt_error",
             "halt_error(1)", "input_filename == null", "now > 0", "(now | floor) > 0", "debug | true",
             "stderr | true", "input_line_number > 0", "$__prog_args == []", "get_search_list == []",
             "{a:env} | true", "{a: $ENV} | true", "[.[] | env] | true", "-env", "(1, env) | true",
             "\"\\(env)\" == \"\"", "\"x \\(\"y\" + (now | tostring))\" == \"\"", "@base64 \"\\($ENV)\" == \"\"",
             "import \"a\" as a; true", "include \"a\"; true"]


@pytest.mark.parametrize("fragment", FORBIDDEN)
def test_forbidden_builtins_are_refused_at_load_time(tmp_path, fragment):
    path = write_pack(tmp_path, policy("tst-forbidden", assert_=fragment)) / "tst-forbidden.yaml"
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert "is not allowed in a policy" in info.value.message, info.value.message


ALLOWED = ['{env: 1, now: 2, input: 3} | .env == 1', '.env == null', '.inspect.Config.env == null', '.now == null',
           '"env now input halt $ENV" | length > 0', '{env} | .env == null', '{a: 1, now} | .a == 1',
           '. as $env | $env | type == "object"', '.a.input_filename == null', '."env" == null',
           '"no \\(.halt) here" | length > 0', '{"halt_error": 1} | .halt_error == 1',
           '.inspect.Name | ltrimstr("halt") | length > 0', '# env, now and input in a comment\ntrue']


def test_the_same_words_as_keys_fields_and_strings_are_allowed(tmp_path, hullcheck_cli):
    pack = write_pack(tmp_path / "pack", *(policy(f"tst-allowed-{i}", assert_=f) for i, f in enumerate(ALLOWED)))
    assert len(load_pack([pack])) == len(ALLOWED)
    proc = hullcheck_cli("evaluate", str(MISCONFIGURED), "--policies", str(pack), "--policy", "tst-*", "--format", "json")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr  # every one evaluates, and passes
    assert '"status": "error"' not in proc.stdout


def test_forbidden_builtin_stops_the_cli_with_file_and_line(tmp_path, hullcheck_cli):
    body = 'assert: |\n  .inspect.Config\n  | "\\(env.HOME)" == ""\n'
    path = write_text_policy(tmp_path / "pack", "tst-env.yaml", HEAD + body)
    line = _cli_error(hullcheck_cli, tmp_path / "pack")
    assert line == f"hullcheck: error: {path}:14: assert: 'env' is not allowed in a policy: policies read the snapshot only"


@pytest.mark.parametrize("fragment", [".a) | (.b", ".a] | [.b", "true } | { ", ".a)", "(.a"])
def test_a_fragment_cannot_close_the_wrapper(tmp_path, fragment):
    path = write_pack(tmp_path, policy("tst-escape", assert_=fragment)) / "tst-escape.yaml"
    with pytest.raises(PolicyError) as info:
        load_policy(path)
    assert "unbalanced" in info.value.message


def test_closing_the_wrapper_is_refused_by_the_cli(tmp_path, hullcheck_cli):
    pack = write_pack(tmp_path / "pack", policy("tst-escape", resources="running_containers) | (env"))
    line = _cli_error(hullcheck_cli, pack)
    assert "tst-escape.yaml" in line and ("unbalanced" in line or "not allowed" in line)


def test_duplicate_id_names_both_files(tmp_path, hullcheck_cli):
    pack = write_pack(tmp_path / "pack", policy("cis-docker-5.10"))
    line = _cli_error(hullcheck_cli, pack)
    assert "duplicate policy id 'cis-docker-5.10'" in line
    assert str(pack / "cis-docker-5.10.yaml") in line and "5.10-host-network-namespace.yaml" in line
