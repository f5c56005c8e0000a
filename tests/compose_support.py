"""The recorded Compose projects (snapshots/compose/NAME) and how their planned snapshots are made.

A project is copied to a fixed directory before it is collected, so the recorded snapshot's bind
sources and file paths do not depend on where the repository is checked out; the collection runs
in that directory (file paths relative to it, as in CI at a repository root) with an empty
environment, so only the project's .env interpolates.
"""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
PROJECTS = REPO / "snapshots" / "compose"
EXAMPLES = REPO / "snapshots" / "examples"
STAGE = Path("/tmp/hullcheck-compose")

# name -> the -f files, in merge order
FILES = {
    "misconfigured": ["compose.yaml", "compose.prod.yaml"],
    "hardened": ["compose.yaml", "compose.ci.yaml"],
}


@contextmanager
def staged(name: str, stage: Path = STAGE) -> Iterator[Path]:
    """The project copied to stage/NAME, the working directory while inside. The fixed directory
    is shared by the test processes (pytest -n 2): one at a time holds it (a lock file beside it)."""
    target = stage / name
    stage.mkdir(parents=True, exist_ok=True)
    with open(stage / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(PROJECTS / name, target)
        before = os.getcwd()
        os.chdir(target)
        try:
            yield target
        finally:
            os.chdir(before)
            shutil.rmtree(target, ignore_errors=True)


def plan(name: str, **overrides: Any) -> dict[str, Any]:
    """The planned snapshot of a recorded project (collected in its staged copy)."""
    from collector.compose import ComposeOptions, collect_compose

    with staged(name):
        options = ComposeOptions(files=list(FILES[name]), **{"environ": {}, **overrides})
        return collect_compose(options)


if __name__ == "__main__":  # python tests/compose_support.py: re-record snapshots/examples/compose-*.json
    import sys

    sys.path.insert(0, str(REPO))
    from collector import dumps

    for project in FILES:
        out = EXAMPLES / f"compose-{project}.json"
        out.write_text(dumps(plan(project)))
        print(f"recorded {out.relative_to(REPO)}")
