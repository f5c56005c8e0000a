"""Shared fixtures: a live Docker engine, a local busybox image, labelled throw-away containers.

No registry is reachable, so the image is built FROM scratch with the host's static busybox.
Tests that need the engine fail (not skip) when none answers, unless HULLCHECK_ALLOW_NO_DOCKER=1
says this run has no engine on purpose: a skipped collector test must never pass CI silently.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from testimage import IMAGE, build_busybox, static_busybox

REPO = Path(__file__).resolve().parent.parent

# The pack cache (evaluator/packcache.py) of this test process, never the user's own ~/.cache:
# the CLIs the tests start inherit it, so they load the pack as a user's second run does.
_CACHE_DIR = tempfile.mkdtemp(prefix="hullcheck-test-cache-")
os.environ["HULLCHECK_CACHE_DIR"] = _CACHE_DIR
atexit.register(shutil.rmtree, _CACHE_DIR, True)
LABEL_KEY = "hullcheck.test"


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # once per run: in xdist's controller, before its workers start
        _compile_bytecode()


def _compile_bytecode() -> None:
    """Compile this checkout's modules to bytecode, as `pip install` does for an installed copy.

    The tests start hundreds of `python -m hullcheck.cli` (and jq workers) from this checkout;
    where PYTHONDONTWRITEBYTECODE is set, as on the CI machines, each of them would compile every
    module it imports from source again (~0.15 s of each CLI run). __pycache__ is git-ignored."""
    import compileall

    for package in ("hullcheck", "hullcheck_runtime", "collector", "evaluator", "hullcheck_common"):
        compileall.compile_dir(str(REPO / package), quiet=1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "docker_client" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.docker)


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    import docker

    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:
        if os.environ.get("HULLCHECK_ALLOW_NO_DOCKER") == "1":
            pytest.skip(f"no Docker engine ({exc}); HULLCHECK_ALLOW_NO_DOCKER=1")
        pytest.fail(f"these tests need a live Docker engine and none answers: {exc}")
    yield client
    client.close()


def _static_busybox() -> Path:
    try:
        return static_busybox()
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="session")
def busybox_image(docker_client: Any) -> str:
    """A local image FROM scratch holding only a static busybox; built once per session."""
    _static_busybox()
    return build_busybox(docker_client, IMAGE)


@pytest.fixture(scope="session")
def session_label() -> str:
    """A label value unique to this test session, so parallel runs never see each other's containers."""
    return f"s-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def run_container(docker_client: Any, busybox_image: str, session_label: str) -> Iterator[Callable[..., Any]]:
    """Start a labelled container (sleeping by default); every one is removed after the test."""
    started: list[Any] = []

    def run(name: str | None = None, command: Any = ("sleep", "3600"), detach: bool = True, **kwargs: Any) -> Any:
        labels = {LABEL_KEY: session_label, **kwargs.pop("labels", {})}
        name = f"hc-{session_label}-{name or uuid.uuid4().hex[:6]}"
        container = docker_client.containers.run(busybox_image, command=list(command), name=name, detach=detach,
                                                 labels=labels, **kwargs)
        started.append(container)
        return container

    yield run
    for container in started:
        try:
            container.remove(force=True, v=True)
        except Exception:  # already gone
            pass


@pytest.fixture
def hullcheck_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run the real CLI (`python -m hullcheck.cli` from this checkout) in another directory, as a user would."""

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None, cwd: str | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "hullcheck.cli"]
        full_env = {**os.environ, "NO_COLOR": "1", "PYTHONPATH": str(REPO), **(env or {})}
        return subprocess.run([*command, *args], capture_output=True, text=True, input=input, env=full_env,
                              cwd=cwd or "/", timeout=timeout, check=False)

    return run


@pytest.fixture(scope="session")
def pack() -> list[Any]:
    """The built-in policy pack, loaded once per session (test modules may define their own `pack`)."""
    from evaluator import load_pack
    from hullcheck_common.resources import policies_dir

    return load_pack([policies_dir()])


@pytest.fixture(scope="session")
def evaluator(pack: list[Any]) -> Iterator[Any]:
    """One evaluator (and its jq workers) over the built-in pack, shared by the tests that use it."""
    from evaluator import Evaluator, Limits

    with Evaluator(pack, Limits(policy_timeout=30)) as ev:
        yield ev
