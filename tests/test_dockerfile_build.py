"""The reader's image config against a real `docker build` on the local engine.

Dockerfiles written for this test exercise every instruction (FROM scratch with the host's static
busybox, so no registry is needed) and are built by the local dockerd; `docker image inspect` of
the result must equal what `collect --dockerfile` plans, field by field. The engine here builds
with its classic builder (BuildKit needs the buildx plugin, which no package source here ships);
its config semantics are the ones BuildKit keeps, except two documented differences this test
names: a FROM scratch stage's WorkingDir ("" for the classic builder, "/" for BuildKit), the
wording of history entries (compared by instruction, in order), and ONBUILD, which only the
classic builder records in the history.
"""

from __future__ import annotations

import io
import tarfile
import uuid
from typing import Any

import pytest

from collector.dockerfile import DockerfileOptions, collect_dockerfile
from testimage import static_busybox

pytestmark = pytest.mark.docker

ALL_INSTRUCTIONS = """\
FROM scratch
MAINTAINER hullcheck tests
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
ARG VERSION=1.2
ARG UNSET
ARG GID=10001
ENV APP_HOME=/srv/app
ENV LEGACY one two  three
ENV QUOTED="a b" EXPANDED=${APP_HOME}/v$VERSION DEFAULTED=${UNSET:-fallback}
LABEL org.example.version=$VERSION "with space"="x y" multi=1 \\
      other=2
EXPOSE 80 53/udp 8000-8002/tcp
VOLUME ["/data", "/logs"]
VOLUME /cache
WORKDIR $APP_HOME
WORKDIR sub/../bin
RUN mkdir -p /srv/app && echo built > /srv/app/built
USER 10001:${GID}
HEALTHCHECK --interval=45s --timeout=2s --start-period=1m --retries=4 CMD wget -q -O /dev/null http://127.0.0.1/ || exit 1
STOPSIGNAL SIGQUIT
SHELL ["/bin/sh", "-e", "-c"]
ONBUILD RUN echo triggered
ONBUILD USER 4242
ENTRYPOINT ["/bin/sh", "-c"]
CMD echo $APP_HOME
"""

MULTI_STAGE = """\
FROM scratch AS build
COPY busybox /bin/busybox
USER root
HEALTHCHECK CMD ["/bin/busybox", "true"]
ENV STAGE=build
CMD ["build"]

FROM build AS final
ENV STAGE=final
USER 10001
ENTRYPOINT ["/bin/busybox"]

FROM final AS other
HEALTHCHECK NONE
"""

FROM_ENGINE = """\
FROM {base}
ENV CHILD=1
"""

_FIELDS = ("User", "Env", "Cmd", "Entrypoint", "WorkingDir", "ExposedPorts", "Volumes", "Labels", "Healthcheck",
           "StopSignal", "Shell", "OnBuild")


def _build(client: Any, dockerfile: str, tag: str, target: str | None = None) -> dict[str, Any]:
    context = io.BytesIO()
    with tarfile.open(fileobj=context, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        tar.add(str(static_busybox()), arcname="busybox")
    context.seek(0)
    client.images.build(fileobj=context, custom_context=True, tag=tag, rm=True, forcerm=True, network_mode="none",
                        target=target, labels={"hullcheck-test": "dockerfile-build"})
    return client.api.inspect_image(tag)


def _config(inspect: dict[str, Any]) -> dict[str, Any]:
    config = inspect["Config"] or {}
    out = {key: config.get(key) or None for key in _FIELDS}
    labels = dict(out["Labels"] or {})
    labels.pop("hullcheck-test", None)  # the label the test build adds
    out["Labels"] = labels or None
    return out


def _kinds(history: list[dict[str, Any]]) -> list[str]:
    """The instruction of each history entry, oldest first, whichever builder wrote it."""
    out = []
    for entry in reversed(history):
        text = str(entry.get("CreatedBy") or "")
        if "#(nop)" in text:  # the classic builder: `/bin/sh -c #(nop)  ENV A=1`; its RUN steps have no marker
            out.append(text.split("#(nop)", 1)[1].split()[0])
            continue
        word = text.split(None, 1)[0] if text.strip() else ""
        out.append(word if word.isupper() and word.isalpha() else "RUN")
    return out


@pytest.fixture
def built(docker_client: Any):
    tags: list[str] = []

    def build(dockerfile: str, target: str | None = None) -> dict[str, Any]:
        tag = f"hullcheck-test/dockerfile-{uuid.uuid4().hex[:10]}:1"
        tags.append(tag)
        return _build(docker_client, dockerfile, tag, target)

    yield build
    for tag in tags:
        try:
            docker_client.images.remove(tag, force=True)
        except Exception:  # noqa: BLE001 - already gone
            pass


def _planned(tmp_path, dockerfile: str, **options: Any) -> dict[str, Any]:
    path = tmp_path / "Dockerfile"
    path.write_text(dockerfile)
    return collect_dockerfile(DockerfileOptions(path=str(path), redact=False, **options))["images"][0]


def test_every_instruction_gives_the_config_docker_build_gives(built, tmp_path):
    real = built(ALL_INSTRUCTIONS)
    planned = _planned(tmp_path, ALL_INSTRUCTIONS)
    assert _config(planned["inspect"]) == _config(real)
    assert planned["inspect"]["Author"] == real["Author"] == "hullcheck tests"
    # BuildKit writes no history entry for ONBUILD (dispatchOnbuild commits nothing); the classic builder does
    # (and the label this test's build adds is one more LABEL step there)
    history = [h for h in _history(built, real) if "hullcheck-test=" not in str(h.get("CreatedBy"))]
    classic = [k for k in _kinds(history) if k != "ONBUILD"]
    assert _kinds(planned["history"]) == classic


def _history(built: Any, inspect: dict[str, Any]) -> list[dict[str, Any]]:
    import docker

    client = docker.from_env()
    try:
        return client.api.history(inspect["Id"])
    finally:
        client.close()


@pytest.mark.parametrize("target", [None, "final", "build"])
def test_from_stage_inherits_as_docker_build_does(built, tmp_path, target):
    real = built(MULTI_STAGE, target)
    planned = _planned(tmp_path, MULTI_STAGE, target=target)
    expected = _config(real)
    mine = _config(planned["inspect"])
    # the one difference between the builders: a scratch stage's working directory
    assert expected.pop("WorkingDir") in (None, "") and mine.pop("WorkingDir") == "/"
    assert mine == expected


def test_base_image_read_from_the_engine_with_its_onbuild_triggers(built, tmp_path):
    base = built(ALL_INSTRUCTIONS)
    base_tag = base["RepoTags"][0]
    child = FROM_ENGINE.format(base=base_tag)
    real = built(child)
    planned = _planned(tmp_path, child, images_from_engine=True)
    assert _config(planned["inspect"]) == _config(real)
    # the base's ONBUILD triggers ran in the child (USER 4242) and are not inherited
    assert planned["inspect"]["Config"]["User"] == "4242" and not planned["inspect"]["Config"]["OnBuild"]
    # the base image's history is there, older than the child's own steps
    assert planned["planned"]["steps"] == 3 and len(planned["history"]) == 3 + len(_history(built, base))
