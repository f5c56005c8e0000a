"""The Dockerfile reader (collector/dockerfile) against what BuildKit's frontend does, the planned
snapshot, and bad input. Expected values come from BuildKit's source (parser, shell lexer,
dockerfile2llb) and its own parser test files; test_dockerfile_build.py checks the config against
a real `docker build`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support.planned import comparable

from collector.dockerfile import DockerfileOptions, collect_dockerfile, parse_build_args
from collector.dockerfile.build import BuildError, go_duration, plan
from collector.dockerfile.parser import ParseError, parse
from collector.dockerfile.shell import Env, Lex, ShellError
from tests.dockerfile_support import EXAMPLES, NAMES
from tests.dockerfile_support import plan as plan_example

REPO = Path(__file__).resolve().parent.parent


def config(text: str, **kw):
    built = plan(text, **kw)
    return built.images[built.target.index].config


# --- the shell lexer -----------------------------------------------------------------------------

@pytest.mark.parametrize(("word", "expected"), [
    ("$A", "hello"), ("${A}", "hello"), ("${UNSET:-def}", "def"), ("${EMPTY:-def}", "def"), ("${EMPTY-def}", ""),
    ("${A:+alt}", "alt"), ("${UNSET:+alt}", ""), ('"a $A" b', "a hello b"), ("'$A'", "$A"), ("a\\ b", "a b"),
    ("${A#h*l}", "lo"), ("${A##h*l}", "o"), ("${A%l*}", "hel"), ("${A%%l*}", "he"), ("${A/l/L}", "heLlo"),
    ("${A//l/L}", "heLLo"), ('"\\$A"', "$A"), ("$", "$"), ("${A}x${A}", "hellox" + "hello"),
])
def test_lexer_expands_like_buildkit(word, expected):
    assert Lex().process_word(word, Env({"A": "hello", "EMPTY": ""})) == expected


@pytest.mark.parametrize("word", ["${A", "${}", "${:x}", "'open", '"open', "${A:x}", "${UNSET:?must be set}"])
def test_lexer_refuses_what_buildkit_refuses(word):
    with pytest.raises(ShellError):
        Lex().process_word(word, Env({"A": "x"}))


def test_lexer_splits_words_after_expansion_but_not_inside_quotes():
    assert Lex().process_words('$W "c d" e', Env({"W": "a b"})) == ["a", "b", "c d", "e"]


# --- the parser ----------------------------------------------------------------------------------

def test_directives_escape_continuations_and_comments():
    text = "# syntax=docker/dockerfile:1\n# escape=`\nFROM scratch\nRUN echo a `\n# a comment inside\n    b\\c\n"
    result = parse(text)
    assert result.escape == "`"
    assert result.directives == {"syntax": "docker/dockerfile:1", "escape": "`"}
    run = result.nodes[1]
    assert (run.start, run.end) == (4, 6)
    assert run.args == ["echo a     b\\c"]


def test_a_directive_after_an_instruction_or_a_comment_is_a_comment():
    result = parse("# hello\n# escape=`\nFROM scratch\n")
    assert result.escape == "\\" and result.directives == {}


def test_heredocs_several_per_line_chomped_and_quoted():
    text = 'FROM scratch\nRUN <<A cat - 3<<-"B"\nline $X\nA\n\tnot expanded\n\tB\nCOPY <<EOF /etc/x\ncontent\nEOF\n'
    result = parse(text)
    run, copy = result.nodes[1], result.nodes[2]
    assert [(h.name, h.content, h.expand, h.chomp, h.file_descriptor) for h in run.heredocs] == [
        ("A", "line $X\n", True, False, 0), ("B", "\tnot expanded\n", False, True, 3)]
    assert (run.start, run.end, copy.start, copy.end) == (2, 6, 7, 9)


def test_json_and_shell_forms():
    nodes = parse('FROM scratch\nCMD ["a", "b c"]\nCMD [not json\nENTRYPOINT ["x"] # trailing text\n').nodes
    assert (nodes[1].json, nodes[1].args) == (True, ["a", "b c"])
    assert (nodes[2].json, nodes[2].args) == (False, ["[not json"])
    # BuildKit reads the JSON form with json.Unmarshal: trailing text makes it the shell form
    assert nodes[3].json is False


def test_json_array_of_non_strings_is_refused():
    with pytest.raises(ParseError, match="arrays must be comprised of strings only"):
        parse('FROM scratch\nCMD ["a", 1]\n')


@pytest.mark.parametrize(("text", "message"), [
    ("", "file with no instructions"),
    ("# only a comment\n", "file with no instructions"),
    ("FROM scratch\nRUN <<EOT\necho\n", "unterminated heredoc"),
    ("# escape=x\nFROM scratch\n", "invalid escape token"),
    ("# syntax=a\n# syntax=b\nFROM scratch\n", "only one syntax parser directive can be used"),
])
def test_parser_refusals(text, message):
    with pytest.raises(ParseError, match=message):
        parse(text)


# --- what the build makes ------------------------------------------------------------------------

def test_meta_args_and_default_substitution_in_from():
    text = "ARG TAG\nARG BASE=scratch\nFROM ${BASE:-busybox}${TAG:+:$TAG} AS one\nFROM ${UNSET:-one}\n"
    built = plan(text)
    assert [s.base for s in built.stages] == ["scratch", "one"]
    assert built.bases == {0: None, 1: 0}
    assert plan(text, build_args={"TAG": "1.36", "BASE": "busybox"}).stages[0].base == "busybox:1.36"


def test_from_stage_inherits_user_healthcheck_and_env_but_not_onbuild():
    text = ("FROM scratch AS base\nUSER 10001\nHEALTHCHECK --interval=5s CMD [\"true\"]\nENV A=1\n"
            "ONBUILD USER 0\nFROM base AS next\nENV B=$A-2\nFROM base\n")
    built = plan(text, target="next")
    cfg = built.images[1].config
    assert cfg["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 5_000_000_000, "Timeout": 0, "StartPeriod": 0,
                                  "StartInterval": 0, "Retries": 0}
    # the base stage's ONBUILD trigger runs first in the stage built FROM it: USER 0
    assert cfg["User"] == "0"
    assert "OnBuild" not in cfg
    assert "B=1-2" in cfg["Env"]
    assert built.images[0].config["OnBuild"] == ["USER 0"]
    assert built.images[1].lines["/User"] == 6  # the trigger ran at the FROM line
    assert plan(text).target.index == 2


def test_target_and_needed_stages():
    text = "FROM scratch AS a\nFROM scratch AS b\nCOPY --from=a /x /x\nFROM scratch AS c\nCOPY --from=0 /y /y\n"
    assert plan(text, target="b").needed == [0, 1]
    assert plan(text).needed == [0, 2]
    with pytest.raises(BuildError, match='target stage "nope" could not be found'):
        plan(text, target="nope")


def test_entrypoint_resets_cmd_unless_cmd_came_first():
    assert config('FROM scratch\nCMD ["c"]\nENTRYPOINT ["e"]\n')["Cmd"] == ["c"]
    assert config('FROM scratch AS b\nCMD ["c"]\nFROM b\nENTRYPOINT ["e"]\n')["Cmd"] is None
    assert config("FROM scratch\nSHELL [\"/bin/bash\", \"-c\"]\nCMD echo $HOME\n")["Cmd"] == ["/bin/bash", "-c", "echo $HOME"]


def test_history_is_what_buildkit_writes():
    text = ("FROM scratch\nARG V=1\nENV A=\"x y\" B=$V\nRUN echo hi\nCOPY --chown=1:1 a b /d/\n"
            "EXPOSE 80 53/udp\nHEALTHCHECK --interval=1m30s --timeout=500ms CMD curl -f http://x/\n"
            "VOLUME /data\nWORKDIR app\nCMD [\"run\", \"it\"]\n")
    steps = [s.created_by for s in plan(text).images[0].steps]
    assert steps == [
        "ARG V=1", "ENV A=x y B=1", "RUN |1 V=1 /bin/sh -c echo hi # buildkit", "COPY --chown=1:1 a b /d/ # buildkit",
        "EXPOSE [53/udp 80/tcp]",
        "HEALTHCHECK {Test:[CMD-SHELL curl -f http://x/] Interval:1m30s Timeout:500ms StartPeriod:0s StartInterval:0s Retries:0}",
        "VOLUME [/data]", "WORKDIR /app", 'CMD ["run" "it"]']


def test_go_duration_strings():
    assert [go_duration(n) for n in (0, 1, 1500, 2_000_000, 1_500_000_000, 90 * 10**9, 3600 * 10**9)] == [
        "0s", "1ns", "1.5µs", "2ms", "1.5s", "1m30s", "1h0m0s"]


@pytest.mark.parametrize(("text", "message"), [
    ("RUN echo\n", "no build stage in current context"),
    ("FROM scratch\nFOO bar\n", "unknown instruction: FOO"),
    ("FROM scratch\nCOPY --form=a x y\n", "unknown flag: --form"),
    ("FROM scratch AS one\nCOPY --from=a x y\nFROM scratch AS a\nFROM one\n", 'cannot copy from stage "a"'),
    ("FROM scratch AS Bad!\n", "invalid name for build stage"),
    ("FROM $NOPE\n", "base name ($NOPE) should not be blank"),
    ("FROM scratch\nHEALTHCHECK --interval=1us CMD x\n", "cannot be less than 1ms"),
    ("FROM scratch\nSTOPSIGNAL SIGNOPE\n", "invalid signal"),
    ("FROM scratch\nEXPOSE 80/xyz\n", "invalid proto"),
    ("FROM scratch\nSHELL /bin/bash -c\n", "SHELL requires the arguments to be in JSON form"),
    ("FROM scratch\nCOPY --from=$X a b\n", "variable expansion is not supported for --from"),
])
def test_build_refusals(text, message):
    with pytest.raises((BuildError, ParseError), match=re.escape(message)):
        plan(text)


# --- the planned snapshot ------------------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_recorded_plans_are_what_the_dockerfiles_give(name):
    recorded = json.loads((EXAMPLES / f"dockerfile-{name}.json").read_text())
    assert comparable(plan_example(name)) == comparable(recorded), "re-record with: python tests/dockerfile_support.py"
    assert recorded["meta"]["source"]["subjects"] == ["image"]


def test_every_field_and_step_has_its_line():
    snapshot = plan_example("hardened")
    target = snapshot["images"][0]
    assert target["planned"]["target"] is True and target["planned"]["stage"] == "runtime"
    positions = target["planned"]["positions"]
    lines = {p: v["line"] for p, v in positions.items()}
    assert lines["/inspect/Config/User"] == 20
    assert lines["/inspect/Config/Healthcheck"] == 21
    assert lines[""] == 14
    assert all(f"/history/{i}" in lines for i in range(len(target["history"])))
    builder = snapshot["images"][1]
    assert builder["planned"]["target"] is False and builder["planned"]["stage"] == "build"


def test_secrets_are_found_by_key_and_line_and_never_written(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch AS b\nARG NPM_TOKEN=tok-9f8e7d6c\nENV DB_PASSWORD=\"pw 5a4b3c\" PLAIN=1\n"
                          "RUN curl https://ci:pw-1a2b3c@example.com/x && mysql --password=pw-6d5e4f x\n"
                          "RUN echo $NPM_TOKEN\nCOPY id_rsa /root/.ssh/\nFROM scratch\nENV API_KEY=$API_KEY\n")
    snapshot = collect_dockerfile(DockerfileOptions(path=str(dockerfile)))
    text = json.dumps(snapshot)
    for secret in ("tok-9f8e7d6c", "5a4b3c", "pw-1a2b3c", "pw-6d5e4f"):
        assert secret not in text
    found = [(s["line"], s["instruction"], s["key"]) for s in snapshot["images"][0]["planned"]["secrets"]]
    assert found == [(2, "ARG", "NPM_TOKEN"), (3, "ENV", "DB_PASSWORD"), (4, "RUN", "--password"), (4, "RUN", "ci"),
                     (6, "COPY", "id_rsa")]


def test_build_args_from_the_command_line_and_the_environment():
    assert parse_build_args(["A=1", "B", "C=", "D"], {"B": "env"}) == {"A": "1", "B": "env", "C": ""}


def test_an_unread_base_image_leaves_user_and_healthcheck_unknown(tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM debian:12\nRUN true\n")
    snapshot = collect_dockerfile(DockerfileOptions(path=str(dockerfile)))
    sources = {e["source"] for e in snapshot["meta"]["errors"]}
    assert {"/images/0/inspect/Config/User", "/images/0/inspect/Config/Healthcheck"} <= sources
    dockerfile.write_text("FROM debian:12\nUSER 10001\n")
    sources = {e["source"] for e in collect_dockerfile(DockerfileOptions(path=str(dockerfile)))["meta"]["errors"]}
    assert "/images/0/inspect/Config/User" not in sources


# --- the command line ----------------------------------------------------------------------------

def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hullcheck", *args], cwd=cwd, capture_output=True, text=True,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}, timeout=120)


@pytest.mark.parametrize(("content", "expected"), [
    ("FROM scratch\nRUN <<EOT\necho\n", "hullcheck: error: Dockerfile:2: unterminated heredoc"),
    ("FROM scratch\n\nFROBNICATE x\n", "hullcheck: error: Dockerfile:3: unknown instruction: FROBNICATE"),
    ("\n\n", "hullcheck: error: Dockerfile: the Dockerfile cannot be empty"),
    ("FROM scratch\nCOPY --from=x\n", "hullcheck: error: Dockerfile:2: COPY requires at least two arguments"),
])
def test_bad_dockerfile_is_one_line_and_exit_2(tmp_path, content, expected):
    (tmp_path / "Dockerfile").write_text(content)
    done = _cli("collect", "--dockerfile", "Dockerfile", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(expected), done.stderr
    assert done.stdout == ""


def test_bad_flags_are_one_line_and_exit_2(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM scratch AS a\n")
    for args, expected in ((["--dockerfile", "missing"], "missing: no such file"),
                           (["--dockerfile", "Dockerfile", "--target", "b"], 'target stage "b" could not be found'),
                           (["--target", "a"], "--target and --build-arg need --dockerfile"),
                           (["--dockerfile", "Dockerfile", "--compose", "c.yaml"], "two sources")):
        done = _cli("collect", *args, cwd=tmp_path)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and expected in done.stderr, (args, done.stderr)


def test_audit_of_a_multi_stage_dockerfile_passes_4_1(tmp_path):
    done = _cli("audit", "--dockerfile", "snapshots/dockerfile/hardened/Dockerfile", "-f", "json", cwd=REPO)
    assert done.returncode == 0, done.stderr
    results = {r["id"]: r for r in json.loads(done.stdout)["results"]}
    assert results["cis-docker-4.1-image"]["status"] == "pass"
    assert {r["status"] for r in results.values()} <= {"pass", "manual"}
    assert "cis-docker-4.1" not in results  # the container half is not judged from a Dockerfile


def test_sarif_points_at_dockerfile_lines():
    done = _cli("audit", "--dockerfile", "snapshots/dockerfile/misconfigured/Dockerfile", "-f", "sarif", cwd=REPO)
    assert done.returncode == 1, done.stderr
    results = json.loads(done.stdout)["runs"][0]["results"]
    where = {(r["ruleId"], loc["physicalLocation"]["artifactLocation"]["uri"], loc["physicalLocation"]["region"]["startLine"])
             for r in results for loc in r["locations"]}
    uri = "snapshots/dockerfile/misconfigured/Dockerfile"
    assert {("cis-docker-4.1-image", uri, 14), ("cis-docker-4.7", uri, 4), ("cis-docker-4.9", uri, 6),
            ("cis-docker-4.9", uri, 13), ("cis-docker-4.10", uri, 3), ("cis-docker-4.10", uri, 7),
            ("cis-docker-4.10", uri, 10)} <= where
    assert all(loc["physicalLocation"]["artifactLocation"].get("uriBaseId") == "%SRCROOT%"
               for r in results for loc in r["locations"])


def test_text_report_shows_path_and_line():
    done = _cli("audit", "--dockerfile", "snapshots/dockerfile/misconfigured/Dockerfile", cwd=REPO)
    assert "(snapshots/dockerfile/misconfigured/Dockerfile:14)" in done.stdout
    assert "not judged from" in done.stdout or "not judged:" in done.stdout


# --- Compose services with build: ----------------------------------------------------------------

COMPOSE = """\
services:
  web:
    build:
      context: ./app
      target: runtime
      args:
        BUSYBOX: busybox
    read_only: true
  worker:
    build: ./app
    user: "0"
    healthcheck:
      disable: true
  legacy:
    build:
      context: ./bad
"""


def _compose_project(tmp_path: Path) -> Path:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "Dockerfile").write_text((REPO / "snapshots/dockerfile/hardened/Dockerfile").read_text())
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "Dockerfile").write_text((REPO / "snapshots/dockerfile/misconfigured/Dockerfile").read_text())
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    return tmp_path


def test_compose_build_takes_image_facts_from_the_dockerfile_and_compose_keys_win(tmp_path):
    project = _compose_project(tmp_path)
    done = _cli("audit", "--compose", "compose.yaml", "-f", "json", cwd=project)
    assert done.returncode == 1, done.stderr
    document = json.loads(done.stdout)
    results = {r["id"]: r for r in document["results"]}
    snapshot_errors = [r for r in results.values() if r["status"] == "error"]
    assert snapshot_errors == []  # the Dockerfiles decide USER and HEALTHCHECK: nothing image-related is unknown
    user = {f["resource"]["name"]: f for f in results["cis-docker-4.1"]["findings"] if f["status"] == "fail"}
    assert {name.rsplit("-", 2)[-2] for name in user} == {"legacy", "worker"}
    where = {name.rsplit("-", 2)[-2]: [(loc["file"], loc["line"]) for loc in f["locations"]] for name, f in user.items()}
    assert where["legacy"] == [("bad/Dockerfile", 14)]  # USER root in the Dockerfile decided
    assert where["worker"] == [("compose.yaml", 11)]  # the service's user: decided
    health = {f["resource"]["name"].rsplit("-", 2)[-2]: [(loc["file"], loc["line"]) for loc in f["locations"]]
              for f in results["cis-docker-5.27"]["findings"] if f["status"] == "fail"}
    assert health == {"legacy": [("bad/Dockerfile", 15)], "worker": [("compose.yaml", 12)]}
    assert results["cis-docker-4.10"]["status"] == "fail" and results["cis-docker-4.1-image"]["status"] == "not_applicable"
    # 4.6 judges each built image as its service runs it: worker's healthcheck: disable wins over the HEALTHCHECK
    images = {f["resource"]["name"]: f.get("message", "") for f in results["cis-docker-4.6"]["findings"]
              if f["status"] == "fail"}
    assert {n.split(":")[0].rsplit("-", 1)[-1] for n in images} == {"legacy", "worker"}
    assert any("switches it off (healthcheck: disable)" in m for m in images.values())
    image_findings = {f["resource"]["name"] for f in results["cis-docker-4.9"]["findings"] if f["status"] == "fail"}
    assert image_findings == {f"{project.name.lower()}-legacy:latest", f"{project.name.lower()}-legacy:latest (stage build)"}


def test_compose_build_sarif_points_at_dockerfile_lines(tmp_path):
    project = _compose_project(tmp_path)
    done = _cli("audit", "--compose", "compose.yaml", "-f", "sarif", cwd=project)
    results = json.loads(done.stdout)["runs"][0]["results"]
    lines = {(r["ruleId"], loc["physicalLocation"]["artifactLocation"]["uri"], loc["physicalLocation"]["region"]["startLine"])
             for r in results for loc in r["locations"]}
    assert ("cis-docker-4.1", "bad/Dockerfile", 14) in lines
    assert ("cis-docker-4.7", "bad/Dockerfile", 4) in lines


def test_compose_build_of_a_bad_dockerfile_names_the_dockerfile_line(tmp_path):
    project = _compose_project(tmp_path)
    (project / "bad" / "Dockerfile").write_text("FROM scratch\nRUN <<EOT\necho\n")
    done = _cli("collect", "--compose", "compose.yaml", cwd=project)
    assert done.returncode == 2 and done.stderr == "hullcheck: error: bad/Dockerfile:2: unterminated heredoc\n"


def test_workdir_absolute_is_kept_as_written_relative_is_joined_and_cleaned():
    # system.NormalizeWorkdir: found by building the corpus (WORKDIR /root/ stays /root/ in docker image inspect)
    assert config("FROM scratch\nWORKDIR /root/\n")["WorkingDir"] == "/root/"
    assert config("FROM scratch\nWORKDIR /a/\nWORKDIR b/../c/\n")["WorkingDir"] == "/a/c"
