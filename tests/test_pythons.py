"""Every Python a Docker host ships (issue 25): hullcheck installed from its wheel into a fresh
virtualenv of each of Python 3.9 to 3.13 collects the live engine, evaluates every recorded
example exactly as the Python running this suite does, and passes `hullcheck test`.

The interpreters come from pyenv (`~/.pyenv/versions/X.Y.Z`, the newest patch release) or from
`pythonX.Y` on PATH. One that is missing fails the test under CI (CI=true) and skips it elsewhere.
Each virtualenv gets the same wheel of this checkout (built once per test process) and its
dependencies from the package index, as `pip install hullcheck` would: typer 0.23 and tomli on
3.9, tomli on 3.10. The jq binding is PyPI's wheel on every version (no build from source).

What may differ between two runs on the same input, and so is left out of the comparisons:
`evaluated_at` (the time of the run), in a results document and in a fleet report, and a fleet
report's `hosts[].results_file` (where `--output-dir` put each host's results, or null without
it). Everything else (statuses, messages, evidence, summaries, the pack digest, the tool's
version) must be equal, and every renderer's output byte for byte.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterator

import pytest
from pythons_support import SUPPORTED, require

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((REPO / "snapshots" / "examples").glob("*.json"))
THIS = f"{sys.version_info[0]}.{sys.version_info[1]}"
OTHERS = [v for v in SUPPORTED if v != THIS]
VOLATILE = ("evaluated_at",)  # top-level keys of results and fleet documents that name the moment of the run
FORMATS = ("text", "markdown", "sarif", "junit", "html")
# Collector errors about one container, image, network or volume can come and go with what other
# tests run on the shared engine meanwhile; the ones about the host and the engine cannot.
_RESOURCE_POINTER = re.compile(r"^/(containers|images|networks|volumes|plugins)/")


def _env(cache: Path | None = None) -> dict[str, str]:
    """The environment of an installed hullcheck: no PYTHONPATH (it would import this checkout
    instead of what pip installed), bytecode written, a pack cache of its own when given."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONDONTWRITEBYTECODE")}
    if cache is not None:
        env["HULLCHECK_CACHE_DIR"] = str(cache)
    return env


def _run(argv: list[str], cwd: Path, env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,),
         timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode in ok, f"{argv} exited {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def _stable(document: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in document.items() if k not in VOLATILE}
    if "hosts" in out:  # a fleet report: where each host's results file went is the caller's choice
        out["hosts"] = [{k: v for k, v in host.items() if k != "results_file"} for host in out["hosts"]]
    return out


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pythons")


@pytest.fixture(scope="module")
def wheel(work: Path) -> Path:
    """This checkout's wheel, built once; every virtualenv installs this same file."""
    dist = work / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--disable-pip-version-check", "--no-deps",
          "--wheel-dir", str(dist), str(REPO)], cwd=work)
    return next(dist.glob("hullcheck-*.whl"))


@pytest.fixture(scope="module")
def baseline(work: Path) -> Iterator[Path]:
    """This checkout run by the Python running the suite: every example's results, a fleet report
    of them all, and `hullcheck test`'s output; the other Pythons must give the same."""
    out = work / f"baseline-{THIS}"
    out.mkdir()
    hullcheck = [sys.executable, "-m", "hullcheck.cli"]
    # One fleet run writes each example's results document too (what `evaluate EXAMPLE -f json` writes).
    _run([*hullcheck, "evaluate", *map(str, EXAMPLES), "--jobs", "2", "--output-dir", str(out), "-f", "json",
          "-o", str(out / "fleet.json")], cwd=REPO, ok=(0, 1))
    for fmt in FORMATS:
        _run([*hullcheck, "render", str(out / "misconfigured.results.json"), "-f", fmt, "-o", str(out / f"render.{fmt}")],
             cwd=REPO)
    (out / "test.txt").write_text(_run([*hullcheck, "test"], cwd=REPO).stdout)
    yield out


@pytest.mark.docker
@pytest.mark.parametrize("version", OTHERS)
def test_fresh_install_collects_and_evaluates_as_this_python(version: str, wheel: Path, baseline: Path, work: Path) -> None:
    python = require(version)
    here = work / f"py{version}"
    here.mkdir()
    venv = here / "venv"
    env = _env(here / "cache")
    # The suite's pip installs into the new virtualenv (`pip --python`: pip runs under that
    # interpreter, so markers and wheel tags are that Python's): a pip of its own in every
    # virtualenv would cost more than the rest of the test. Bytecode is written as modules are
    # first imported (PYTHONDONTWRITEBYTECODE is not passed on), not for every file at install.
    _run([python, "-m", "venv", "--without-pip", str(venv)], cwd=here, env=env)
    _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--quiet",
          "--disable-pip-version-check", "--no-compile", str(wheel)], cwd=here, env=env)
    hullcheck = [str(venv / "bin" / "hullcheck")]
    version_text = _run([*hullcheck, "--version"], cwd=here, env=env).stdout
    assert version_text.startswith("hullcheck "), version_text
    imported = _run([str(venv / "bin" / "python"), "-c", "import sys, collector, evaluator; "
                     "print(sys.version_info[:2], collector.__file__)"], cwd=here, env=env).stdout
    assert imported.startswith(f"({version.replace('.', ', ')})") and str(venv) in imported, imported

    # Every recorded example: the same results documents as this Python's (one fleet run writes
    # each example's, what `evaluate EXAMPLE -f json` writes), the same fleet report, and one
    # example evaluated alone (the single-host path).
    results = here / "results"
    _run([*hullcheck, "evaluate", *map(str, EXAMPLES), "--jobs", "2", "--output-dir", str(results), "-f", "json",
          "-o", str(here / "fleet.json")], cwd=here, env=env, ok=(0, 1))
    for example in EXAMPLES:
        name = f"{example.stem}.results.json"
        assert _stable(json.loads((results / name).read_text())) == _stable(json.loads((baseline / name).read_text())), \
            f"{example.name} on Python {version}"
    assert _stable(json.loads((here / "fleet.json").read_text())) == _stable(json.loads((baseline / "fleet.json").read_text()))
    alone = _run([*hullcheck, "evaluate", str(REPO / "snapshots" / "examples" / "misconfigured.json"), "-f", "json"],
                 cwd=here, env=env, ok=(1,)).stdout
    assert _stable(json.loads(alone)) == _stable(json.loads((baseline / "misconfigured.results.json").read_text()))
    # Every renderer, byte for byte, over the same results file.
    for fmt in FORMATS:
        rendered = here / f"render.{fmt}"
        _run([*hullcheck, "render", str(baseline / "misconfigured.results.json"), "-f", fmt, "-o", str(rendered)], cwd=here, env=env)
        assert rendered.read_bytes() == (baseline / f"render.{fmt}").read_bytes(), f"render -f {fmt} on Python {version}"

    # The policies' own cases.
    assert _run([*hullcheck, "test"], cwd=here, env=env).stdout == (baseline / "test.txt").read_text()

    # The live engine: a snapshot that this Python's and the suite's evaluator judge alike, and the
    # same host and engine sources unread as in a collection by the suite's Python.
    live = here / "live.json"
    _run([*hullcheck, "collect", "-o", str(live)], cwd=here, env=env)
    ours = _run([*hullcheck, "evaluate", str(live), "-f", "json"], cwd=here, env=env, ok=(0, 1)).stdout
    theirs = _run([sys.executable, "-m", "hullcheck.cli", "evaluate", str(live), "-f", "json"], cwd=REPO, ok=(0, 1)).stdout
    assert _stable(json.loads(ours)) == _stable(json.loads(theirs))
    snapshot = json.loads(live.read_text())
    assert snapshot["meta"]["hullcheck_version"] == json.loads(ours)["tool"]["version"]
    reference = json.loads(_run([sys.executable, "-m", "hullcheck.cli", "collect"], cwd=REPO).stdout)

    def unread(s: dict[str, Any]) -> set[str]:  # where, not why: a reason may name pids and counts of the moment
        return {e["source"] for e in s["meta"]["errors"] if not _RESOURCE_POINTER.match(e["source"])}
    assert unread(snapshot) == unread(reference)

    # Podman's TOML files (tomli below 3.11, tomllib from 3.11): the recorded files parse to what was recorded.
    script = ("import json, sys\nfrom collector import podman\n"
              "for path in sys.argv[1:]:\n"
              "    files = json.load(open(path))['daemon']['podman']['files']\n"
              "    for records in files.values():\n"
              "        for r in records:\n"
              "            if r.get('raw') is not None:\n"
              "                assert podman.tomllib.loads(r['raw']) == r['parsed'], (path, r['path'])\n"
              "                print(r['path'])\n")
    podman_examples = [str(p) for p in EXAMPLES if "podman" in p.name]
    parsed = _run([str(venv / "bin" / "python"), "-c", script, *podman_examples], cwd=here, env=env).stdout.split()
    assert podman_examples and parsed, "the Podman examples carry no TOML file"


def test_one_floor_everywhere() -> None:
    """The oldest supported Python is written in several places; they must agree."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    import yaml

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    floor = SUPPORTED[0]
    assert project["project"]["requires-python"] == f">={floor}"
    assert project["tool"]["ruff"]["target-version"] == "py" + floor.replace(".", "")
    assert project["tool"]["mypy"]["python_version"] == floor
    defaults = yaml.safe_load((REPO / "deploy" / "ansible" / "roles" / "hullcheck_audit" / "defaults" / "main.yml").read_text())
    assert defaults["hullcheck_python_floor"] == floor
    assert tuple(defaults["hullcheck_wheelhouse_pythons"]) == SUPPORTED
