"""Dockerfiles nobody on hullcheck wrote: the committed sample (tests/data/dockerfiles/corpus, see
ATTRIBUTION.md there) always, and the whole cached corpus when `scripts/fetch-corpus dockerfile`
has fetched it (.cache/corpora/dockerfile)."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.dockerfile.build import BuildError, plan
from collector.dockerfile.parser import ParseError

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "tests" / "data" / "dockerfiles" / "corpus"
CACHE = REPO / ".cache" / "corpora" / "dockerfile"
FILES = sorted(p for p in SAMPLE.rglob("*") if p.is_file() and p.name != "ATTRIBUTION.md")


def test_the_sample_is_there():
    assert len(FILES) >= 25


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(SAMPLE)) for p in FILES])
def test_every_sample_file_plans(path):
    built = plan(path.read_text(encoding="utf-8"))
    target = built.images[built.target.index]
    lines = path.read_text(encoding="utf-8").count("\n") + 1
    assert all(1 <= step.line <= lines for step in target.steps if step.line)


def _target(rel: str, **kw):
    built = plan((SAMPLE / rel).read_text(encoding="utf-8"), **kw)
    return built, built.images[built.target.index]


def test_jupyter_foundation_runs_as_its_notebook_user_after_a_root_builder():
    built, image = _target("jupyter+docker-stacks/images/docker-stacks-foundation/Dockerfile")
    assert image.config["User"] == "1000"  # USER ${NB_UID}, ARG NB_UID="1000"
    assert image.config["WorkingDir"] == "/home/jovyan"  # WORKDIR "${HOME}"


def test_an_unread_base_images_variable_leaves_the_user_unknown():
    _built, image = _target("jupyter+docker-stacks/images/base-notebook/Dockerfile")
    assert "NB_UID" in image.unknown["/User"]  # USER ${NB_UID}: the ENV of docker-stacks-foundation


def test_microservices_demo_cartservice_multi_stage_user():
    built, image = _target("GoogleCloudPlatform+microservices-demo/src/cartservice/src/Dockerfile")
    assert len(built.stages) == 2 and image.config["User"] == "1000"


def test_buildah_heredoc_with_a_shebang_runs_the_script_file():
    _built, image = _target("containers+buildah/tests/bud/heredoc/Containerfile.she_bang")
    assert any(s.created_by.startswith("RUN /bin/sh -c /dev/pipes/") for s in image.steps)


def test_kaniko_onbuild_and_multistage():
    _built, image = _target("GoogleContainerTools+kaniko/integration/dockerfiles/Dockerfile_test_onbuild")
    assert image.config.get("OnBuild")
    built, _image = _target("GoogleContainerTools+kaniko/integration/dockerfiles/Dockerfile_test_multistage")
    assert len(built.stages) == 6


def test_buildkit_and_buildx_own_dockerfiles_plan_every_target():
    for rel in ("moby+buildkit/Dockerfile", "docker+buildx/Dockerfile"):
        text = (SAMPLE / rel).read_text(encoding="utf-8")
        stages = [s.name for s in plan(text).stages if s.name]
        planned = 0
        for name in stages:
            try:
                plan(text, target=name)
                planned += 1
            except BuildError as exc:  # a target needing a --build-arg it has no default for
                assert "should not be blank" in exc.message, (rel, name, exc.message)
        assert planned >= len(stages) - 2, (rel, planned, len(stages))


CACHED = sorted(p for p in CACHE.rglob("*") if p.is_file() and p.name != "MANIFEST.json") if CACHE.is_dir() else []


@pytest.mark.skipif(not CACHED, reason="the corpus is not fetched: scripts/fetch-corpus dockerfile")
def test_the_cached_corpus_plans_or_is_refused_as_buildkit_refuses_it():
    """Every file plans, or is refused with a reason BuildKit gives too; which refusals the corpus
    holds was checked file by file (docs/dockerfiles.md, "The corpus")."""
    unexplained: list[str] = []
    planned = 0
    for path in CACHED:
        try:
            plan(path.read_bytes().decode("utf-8", "surrogateescape"))
            planned += 1
        except (ParseError, BuildError) as exc:
            if not any(exc.message.startswith(k) for k in KNOWN_REFUSALS):
                unexplained.append(f"{path.relative_to(CACHE)}: {exc.message}")
    assert unexplained == []
    assert planned >= 0.9 * len(CACHED), (planned, len(CACHED))


KNOWN_REFUSALS = ("unknown instruction", "no build stage in current context", "FROM requires either one or three",
             "base name (", "failed to process", "missing a value on flag", "invalid name for build stage",
             "variable expansion is not supported for", "invalid field 'z' must be a key=value pair",
             "file with no instructions", "HEALTHCHECK requires at least one", "unknown flag",
             "when using JSON array syntax, arrays must", "ENV must have two arguments")
